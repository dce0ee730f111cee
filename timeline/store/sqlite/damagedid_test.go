package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// TestDamagedStoredID: an event ID in the table that is not 16 bytes (a
// damaged or edited case.db) stops every read that meets it with an error
// naming it, never a row handed out under a wrong ID.
func TestDamagedStoredID(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(ctx, storetest.Many(300)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE event_rows SET id = substr(id, 1, 15) WHERE rowid = 150`); err != nil {
		t.Fatal(err)
	}
	f, err := query.New(`user.name:*`, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keep := func(*timeline.Event) error { return nil }
	for _, c := range []struct {
		name string
		err  error
	}{
		{"Search", s.Search(ctx, timeline.Query{}, keep)},
		{"Query", s.Query(ctx, f, timeline.Query{}, keep)},
		{"ScanRaw", s.ScanRaw(ctx, func(string, []byte) error { return nil })},
	} {
		// Search checks the row's ID (storedID); Query and ScanRaw meet it
		// when the document's ID is put back (jejak_doc, appendDoc).
		if c.err == nil || !strings.Contains(c.err.Error(), "not 16 bytes") && !strings.Contains(c.err.Error(), "15-byte ID") {
			t.Errorf("%s over a 15-byte stored ID: %v, want an error naming it", c.name, c.err)
		}
	}
}
