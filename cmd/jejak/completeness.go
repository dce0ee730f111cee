package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// errIncomplete ends a command that read a partial case timeline: it did
// its job, but what it read lacks events (exit 3, like other input left
// unread).
var errIncomplete = fmt.Errorf("%w: the case timeline is incomplete", errWarnings)

// timelineState works out from the recorded ingest runs and the evidence
// registry whether the case timeline is complete (see export.Completeness).
//
// A run that did not complete stays against the case until a later run
// completes over the same items: deterministic event IDs make that run
// add exactly what the first one missed. A refused run read nothing into
// the store and changes nothing. A run recorded as running whose process
// is gone was killed.
func timelineState(ctx context.Context, cs *evidence.Case, store *sqlite.Store) (*export.Completeness, error) {
	runs, err := store.Runs(ctx)
	if err != nil {
		return nil, err
	}
	items, err := cs.Evidence()
	if err != nil {
		return nil, err
	}
	c := &export.Completeness{Runs: len(runs)}
	// covers reports whether completed run r read item x. Runs recorded
	// before items were read every item registered by then. An item is the
	// same by ID or by hash: registering an item again (its segments hashed
	// by a newer jejak) keeps its ID.
	same := func(a, b sqlite.RunItem) bool { return a.SHA256 == b.SHA256 || (a.ID != "" && a.ID == b.ID) }
	covers := func(r sqlite.RunRecord, x sqlite.RunItem) bool {
		if r.Items == nil {
			for _, it := range items {
				if same(sqlite.RunItem{ID: it.ID, SHA256: it.SHA256}, x) {
					return !it.AddedAt.After(r.Started)
				}
			}
			return false
		}
		return slices.ContainsFunc(r.Items, func(y sqlite.RunItem) bool { return same(x, y) })
	}
	host, _ := os.Hostname()
	partial := map[string]bool{} // items of the incomplete runs listed
	for i, r := range runs {
		if r.State == sqlite.RunComplete || r.State == sqlite.RunRefused {
			continue
		}
		want := r.Items
		if want == nil { // an older run: it was given every item registered then
			for _, it := range items {
				if !it.AddedAt.After(r.Started) {
					want = append(want, sqlite.RunItem{ID: it.ID, Name: it.Name, SHA256: it.SHA256})
				}
			}
		}
		cleared := slices.ContainsFunc(runs[i+1:], func(later sqlite.RunRecord) bool {
			return later.State == sqlite.RunComplete && !slices.ContainsFunc(want, func(x sqlite.RunItem) bool { return !covers(later, x) })
		})
		if cleared {
			continue
		}
		ir := export.IncompleteRun{Run: r.ID, State: string(r.State), Started: r.Started, Items: []string{},
			Files: r.Progress.Files, Events: r.Progress.Events, LastFile: r.Progress.LastFile, ProgressAt: r.Progress.At,
			PID: r.PID, Host: r.Host, Error: r.Error}
		if r.State == sqlite.RunRunning {
			switch {
			case r.Host != "" && r.Host != host:
				ir.State = "running elsewhere"
			case r.PID > 0 && r.PID != os.Getpid() && processAlive(r.PID):
				ir.State = "running"
			default:
				ir.State = "killed"
			}
		}
		for _, x := range want {
			ir.Items = append(ir.Items, x.ID+" "+x.Name)
			partial[x.SHA256], partial[x.ID] = true, true
		}
		c.Incomplete = append(c.Incomplete, ir)
	}
	for _, it := range items {
		if partial[it.SHA256] || partial[it.ID] || slices.ContainsFunc(runs, func(r sqlite.RunRecord) bool {
			return r.State == sqlite.RunComplete && covers(r, sqlite.RunItem{ID: it.ID, SHA256: it.SHA256})
		}) {
			continue
		}
		c.NotIngested = append(c.NotIngested, it.ID+" "+it.Name)
	}
	c.Complete = len(c.Incomplete) == 0 && len(c.NotIngested) == 0
	return c, nil
}

// warnIncomplete prints the state of an incomplete timeline on stderr, as
// the first thing a command that reads the timeline says.
func warnIncomplete(w io.Writer, c *export.Completeness) {
	if c.Complete {
		return
	}
	lines := c.Lines()
	fmt.Fprintf(w, "jejak: %s\n", lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// incompleteExit is what a command that read the timeline returns: its
// own error, or errIncomplete (exit 3) when the timeline it read is
// partial, restated last so that it is not lost above long output.
func incompleteExit(w io.Writer, c *export.Completeness, err error) error {
	if c == nil || c.Complete {
		return err
	}
	if err == nil || errors.Is(err, errWarnings) {
		fmt.Fprintf(w, "jejak: the case timeline read here is INCOMPLETE (%s): exit status 3\n", incompleteWhy(c))
		return errIncomplete
	}
	return err
}

func incompleteWhy(c *export.Completeness) string {
	var parts []string
	for _, r := range c.Incomplete {
		parts = append(parts, fmt.Sprintf("ingest run %d %s", r.Run, r.State))
	}
	if n := len(c.NotIngested); n > 0 {
		parts = append(parts, fmt.Sprintf("%d evidence item(s) never read by a completed run", n))
	}
	return strings.Join(parts, "; ")
}

// runStart is the record of an ingest run about to read items.
func runStart(now time.Time, items []*evidence.Item) sqlite.RunStart {
	rs := sqlite.RunStart{Started: now, ToolVersion: version, PID: os.Getpid(), Items: []sqlite.RunItem{}}
	rs.Host, _ = os.Hostname()
	for _, it := range items {
		rs.Items = append(rs.Items, sqlite.RunItem{ID: it.ID, Name: it.Name, SHA256: it.SHA256})
	}
	return rs
}

// runState is how a run ended: complete unless an error ended it. Record
// warnings are no error: the run read everything it could.
func runState(err error) sqlite.RunState {
	switch {
	case err == nil:
		return sqlite.RunComplete
	case errors.Is(err, context.Canceled):
		return sqlite.RunInterrupted
	}
	return sqlite.RunFailed
}

// progressEvery is how often a run's progress is stored: a small UPDATE,
// cheap beside the batches of events between two of them.
const progressEvery = 2 * time.Second

// recordProgress wraps an ingest progress callback (next, may be nil) to
// store the progress in the run's record: the first time anything was read,
// then every progressEvery, and at the end. A failed update loses only a
// progress figure; the run's state is written separately, so it is not
// allowed to stop the run. Progress times are the wall clock, not the
// command's clock: how often progress comes depends on the machine, and
// the case clock must tick the same in every run of a test.
func recordProgress(ctx context.Context, store *sqlite.Store, next func(ingest.Progress)) func(ingest.Progress) {
	var mu sync.Mutex
	var last time.Time
	return func(p ingest.Progress) {
		if next != nil {
			next(p)
		}
		mu.Lock()
		defer mu.Unlock()
		t := time.Now()
		if !p.Done && (p.Files == 0 || (!last.IsZero() && t.Sub(last) < progressEvery)) {
			return
		}
		last = t
		_ = store.SetRunProgress(ctx, sqlite.RunProgress{Files: p.Files, Events: p.Events, Bytes: p.Bytes, LastFile: p.Current, At: t})
	}
}
