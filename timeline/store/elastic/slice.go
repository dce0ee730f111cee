package elastic

import (
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
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
	return p.s.withPIT(ctx, func(pit *string) error { return p.read(ctx, pit, q, fn) })
}

// read is Search within the point in time pit names, which withPIT opened
// and closes.
func (p Sliced) read(ctx context.Context, pit *string, q timeline.Query, fn func(*timeline.Event) error) error {
	s := p.s
	opened := *pit
	// Every reader pages with its own copy of the point in time's ID (the
	// cluster may hand one a newer ID). withPIT closes the opened ID and
	// *pit; any other ID a reader was handed is closed here, once the
	// readers have stopped.
	var readers []*sliceReader
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		wg.Wait()
		ids := map[string]bool{}
		for _, r := range readers {
			if r.pit != opened && r.pit != *pit {
				ids[r.pit] = true
			}
		}
		for id := range ids {
			s.closePIT(ctx, id)
		}
	}()
	reader := func(id, of, limit, buffer int) *sliceReader {
		r := &sliceReader{s: s, id: id, max: of, pit: *pit, qry: rangeQuery(q), limit: limit,
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
		for i, e := range <-probe.out {
			if i%cancelCheck == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if p.counts != nil {
			p.counts[0] = probe.read
		}
		return ctx.Err()
	}
	*pit = probe.pit

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

// pages reads the slice through the store's one paging loop (pageLoop)
// and hands each page, decoded and checked for order, to the merge.
func (r *sliceReader) pages(ctx context.Context) error {
	what := fmt.Sprintf("search %s (slice %d of %d)", r.s.cfg.Index, r.id+1, r.max)
	req := pageRequest{what: what, qry: r.qry, sort: eventSort, limit: r.limit, pit: &r.pit, sliceID: r.id, sliceMax: r.max}
	return r.s.pageLoop(ctx, req, func(page []hit) error {
		batch := make([]*timeline.Event, len(page))
		for i, h := range page {
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
		select {
		case r.out <- batch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
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
		// The pages the slices hold are not handed out once ctx is done
		// (see cancelCheck): next's select picks a ready page or the
		// cancel at random, and the slices may all have finished.
		if sent%cancelCheck == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
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
	return ctx.Err()
}
