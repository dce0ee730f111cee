package casework_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestCaseWarnings: (*Case).Warnings gives what ingest stored, each
// warning with the evidence item's name; the latest run's only, or every
// run's with all. A truncated gzip file is the warning: its content cannot
// be read to the end.
func TestCaseWarnings(t *testing.T) {
	ctx := context.Background()
	ev := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	for i := 0; i < 200; i++ {
		zw.Write([]byte("Feb 14 19:00:01 web01 sshd[812]: Failed password for root from 203.0.113.9 port 4711 ssh2\n"))
	}
	zw.Close()
	if err := os.WriteFile(filepath.Join(ev, "auth.log.1.gz"), gz.Bytes()[:gz.Len()/2], 0o644); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)
	c, err := casework.Init(ctx, filepath.Join(t.TempDir(), "case"), casework.Options{Examiner: "A. Examiner", ToolVersion: "test",
		Clock: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it, err := c.AddEvidence(ctx, ev, casework.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runs := 2
	var stored int64
	for i := 0; i < runs; i++ {
		res, err := c.Ingest(ctx, casework.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stored = res.Summary.Warnings + res.Summary.Problems
	}
	if stored == 0 {
		t.Fatal("a truncated gzip file gave no warning: nothing to test")
	}
	// count returns the warnings given and those of them about the item
	// (a case-wide note, such as times read in the default zone, names
	// no evidence).
	count := func(all bool) (n, named int64) {
		err := c.Warnings(ctx, all, func(w timeline.Warning, names map[string]string) error {
			n++
			if w.Evidence == "" {
				return nil
			}
			if names[w.Evidence] != it.Name {
				t.Errorf("warning %+v: evidence named %q, want %q", w, names[w.Evidence], it.Name)
			}
			named++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, named
	}
	latest, named := count(false)
	if named != stored {
		t.Errorf("latest run: %d warnings about the item, ingest counted %d", named, stored)
	}
	if all, _ := count(true); all != int64(runs)*latest {
		t.Errorf("every run: %d warnings, want %d (%d runs of %d)", all, int64(runs)*latest, runs, latest)
	}
}
