// Package casework is jejak's Go API: the work done on a case, from
// registering evidence to the report. The command line (cmd/jejak) is one
// user of it; tests, workers and programs that embed jejak are others.
//
// Its subpackages are the layers above the parsers: ingest (the pipeline),
// hunt (analysis), zonecheck and baseline (checks), report (outputs),
// watch and worker (ways of running the pipeline). Nothing below casework
// imports it: forensics (evidence access), timeline (the event model and
// stores) and parsers point down only.
package casework

import (
	"context"
	"errors"
	"fmt"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// Options are what a case records of whoever opens it: the examiner, the
// clock of custody entries, the tool version and the signing key.
type Options = evidence.Config

// Case is an open case folder: its evidence registry and custody log, and
// its embedded event store.
type Case struct {
	Dir      string
	Evidence *evidence.Case
	Store    *sqlite.Store
}

// Open opens the case folder dir and its embedded store.
func Open(ctx context.Context, dir string, o Options) (*Case, error) {
	cs, err := evidence.OpenWith(dir, o)
	if err != nil {
		return nil, err
	}
	store, err := sqlite.Open(ctx, cs.StorePath())
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", dir, err)
	}
	return &Case{Dir: dir, Evidence: cs, Store: store}, nil
}

// Close closes the case's store.
func (c *Case) Close() error {
	if c == nil || c.Store == nil {
		return nil
	}
	return errors.Join(c.Store.Close())
}
