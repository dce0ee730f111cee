package elastic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
)

// outcome of one event in one round of bulk requests.
type outcome int

const (
	created   outcome = iota // 201
	duplicate                // 409: the ID is already in the index
	retry                    // 429/5xx for this item or the whole request
	rejected                 // any other item error: the event cannot be indexed
)

type itemResult struct {
	state  outcome
	reason string
}

// Write indexes a batch with the bulk `create` op and the event ID as _id,
// so writing an event twice stores it once and reports a duplicate. Items
// the cluster refuses for load (429, 5xx) or whose answer is lost are sent
// again with backoff, up to MaxRetries rounds; any other refusal (a mapping
// error, say) fails the Write with the list of events and reasons, never
// silently.
func (s *Store) Write(ctx context.Context, batch []*timeline.Event) (timeline.WriteStats, error) {
	return s.write(ctx, len(batch), func(i int) *pendingDoc {
		e := batch[i]
		if e.Jejak.ID == "" {
			e.Finalize()
		}
		return &pendingDoc{id: e.Jejak.ID, ev: e}
	})
}

// RawEvent is an event already encoded: its ID and its JSON document, as
// the case store keeps it (json.Marshal of a finalised timeline.Event).
// The type is store.RawEvent, shared by both stores.
type RawEvent = store.RawEvent

// WriteRaw is Write for events already encoded, with the same guarantees.
// Copying a case from its store this way skips decoding every event and
// encoding it again, which is most of `jejak index`'s own CPU.
func (s *Store) WriteRaw(ctx context.Context, batch []RawEvent) (timeline.WriteStats, error) {
	for i, r := range batch {
		if r.ID == "" || len(r.Doc) == 0 {
			return timeline.WriteStats{}, fmt.Errorf("WriteRaw: event %d of the batch has no ID or no document", i)
		}
	}
	return s.write(ctx, len(batch), func(i int) *pendingDoc {
		return &pendingDoc{id: batch[i].ID, doc: batch[i].Doc}
	})
}

func (s *Store) write(ctx context.Context, n int, item func(i int) *pendingDoc) (timeline.WriteStats, error) {
	// IDs repeated inside the batch are duplicates of the first copy; they are
	// not sent, so a lost-answer resend can never mistake them for inserts.
	seen := make(map[string]bool, n)
	b := s.NewBulk()
	dups := 0
	var err error
	for i := range n {
		p := item(i)
		if seen[p.id] {
			dups++
			continue
		}
		seen[p.id] = true
		if p.doc == nil {
			// Encoded one at a time as the indexer takes them: add blocks
			// when the workers' queues are full, so memory stays bounded.
			if p.doc, err = json.Marshal(p.ev); err != nil {
				err = fmt.Errorf("encode event %s: %w", p.id, err)
				break
			}
		}
		if err = b.add(ctx, p); err != nil {
			break
		}
	}
	st, cerr := b.Close(ctx)
	st.Duplicates += dups
	if err == nil {
		err = cerr
	}
	return st, err
}

// Bulk streams documents into the index through one long-lived
// esutil.BulkIndexer, so that one request is being filled while the others
// are at the node. (An indexer per batch of 5,000 made every batch wait for
// its slowest request, and its round-robin workers filled and flushed in
// lockstep, leaving the node idle in between.)
//
// Events the cluster refuses for load (429, 5xx) or whose answer is lost are
// kept and sent again with backoff, in rounds, up to MaxRetries; that
// happens at Close, or earlier once they hold more than Workers*FlushBytes,
// so memory stays bounded however bad the cluster is. Any other refusal (a
// mapping error, say) makes Close fail listing the events and reasons;
// a refusal of a whole request that resending cannot change (401, 403)
// stops the stream at the next Add.
//
// A Bulk is used by one goroutine; the Store may run several.
type Bulk struct {
	s  *Store
	bi esutil.BulkIndexer

	added int // events given to Add

	// The indexer calls these for every item; bound once, not per item.
	onSuccess func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem)
	onFailure func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error)

	mu               sync.Mutex
	queued, answered int           // by the current indexer
	again            []*pendingDoc // to send in the next round
	againBytes       int
	lastRetry        string // why the last of them was refused
	bad              []string
	nbad             int
	fatal            error
	st               timeline.WriteStats
}

