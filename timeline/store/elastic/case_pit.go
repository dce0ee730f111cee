package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// pitKeepAlive is how long the cluster keeps a point in time between two
// pages: the time one page takes to go through the analyzers, with margin.
const pitKeepAlive = "5m"

// PIT reads the timeline through a point in time: every page of one read
// sees the index as it was when the read began, whatever workers write
// meanwhile, in (@timestamp, jejak.id) order with search_after. It is what
// a hunt from the cluster reads (hunt.Searcher).
type PIT struct{ s *Store }

// PIT returns the store's point-in-time reader.
func (s *Store) PIT() PIT { return PIT{s: s} }

// Search streams the events of q in (@timestamp, jejak.id) order from a
// point in time opened for this call and closed at its end. A failed shard
// is an error, never a short read; a node lost between pages is retried on
// another (the point in time lives on the shard copies, not on the node
// that was asked).
func (p PIT) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	s := p.s
	if err := s.refresh(ctx); err != nil {
		return err
	}
	cl := s.client
	res, err := cl.OpenPointInTime([]string{s.cfg.Index}, pitKeepAlive, cl.OpenPointInTime.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("open point in time on %s: %w", s.cfg.Index, err)
	}
	var open struct {
		ID string `json:"id"`
	}
	if res.IsError() {
		err := apiError("open point in time on "+s.cfg.Index, res)
		res.Body.Close()
		return err
	}
	err = json.NewDecoder(res.Body).Decode(&open)
	res.Body.Close()
	if err != nil {
		return fmt.Errorf("open point in time on %s: %w", s.cfg.Index, err)
	}
	pit := open.ID
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		body, _ := json.Marshal(map[string]string{"id": pit})
		if r, err := cl.ClosePointInTime(cl.ClosePointInTime.WithBody(bytes.NewReader(body)), cl.ClosePointInTime.WithContext(ctx)); err == nil {
			r.Body.Close()
		}
	}()

	var after []any
	sent := 0
	for {
		size := s.cfg.PageSize
		if q.Limit > 0 {
			if size = min(size, q.Limit-sent); size <= 0 {
				return nil
			}
		}
		req := map[string]any{
			"size":             size,
			"query":            rangeQuery(q),
			"track_total_hits": false,
			"pit":              map[string]any{"id": pit, "keep_alive": pitKeepAlive},
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
		// No index in the path: the point in time names it.
		res, err := cl.Search(cl.Search.WithBody(bytes.NewReader(body)), cl.Search.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("search %s: %w", s.cfg.Index, err)
		}
		if res.IsError() {
			err := apiError("search "+s.cfg.Index, res)
			res.Body.Close()
			return err
		}
		var page struct {
			PitID  string `json:"pit_id"`
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
		if page.PitID != "" {
			pit = page.PitID // the cluster may hand over a newer ID
		}
		for _, h := range page.Hits.Hits {
			var e timeline.Event
			if err := json.Unmarshal(h.Source, &e); err != nil {
				return fmt.Errorf("decode event from %s: %w", s.cfg.Index, err)
			}
			if err := fn(&e); err != nil {
				return err
			}
			sent++
		}
		if len(page.Hits.Hits) < size {
			return nil
		}
		// With a point in time the cluster adds a tiebreaker (_shard_doc)
		// to the sort values; they go back as they came.
		after = page.Hits.Hits[len(page.Hits.Hits)-1].Sort
		if len(after) < 2 {
			return fmt.Errorf("search %s: a page ended without its sort values", s.cfg.Index)
		}
	}
}
