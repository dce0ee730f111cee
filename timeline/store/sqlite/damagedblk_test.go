package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// TestDamagedStoredBlock: a row's blk that is not a number (a case.db
// edited by plain SQL) stops a time-ordered read with "not an integer",
// read directly or by rowid ranges (whose query gives each block less the
// last one read, which must not turn text into a number).
func TestDamagedStoredBlock(t *testing.T) {
	ctx := context.Background()
	savedRuns, savedFirst, savedMax := directRuns, firstBatch, maxBatch
	defer func() { directRuns, firstBatch, maxBatch = savedRuns, savedFirst, savedMax }()
	firstBatch, maxBatch = 16, 64
	for _, damage := range []string{`'x' || blk`, `CAST(blk AS TEXT) || 'x'`, `x'05'`, `blk + 0.5`} {
		for _, runs := range []int{-1, 1 << 30} {
			s, err := Open(ctx, filepath.Join(t.TempDir(), "case.db"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(ctx, storetest.Many(600)); err != nil {
				t.Fatal(err)
			}
			if _, err := s.DB().ExecContext(ctx, `UPDATE event_rows SET blk = `+damage+` WHERE rowid = 400`); err != nil {
				t.Fatal(err)
			}
			var typ string
			if err := s.DB().QueryRowContext(ctx, `SELECT typeof(blk) FROM event_rows WHERE rowid = 400`).Scan(&typ); err != nil || typ == "integer" {
				t.Fatalf("blk = %s: stored as %q (%v), want no integer", damage, typ, err)
			}
			directRuns = runs
			var src *timeRows
			savedDone := searchDone
			searchDone = func(t *timeRows) { src = t }
			err = s.SearchTransient(ctx, timeline.Query{}, func(*timeline.Event) error { return nil })
			searchDone = savedDone
			s.Close()
			if err == nil || !strings.Contains(err.Error(), "not an integer") {
				t.Errorf("blk = %s, directRuns %d: %v, want an error that the block is not an integer", damage, runs, err)
			}
			if runs < 0 && (src == nil || src.ranged == 0) {
				t.Errorf("blk = %s: no batch read by ranges", damage)
			}
		}
	}
}
