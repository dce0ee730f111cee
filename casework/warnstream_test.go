package casework

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestWarnStreamFallsBack: warnStream's digest is the table read back
// (tableDigestScan, the reference) whether it came from the stream (a
// first run) or, where the store cannot vouch for the stream, from reading
// the table: a table that held warnings, a warning deleted or added by
// another connection, a write that failed.
func TestWarnStreamFallsBack(t *testing.T) {
	ctx := context.Background()
	warnings := func(n int) []timeline.Warning {
		ws := make([]timeline.Warning, n)
		for i := range ws {
			ws[i] = timeline.Warning{Kind: timeline.WarnSkipped, Evidence: "ab12", Chain: []string{"raw:", fmt.Sprintf("ntfs:f%d", i)},
				Path: fmt.Sprintf("f%d — «é»", i), Offset: -1, Message: "no parser recognises the content"}
			if i%5 == 0 {
				ws[i].Kind, ws[i].Parser, ws[i].Offset, ws[i].Record = timeline.WarnRecord, "syslog", int64(i)*1000, int64(i)
			}
		}
		return ws
	}
	for _, tc := range []struct {
		name     string
		before   func(s *sqlite.Store) error
		during   func(s *sqlite.Store) error
		streamed bool
	}{
		{name: "first run", streamed: true},
		{name: "table held warnings", before: func(s *sqlite.Store) error { return s.AddWarnings(ctx, warnings(2)) }},
		{name: "one deleted", during: func(s *sqlite.Store) error {
			_, err := s.DB().ExecContext(ctx, `DELETE FROM warnings WHERE rowid = 3`)
			return err
		}},
		{name: "one added by another connection", during: func(s *sqlite.Store) error {
			_, err := s.DB().ExecContext(ctx, `INSERT INTO warnings SELECT * FROM warnings WHERE rowid = 1`)
			return err
		}},
		{name: "a write failed", during: func(s *sqlite.Store) error {
			_, err := s.DB().ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON warn_rows WHEN NEW.path = 'refuse' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "case.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				if err := tc.before(s); err != nil {
					t.Fatal(err)
				}
			}
			w := streamWarnings(ctx, s)
			ws := warnings(300)
			if err := s.AddWarningsDigest(ctx, ws[:150], w.d); err != nil {
				t.Fatal(err)
			}
			if tc.during != nil {
				if err := tc.during(s); err != nil {
					t.Fatal(err)
				}
			}
			ws[200].Path = "refuse" // refused by the trigger of "a write failed" only
			if err := s.AddWarningsDigest(ctx, ws[150:], w.d); (err != nil) != (tc.name == "a write failed") {
				t.Fatalf("second batch: %v", err)
			}
			got, err := w.digest(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			if w.streamed != tc.streamed {
				t.Errorf("streamed %v, want %v", w.streamed, tc.streamed)
			}
			if want := tableDigestScan(t, s.DB(), storeTables["warnings"]); got != want {
				t.Errorf("digest %s, the table reads back as %s", got, want)
			}
		})
	}
}
