package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/jejak-forensics/jejak/timeline"
)

// outcome of one event in one round of bulk requests.
type outcome int

const (
	pending   outcome = iota // no answer yet (lost response: resend)
	created                  // 201
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
	for _, e := range batch {
		if e.Jejak.ID == "" {
			e.Finalize()
		}
	}
	return s.write(ctx, eventDocs(batch))
}

// RawEvent is an event already encoded: its ID and its JSON document, as
// the case store keeps it (json.Marshal of a finalised timeline.Event).
type RawEvent struct {
	ID  string
	Doc []byte
}

// WriteRaw is Write for events already encoded, with the same guarantees.
// Copying a case from its store this way skips decoding every event and
// encoding it again, which is most of `jejak index`'s own CPU.
func (s *Store) WriteRaw(ctx context.Context, batch []RawEvent) (timeline.WriteStats, error) {
	for i, r := range batch {
		if r.ID == "" || len(r.Doc) == 0 {
			return timeline.WriteStats{}, fmt.Errorf("WriteRaw: event %d of the batch has no ID or no document", i)
		}
	}
	return s.write(ctx, rawDocs(batch))
}

// docs is a batch as Write sends it: an ID and a document per event.
type docs interface {
	Len() int
	ID(i int) string
	Doc(i int) ([]byte, error)
	Where(i int) string // for error messages
}

type eventDocs []*timeline.Event

func (d eventDocs) Len() int                  { return len(d) }
func (d eventDocs) ID(i int) string           { return d[i].Jejak.ID }
func (d eventDocs) Doc(i int) ([]byte, error) { return json.Marshal(d[i]) }
func (d eventDocs) Where(i int) string        { return d[i].Jejak.Provenance.Display() }

type rawDocs []RawEvent

func (d rawDocs) Len() int                  { return len(d) }
func (d rawDocs) ID(i int) string           { return d[i].ID }
func (d rawDocs) Doc(i int) ([]byte, error) { return d[i].Doc, nil }
func (d rawDocs) Where(i int) string        { return "stored event" }

func (s *Store) write(ctx context.Context, batch docs) (timeline.WriteStats, error) {
	var st timeline.WriteStats
	n := batch.Len()
	if n == 0 {
		return st, nil
	}
	// IDs repeated inside the batch are duplicates of the first copy; they are
	// not sent, so a lost-answer resend can never mistake them for inserts.
	seen := make(map[string]bool, n)
	todo := make([]int, 0, n)
	for i := range n {
		id := batch.ID(i)
		if seen[id] {
			st.Duplicates++
			continue
		}
		seen[id] = true
		todo = append(todo, i)
	}
	resent := make(map[int]bool)
	var lastRetryReason string
	for round := 0; ; round++ {
		results, err := s.bulkRound(ctx, batch, todo)
		if err != nil {
			return st, err
		}
		var again []int
		var bad []string
		for k, i := range todo {
			r := results[k]
			switch r.state {
			case created:
				st.Inserted++
			case duplicate:
				st.Duplicates++
				if resent[i] {
					s.resentConflicts.Add(1)
				}
			case rejected:
				bad = append(bad, fmt.Sprintf("%s (%s): %s", batch.ID(i), batch.Where(i), r.reason))
			default:
				again = append(again, i)
				if r.reason != "" {
					lastRetryReason = r.reason
				} else {
					lastRetryReason = "no answer for the item"
				}
			}
		}
		if len(bad) > 0 {
			sort.Strings(bad)
			more := ""
			if len(bad) > 20 {
				more = fmt.Sprintf("\n  ... and %d more", len(bad)-20)
				bad = bad[:20]
			}
			return st, fmt.Errorf("elasticsearch rejected %d of %d events in index %s:\n  %s%s",
				len(bad), n, s.cfg.Index, strings.Join(bad, "\n  "), more)
		}
		if len(again) == 0 {
			return st, nil
		}
		if round >= s.cfg.MaxRetries {
			return st, fmt.Errorf("elasticsearch did not take %d of %d events into %s after %d rounds of retries (last: %s)",
				len(again), n, s.cfg.Index, round+1, lastRetryReason)
		}
		s.retries.Add(1)
		s.itemRetries.Add(int64(len(again)))
		for _, i := range again {
			resent[i] = true
		}
		t := time.NewTimer(s.backoff(round + 1))
		select {
		case <-ctx.Done():
			t.Stop()
			return st, ctx.Err()
		case <-t.C:
		}
		todo = again
	}
}

// bulkRound sends batch[todo...] through one BulkIndexer and returns what
// became of each item, in todo's order.
func (s *Store) bulkRound(ctx context.Context, batch docs, todo []int) ([]itemResult, error) {
	results := make([]itemResult, len(todo))
	var mu sync.Mutex
	set := func(k int, r itemResult) {
		mu.Lock()
		// An item answered once keeps its first answer: the indexer reports
		// each item once, this only guards the invariant.
		if results[k].state == pending {
			results[k] = r
		}
		mu.Unlock()
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:     s.bulkClient,
		Index:      s.cfg.Index,
		NumWorkers: s.cfg.Workers,
		FlushBytes: s.cfg.FlushBytes,
		// Writes are synchronous; the interval only matters for a slow
		// producer, which a batch never is.
		FlushInterval: 30 * time.Second,
		FilterPath:    []string{"errors", "items.*.status", "items.*.error.type", "items.*.error.reason", "items.*._id"},
		OnFlushStart: func(c context.Context) context.Context {
			s.bulkRequests.Add(1)
			return c
		},
	})
	if err != nil {
		return nil, fmt.Errorf("bulk indexer: %w", err)
	}
	var addErr error
	for k, i := range todo {
		// Encoded one at a time as the indexer takes them: Add blocks when
		// the workers are busy, so memory stays near Workers*FlushBytes.
		doc, err := batch.Doc(i)
		if err != nil {
			addErr = fmt.Errorf("encode event %s: %w", batch.ID(i), err)
			break
		}
		k := k
		err = bi.Add(ctx, esutil.BulkIndexerItem{
			Action:     "create",
			DocumentID: batch.ID(i),
			Body:       bytes.NewReader(doc),
			OnSuccess: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem) {
				set(k, itemResult{state: created})
			},
			OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
				set(k, classify(res, err))
			},
		})
		if err != nil {
			addErr = fmt.Errorf("queue event %s: %w", batch.ID(i), err)
			break
		}
	}
	closeErr := bi.Close(context.WithoutCancel(ctx))
	if addErr != nil {
		return nil, addErr
	}
	if closeErr != nil {
		return nil, fmt.Errorf("bulk indexer: %w", closeErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return results, nil
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
