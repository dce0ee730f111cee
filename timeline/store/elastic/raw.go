package elastic

import (
	"context"
	"encoding/json"

	"github.com/jejak-forensics/jejak/timeline/store"
)

// The Elasticsearch store is a whole store.Store, held by
// timeline/storetest to the case store's contract.
var (
	_ store.Events     = (*Store)(nil)
	_ store.RawScanner = (*Store)(nil)
	_ store.RawWriter  = (*Store)(nil)
	_ store.Findings   = (*Store)(nil)
	_ store.Store      = (*Store)(nil)
)

// ScanRaw streams every event of the index as the cluster keeps it (_id and
// _source, undecoded), through a point in time in the shards' own order
// (_shard_doc, the cheapest sort there is): what pulling a case back into
// a case store reads. Events written while it runs are not seen, and none
// is seen twice.
func (s *Store) ScanRaw(ctx context.Context, fn func(id string, doc []byte) error) error {
	return s.withPIT(ctx, func(pit *string) error {
		return s.hits(ctx, map[string]any{"match_all": map[string]any{}},
			[]any{map[string]any{"_shard_doc": "asc"}}, 0, pit,
			func(id string, src json.RawMessage) error { return fn(id, src) })
	})
}
