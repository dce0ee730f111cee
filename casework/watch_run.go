package casework

import (
	"context"
	"path/filepath"

	"github.com/jejak-forensics/jejak/casework/watch"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/syslog"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// WatchOptions are the options of Watch: what to follow and listen on,
// the stream hunt and its alerts (watch.Config; its Dir, Registry,
// Syslog, Zone, Now, Warn and Sink are the case's and are set by Watch).
type WatchOptions struct {
	watch.Config
	// ES, when set, also receives every batch stored, as it is stored
	// (the caller opens and closes it).
	ES *elastic.Store
	// Started, when set, is given the watcher once it could start
	// (listeners bound, offsets read) and its run is recorded.
	Started func(*watch.Watcher)
}

// Watch follows log files and listens for syslog into the case store until
// ctx ends, with the stream hunt's alerts. The run is recorded once the
// watch could start (a refused start leaves no run behind) and ended with
// its summary; the custody log records it with the store's digest. Once
// started, the summary is returned with the error that ended the run, if
// any; a watch refused before it started returns no summary.
func (c *Case) Watch(ctx context.Context, o WatchOptions) (*watch.Summary, error) {
	cs := c.Evidence
	if err := cs.CheckSigning(); err != nil {
		return nil, err
	}
	store, done, err := c.store(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	cfg := o.Config
	cfg.Dir = filepath.Join(cs.Dir(), "watch")
	cfg.Registry, cfg.Syslog, cfg.Zone, cfg.Now = all.Registry(), syslog.New(), cs.Location(), c.now
	ws := NewWarningWriter(ctx, store)
	cfg.Warn = ws.Add
	cfg.Sink = store
	if o.ES != nil {
		// Store.Write waits for each batch, which keeps the latency bound
		// for Elasticsearch too (a Stream would hold small batches until a
		// bulk request fills).
		cfg.Sink = timeline.Tee(store, esBatches{o.ES})
	}
	w, err := watch.New(cfg)
	if err != nil {
		return nil, err
	}
	// The run is recorded once the watch could start (listeners bound,
	// offsets read): a refused start leaves no run behind.
	if _, err := store.StartRun(ctx, RunStart(c.now(), c.Config.ToolVersion, nil)); err != nil {
		return nil, err
	}
	// Repeats must be refused as they come (a line read again after a
	// restart): no deferred unique index here.
	if _, err := store.FinishWrites(ctx); err != nil {
		return nil, err
	}
	if o.Started != nil {
		o.Started(w)
	}
	sum, runErr := w.Run(ctx)
	bg := context.WithoutCancel(ctx)
	if err := ws.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if err := store.EndRun(bg, c.now(), RunState(runErr), errString(runErr), sum); err != nil && runErr == nil {
		runErr = err
	}
	if err := cs.Log("watch", map[string]any{"summary": sum, "error": errString(runErr),
		"store": StoreDetails(bg, store, IngestStoreParts...)}); err != nil && runErr == nil {
		runErr = err
	}
	return &sum, runErr
}

// esBatches stores batches in Elasticsearch one by one (see Watch).
type esBatches struct{ *elastic.Store }

func (s esBatches) Close() error { return nil } // closed by the caller
