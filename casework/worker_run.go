package casework

import (
	"context"
	"os"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// RunWorker claims the evidence items of a case in the cluster one at a
// time and ingests each into its timeline index, beside any number of
// other workers (casework/worker). cfg.Registry, when nil, is every
// parser jejak has (parsers/all). It returns when every item is done or
// refused, with what this worker did.
func RunWorker(ctx context.Context, cfg worker.Config) (worker.Result, error) {
	if cfg.Registry == nil {
		cfg.Registry = all.Registry()
	}
	return worker.Run(ctx, cfg)
}

// PushCase writes the case folder cs into the case indices beside es's
// timeline index, with the runs and warnings of its store when it has one
// (a folder whose evidence was never ingested has none, and none is made).
// pushedBy is recorded in the custody entry.
func PushCase(ctx context.Context, cs *evidence.Case, es *elastic.Store, pushedBy string) (worker.PushResult, error) {
	var store *sqlite.Store
	if _, err := os.Stat(cs.StorePath()); err == nil {
		if store, err = sqlite.Open(ctx, cs.StorePath()); err != nil {
			return worker.PushResult{}, err
		}
		defer store.Close()
	}
	return worker.Push(ctx, cs, store, es, pushedBy)
}
