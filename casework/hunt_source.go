package casework

import (
	"context"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// IndexBehind is ESSource's word that a case's Elasticsearch index holds
// fewer events than its folder's store (not indexed yet, or only in part),
// so the hunt reads the folder instead: a caller says so.
type IndexBehind struct {
	Index            string
	Indexed, InStore int64
}

// ESSource chooses what a hunt of the case with the Elasticsearch index es
// reads its timeline from: the index through a point in time (slices > 1:
// that many slices of one point in time, merged back into the same order,
// elastic.Sliced), unless the index holds fewer events than the case
// store. A hunt of such an index would miss events without saying so: the
// source is then nil (HuntOptions.Source's default, the case store) and
// behind says how many events each holds.
func (c *Case) ESSource(ctx context.Context, es *elastic.Store, slices int) (src hunt.Searcher, behind *IndexBehind, err error) {
	store, done, err := c.store(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	indexed, err := es.Count(ctx, timeline.Query{})
	if err != nil {
		return nil, nil, err
	}
	local, err := store.Count(ctx, timeline.Query{})
	if err != nil {
		return nil, nil, err
	}
	switch {
	case indexed < local:
		return nil, &IndexBehind{Index: es.Index(), Indexed: indexed, InStore: local}, nil
	case slices > 1:
		return es.Sliced(slices), nil, nil
	default:
		return es.PIT(), nil, nil
	}
}
