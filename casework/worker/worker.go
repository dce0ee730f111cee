// Package worker runs a case that lives in Elasticsearch on many machines:
// Push and Pull move a case folder into and out of the case indices (see
// timeline/store/elastic's case*.go), and Run is one worker, any number of
// which, on any machines, share out the case's evidence items.
//
// A worker claims an item in the claims index with Elasticsearch's own
// optimistic concurrency: the first claim is a create (op_type=create),
// taking over an expired one a write conditional on the version read
// (if_seq_no/if_primary_term), so of two workers only one gets an item. A
// claim carries a lease the worker renews while it works; a worker that
// dies stops renewing, the lease runs out, and the next worker to look
// takes the item over and ingests it from the start. Event IDs are
// deterministic and written with the bulk `create` op, so the events the
// dead worker wrote are answered 409 (duplicates) the second time: an item
// is never in the index under two sets of IDs, and nothing it holds is
// lost. Before reading, every worker re-hashes the item (each file of a
// folder, each segment of an image set) against the registry.
//
// Leases compare the clocks of different machines: keep them in NTP sync,
// and the lease far longer than their drift (the default is 60 s).
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

type timelineWarning = timeline.Warning

// PathMap rewrites an evidence path registered on one machine to where
// this worker sees it: a path equal to From or under it gets To instead.
type PathMap struct{ From, To string }

// ParsePathMap reads FROM=TO.
func ParsePathMap(s string) (PathMap, error) {
	from, to, ok := strings.Cut(s, "=")
	if !ok || from == "" || to == "" {
		return PathMap{}, fmt.Errorf("path map %q is not FROM=TO", s)
	}
	return PathMap{From: filepath.Clean(from), To: filepath.Clean(to)}, nil
}

func mapPath(maps []PathMap, p string) string {
	for _, m := range maps {
		if p == m.From {
			return m.To
		}
		if rest, ok := strings.CutPrefix(p, m.From+string(filepath.Separator)); ok {
			return filepath.Join(m.To, rest)
		}
	}
	return p
}

// Config is one worker.
type Config struct {
	// ES is the case's timeline index; the case indices are beside it.
	ES *elastic.Store
	// Name identifies the worker in claims, runs and custody entries
	// (default host:pid).
	Name string
	// Examiner is recorded in the custody entries (default the case's).
	Examiner string
	PathMap  []PathMap
	// Lease is how long a claim lasts without renewal (default 60s); the
	// worker renews it every third of that while it works.
	Lease time.Duration
	// Poll is the wait between looks at items others hold (default Lease/4).
	Poll time.Duration
	// WorkDir holds the worker's copy of the case folder (pulled from the
	// cluster, to re-check hashes against its registry and manifests) and
	// its spool. Required; emptied of the copy at the start.
	WorkDir     string
	Registry    *parsers.Registry
	Workers     int   // files parsed at once (ingest.Config.Workers)
	SpoolLimit  int64 // ingest.Config.SpoolLimit
	ToolVersion string
	// Log receives one line per step (claims, items done); nil for none.
	Log io.Writer
	// Clock is the time source (default time.Now).
	Clock func() time.Time
	// Sink, when set, wraps the sink events go to: tests slow a worker
	// down with it, to kill it mid-item.
	Sink func(timeline.Sink) timeline.Sink
}

// Result is what one worker did.
type Result struct {
	Done    []string // items this worker ingested to the end
	Refused []string // items whose hashes no longer match the registry
	Lost    []string // items another worker took over while this one worked
	Events  int64    // events this worker sent (new and already there)
}

// Run claims and ingests the case's items until every item is done or
// refused (by this worker or others), then returns.
func Run(ctx context.Context, cfg Config) (Result, error) {
	var res Result
	if cfg.ES == nil || cfg.WorkDir == "" || cfg.Registry == nil {
		return res, errors.New("worker: ES, WorkDir and Registry are required")
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 60 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = cfg.Lease / 4
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	w := &worker{cfg: cfg, cc: cfg.ES.Case()}
	local := filepath.Join(cfg.WorkDir, "case")
	if err := os.RemoveAll(local); err != nil {
		return res, err
	}
	if _, err := Pull(ctx, cfg.ES, local); err != nil {
		return res, fmt.Errorf("worker: %w", err)
	}
	cs, err := evidence.Open(local)
	if err != nil {
		return res, err
	}
	w.local = cs
	if w.cfg.Examiner == "" {
		w.cfg.Examiner = cs.Info().Examiner
	}
	if cs.Info().SigningKey != "" {
		return res, errors.New("worker: the case's custody chain is signed, and a worker has no examiner's key to sign its entries with: ingest it on the examiner's machine")
	}
	items, err := cs.Evidence()
	if err != nil {
		return res, err
	}
	// Items seen done or refused are not asked about again.
	settled := map[string]bool{}
	for {
		open := 0
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			if settled[it.ID] {
				continue
			}
			now := cfg.Clock().UTC()
			token := newToken()
			cl, v, ok, err := w.cc.TryClaim(ctx, it.ID, cfg.Name, token, now, now.Add(cfg.Lease))
			if err != nil {
				return res, err
			}
			if !ok {
				if cl.State == elastic.ClaimWorking {
					open++
				} else {
					settled[it.ID] = true
				}
				continue
			}
			w.logf("claimed %s (%s), attempt %d", it.ID, it.Name, cl.Attempt)
			if err := w.item(ctx, it, cl, v, &res); err != nil {
				return res, err
			}
			open++ // look again: its claim says how it ended
		}
		if open == 0 {
			return res, nil
		}
		t := time.NewTimer(cfg.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return res, ctx.Err()
		case <-t.C:
		}
	}
}