// pendingDoc is one event on its way. It is its own request body, so the
// indexer's callbacks find it in the item they are given.
type pendingDoc struct {
	id     string
	doc    []byte
	off    int             // read offset in doc
	ev     *timeline.Event // for the error message; nil for a raw document
	resent bool
}

// Read hands over the rest of the document and says io.EOF with the last
// bytes, not in a call of its own. The indexer copies a body with
// bytes.Buffer.ReadFrom, which wants 512 free bytes before every Read: a
// call just for io.EOF made it double a nearly full request buffer about
// every other request (8% of `jejak index`'s CPU, profiled).
func (p *pendingDoc) Read(b []byte) (int, error) {
	n := copy(b, p.doc[p.off:])
	p.off += n
	if p.off == len(p.doc) {
		return n, io.EOF
	}
	return n, nil
}

func (p *pendingDoc) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += int64(p.off)
	case io.SeekEnd:
		offset += int64(len(p.doc))
	default:
		return 0, errors.New("pendingDoc.Seek: invalid whence")
	}
	if offset < 0 || offset > int64(len(p.doc)) {
		return 0, errors.New("pendingDoc.Seek: offset out of the document")
	}
	p.off = int(offset)
	return offset, nil
}

func (p *pendingDoc) where() string {
	if p.ev != nil {
		return p.ev.Jejak.Provenance.Display()
	}
	return "the event of this ID in the case store"
}

// NewBulk starts a stream of documents into the store's index.
func (s *Store) NewBulk() *Bulk {
	b := &Bulk{s: s}
	b.onSuccess = func(_ context.Context, item esutil.BulkIndexerItem, _ esutil.BulkIndexerResponseItem) {
		b.answer(item.Body.(*pendingDoc), itemResult{state: created}, nil)
	}
	b.onFailure = func(_ context.Context, item esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
		b.answer(item.Body.(*pendingDoc), classify(res, err), err)
	}
	return b
}

// Add queues one encoded event. It blocks while every worker is busy, and
// returns the first error that makes going on pointless.
func (b *Bulk) Add(ctx context.Context, ev RawEvent) error {
	if ev.ID == "" || len(ev.Doc) == 0 {
		return fmt.Errorf("bulk: event %d has no ID or no document", b.added)
	}
	return b.add(ctx, &pendingDoc{id: ev.ID, doc: ev.Doc})
}

