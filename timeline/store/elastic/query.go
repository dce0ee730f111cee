package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
)

// filterQuery combines a KQL filter (nil: all) with q's time window.
func filterQuery(f *query.Filter, q timeline.Query) map[string]any {
	if f == nil {
		return rangeQuery(q)
	}
	return map[string]any{"bool": map[string]any{"filter": []any{rangeQuery(q), f.DSL()}}}
}

// Query streams the events matching a compiled KQL filter within q's time
// range, in the SQLite store's order (@timestamp, then jejak.id), at most
// q.Limit of them.
func (s *Store) Query(ctx context.Context, f *query.Filter, q timeline.Query, fn func(*timeline.Event) error) error {
	if err := s.refresh(ctx); err != nil {
		return err
	}
	return s.pages(ctx, filterQuery(f, q), q.Limit, nil, fn)
}

// QueryCount returns how many events a Query would stream.
func (s *Store) QueryCount(ctx context.Context, f *query.Filter, q timeline.Query) (int64, error) {
	return s.count(ctx, filterQuery(f, q), q.Limit)
}

// eventSort is the timeline's order: @timestamp, then jejak.id.
var eventSort = []any{
	map[string]any{"@timestamp": map[string]any{"order": "asc", "format": nanosFormat}},
	map[string]any{"jejak.id": "asc"},
}

// pages runs a query sorted by @timestamp then jejak.id, paging with
// search_after on that sort; Search, Query and the point-in-time reader
// all read through it. With pit set the pages go through that point in
// time (no index in the path: the point in time names it), and the ID the
// cluster hands back replaces it.
func (s *Store) pages(ctx context.Context, qry map[string]any, limit int, pit *string, fn func(*timeline.Event) error) error {
	return s.hits(ctx, qry, eventSort, limit, pit, func(_ string, src json.RawMessage) error {
		var e timeline.Event
		if err := json.Unmarshal(src, &e); err != nil {
			return fmt.Errorf("decode event from %s: %w", s.cfg.Index, err)
		}
		return fn(&e)
	})
}

// hits pages through the documents of qry in the order sort gives,
// handing fn each one's _id and _source undecoded.
func (s *Store) hits(ctx context.Context, qry map[string]any, sort []any, limit int, pit *string, fn func(id string, src json.RawMessage) error) error {
	r := pageRequest{what: "search " + s.cfg.Index, qry: qry, sort: sort, limit: limit, pit: pit}
	err := s.pageLoop(ctx, r, func(page []hit) error {
		for i, h := range page {
			if i%cancelCheck == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := fn(h.ID, h.Source); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = ctx.Err()
	}
	return err
}

// cancelCheck is how many events a read hands out between looks at its
// context. A cancelled read (Ctrl-C, or the caller's own cancel from
// inside fn) stops within that many events with the context's error, as
// the SQLite store's does: not at the end of the page in hand, which can
// be the whole of a small read, and then with no error at all.
const cancelCheck = 64

// pageRequest is one paged read: qry in the order sort gives, at most
// limit hits (0: all), through the point in time pit names when set, and
// of one slice of it when sliceMax > 1.
type pageRequest struct {
	what  string // names the read in errors: "search INDEX (slice 2 of 4)"
	qry   map[string]any
	sort  []any
	limit int
	pit   *string

	sliceID, sliceMax int
}

// hit is one document of a page: its _id, its _source undecoded, and the
// sort values search_after starts the next page from.
type hit struct {
	ID     string          `json:"_id"`
	Source json.RawMessage `json:"_source"`
	Sort   []any           `json:"sort"`
}

// pageLoop is the one paging loop every read of the store goes through
// (hits, and so pages, and each slice of a Sliced read): it asks for the
// pages of r with search_after and hands fn each page's hits, in order.
// Sort values are kept as json.Number: date_nanos sorts as integers up to
// 2^63, beyond float64's precision. A failed shard is an error, never a
// short read. With r.pit set, the ID the cluster hands back replaces it.
func (s *Store) pageLoop(ctx context.Context, r pageRequest, fn func(page []hit) error) error {
	var after []any
	sent := 0
	for {
		size := s.cfg.PageSize
		if r.limit > 0 {
			size = min(size, r.limit-sent)
			if size <= 0 {
				return nil
			}
		}
		req := map[string]any{
			"size":             size,
			"query":            r.qry,
			"track_total_hits": false,
			"sort":             r.sort,
		}
		opts := []func(*esapi.SearchRequest){s.client.Search.WithContext(ctx)}
		if r.pit != nil {
			req["pit"] = map[string]any{"id": *r.pit, "keep_alive": pitKeepAlive}
		} else {
			opts = append(opts, s.client.Search.WithIndex(s.cfg.Index))
		}
		if r.sliceMax > 1 {
			// The cluster refuses a slice of max 1: one slice is the
			// whole point in time.
			req["slice"] = map[string]any{"id": r.sliceID, "max": r.sliceMax}
		}
		if after != nil {
			req["search_after"] = after
		}
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		res, err := s.client.Search(append(opts, s.client.Search.WithBody(bytes.NewReader(body)))...)
		if err != nil {
			return fmt.Errorf("%s: %w", r.what, err)
		}
		if res.IsError() {
			err := apiError(r.what, res)
			res.Body.Close()
			return err
		}
		var page struct {
			PitID  string `json:"pit_id"`
			Shards struct {
				Failed int `json:"failed"`
			} `json:"_shards"`
			Hits struct {
				Hits []hit `json:"hits"`
			} `json:"hits"`
		}
		dec := json.NewDecoder(res.Body)
		dec.UseNumber()
		err = dec.Decode(&page)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", r.what, err)
		}
		if page.Shards.Failed > 0 {
			return fmt.Errorf("%s: %d shards failed, results would be incomplete", r.what, page.Shards.Failed)
		}
		if r.pit != nil && page.PitID != "" {
			*r.pit = page.PitID // the cluster may hand over a newer ID
		}
		hits := page.Hits.Hits
		if len(hits) > 0 {
			if err := fn(hits); err != nil {
				return err
			}
		}
		sent += len(hits)
		if len(hits) < size {
			return nil
		}
		// The sort values go back as they came (with a point in time the
		// cluster adds its tiebreaker, _shard_doc); a page without them
		// would start the next one from the beginning again.
		after = hits[len(hits)-1].Sort
		if len(after) < len(r.sort) {
			return fmt.Errorf("%s: a page ended without its sort values", r.what)
		}
	}
}