type worker struct {
	cfg   Config
	cc    *elastic.CaseStore
	local *evidence.Case
}

func (w *worker) logf(format string, a ...any) {
	if w.cfg.Log != nil {
		fmt.Fprintf(w.cfg.Log, "worker %s: %s\n", w.cfg.Name, fmt.Sprintf(format, a...))
	}
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lease renews a claim every third of the lease until stopped; when the
// claim is lost (another worker took it over, or renewal failed until the
// lease ran out) it cancels the item's context with the reason.
type lease struct {
	mu     sync.Mutex
	cl     elastic.Claim
	v      elastic.Version
	stop   chan struct{}
	done   chan struct{}
	cancel context.CancelCauseFunc
}

func (w *worker) hold(ctx context.Context, cl elastic.Claim, v elastic.Version, cancel context.CancelCauseFunc) *lease {
	l := &lease{cl: cl, v: v, stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(l.done)
		t := time.NewTicker(w.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			l.mu.Lock()
			next := l.cl
			next.LeaseUntil = w.cfg.Clock().UTC().Add(w.cfg.Lease)
			nv, err := w.cc.UpdateClaim(ctx, next, l.v)
			switch {
			case err == nil:
				l.cl, l.v = next, nv
			case errors.Is(err, elastic.ErrClaimLost) || w.cfg.Clock().After(l.cl.LeaseUntil):
				l.mu.Unlock()
				cancel(fmt.Errorf("lease of %s: %w", next.Item, err))
				return
			}
			// Another failure (a node restarting): try again next tick,
			// while the lease still runs.
			l.mu.Unlock()
		}
	}()
	return l
}

// end stops renewing and returns the claim as last written.
func (l *lease) end() (elastic.Claim, elastic.Version) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cl, l.v
}

