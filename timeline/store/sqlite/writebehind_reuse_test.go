package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestWriteBehindCallerReuses: once a write-behind Write returns, the
// events are the caller's again (as the ingest's emitter may reuse or
// drop them): a caller that overwrites every event of a batch, and writes
// the same structs again as the next batch, finds each batch stored as it
// was when its Write was called, not as it was changed later.
func TestWriteBehindCallerReuses(t *testing.T) {
	ctx := context.Background()
	s, _ := firstRun(t, true)
	// One set of structs, more than a chunk, written three times over
	// with other contents (and IDs).
	evs := events(2*encodeChunk+100, "aa")
	want := map[string]string{}
	for round := range 3 {
		for i, e := range evs {
			e.Message = fmt.Sprintf("round %d event %d", round, i)
			e.Host = &timeline.Host{Name: fmt.Sprintf("h%d", round)}
			e.Jejak.Data = map[string]string{"round": fmt.Sprint(round)}
			e.Jejak.Provenance.Record = int64(round*100000 + i + 1)
			e.Jejak.Provenance.Offset = int64(round*100000+i) * 110
			e.Jejak.ID = ""
			e.Finalize()
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			want[e.Jejak.ID] = string(b)
		}
		if _, err := s.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		// Changed at once, while the batch may still be inserted.
		for _, e := range evs {
			e.Message, e.Host.Name, e.Jejak.Data["round"] = "overwritten", "overwritten", "overwritten"
		}
	}
	finish(t, s, 0)
	n := 0
	err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		n++
		e.Related = nil
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		w := want[e.Jejak.ID]
		var we timeline.Event
		if err := json.Unmarshal([]byte(w), &we); err != nil {
			return fmt.Errorf("event %s not written: %q", e.Jejak.ID, w)
		}
		we.Related = nil
		wb, _ := json.Marshal(&we)
		if string(b) != string(wb) {
			return fmt.Errorf("event %s stored as\n %s\nwant\n %s", e.Jejak.ID, b, wb)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("%d events stored, want %d", n, len(want))
	}
}
