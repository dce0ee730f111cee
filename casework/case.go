// Package casework is jejak's Go API: the work done on a case, from
// registering evidence to the report. The command line (cmd/jejak) is one
// user of it; tests, workers and programs that embed jejak are others.
//
// A case is created with Init or opened with Open; evidence is registered
// with (*Case).AddEvidence, read into the case timeline with
// (*Case).Ingest and hunted with (*Case).Hunt; (*Case).Report, Export and
// Index write the outputs, Verify checks the custody chain. Baselines
// ((*Case).CaptureBaseline, DiffBaseline) and live logs ((*Case).Watch)
// feed the same store. A case that lives in Elasticsearch is worked by
// RunWorker and read with OpenCluster ((*Cluster).Hunt, Report, Export).
// Each call takes an options struct and returns a result to print or
// inspect: nothing here writes to a terminal (progress and notes come
// through callbacks in the options).
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
	"time"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// Options are what a case records of whoever opens it: the examiner, the
// clock of custody entries, the tool version and the signing key. The
// clock also times ingest runs and hunts, and the tool version is recorded
// with them.
type Options = evidence.Config

// ErrCaseExists is Init's error when the folder already holds a case.
var ErrCaseExists = evidence.ErrCaseExists

// Case is an open case folder: its evidence registry and custody log, and
// its embedded event store.
type Case struct {
	Dir      string
	Evidence *evidence.Case
	// Store is the embedded event store. A Case made with FromEvidence may
	// have none yet: the methods that need it open it then (and close it
	// when they return), so a command refused early never touches it.
	Store *sqlite.Store
	// Config is what the case was opened with: its clock and tool version
	// time and sign runs and hunts.
	Config Options
}

// Init creates the case folder dir (evidence.Init: case.json, registry,
// custody log) and opens it with its store. o.Examiner is required; o.Zone
// is the zone of logs without one (default UTC).
func Init(ctx context.Context, dir string, o Options) (*Case, error) {
	cs, err := evidence.Init(dir, o)
	if err != nil {
		return nil, err
	}
	return withStore(ctx, cs, o)
}

// Open opens the case folder dir and its embedded store.
func Open(ctx context.Context, dir string, o Options) (*Case, error) {
	cs, err := evidence.OpenWith(dir, o)
	if err != nil {
		return nil, err
	}
	return withStore(ctx, cs, o)
}

func withStore(ctx context.Context, cs *evidence.Case, o Options) (*Case, error) {
	store, err := sqlite.Open(ctx, cs.StorePath())
	if err != nil {
		return nil, fmt.Errorf("case %s: %w", cs.Dir(), err)
	}
	return &Case{Dir: cs.Dir(), Evidence: cs, Store: store, Config: o}, nil
}

// FromEvidence is the Case of a case folder already opened with o; store
// may be nil (see Case.Store).
func FromEvidence(cs *evidence.Case, store *sqlite.Store, o Options) *Case {
	return &Case{Dir: cs.Dir(), Evidence: cs, Store: store, Config: o}
}

// Close closes the case's store.
func (c *Case) Close() error {
	if c == nil || c.Store == nil {
		return nil
	}
	return errors.Join(c.Store.Close())
}

// store returns the case store, opening it when the Case has none; done
// closes what store opened.
func (c *Case) store(ctx context.Context) (s *sqlite.Store, done func(), err error) {
	if c.Store != nil {
		return c.Store, func() {}, nil
	}
	s, err = sqlite.Open(ctx, c.Evidence.StorePath())
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}

// now is the case clock (Options.Clock, else the wall clock).
func (c *Case) now() time.Time {
	if c.Config.Clock != nil {
		return c.Config.Clock()
	}
	return time.Now()
}
