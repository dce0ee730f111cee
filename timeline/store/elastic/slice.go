package elastic

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Sliced reads the timeline like PIT (one point in time, (@timestamp,
// jejak.id) order) with n readers: each pages through one slice of the
// point in time (Elasticsearch's sliced scroll, {"slice": {"id": i, "max":
// n}}) with search_after on its own connection, and a k-way merge puts the
// slices back into the one order the analyzers need. The request, the
// wait for the cluster and the decode of each page run n at a time; the
// analyzers see exactly the events, in exactly the order, a single reader
// gives (the tests compare both on the cluster).
//
// n may exceed the index's shards: the cluster then cuts each shard's
// documents into slices by their _shard_doc. One slice is the PIT reader.
type Sliced struct {
	s *Store
	n int

	// counts, when set (tests), receives how many events each slice read.
	counts []int64
}

// Sliced returns a reader over n slices of one point in time (n < 1 counts
// as 1). It has the PIT reader's Search, so a hunt takes either.
func (s *Store) Sliced(n int) Sliced { return Sliced{s: s, n: max(n, 1)} }

// sliceBuffer is how many decoded pages a slice may hold ahead of the
// merge: enough for a slice to fetch while the merge drains the others,
// few enough that memory stays about n*(sliceBuffer+1) pages.
const sliceBuffer = 2

// Search streams the events of q in (@timestamp, jejak.id) order, read by
// n slices of one point in time opened for this call and closed at its end.
// q.Limit bounds the merged stream. A failed shard or slice is an error,
// never a short read; an error of fn stops every slice and is returned.
func (p Sliced) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	if p.n <= 1 && p.counts == nil {
		return p.s.PIT().Search(ctx, q, fn)
	}
	s := p.s
	if err := s.refresh(ctx); err != nil {
		return err
	}
	pit, err := s.openPIT(ctx)
	if err != nil {
		return err
	}
	opened := pit
	// Every reader pages with its own copy of the point in time's ID (the
	// cluster may hand one a newer ID); every ID seen is closed at the end,
	// once the readers have stopped.
	var readers []*sliceReader
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
		ids := map[string]bool{opened: true}
		for _, r := range readers {
			ids[r.pit] = true
		}
		for id := range ids {
			s.closePIT(ctx, id)
		}
	}()
	reader := func(id, of, limit, buffer int) *sliceReader {
		r := &sliceReader{s: s, id: id, max: of, pit: pit, qry: rangeQuery(q), limit: limit,
			out: make(chan []*timeline.Event, buffer), done: make(chan struct{})}
		readers = append(readers, r)
		return r
	}

	// A read that fits in one page (a hunt reading back the rows of one
	// instant does up to thousands of those) is not worth n requests and
	// n goroutines: one page is asked first, without slices, and if it is
	// the whole answer it is the answer. Otherwise it is dropped and the
	// slices read everything: one page more for a large read.
	whole := s.cfg.PageSize
	if q.Limit > 0 && q.Limit <= whole {
		whole = q.Limit
	}
	probe := reader(0, 1, whole, 1)
	probe.run(ctx) // one page at most, which the buffer of 1 holds
	if probe.err != nil {
		return probe.err
	}
	if probe.read < int64(whole) || whole == q.Limit {
		for _, e := range <-probe.out {
			if err := fn(e); err != nil {
				return err
			}
		}
		if p.counts != nil {
			p.counts[0] = probe.read
		}
		return nil
	}
	pit = probe.pit

	slices := make([]*sliceReader, p.n)
	for i := range slices {
		r := reader(i, p.n, q.Limit, sliceBuffer)
		slices[i] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.run(ctx)
		}()
	}
	if err := mergeSlices(ctx, slices, q.Limit, fn); err != nil {
		return err
	}
	if p.counts != nil {
		for i, r := range slices {
			p.counts[i] = r.read
		}
	}
	return nil
}

// sliceReader pages through one slice and hands its decoded pages to the
// merge through out; it closes out when the slice is read or fails (err
// says which, read once done is closed).
type sliceReader struct {
	s        *Store
	id, max  int
	pit      string
	qry      map[string]any
	limit    int
	out      chan []*timeline.Event
	done     chan struct{}
	err      error
	read     int64
	lastTime time.Time
	lastID   string
}

func (r *sliceReader) run(ctx context.Context) {
	defer close(r.done)
	defer close(r.out)
	r.err = r.pages(ctx)
}

