package sqlite

import (
	"bytes"
	"context"
	"encoding/hex"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// textIDs, in byte order, are event IDs whose bytes a text read or compare could get
// wrong: NULs early (a C string ends there), bytes that are no UTF-8 (a
// character count is no byte count), and pairs equal up to a NUL.
var textIDs = []string{
	"00000000000000000000000000000000",
	"00000000000000000000000000000001",
	"00ff0000000000000000000000000000",
	"01000000000000000000000000000000",
	"7f000000000000000000000000000000",
	"80000000000000000000000000000000",
	"c3000000000000000000000000000000", // a lead byte alone
	"c3a90000000000000000000000000000", // "é" then NULs
	"ff00ff00ff00ff00ff00ff00ff00ff00",
	"ffffffffffffffffffffffffffffffff",
}

// withTextIDs is storetest.Events, every event at one instant (so the
// order is the IDs' alone) under the IDs of textIDs.
func withTextIDs(t *testing.T) []*timeline.Event {
	evs := storetest.Events()
	if len(evs) < len(textIDs)-2 {
		t.Fatalf("%d events for %d IDs", len(evs), len(textIDs))
	}
	for len(evs) < len(textIDs) {
		evs = append(evs, storetest.Events()[len(evs)%2])
	}
	evs = evs[:len(textIDs)]
	for i, e := range evs {
		e.Timestamp = evs[0].Timestamp
		e.Jejak.ID = textIDs[len(textIDs)-1-i] // written out of order
	}
	return evs
}

// TestTextIDs: the stored IDs are TEXT (format 6) made of the ID's raw
// bytes, NULs and all: each is stored and read back whole, the unique
// index tells apart IDs equal up to a NUL, ties sort by the bytes (as the
// BLOBs of format 5 did), and a KQL jejak.id search finds its event.
func TestTextIDs(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := withTextIDs(t)
	if st, err := s.Write(ctx, evs); err != nil || st.Inserted != len(evs) {
		t.Fatalf("Write: %+v, %v", st, err)
	}
	// Again: every one a duplicate.
	if st, err := s.Write(ctx, withTextIDs(t)); err != nil || st.Duplicates != len(evs) {
		t.Fatalf("Write again: %+v, %v", st, err)
	}
	var types string
	var n int
	if err := s.DB().QueryRow(`SELECT group_concat(DISTINCT typeof(id)), count(*) FROM event_rows`).Scan(&types, &n); err != nil {
		t.Fatal(err)
	}
	if types != "text" || n != len(evs) {
		t.Errorf("%d rows of IDs typed %q, want %d of text", n, types, len(evs))
	}
	var got []string
	if err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		got = append(got, e.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(textIDs) {
		t.Fatalf("Search: %d events, want %d", len(got), len(textIDs))
	}
	for i := range got {
		if got[i] != textIDs[i] {
			t.Errorf("Search event %d is %s, want %s (byte order)", i, got[i], textIDs[i])
		}
	}
	// SQLite's own ORDER BY agrees, and reads every byte back.
	rows, err := s.DB().Query(`SELECT id, lower(hex(id)) FROM event_rows ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var prev []byte
	for i := 0; rows.Next(); i++ {
		var id []byte
		var h string
		if err := rows.Scan(&id, &h); err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(id) != textIDs[i] || h != textIDs[i] {
			t.Errorf("row %d in id order: %x (hex %s), want %s", i, id, h, textIDs[i])
		}
		if prev != nil && bytes.Compare(prev, id) >= 0 {
			t.Errorf("ORDER BY id puts %x before %x", prev, id)
		}
		prev = id
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range textIDs {
		f, err := query.New("jejak.id:"+id, query.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var found []string
		if err := s.Query(ctx, f, timeline.Query{}, func(e *timeline.Event) error {
			found = append(found, e.Jejak.ID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0] != id {
			t.Errorf("jejak.id:%s found %v", id, found)
		}
	}
}
