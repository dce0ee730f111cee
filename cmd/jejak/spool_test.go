package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// evtxEventsByPath counts the evtx parser's events of a case per path.
func evtxEventsByPath(t *testing.T, cs string) map[string]int {
	t.Helper()
	out := mustRun(t, exitOK, "timeline", cs, "--json")
	n := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e timeline.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Jejak.Provenance.Parser == "evtx" {
			n[e.Jejak.Provenance.Path]++
		}
	}
	return n
}

// TestSpoolLimit: EVTX files compressed by gzip and tar need a spooled
// copy to be read. With --spool-limit 1MiB the small log (69 632 bytes) is
// read whole, every record evtxexport reads is an event; the 2 MB log is
// skipped with a warning naming it and the limit (exit 3), in a .gz (size
// known only by expanding: the copy stops one byte past the limit) and in
// a .tar.gz (size known from the header: nothing is copied); the auth.log
// beside them is read. With the default limit everything is read. Nothing
// is left in CASE/tmp.
func TestSpoolLimit(t *testing.T) {
	gz := oracle.Tool(t, "gzip", "gzip")
	tarBin := oracle.Tool(t, "tar", "tar")
	small := parsertest.Corpus(t, "logs/windows/new-user-security.evtx") // MIT, 69632 bytes
	large := parsertest.Corpus(t, "logs/windows/security.evtx")          // MIT, 2166784 bytes
	records, ok, stderr := oracle.EvtxExport(t, small)
	if !ok || len(records) == 0 {
		t.Fatalf("evtxexport %s: %d records, %s", small, len(records), stderr)
	}

	ev := filepath.Join(t.TempDir(), "ev")
	if err := os.MkdirAll(filepath.Join(ev, "tarred"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(small, filepath.Join(ev, "NewUser.evtx"))
	copyFile(large, filepath.Join(ev, "Security.evtx"))
	copyFile(large, filepath.Join(ev, "tarred", "Big.evtx"))
	copyFile(parsertest.Corpus(t, "logs/syslog/syslog_ssh.log"), filepath.Join(ev, "auth.log"))
	for _, cmd := range [][]string{
		{tarBin, "-C", filepath.Join(ev, "tarred"), "-czf", filepath.Join(ev, "big.tar.gz"), "Big.evtx"},
		{gz, "-n", filepath.Join(ev, "NewUser.evtx")},
		{gz, "-n", filepath.Join(ev, "Security.evtx")},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", cmd, err, out)
		}
	}
	if err := os.RemoveAll(filepath.Join(ev, "tarred")); err != nil {
		t.Fatal(err)
	}

	cs := filepath.Join(t.TempDir(), "case")
	out, errs, code := jejak(t, "analyze", ev, "--out", cs, "--examiner", "t", "--spool-limit", "1MiB")
	if code != exitWarnings {
		t.Fatalf("analyze --spool-limit 1MiB: exit %d, want %d\n%s\n%s", code, exitWarnings, out, errs)
	}
	if !strings.Contains(out+errs, "larger than the spool limit") {
		t.Errorf("summary does not count the skips:\n%s%s", out, errs)
	}
	warn := mustRun(t, exitOK, "warnings", cs)
	for _, want := range []string{"Security.evtx", "Big.evtx"} {
		found := false
		for _, l := range strings.Split(warn, "\n") {
			if strings.Contains(l, want) && strings.Contains(l, "spool limit of 1048576 bytes (1 MiB)") && strings.Contains(l, "--spool-limit") {
				found = true
			}
		}
		if !found {
			t.Errorf("no spool-limit warning naming %s:\n%s", want, warn)
		}
	}
	got := evtxEventsByPath(t, cs)
	if n := got["NewUser.evtx"]; n != len(records) {
		t.Errorf("NewUser.evtx (in a gz): %d events, evtxexport reads %d records (all: %v)", n, len(records), got)
	}
	if len(got) != 1 {
		t.Errorf("evtx events from %v, want NewUser.evtx only", got)
	}
	if n := strings.Count(mustRun(t, exitOK, "search", cs, "process.name:sshd", "--json"), "\n"); n == 0 {
		t.Error("auth.log beside the skipped logs was not read")
	}
	if left, _ := os.ReadDir(filepath.Join(cs, "tmp")); len(left) != 0 {
		t.Errorf("CASE/tmp holds %d files after ingest", len(left))
	}

	// The default limit (4 GiB) reads all three logs.
	cs2 := filepath.Join(t.TempDir(), "case")
	mustRun(t, exitOK, "analyze", ev, "--out", cs2, "--examiner", "t")
	got = evtxEventsByPath(t, cs2)
	bigRecords, _, _ := oracle.EvtxExport(t, large)
	if got["Security.evtx"] != len(bigRecords) || got["Big.evtx"] != len(bigRecords) || got["NewUser.evtx"] != len(records) {
		t.Errorf("default limit: events %v, evtxexport reads %d and %d records", got, len(records), len(bigRecords))
	}

	// A wrong size is a usage error before anything is read.
	if _, errs, code := jejak(t, "analyze", ev, "--out", filepath.Join(t.TempDir(), "c"), "--examiner", "t", "--spool-limit", "4 parsecs"); code != exitUsage || !strings.Contains(errs, "--spool-limit") {
		t.Errorf("bad --spool-limit: exit %d, stderr %q", code, errs)
	}
}
