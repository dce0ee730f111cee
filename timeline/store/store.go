// Package store names what a case's stores give their users: the events
// (written, read in time order, counted, searched with KQL), the events as
// stored (for copying a case from one store to another without decoding
// it), and the findings of hunts. The SQLite case store
// (timeline/store/sqlite) and the Elasticsearch store
// (timeline/store/elastic) both satisfy every interface here, and
// timeline/storetest holds them to the same contract, so code above them
// (casework, cmd/jejak) can take a store.Store and not care which it has.
//
// What only the SQLite case store keeps is not here: ingest runs and their
// progress (StartRun, SetRunProgress, EndRun, Runs), warnings tied to a run
// (AddWarnings, Warnings), the bulk-load switches (FinishWrites,
// LeaveIndexes, BuildIndexes) and DB. The cluster's copies of runs,
// warnings, custody and claims are documents of another shape in the case
// indices (elastic.CaseStore), written by `jejak case push` and the
// workers, not by an ingest through this interface. Likewise
// Elasticsearch-only reads stay on elastic.Store: Missing (which IDs an
// index lacks, to name them after a short copy) and PIT (a read that
// sees the index as it was when it began, while workers write).
package store

import (
	"context"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
)

// Events is a timeline.Store (Write, Close, Search, Count) that also runs
// KQL: a compiled query.Filter narrows the events within the time window
// of a timeline.Query, in the same (@timestamp, ID) order and with the
// same Limit as Search. A nil filter matches every event.
type Events interface {
	timeline.Store
	Query(ctx context.Context, f *query.Filter, q timeline.Query, fn func(*timeline.Event) error) error
	// QueryCount returns how many events Query would stream (capped at
	// q.Limit when set).
	QueryCount(ctx context.Context, f *query.Filter, q timeline.Query) (int64, error)
}

// RawEvent is an event as a store keeps it: its ID and its ECS JSON
// document (json.Marshal of a finalised timeline.Event, byte for byte
// what the store hands back; not necessarily the same bytes in another
// store, but the same event).
type RawEvent struct {
	ID  string
	Doc []byte
}

// RawScanner streams every event as stored, undecoded, in no particular
// order: what copying a case to another store reads (jejak index).
// Decoding and encoding again would be most of the copy's cost.
type RawScanner interface {
	ScanRaw(ctx context.Context, fn func(id string, doc []byte) error) error
}

// RawWriter writes events already encoded (from a RawScanner), with
// Write's guarantees: an ID already stored is a duplicate, not a second
// copy. Every event needs an ID and a document.
type RawWriter interface {
	WriteRaw(ctx context.Context, batch []RawEvent) (timeline.WriteStats, error)
}

// Findings keeps the findings of hunts beside the events. A hunt is named
// by a key its caller derives from the hunt's parameters (hunt.Params):
// storing a hunt again with the same key replaces its findings, and a
// hunt with another key is kept beside it, so a report can cite each.
type Findings interface {
	// PutHunt stores a hunt and its findings in report order, replacing
	// the findings of an earlier hunt with the same key. h.Findings is
	// ignored: the count stored is len(fs). Every finding must pass
	// Finding.Check.
	PutHunt(ctx context.Context, h Hunt, fs []Finding) error
	// Hunts lists the stored hunts, the latest (by Finished) first, then
	// by key.
	Hunts(ctx context.Context) ([]Hunt, error)
	// Findings streams a hunt's findings in the order PutHunt was given
	// them; an empty key means the latest hunt, and a store with no hunt
	// (or a key never stored) streams nothing.
	Findings(ctx context.Context, huntKey string, fn func(Finding) error) error
}

// Store is everything the case's stores share: what commands and the Go
// API use when either store will do.
type Store interface {
	Events
	RawScanner
	RawWriter
	Findings
}

// Copy writes every event of src into dst as stored (no decode), in
// batches of batch events (0: 1,000), and returns dst's stats. It reads
// src once; dst may hold some of the events already (they count as
// duplicates).
func Copy(ctx context.Context, src RawScanner, dst RawWriter, batch int) (timeline.WriteStats, error) {
	if batch <= 0 {
		batch = 1000
	}
	var total timeline.WriteStats
	buf := make([]RawEvent, 0, batch)
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		st, err := dst.WriteRaw(ctx, buf)
		total.Add(st)
		buf = buf[:0]
		return err
	}
	err := src.ScanRaw(ctx, func(id string, doc []byte) error {
		// The scanner may reuse doc's memory for the next row.
		buf = append(buf, RawEvent{ID: id, Doc: append([]byte(nil), doc...)})
		if len(buf) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return total, err
}
