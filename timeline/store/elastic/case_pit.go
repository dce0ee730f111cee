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
	return s.withPIT(ctx, func(pit *string) error {
		return s.pages(ctx, rangeQuery(q), q.Limit, pit, fn)
	})
}

// withPIT refreshes the index, opens a point in time on it for fn, and
// closes it when fn returns (even on a cancelled ctx: an open point in
// time holds the segments it sees until it expires).
func (s *Store) withPIT(ctx context.Context, fn func(pit *string) error) error {
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
	return fn(&pit)
}