// item ingests one claimed item. Only errors that make going on pointless
// (the cluster unreachable, the run cancelled) are returned; an item
// refused or lost to another worker is recorded and the worker goes on.
func (w *worker) item(ctx context.Context, it *evidence.Item, cl elastic.Claim, v elastic.Version, res *Result) error {
	started := w.cfg.Clock().UTC()
	host, _ := os.Hostname()
	run := elastic.RunDoc{ID: fmt.Sprintf("worker-%s-%s-%d", it.ID, cl.Token, cl.Attempt), Source: "worker", Worker: w.cfg.Name,
		Host: host, PID: os.Getpid(), Item: []string{it.ID}, SHA256: []string{it.SHA256}, Started: started,
		State: "running", ToolVersion: w.cfg.ToolVersion}
	if err := w.cc.PutRuns(ctx, []elastic.RunDoc{run}); err != nil {
		return err
	}
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l := w.hold(ictx, cl, v, cancel)

	mapped := *it
	mapped.Path = mapPath(w.cfg.PathMap, it.Path)
	mapped.Segments = append([]evidence.SegmentFile(nil), it.Segments...)
	for i := range mapped.Segments {
		mapped.Segments[i].Path = mapPath(w.cfg.PathMap, mapped.Segments[i].Path)
	}
	sum, st, nwarn, ierr := w.ingest(ictx, &mapped)
	cl, v = l.end()
	if cause := context.Cause(ictx); ierr != nil && cause != nil && ctx.Err() == nil {
		ierr = cause // the lease was lost: say so, not "context canceled"
	}
	finished := w.cfg.Clock().UTC()
	run.Finished = &finished
	run.Events, run.Inserted, run.Duplicates, run.Warnings = sum.Events, int64(st.Inserted), int64(st.Duplicates), nwarn
	run.Summary, _ = json.Marshal(sum)
	details := map[string]any{"id": it.ID, "sha256": it.SHA256, "path": mapped.Path, "worker": w.cfg.Name,
		"index": w.cfg.ES.Index(), "attempt": cl.Attempt, "events": sum.Events,
		"inserted": st.Inserted, "duplicates": st.Duplicates, "warnings": nwarn}
	final := elastic.ClaimDone
	if ierr == nil {
		// Still ours? The lease may have run out unnoticed (a renewal
		// slower than the lease) and another worker taken the item over:
		// then that worker records the ingest, not this one.
		next := cl
		next.LeaseUntil = w.cfg.Clock().UTC().Add(w.cfg.Lease)
		nv, err := w.cc.UpdateClaim(ctx, next, v)
		switch {
		case errors.Is(err, elastic.ErrClaimLost):
			ierr = err
		case err != nil:
			return err
		default:
			cl, v = next, nv
		}
	}
	// The writes that end the item (custody, run, claim) take a refresh, a
	// search and a few conditional writes, which a loaded cluster can
	// stretch past the lease: the lease is renewed through them as through
	// the read. Ended unrenewed, it ran out under load (TestWorkers, 1 run
	// of 3), another worker took the item over and ingested it again, and
	// the custody chain recorded the item's ingest two and three times.
	fctx, fcancel := context.WithCancelCause(ctx)
	defer fcancel(nil)
	var fl *lease
	if ierr == nil || errors.Is(ierr, evidence.ErrChanged) {
		fl = w.hold(fctx, cl, v, fcancel)
	}
	switch {
	case ierr == nil:
		run.State = "complete"
	case errors.Is(ierr, evidence.ErrChanged):
		run.State, run.Error, final = "refused", ierr.Error(), elastic.ClaimRefused
		res.Refused = append(res.Refused, it.ID)
		details["reason"], details["error"] = "changed since registration", ierr.Error()
		if _, err := w.cc.AppendCustody(ctx, w.cfg.Clock(), w.cfg.Examiner, "evidence_refused", details); err != nil {
			return err
		}
	case errors.Is(ierr, elastic.ErrClaimLost):
		run.State, run.Error = "lost", ierr.Error()
		res.Lost = append(res.Lost, it.ID)
		w.logf("%s: %v", it.ID, ierr)
		return w.cc.PutRuns(ctx, []elastic.RunDoc{run})
	default:
		// A failed read: the claim stays "working" and its lease runs out,
		// so another worker (or this one, on its next look) tries again;
		// the run says why.
		run.State, run.Error = "failed", ierr.Error()
		if err := w.cc.PutRuns(context.WithoutCancel(ctx), []elastic.RunDoc{run}); err != nil {
			return errors.Join(ierr, err)
		}
		return fmt.Errorf("evidence %s: %w", it.ID, ierr)
	}
	if final == elastic.ClaimDone {
		// Custody first: after a crash between the two writes the item
		// is ingested again and the chain over-reports, never hides, a run.
		if _, err := w.cc.AppendCustody(ctx, w.cfg.Clock(), w.cfg.Examiner, "worker_ingest", details); err != nil {
			return err
		}
		res.Done = append(res.Done, it.ID)
		res.Events += sum.Events
	}
	if err := w.cc.PutRuns(ctx, []elastic.RunDoc{run}); err != nil {
		return err
	}
	cl, v = fl.end()
	cl.State, cl.Finished, cl.Events, cl.Error = final, finished, sum.Events, run.Error
	if _, err := w.cc.UpdateClaim(ctx, cl, v); err != nil && !errors.Is(err, elastic.ErrClaimLost) {
		return err
	}
	w.logf("%s %s: %d events (%d new), %d warnings", final, it.ID, sum.Events, st.Inserted, nwarn)
	return nil
}

// ingest re-checks the item's hashes, reads it into the timeline index and
// stores its warnings.
func (w *worker) ingest(ctx context.Context, it *evidence.Item) (ingest.Summary, timeline.WriteStats, int64, error) {
	var sum ingest.Summary
	var st timeline.WriteStats
	if err := w.local.Recheck(ctx, it, true); err != nil {
		return sum, st, 0, err
	}
	tmp, err := os.MkdirTemp(w.cfg.WorkDir, "spool-")
	if err != nil {
		return sum, st, 0, err
	}
	defer os.RemoveAll(tmp)
	zone := w.local.Location()
	wk, err := disk.OpenEvidence(ctx, it.Path, jfs.Options{TempDir: tmp, SpoolLimit: w.cfg.SpoolLimit, Zone: zone})
	if err != nil {
		return sum, st, 0, fmt.Errorf("open evidence %s: %w", it.Path, err)
	}
	var mu sync.Mutex
	var warns []timeline.Warning
	cfg := ingest.Config{Registry: w.cfg.Registry, Zone: zone, TempDir: tmp, SpoolLimit: w.cfg.SpoolLimit,
		Workers: w.cfg.Workers, Warn: func(x timeline.Warning) {
			mu.Lock()
			warns = append(warns, x)
			mu.Unlock()
		}}
	stream := w.cfg.ES.Stream()
	var sink timeline.Sink = stream
	if w.cfg.Sink != nil {
		sink = w.cfg.Sink(sink)
	}
	sum, err = ingest.Run(ctx, cfg, []ingest.Item{{SHA256: it.SHA256, Name: it.Name, Walker: wk}}, sink)
	st, ferr := stream.Finish(ctx)
	if err == nil {
		err = ferr
	}
	if err == nil {
		// Written to while read: the events may not be of the registered bytes.
		if rerr := w.local.Recheck(ctx, it, false); rerr != nil {
			err = fmt.Errorf("evidence %s changed while it was read: %w", it.ID, rerr)
		}
	}
	if err == nil {
		err = w.cc.PutWarnings(ctx, warns)
	}
	return sum, st, int64(len(warns)), err
}
