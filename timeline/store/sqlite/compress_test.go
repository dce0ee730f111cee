package sqlite

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// TestStoredDocuments: each event is stored once, compressed: its frame
// holds neither the JSON text as such nor the event ID, the view events
// gives back exactly the document ScanRaw and Search see, and a parser
// with enough events in a batch gets a dictionary that its frames name.
func TestStoredDocuments(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := events(500, "aa") // one parser, enough for a dictionary
	evs = append(evs, storetest.Events()...)
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var dicts int
	s.DB().QueryRow(`SELECT count(*) FROM dicts WHERE parser = ?`, evs[0].Jejak.Provenance.Parser).Scan(&dicts)
	if dicts != 1 {
		t.Errorf("%d dictionaries for %s, want 1", dicts, evs[0].Jejak.Provenance.Parser)
	}
	raw := map[string]string{}
	if err := s.ScanRaw(ctx, func(id string, doc []byte) error { raw[id] = string(doc); return nil }); err != nil {
		t.Fatal(err)
	}
	rows, err := s.DB().Query(`SELECT e.id, e.doc, r.z FROM events e JOIN event_rows r ON r.rowid = e.rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n, stored, text := 0, 0, 0
	for rows.Next() {
		var id, z []byte
		var doc string
		if err := rows.Scan(&id, &doc, &z); err != nil {
			t.Fatal(err)
		}
		n++
		h := hex.EncodeToString(id)
		if doc != raw[h] {
			t.Errorf("%s: the view's doc differs from ScanRaw's:\n%s\n%s", h, doc, raw[h])
		}
		var e timeline.Event
		if err := json.Unmarshal([]byte(doc), &e); err != nil || e.Jejak.ID != h {
			t.Errorf("%s: doc is not the event's JSON (%v, ID %q)", h, err, e.Jejak.ID)
		}
		if strings.Contains(string(z), h) || strings.Contains(string(z), `"message"`) {
			t.Errorf("%s: the stored frame holds the ID or plain JSON", h)
		}
		stored += len(z)
		text += len(doc)
	}
	if n != len(evs) {
		t.Errorf("%d rows, want %d", n, len(evs))
	}
	if stored*4 > text {
		t.Errorf("frames %d bytes for %d bytes of JSON: less than 4:1", stored, text)
	}
}

// TestEventsViewWrites: DELETE and UPDATE of doc through the view events
// change the table under it (custody tests tamper with a case that way).
func TestEventsViewWrites(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := storetest.Events()
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	victim := evs[0]
	id, _ := hex.DecodeString(victim.Jejak.ID)
	if _, err := s.DB().Exec(`UPDATE events SET doc = replace(doc, '"message":"', '"message":"tampered ') WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	var msg string
	if err := s.DB().QueryRow(`SELECT json_extract(doc, '$.message') FROM events WHERE id = ?`, id).Scan(&msg); err != nil || msg != "tampered "+victim.Message {
		t.Errorf("message after UPDATE: %q, %v", msg, err)
	}
	found := false
	if err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		if e.Jejak.ID == victim.Jejak.ID {
			found = e.Message == "tampered "+victim.Message
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("Search does not see the UPDATE")
	}
	if _, err := s.DB().Exec(`DELETE FROM events WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	var left int
	s.DB().QueryRow(`SELECT count(*) FROM event_rows`).Scan(&left)
	if left != len(evs)-1 {
		t.Errorf("%d rows after DELETE of one, want %d", left, len(evs)-1)
	}
}