func (b *Bulk) add(ctx context.Context, p *pendingDoc) error {
	b.added++
	if err := b.enqueue(ctx, p); err != nil {
		return err
	}
	b.mu.Lock()
	full := b.againBytes >= b.s.cfg.Workers*b.s.cfg.FlushBytes
	b.mu.Unlock()
	if full {
		if err := b.drain(ctx); err != nil {
			return err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fatal
}

// Close sends what is queued, resends what was refused for load, and
// reports what became of every event given to Add.
func (b *Bulk) Close(ctx context.Context) (timeline.WriteStats, error) {
	err := b.drain(ctx)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil && b.nbad > 0 {
		sort.Strings(b.bad)
		more := ""
		if b.nbad > len(b.bad) {
			more = fmt.Sprintf("\n  ... and %d more", b.nbad-len(b.bad))
		}
		err = fmt.Errorf("elasticsearch rejected %d of %d events in index %s:\n  %s%s",
			b.nbad, b.added, b.s.cfg.Index, strings.Join(b.bad, "\n  "), more)
	}
	return b.st, err
}

func (b *Bulk) enqueue(ctx context.Context, p *pendingDoc) error {
	if b.bi == nil {
		bi, err := b.s.newIndexer()
		if err != nil {
			return err
		}
		b.bi = bi
	}
	p.off = 0
	b.mu.Lock()
	b.queued++
	b.mu.Unlock()
	err := b.bi.Add(ctx, esutil.BulkIndexerItem{
		Action:     "create",
		DocumentID: p.id,
		Body:       p,
		OnSuccess:  b.onSuccess,
		OnFailure:  b.onFailure,
	})
	if err != nil {
		b.mu.Lock()
		b.queued--
		b.mu.Unlock()
		return fmt.Errorf("queue event %s: %w", p.id, err)
	}
	return nil
}

// answer books what the cluster said of one event. reqErr is set when the
// whole request failed.
func (b *Bulk) answer(p *pendingDoc, r itemResult, reqErr error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answered++
	switch r.state {
	case created:
		b.st.Inserted++
	case duplicate:
		b.st.Duplicates++
		if p.resent {
			b.s.resentConflicts.Add(1)
		}
	case rejected:
		if reqErr != nil {
			if b.fatal == nil {
				b.fatal = fmt.Errorf("elasticsearch refused a bulk request to %s: %s", b.s.cfg.Index, r.reason)
			}
			return
		}
		b.nbad++
		if len(b.bad) < 20 {
			b.bad = append(b.bad, fmt.Sprintf("%s (%s): %s", p.id, p.where(), r.reason))
		}
	default:
		b.again = append(b.again, p)
		b.againBytes += len(p.doc)
		b.lastRetry = r.reason
	}
}

// flush closes the current indexer, waiting for every answer.
func (b *Bulk) flush(ctx context.Context) error {
	if b.bi == nil {
		return nil
	}
	err := b.bi.Close(context.WithoutCancel(ctx))
	b.bi = nil
	if err != nil {
		return fmt.Errorf("bulk indexer: %w", err)
	}
	b.mu.Lock()
	lost := b.queued - b.answered
	b.queued, b.answered = 0, 0
	b.mu.Unlock()
	if lost != 0 {
		// The indexer reports every item of a failed request, and every
		// item of an answer; only an answer listing fewer items than were
		// sent leaves some unreported, which no Elasticsearch does.
		return fmt.Errorf("elasticsearch answered for %d fewer events than were sent to %s", lost, b.s.cfg.Index)
	}
	return ctx.Err()
}

// drain flushes, then sends the events to retry in rounds with backoff
// until none is left or MaxRetries rounds have failed.
func (b *Bulk) drain(ctx context.Context) error {
	if err := b.flush(ctx); err != nil {
		return err
	}
	for round := 1; ; round++ {
		b.mu.Lock()
		todo, reason, fatal := b.again, b.lastRetry, b.fatal
		b.again, b.againBytes = nil, 0
		b.mu.Unlock()
		if fatal != nil || len(todo) == 0 {
			return fatal
		}
		if round > b.s.cfg.MaxRetries {
			return fmt.Errorf("elasticsearch did not take %d of %d events into %s after %d rounds of retries (last: %s)",
				len(todo), b.added, b.s.cfg.Index, round, reason)
		}
		b.s.retries.Add(1)
		b.s.itemRetries.Add(int64(len(todo)))
		t := time.NewTimer(b.s.backoff(round))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		for _, p := range todo {
			p.resent = true
			if err := b.enqueue(ctx, p); err != nil {
				return err
			}
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
	}
}

func (s *Store) newIndexer() (esutil.BulkIndexer, error) {
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     s.bulkClient,
		Index:      s.cfg.Index,
		NumWorkers: s.cfg.Workers,
		FlushBytes: s.cfg.FlushBytes,
		// Each worker's queue holds a whole request of events of 512 bytes
		// or more, so a worker back from the node sends its next request
		// at once. With the default of one item, Add blocked on a worker
		// busy at the node while the other was free, and one request was
		// in flight 80% of the time; with half a request queued, the node
		// still sat idle 6% of the time, and with a whole one under 1%
		// (measured; scripts/bench-es.sh went from a median 0.85 of curl's
		// replay to 0.9-0.95). Memory: Workers * this many queued events,
		// 20 MiB for events of 1 KiB.
		QueueSizeMultiplier: max(1, s.cfg.FlushBytes/512),
		// Close flushes; the interval only matters for a slow producer.
		FlushInterval: 30 * time.Second,
		FilterPath:    []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason"},
		Decoder:       bulkDecoder{},
		OnFlushStart: func(c context.Context) context.Context {
			s.bulkRequests.Add(1)
			return c
		},
	})
	if err != nil {
		return nil, fmt.Errorf("bulk indexer: %w", err)
	}
	return bi, nil
}

func classify(res esutil.BulkIndexerResponseItem, err error) itemResult {
	if err != nil {
		// The whole request failed: a reset, a timeout, a 429 or 5xx answer.
		// Whether the node applied it is unknown; `create` makes a resend
		// safe. The indexer hands an error answer over only as text
		// ("flush: [401 Unauthorized] ..."), so a client error other than
		// 429 is recognised there: resending would not change it.
		msg := err.Error()
		if i := strings.Index(msg, "[4"); i >= 0 && !strings.HasPrefix(msg[i:], "[429") {
			return itemResult{state: rejected, reason: msg}
		}
		return itemResult{state: retry, reason: msg}
	}
	reason := res.Error.Type
	if res.Error.Reason != "" {
		reason += ": " + res.Error.Reason
	}
	switch {
	case res.Status == 409:
		return itemResult{state: duplicate}
	case res.Status == 429 || res.Status >= 500:
		return itemResult{state: retry, reason: fmt.Sprintf("%d %s", res.Status, reason)}
	default:
		return itemResult{state: rejected, reason: fmt.Sprintf("%d %s", res.Status, reason)}
	}
}

// refresh makes written events visible to Count and Search. It runs even
// when this Store wrote nothing: another process (or Store) may have, and a
// shard that sees no searches stops refreshing on its own.
func (s *Store) refresh(ctx context.Context) error {
	res, err := s.client.Indices.Refresh(s.client.Indices.Refresh.WithIndex(s.cfg.Index),
		s.client.Indices.Refresh.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("refresh %s: %w", s.cfg.Index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return apiError("refresh "+s.cfg.Index, res)
	}
	var r struct {
		Shards struct {
			Failed int `json:"failed"`
		} `json:"_shards"`
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return fmt.Errorf("refresh %s: %w", s.cfg.Index, err)
	}
	if r.Shards.Failed > 0 {
		return errors.New("refresh " + s.cfg.Index + ": some shards failed to refresh")
	}
	return nil
}

// Stream is a Sink that puts every batch into one Bulk, for an ingest that
// writes to the case store and to Elasticsearch in one pass: requests stay
// in flight across batches, where Write would wait at the end of each for
// its slowest request. What became of the events is known only at Close,
// so Write reports no stats; Finish fails as Bulk.Close does. The index is
// then checked against the case store (jejak ingest --es does).
func (s *Store) Stream() *Stream { return &Stream{b: s.NewBulk()} }

// Stream: see Store.Stream.
type Stream struct {
	b    *Bulk
	done bool
	st   timeline.WriteStats
	err  error
}

var _ timeline.Sink = (*Stream)(nil)

// Write encodes the batch and queues it; it blocks while every bulk worker
// is busy.
func (w *Stream) Write(ctx context.Context, batch []*timeline.Event) (timeline.WriteStats, error) {
	for _, e := range batch {
		if e.Jejak.ID == "" {
			e.Finalize()
		}
		doc, err := json.Marshal(e)
		if err != nil {
			return timeline.WriteStats{}, fmt.Errorf("encode event %s: %w", e.Jejak.ID, err)
		}
		// No pointer to e is kept: the caller may reuse it.
		if err := w.b.add(ctx, &pendingDoc{id: e.Jejak.ID, doc: doc}); err != nil {
			return timeline.WriteStats{}, err
		}
	}
	return timeline.WriteStats{}, nil
}

// Finish sends what is queued, resends what was refused for load, and
// says what became of the streamed events.
func (w *Stream) Finish(ctx context.Context) (timeline.WriteStats, error) {
	if w.done {
		return w.st, w.err
	}
	w.done = true
	w.st, w.err = w.b.Close(ctx)
	return w.st, w.err
}

// Close is Finish without a deadline, for a Stream used as a plain Sink.
func (w *Stream) Close() error {
	_, err := w.Finish(context.Background())
	return err
}
