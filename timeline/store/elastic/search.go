package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

const nanosFormat = "strict_date_optional_time_nanos"

// The span date_nanos holds: an event whose time is outside it is indexed
// without a @timestamp (ignore_malformed), so it sorts after every other
// event and no time bound selects it; a bound outside it is clamped here,
// since the cluster refuses one (a 400 for the whole search).
var (
	minNanos = time.Unix(0, 0).UTC()
	maxNanos = time.Unix(0, math.MaxInt64).UTC()
)

// matchNone selects nothing (a window that lies outside date_nanos).
var matchNone = map[string]any{"match_none": map[string]any{}}

// rangeQuery is the Query's time window as an Elasticsearch query, with
// nanosecond bounds: From inclusive, To exclusive, as in SQLite.
func rangeQuery(q timeline.Query) map[string]any {
	if q.From.IsZero() && q.To.IsZero() {
		return map[string]any{"match_all": map[string]any{}}
	}
	r := map[string]any{"format": nanosFormat}
	if !q.From.IsZero() {
		if q.From.After(maxNanos) {
			return matchNone
		}
		r["gte"] = maxTime(q.From.UTC(), minNanos).Format(time.RFC3339Nano)
	}
	if !q.To.IsZero() {
		switch {
		case !q.To.After(minNanos):
			return matchNone
		case q.To.After(maxNanos):
			r["lte"] = maxNanos.Format(time.RFC3339Nano)
		default:
			r["lt"] = q.To.UTC().Format(time.RFC3339Nano)
		}
	}
	return map[string]any{"range": map[string]any{"@timestamp": r}}
}

func maxTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// Count returns how many events match, capped at q.Limit when set (as
// SQLite does). It refreshes the index first so every write is counted.
func (s *Store) Count(ctx context.Context, q timeline.Query) (int64, error) {
	return s.count(ctx, rangeQuery(q), q.Limit)
}

// count refreshes the index and counts the documents qry matches, capped at
// limit when set; a failed shard is an error, never a short count.
func (s *Store) count(ctx context.Context, qry map[string]any, limit int) (int64, error) {
	if err := s.refresh(ctx); err != nil {
		return 0, err
	}
	body, err := json.Marshal(map[string]any{"query": qry})
	if err != nil {
		return 0, err
	}
	res, err := s.client.Count(s.client.Count.WithIndex(s.cfg.Index), s.client.Count.WithBody(bytes.NewReader(body)),
		s.client.Count.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", s.cfg.Index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return 0, apiError("count "+s.cfg.Index, res)
	}
	var r struct {
		Count  int64 `json:"count"`
		Shards struct {
			Failed int `json:"failed"`
		} `json:"_shards"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return 0, fmt.Errorf("count %s: %w", s.cfg.Index, err)
	}
	if r.Shards.Failed > 0 {
		return 0, fmt.Errorf("count %s: %d shards failed, the count would be short", s.cfg.Index, r.Shards.Failed)
	}
	if limit > 0 && r.Count > int64(limit) {
		return int64(limit), nil
	}
	return r.Count, nil
}

// Search streams matching events ordered by @timestamp then jejak.id, the
// same total order as SQLite, paging with search_after on that sort. The
// sort values come back as JSON numbers up to 2^63 (date_nanos), so they
// are kept as json.Number, never float64.
func (s *Store) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	if err := s.refresh(ctx); err != nil {
		return err
	}
	return s.pages(ctx, rangeQuery(q), q.Limit, nil, fn)
}
