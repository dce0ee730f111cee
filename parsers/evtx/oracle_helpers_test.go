package evtx

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// corpusEVTX lists every EVTX file of the shared corpus, relative to it.
func corpusEVTX(t testing.TB) []string {
	t.Helper()
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("shared corpus not found (%v)", err)
	}
	var out []string
	for _, root := range []string{"logs/windows", "more"} {
		filepath.WalkDir(filepath.Join(dir, root), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(strings.ToLower(p), ".evtx") {
				rel, _ := filepath.Rel(dir, p)
				out = append(out, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	sort.Strings(out)
	if len(out) < 10 {
		t.Fatalf("only %d EVTX files in the corpus", len(out))
	}
	return out
}

// oracleRecord is one record as evtxexport (libevtx) renders it.
type oracleRecord struct {
	ID        uint64
	EventID   string
	Time      string
	Computer  string
	EventData map[string]string
}

type xmlEvent struct {
	System struct {
		EventID       string `xml:"EventID"`
		EventRecordID uint64 `xml:"EventRecordID"`
		TimeCreated   struct {
			SystemTime string `xml:"SystemTime,attr"`
		} `xml:"TimeCreated"`
		Computer string `xml:"Computer"`
	} `xml:"System"`
	UserData struct {
		Inner string `xml:",innerxml"`
	} `xml:"UserData"`
	Data []struct {
		Name  string `xml:"Name,attr"`
		Value string `xml:",chardata"`
	} `xml:"EventData>Data"`
}

// evtxexport runs libevtx's evtxexport in XML mode. ok is false (with its
// stderr) when it refuses the file.
func evtxexport(t testing.TB, path string) (recs []oracleRecord, ok bool, stderr string) {
	t.Helper()
	events, ok, stderr := oracle.EvtxExport(t, path)
	for _, block := range events {
		var ev xmlEvent
		if err := xml.Unmarshal(block, &ev); err != nil {
			t.Fatalf("evtxexport XML for %s: %v", path, err)
		}
		r := oracleRecord{ID: ev.System.EventRecordID, EventID: strings.TrimSpace(ev.System.EventID),
			Time: ev.System.TimeCreated.SystemTime, Computer: ev.System.Computer, EventData: map[string]string{}}
		for _, d := range ev.Data {
			if d.Name != "" {
				r.EventData[d.Name] = d.Value
			}
		}
		userDataLeaves(ev.UserData.Inner, r.EventData)
		recs = append(recs, r)
	}
	return recs, ok, stderr
}

// manifest returns the oracle column of MANIFEST.tsv for a corpus file.
func manifest(t testing.TB, rel string) string {
	t.Helper()
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skip(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatalf("MANIFEST.tsv: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 10 && f[1] == rel {
			return f[9]
		}
	}
	return ""
}

func sortedIDs(ids []uint64) []uint64 {
	out := append([]uint64(nil), ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func fileSize(t testing.TB, p string) int64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// userDataLeaves collects the leaf elements of evtxexport's UserData.
func userDataLeaves(inner string, out map[string]string) {
	dec := xml.NewDecoder(strings.NewReader(inner))
	var name, text string
	leaf := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			name, text, leaf = tk.Name.Local, "", true
		case xml.CharData:
			text += string(tk)
		case xml.EndElement:
			if leaf && tk.Name.Local == name {
				out[name] = text
			}
			leaf = false
		}
	}
}
