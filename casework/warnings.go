package casework

import (
	"context"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// Warnings streams the warnings stored in the case: those of the latest
// ingest run, or of every run when all is set, in the store's order. names
// maps an evidence item's SHA-256 to its name for warning lines; it is
// empty when the registry cannot be read (the lines then name the evidence
// by hash, which is all a warning records).
func (c *Case) Warnings(ctx context.Context, all bool, fn func(w timeline.Warning, names map[string]string) error) error {
	store, done, err := c.store(ctx)
	if err != nil {
		return err
	}
	defer done()
	// An unreadable registry costs the names, not the warnings.
	items, _ := c.Evidence.Evidence()
	names := EvidenceNames(items)
	return store.Warnings(ctx, !all, func(w timeline.Warning) error { return fn(w, names) })
}

// PullCase writes the case whose indices es names into dir, a new or
// empty folder: case.json, evidence.json, folder manifests and the custody
// log (workers' entries included), and verifies the custody chain there
// (casework/worker.Pull). The timeline, runs and warnings stay in the
// cluster.
func PullCase(ctx context.Context, es *elastic.Store, dir string) (worker.PullResult, error) {
	return worker.Pull(ctx, es, dir)
}
