package disk_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestIngestFound runs the ingest pipeline as 'jejak ingest' does on a
// folder holding image.E01 and on Debian's multi-partition disk: the
// E01's files and the exFAT partition's files reach the timeline with
// their container chains, and the E01 is not a file "no parser
// recognises".
func TestIngestFound(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(parsertest.Corpus(t, "images/image.E01"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "image.E01"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	multiple := oracle.Sample(t, "multiple")
	st, sum := casetest.BuildDisk(t, dir, multiple)
	t.Logf("summary: %d events, skipped %v", sum.Events, sum.SkipReasons)
	found := map[string]int{}
	err = st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
		c := ev.Jejak.Provenance.Chain
		switch {
		case len(c) > 2 && c[0] == "dir:image.E01" && c[1] == "ewf:":
			found["e01"]++
		case len(c) > 2 && strings.HasPrefix(c[len(c)-1], "exfat:"):
			// One event per distinct time of a file: count the times it is.
			found["exfat"] += len(strings.ReplaceAll(ev.Jejak.Data["macb"], ".", ""))
			if ev.Jejak.Time != nil && ev.Jejak.Time.ZoneAssumed != "" {
				t.Errorf("exFAT time with its UTC offset marked assumed: %+v", ev)
			}
			// fls -m prints seconds; exFAT keeps 10 ms (.1 s here).
			if ev.Timestamp.Unix() != 1604199236 || ev.Timestamp.Nanosecond()%10_000_000 != 0 {
				t.Errorf("exFAT event at %v, fls says 1604199236 (s) for both files", ev.Timestamp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found["e01"] == 0 || found["exfat"] < 6 {
		t.Errorf("events: %v (want E01 entries, and 3 times of each of the 2 exFAT files)", found)
	}
}
