package casework

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// RunStart is the record of an ingest run about to read items, by the
// given tool version.
func RunStart(now time.Time, toolVersion string, items []*evidence.Item) sqlite.RunStart {
	rs := sqlite.RunStart{Started: now, ToolVersion: toolVersion, PID: os.Getpid(), Items: []sqlite.RunItem{}}
	rs.Host, _ = os.Hostname()
	for _, it := range items {
		rs.Items = append(rs.Items, sqlite.RunItem{ID: it.ID, Name: it.Name, SHA256: it.SHA256})
	}
	return rs
}

// RunState is how a run ended: complete unless an error ended it. Record
// warnings are no error: the run read everything it could.
func RunState(err error) sqlite.RunState {
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

// RecordProgress wraps an ingest progress callback (next, may be nil) to
// store the progress in the run's record: the first time anything was read,
// then every progressEvery, and at the end. A failed update loses only a
// progress figure; the run's state is written separately, so it is not
// allowed to stop the run. Progress times are the wall clock, not the
// command's clock: how often progress comes depends on the machine, and
// the case clock must tick the same in every run of a test.
func RecordProgress(ctx context.Context, store *sqlite.Store, next func(ingest.Progress)) func(ingest.Progress) {
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
