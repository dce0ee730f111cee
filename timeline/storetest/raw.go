package storetest

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
)

func scanRaw(t *testing.T, s store.RawScanner) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	if err := s.ScanRaw(ctx(t), func(id string, doc []byte) error {
		if _, dup := out[id]; dup {
			t.Errorf("ScanRaw gave %s twice", id)
		}
		out[id] = slices.Clone(doc)
		return nil
	}); err != nil {
		t.Fatalf("ScanRaw: %v", err)
	}
	return out
}

// testRaw: ScanRaw gives every event once, as a document that decodes to
// the event written; WriteRaw of those documents into a second store
// (store.Copy) gives that store the same events, and writing them again
// gives duplicates, as Write does.
func testRaw(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	if got := scanRaw(t, s); len(got) != 0 {
		t.Errorf("ScanRaw on a new store gave %d events", len(got))
	}
	evs := append(Events(), Many(1500)...)
	for lo := 0; lo < len(evs); lo += 500 {
		write(t, s, evs[lo:min(lo+500, len(evs))])
	}
	raw := scanRaw(t, s)
	if len(raw) != len(evs) {
		t.Errorf("ScanRaw gave %d events, want %d", len(raw), len(evs))
	}
	for _, e := range evs {
		doc, ok := raw[e.Jejak.ID]
		if !ok {
			t.Errorf("ScanRaw lacks %s", e.Jejak.ID)
			continue
		}
		var got timeline.Event
		if err := json.Unmarshal(doc, &got); err != nil {
			t.Errorf("ScanRaw's document of %s: %v", e.Jejak.ID, err)
			continue
		}
		gj, _ := json.Marshal(&got)
		wj, _ := json.Marshal(e)
		if string(gj) != string(wj) {
			t.Errorf("ScanRaw's document of %s is another event:\n got  %s\n want %s", e.Jejak.ID, gj, wj)
		}
	}

	dst := open(t)
	st, err := store.Copy(ctx(t), s, dst, 333)
	if err != nil || st.Inserted != len(evs) || st.Duplicates != 0 {
		t.Fatalf("Copy = %+v, %v; want %d inserted", st, err, len(evs))
	}
	want := search(t, s, timeline.Query{})
	got := search(t, dst, timeline.Query{})
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("copied store: Search gives %d events (want %d) or another order", len(got), len(want))
	}
	for i := range want {
		wj, _ := json.Marshal(want[i])
		gj, _ := json.Marshal(got[i])
		if string(wj) != string(gj) {
			t.Errorf("event %s changed in the copy:\n got  %s\n want %s", want[i].Jejak.ID, gj, wj)
		}
	}
	again := make([]store.RawEvent, 0, 10)
	for _, e := range evs[:10] {
		again = append(again, store.RawEvent{ID: e.Jejak.ID, Doc: raw[e.Jejak.ID]})
	}
	if st, err := dst.WriteRaw(ctx(t), again); err != nil || st.Inserted != 0 || st.Duplicates != 10 {
		t.Errorf("WriteRaw of stored events = %+v, %v; want 10 duplicates", st, err)
	}
	for _, bad := range [][]store.RawEvent{
		{{ID: "", Doc: raw[evs[0].Jejak.ID]}},
		{{ID: evs[0].Jejak.ID}},
	} {
		if _, err := dst.WriteRaw(ctx(t), bad); err == nil {
			t.Errorf("WriteRaw took an event without ID or document")
		}
	}
	if n := count(t, dst, timeline.Query{}); n != int64(len(evs)) {
		t.Errorf("copied store holds %d events, want %d", n, len(evs))
	}
	calls := 0
	err = s.ScanRaw(ctx(t), func(string, []byte) error {
		calls++
		if calls == 3 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || calls != 3 {
		t.Errorf("ScanRaw with a failing callback: %v after %d calls, want errStop after 3", err, calls)
	}
}

// testClose: Close succeeds, and a closed store says so rather than
// answering that it holds nothing.
func testClose(t *testing.T, s store.Store) {
	write(t, s, Events())
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n, err := s.Count(ctx(t), timeline.Query{}); err == nil {
		t.Errorf("Count on a closed store = %d, nil; want an error", n)
	}
}
