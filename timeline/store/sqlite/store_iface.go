package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
)

// The case store is a whole store.Store: events with KQL, raw scan and
// raw write, findings. timeline/storetest runs the contract on it.
var (
	_ store.Events     = (*Store)(nil)
	_ store.RawScanner = (*Store)(nil)
	_ store.RawWriter  = (*Store)(nil)
	_ store.Findings   = (*Store)(nil)
	_ store.Store      = (*Store)(nil)
)

// WriteRaw is Write for events already encoded as ECS JSON (from another
// store's ScanRaw: a case pulled back from Elasticsearch). The case store
// keeps its own columns beside the document, so each document is decoded
// (encoding/json: copies come this way rarely, and the standard decoder
// refuses what the store's fast one might take) and written with Write;
// a document whose jejak.id is not the ID it came with is refused, so a
// copy can never store an event under another event's ID.
func (s *Store) WriteRaw(ctx context.Context, batch []store.RawEvent) (timeline.WriteStats, error) {
	evs := make([]*timeline.Event, len(batch))
	for i, r := range batch {
		if r.ID == "" || len(r.Doc) == 0 {
			return timeline.WriteStats{}, fmt.Errorf("WriteRaw: event %d of the batch has no ID or no document", i)
		}
		e := new(timeline.Event)
		if err := json.Unmarshal(r.Doc, e); err != nil {
			return timeline.WriteStats{}, fmt.Errorf("WriteRaw: event %s: %w", r.ID, err)
		}
		if e.Jejak.ID != r.ID {
			return timeline.WriteStats{}, fmt.Errorf("WriteRaw: event %s: its document holds ID %q", r.ID, e.Jejak.ID)
		}
		evs[i] = e
	}
	return s.Write(ctx, evs)
}
