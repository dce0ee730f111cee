package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
// time holds the segments it sees until it expires). The ID fn's pages
// end with is closed, and the opened one too if the cluster handed over
// another.
func (s *Store) withPIT(ctx context.Context, fn func(pit *string) error) error {
	if err := s.refresh(ctx); err != nil {
		return err
	}
	pit, err := s.openPIT(ctx)
	if err != nil {
		return err
	}
	opened := pit
	defer func() {
		s.closePIT(ctx, pit)
		if opened != pit {
			s.closePIT(ctx, opened)
		}
	}()
	return fn(&pit)
}

// openPIT opens a point in time on the store's index, for withPIT and Sliced.Search.
func (s *Store) openPIT(ctx context.Context) (string, error) {
	cl := s.client
	res, err := cl.OpenPointInTime([]string{s.cfg.Index}, pitKeepAlive, cl.OpenPointInTime.WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("open point in time on %s: %w", s.cfg.Index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return "", apiError("open point in time on "+s.cfg.Index, res)
	}
	var open struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&open); err != nil {
		return "", fmt.Errorf("open point in time on %s: %w", s.cfg.Index, err)
	}
	if strings.TrimSpace(open.ID) == "" {
		return "", fmt.Errorf("open point in time on %s: the cluster answered no ID", s.cfg.Index)
	}
	return open.ID, nil
}

// closePIT frees a point in time on the cluster. It runs even when ctx was
// cancelled (a hunt that failed still frees its search contexts), and a
// failure is ignored: the keep-alive frees it anyway.
func (s *Store) closePIT(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cl := s.client
	body, _ := json.Marshal(map[string]string{"id": id})
	if r, err := cl.ClosePointInTime(cl.ClosePointInTime.WithBody(bytes.NewReader(body)), cl.ClosePointInTime.WithContext(ctx)); err == nil {
		r.Body.Close()
	}
}
