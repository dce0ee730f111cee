package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestEVTXRecordAccounting: the ingest summary accounts for the records of
// every EVTX file (declared by the chunk headers, read live, recovered,
// unreadable), and the accounting is what the case holds and what libevtx
// reads: the live count equals the events of the store without the
// recovered tag, the recovered count those with it, and on each file the
// live records cover every record evtxexport exports.
func TestEVTXRecordAccounting(t *testing.T) {
	files := []string{
		"logs/windows/security.evtx",                      // clean
		"logs/windows/sample_with_a_bad_chunk_magic.evtx", // damaged chunk, slack
		"logs/windows/Application_no_crc32.evtx",          // slack records
		"logs/windows/TerminalServices-RemoteConnectionManager-Operational.evtx",
	}
	root := t.TempDir()
	ev := filepath.Join(root, "evtx")
	if err := os.MkdirAll(ev, 0o755); err != nil {
		t.Fatal(err)
	}
	var exported int64
	for _, f := range files {
		src := parsertest.Corpus(t, f)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ev, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		recs, _, _ := oracle.EvtxExport(t, src)
		exported += int64(len(recs))
	}
	cs := filepath.Join(root, "case")
	out, errs, code := jejak(t, "analyze", ev, "--out", cs, "--examiner", "t", "--json")
	if code != exitOK && code != exitWarnings {
		t.Fatalf("analyze: exit %d\n%s", code, errs)
	}
	st := summaryOf(t, out).Parsers["evtx"]
	if st == nil || st.Records == nil {
		t.Fatalf("no record accounting for evtx in the summary: %+v", st)
	}
	acc := *st.Records

	var live, recovered int64
	sc := bufio.NewScanner(strings.NewReader(mustRun(t, exitOK, "timeline", cs, "--json")))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var e struct {
			Jejak struct {
				Tags       []string `json:"tags"`
				Provenance struct {
					Parser string `json:"parser"`
				} `json:"provenance"`
			} `json:"jejak"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Jejak.Provenance.Parser != "evtx" {
			continue
		}
		if slices.Contains(e.Jejak.Tags, "recovered") {
			recovered++
		} else {
			live++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Live != live || acc.Recovered != recovered {
		t.Errorf("accounting %+v; the case holds %d live and %d recovered EVTX events", acc, live, recovered)
	}
	if acc.Live < exported {
		t.Errorf("%d live records, evtxexport exports %d", acc.Live, exported)
	}
	if acc.Declared < acc.Live-int64(len(files)) || acc.Unreadable == 0 || acc.Recovered == 0 {
		// The damaged files declare records that are recovered or
		// unreadable; none of the four files holds more live records
		// than its chunk headers declare, save a chunk whose header is
		// stale about its last record.
		t.Errorf("accounting %+v: want declared ≥ live, and recovered and unreadable records on the damaged files", acc)
	}
	if st.Warnings < acc.Unreadable {
		t.Errorf("%d unreadable records but %d warnings: each must be a warning", acc.Unreadable, st.Warnings)
	}
}
