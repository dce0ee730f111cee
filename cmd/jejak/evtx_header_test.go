package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestIngestDamagedEVTXHeader: an EVTX file whose file header is damaged
// (one byte of its signature, or the whole 4096-byte header block zeroed)
// gives, at ingest, every event of the intact file, one warning more,
// naming the file, offset 0 and what is wrong, and exit 3: the records
// were all read, but a damaged structure was met, and an examiner must
// hear about it (exit 3 is "done, but some input could not be read": the
// header's own fields were not, and its dirty flag and chunk count are
// unknown). Every event of that file carries jejak.data.file_header_damaged.
//
// A member of a compressed stream has no random access before it is
// spooled: ingest shows the parsers a longer head when the usual one is
// binary and matches nothing, so a zeroed header is recognised there too
// by the chunk signatures after it. A file whose chunk signatures are gone
// too is left unread, and its .evtx name makes that exit 3 (no event lost
// without a word).
func TestIngestDamagedEVTXHeader(t *testing.T) {
	intact, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	ref := evtxCase(t, tmp, "intact", "Security.evtx", intact, false)
	want := ref.sum.Parsers["evtx"]
	if want == nil || want.Events < 2000 {
		t.Fatalf("intact security.evtx: %+v", ref.sum.Parsers)
	}
	t.Logf("intact: exit %d, %d evtx events, %d warnings", ref.code, want.Events, ref.sum.Warnings)

	for _, tc := range []struct {
		name   string
		damage func(b []byte)
		tgz    bool
		read   bool // every record read
		what   string
		file   string // the file's name, Security.evtx when ""
	}{
		{"signature-byte", func(b []byte) { b[3] ^= 0xff }, false, true, "signature", ""},
		{"zeroed-header", func(b []byte) { clear(b[:4096]) }, false, true, "signature", ""},
		// Carved or renamed: the content alone is recognised.
		{"signature-byte-carved", func(b []byte) { b[3] ^= 0xff }, false, true, "signature", "f0012345.dat"},
		{"signature-byte-tgz", func(b []byte) { b[3] ^= 0xff }, true, true, "signature", ""},
		{"zeroed-header-tgz", func(b []byte) { clear(b[:4096]) }, true, true, "signature", ""},
		// No chunk signature left either: nothing says EVTX but the name.
		{"no-chunk-signature", func(b []byte) {
			b[3] ^= 0xff
			for off := 4096; off+8 <= len(b); off += 65536 {
				b[off] ^= 0xff
			}
		}, false, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), intact...)
			tc.damage(b)
			file := tc.file
			if file == "" {
				file = "Security.evtx"
			}
			got := evtxCase(t, tmp, tc.name, file, b, tc.tgz)
			if got.code != exitWarnings {
				t.Errorf("exit %d, want %d", got.code, exitWarnings)
			}
			if !tc.read {
				if got.sum.SkipReasons[ingest.SkipKnownLog] != 1 || got.sum.Parsers["evtx"] != nil {
					t.Errorf("skip reasons %v, parsers %v; want the known log skipped", got.sum.SkipReasons, got.sum.Parsers)
				}
				return
			}
			st := got.sum.Parsers["evtx"]
			t.Logf("exit %d, evtx %+v, %d warnings", got.code, st, got.sum.Warnings)
			if st == nil || st.Events != want.Events || st.Failed != 0 {
				t.Fatalf("evtx parser: %+v, the intact file gives %+v", st, want)
			}
			if got.sum.Warnings != ref.sum.Warnings+1 {
				t.Errorf("%d warnings, the intact file gives %d", got.sum.Warnings, ref.sum.Warnings)
			}
			var header []timeline.Warning
			for _, w := range got.warns {
				if strings.Contains(w.Message, "file header damaged") {
					header = append(header, w)
				}
			}
			if len(header) != 1 {
				t.Fatalf("%d file header warnings, want 1: %+v", len(header), got.warns)
			}
			if w := header[0]; w.Kind != timeline.WarnRecord || w.Offset != 0 || w.Path != file || w.Parser != "evtx" || !strings.Contains(w.Message, tc.what) {
				t.Errorf("header warning %+v: want a record warning on %s at offset 0 naming the %s", w, file, tc.what)
			}
			noted := 0
			for _, r := range timelineRows(t, got.dir) {
				if r.Jejak.Provenance.Parser == "evtx" && r.Jejak.Data["file_header_damaged"] == "true" {
					noted++
				}
			}
			if int64(noted) != want.Events {
				t.Errorf("%d events carry file_header_damaged, want all %d", noted, want.Events)
			}
		})
	}
}

type evtxRun struct {
	dir   string
	code  int
	sum   ingest.Summary
	warns []timeline.Warning
}

// evtxCase analyzes a folder holding b as file (in a .tgz made by tar
// when tgz is set) into a new case and returns what it gave.
func evtxCase(t *testing.T, tmp, name, file string, b []byte, tgz bool) evtxRun {
	t.Helper()
	ev := filepath.Join(tmp, name+"-evidence")
	if err := os.MkdirAll(ev, 0o755); err != nil {
		t.Fatal(err)
	}
	if tgz {
		src := filepath.Join(tmp, name+"-src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, file), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("tar", "-C", src, "-czf", filepath.Join(ev, "logs.tgz"), file).CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
	} else if err := os.WriteFile(filepath.Join(ev, file), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := evtxRun{dir: filepath.Join(tmp, name+"-case")}
	var out, errs string
	out, errs, r.code = jejak(t, "analyze", ev, "--out", r.dir, "--tz", "UTC", "--examiner", "tester", "--json")
	if r.code != exitOK && r.code != exitWarnings {
		t.Fatalf("analyze %s: exit %d\n%s\n%s", name, r.code, out, errs)
	}
	r.sum = summaryOf(t, out)
	sc := bufio.NewScanner(strings.NewReader(mustRun(t, exitOK, "warnings", r.dir, "--json")))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var w timeline.Warning
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatal(err)
		}
		r.warns = append(r.warns, w)
	}
	return r
}
