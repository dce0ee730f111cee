package sqlite

import (
	"context"
	"encoding/hex"
	"testing"
	"time"
)

// TestWriteStoresIDs: each row's ID is its event's 16 bytes, stored as a
// blob, in blocks of every shape (full and partial blocks, one parser
// and several), though a block's IDs are bound as one value.
func TestWriteStoresIDs(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	evs := events(3*insertRows+7, "3f4a0c0d5b9e6c1e")
	for i, e := range evs {
		if i%5 == 0 && i > 2*insertRows {
			// Blocks of more than one parser; a new ID for the new
			// provenance.
			e.Jejak.Provenance.Parser = "other"
			e.Jejak.ID = ""
			e.Finalize()
		}
	}
	if _, err := s.Write(ctx, evs[:insertRows+1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, evs[insertRows+1:]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := s.DB().QueryContext(ctx, `SELECT typeof(id), id FROM event_rows ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for ; rows.Next(); n++ {
		var typ string
		var id []byte
		if err := rows.Scan(&typ, &id); err != nil {
			t.Fatal(err)
		}
		if n >= len(evs) {
			t.Fatalf("more rows than the %d events written", len(evs))
		}
		if want := evs[n].Jejak.ID; typ != "blob" || hex.EncodeToString(id) != want {
			t.Fatalf("row %d: %s %x, want blob %s", n+1, typ, id, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(evs) {
		t.Fatalf("%d rows for %d events", n, len(evs))
	}
}
