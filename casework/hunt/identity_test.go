package hunt

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// Two copies of one event log at one path (a tar appended with tar -r, as
// two collections of the same server merged) are two logs: each gets the
// verdict the log alone gets, not one verdict over the records of both
// (whose record IDs then repeat and interleave).
func TestLogVerdictPerCopy(t *testing.T) {
	oracle.Tool(t, "tar", "tar")
	src := parsertest.Corpus(t, "logs/windows/security.evtx")
	dir := t.TempDir()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "security.evtx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(dir, "two.tar")
	for _, op := range []string{"-cf", "-rf"} {
		cmd := exec.Command("tar", op, ev, "security.evtx")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("tar %s: %v\n%s", op, err, out)
		}
	}
	alone, _ := examined(t, buildCase(t, src), Config{})
	if len(alone) != 1 {
		t.Fatalf("one security.evtx: %d logs examined, want 1", len(alone))
	}
	two, _ := examined(t, buildCase(t, ev), Config{})
	if len(two) != 2 {
		t.Fatalf("two copies in a tar: %d logs examined, want 2 (one per copy)", len(two))
	}
	for _, lv := range two {
		if lv.Verdict != alone[0].Verdict || lv.Records != alone[0].Records {
			t.Errorf("%s: verdict %q on %d records, the log alone gets %q on %d", lv.File, lv.Verdict, lv.Records, alone[0].Verdict, alone[0].Records)
		}
	}
}
