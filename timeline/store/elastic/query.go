package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

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
	return s.pages(ctx, filterQuery(f, q), q.Limit, fn)
}

// QueryCount returns how many events a Query would stream.
func (s *Store) QueryCount(ctx context.Context, f *query.Filter, q timeline.Query) (int64, error) {
	return s.count(ctx, filterQuery(f, q), q.Limit)
}

// pages runs a query sorted by @timestamp then jejak.id, paging with
// search_after on that sort; it is Search's loop with any query (Search
// could call it with rangeQuery(q)). Sort values are kept as json.Number:
// date_nanos sorts as integers up to 2^63, beyond float64's precision.
func (s *Store) pages(ctx context.Context, qry map[string]any, limit int, fn func(*timeline.Event) error) error {
	var after []any
	sent := 0
	for {
		size := s.cfg.PageSize
		if limit > 0 {
			size = min(size, limit-sent)
			if size <= 0 {
				return nil
			}
		}
		req := map[string]any{
			"size":             size,
			"query":            qry,
			"track_total_hits": false,
			"sort": []any{
				map[string]any{"@timestamp": map[string]any{"order": "asc", "format": nanosFormat}},
				map[string]any{"jejak.id": "asc"},
			},
		}
		if after != nil {
			req["search_after"] = after
		}
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		res, err := s.client.Search(s.client.Search.WithIndex(s.cfg.Index), s.client.Search.WithBody(bytes.NewReader(body)),
			s.client.Search.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("search %s: %w", s.cfg.Index, err)
		}
		if res.IsError() {
			err := apiError("search "+s.cfg.Index, res)
			res.Body.Close()
			return err
		}
		var page struct {
			Shards struct {
				Failed int `json:"failed"`
			} `json:"_shards"`
			Hits struct {
				Hits []struct {
					Source json.RawMessage `json:"_source"`
					Sort   []any           `json:"sort"`
				} `json:"hits"`
			} `json:"hits"`
		}
		dec := json.NewDecoder(res.Body)
		dec.UseNumber()
		err = dec.Decode(&page)
		res.Body.Close()
		if err != nil {
			return fmt.Errorf("search %s: %w", s.cfg.Index, err)
		}
		if page.Shards.Failed > 0 {
			return fmt.Errorf("search %s: %d shards failed, results would be incomplete", s.cfg.Index, page.Shards.Failed)
		}
		for _, h := range page.Hits.Hits {
			var e timeline.Event
			if err := json.Unmarshal(h.Source, &e); err != nil {
				return fmt.Errorf("decode stored event: %w", err)
			}
			if err := fn(&e); err != nil {
				return err
			}
			sent++
		}
		if len(page.Hits.Hits) < size {
			return nil
		}
		after = page.Hits.Hits[len(page.Hits.Hits)-1].Sort
	}
}