// pages is the paging loop of Store.pages with the slice added to every
// request; it is a copy because that loop sends events one at a time to a
// callback, while a slice hands whole decoded pages across goroutines.
func (r *sliceReader) pages(ctx context.Context) error {
	s := r.s
	what := fmt.Sprintf("search %s (slice %d of %d)", s.cfg.Index, r.id+1, r.max)
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
			"pit":              map[string]any{"id": r.pit, "keep_alive": pitKeepAlive},
			"sort": []any{
				map[string]any{"@timestamp": map[string]any{"order": "asc", "format": nanosFormat}},
				map[string]any{"jejak.id": "asc"},
			},
		}
		if r.max > 1 {
			// The cluster refuses a slice of max 1: one slice is the
			// whole point in time.
			req["slice"] = map[string]any{"id": r.id, "max": r.max}
		}
		if after != nil {
			req["search_after"] = after
		}
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		res, err := s.client.Search(s.client.Search.WithContext(ctx), s.client.Search.WithBody(bytes.NewReader(body)))
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if res.IsError() {
			err := apiError(what, res)
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
			return fmt.Errorf("%s: %w", what, err)
		}
		if page.Shards.Failed > 0 {
			return fmt.Errorf("%s: %d shards failed, results would be incomplete", what, page.Shards.Failed)
		}
		if page.PitID != "" {
			r.pit = page.PitID
		}
		batch := make([]*timeline.Event, len(page.Hits.Hits))
		for i, h := range page.Hits.Hits {
			e := new(timeline.Event)
			if err := json.Unmarshal(h.Source, e); err != nil {
				return fmt.Errorf("decode event from %s: %w", what, err)
			}
			// The merge is only right if every slice is in order; a slice
			// that is not (a sort the cluster did not apply) is an error,
			// not a silently shuffled hunt.
			if r.read > 0 || i > 0 {
				if c := e.Timestamp.Compare(r.lastTime); c < 0 || c == 0 && e.Jejak.ID <= r.lastID {
					return fmt.Errorf("%s: event %s (%s) came after %s (%s), out of (@timestamp, jejak.id) order",
						what, e.Jejak.ID, e.Timestamp.Format(time.RFC3339Nano), r.lastID, r.lastTime.Format(time.RFC3339Nano))
				}
			}
			r.lastTime, r.lastID = e.Timestamp, e.Jejak.ID
			batch[i] = e
		}
		r.read += int64(len(batch))
		sent += len(batch)
		if len(batch) > 0 {
			select {
			case r.out <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(page.Hits.Hits) < size {
			return nil
		}
		after = page.Hits.Hits[len(page.Hits.Hits)-1].Sort
		if len(after) < 2 {
			return fmt.Errorf("%s: a page ended without its sort values", what)
		}
	}
}

// cursor is one slice's place in the merge: the page it is on and the
// next event of it.
type cursor struct {
	r    *sliceReader
	page []*timeline.Event
	i    int
}

func (c *cursor) head() *timeline.Event { return c.page[c.i] }

// cursorHeap orders slices by their next event, (@timestamp, jejak.id):
// the order Store.pages asks the cluster for.
type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i].head(), h[j].head()
	if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
		return c < 0
	}
	return a.Jejak.ID < b.Jejak.ID
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// next fills c with the slice's next page; false when the slice is done,
// with the slice's error if it failed.
func (c *cursor) next(ctx context.Context) (bool, error) {
	select {
	case page, ok := <-c.r.out:
		if !ok {
			<-c.r.done
			return false, c.r.err
		}
		c.page, c.i = page, 0
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// mergeSlices is the k-way merge: it hands fn the smallest head of all
// slices until every slice is read or limit events went out. A slice's
// error ends the merge with that error.
func mergeSlices(ctx context.Context, slices []*sliceReader, limit int, fn func(*timeline.Event) error) error {
	h := make(cursorHeap, 0, len(slices))
	for _, r := range slices {
		c := &cursor{r: r}
		ok, err := c.next(ctx)
		if err != nil {
			return err
		}
		if ok {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	sent := 0
	for h.Len() > 0 {
		if limit > 0 && sent >= limit {
			return nil
		}
		c := h[0]
		if err := fn(c.head()); err != nil {
			return err
		}
		sent++
		c.i++
		if c.i < len(c.page) {
			heap.Fix(&h, 0)
			continue
		}
		ok, err := c.next(ctx)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return nil
}

// openPIT opens a point in time on the store's index, as PIT.Search does.
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
