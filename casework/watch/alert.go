package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/timeline"
)

// streamAnalyzers are the Go analyzers whose judgement needs only the
// events seen so far (a count in a window, a first sighting, one event's
// content), so they can run on a stream. The others judge a whole log
// (integrity, clearing, clock sequence) or evidence a stream never
// carries (files, photos, registry).
var streamAnalyzers = map[string]bool{
	"brute-force":       true,
	"password-spray":    true,
	"mssql-brute-force": true,
	"first-seen":        true,
	"web-admin":         true,
	"db-write":          true,
	"account-change":    true,
	"linux-command":     true,
}

// StreamRules keeps the rules that can run on a stream: every Sigma
// detection (one event at a time) and the analyzers in streamAnalyzers.
func StreamRules(rules []*hunt.Rule) []*hunt.Rule {
	var out []*hunt.Rule
	for _, r := range rules {
		if r.Kind() == "sigma" || streamAnalyzers[r.Analyzer] {
			out = append(out, r)
		}
	}
	return out
}

// Alert is one JSON line on stdout and one webhook POST: a finding of a
// stream rule, raised the first time its rule and key appear.
type Alert struct {
	Type   string    `json:"type"` // "alert"
	Raised time.Time `json:"raised"`
	hunt.Finding
}

// AlertStats says what became of the alerts.
type AlertStats struct {
	Raised int64 `json:"raised"`
	// HuntRuns is how many times the stream rules were evaluated.
	HuntRuns   int64 `json:"hunt_runs"`
	HuntErrors int64 `json:"hunt_errors,omitempty"`
	// Webhook: delivered, retried attempts, given up after retries, and
	// dropped because the webhook queue was full (never blocking intake).
	WebhookSent    int64  `json:"webhook_sent,omitempty"`
	WebhookRetries int64  `json:"webhook_retries,omitempty"`
	WebhookFailed  int64  `json:"webhook_failed,omitempty"`
	WebhookDropped int64  `json:"webhook_dropped,omitempty"`
	WebhookLastErr string `json:"webhook_last_error,omitempty"`
}

// hunter runs the stream rules over a sliding window of the events this
// watch stored, through hunt.Hunt itself (so a stream alert and a later
// 'jejak hunt' judge alike), at most once a second and only when new
// events came. Each rule and key alerts once per watch session.
type hunter struct {
	w      *Watcher
	rules  []*hunt.Rule
	mu     sync.Mutex
	window []*timeline.Event
	fresh  bool

	// baseline holds the case's events from before the cut-off that name
	// a source, user or URL (what first-sighting rules compare with), in
	// time order; it does not slide.
	baseline []*timeline.Event

	alerted map[string]bool
	outMu   sync.Mutex
	hook    *webhook
	raised  atomic.Int64
	runs    atomic.Int64
	errs    atomic.Int64
}

// windowMax bounds the events a stream hunt reads: the oldest go first.
// baselineMax bounds the baseline read from the case (the latest kept).
const (
	windowMax   = 50000
	baselineMax = 200000
)

// loadBaseline reads the case's events before the cut-off, keeping the
// latest baselineMax that name a source, a user or a URL: without them a
// stream hunt would take every source and account after the cut-off for
// a new one.
func (h *hunter) loadBaseline(ctx context.Context, s hunt.Searcher, after time.Time) error {
	var ring []*timeline.Event
	next := 0
	err := s.Search(ctx, timeline.Query{To: after}, func(ev *timeline.Event) error {
		if ev.Source == nil && ev.User == nil && ev.URL == nil {
			return nil
		}
		if len(ring) < baselineMax {
			ring = append(ring, ev)
			return nil
		}
		ring[next] = ev
		next = (next + 1) % baselineMax
		return nil
	})
	if err != nil {
		return err
	}
	h.baseline = append(ring[next:len(ring):len(ring)], ring[:next]...)
	return nil
}

func byTime(a, b *timeline.Event) bool {
	if !a.Timestamp.Equal(b.Timestamp) {
		return a.Timestamp.Before(b.Timestamp)
	}
	return a.Jejak.ID < b.Jejak.ID
}

func newHunter(w *Watcher, rules []*hunt.Rule) *hunter {
	h := &hunter{w: w, rules: rules, alerted: map[string]bool{}}
	if w.cfg.Webhook != "" {
		h.hook = newWebhook(w.cfg.Webhook)
	}
	return h
}

func (h *hunter) add(evs []*timeline.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	h.window = append(h.window, evs...)
	if n := len(h.window) - windowMax; n > 0 {
		h.window = append(h.window[:0], h.window[n:]...)
	}
	h.fresh = true
	h.mu.Unlock()
}

func (h *hunter) run(ctx context.Context) {
	// At most once a second, and never more than a third of the time: a
	// hunt over a large baseline takes a while, and the store needs the
	// CPU more than the next alert needs to be a second earlier.
	wait := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		t0 := time.Now()
		h.evaluate(ctx)
		wait = max(time.Second, 2*time.Since(t0))
	}
}

// final evaluates what the last batches added.
func (h *hunter) final(ctx context.Context) { h.evaluate(ctx) }

func (h *hunter) evaluate(ctx context.Context) {
	h.mu.Lock()
	if !h.fresh {
		h.mu.Unlock()
		return
	}
	h.fresh = false
	evs := append([]*timeline.Event(nil), h.window...)
	h.mu.Unlock()
	sort.Slice(evs, func(i, j int) bool { return byTime(evs[i], evs[j]) })
	if len(h.baseline) > 0 {
		// Both in time order: one merge.
		merged := make([]*timeline.Event, 0, len(h.baseline)+len(evs))
		i, j := 0, 0
		for i < len(h.baseline) || j < len(evs) {
			if j == len(evs) || i < len(h.baseline) && byTime(h.baseline[i], evs[j]) {
				merged = append(merged, h.baseline[i])
				i++
			} else {
				merged = append(merged, evs[j])
				j++
			}
		}
		evs = merged
	}
	h.runs.Add(1)
	fs, err := hunt.Hunt(ctx, sliceSearcher(evs), hunt.Config{After: h.w.cfg.After, Rules: h.rules, Zone: h.w.cfg.Zone})
	if err != nil {
		h.errs.Add(1)
		return
	}
	for _, f := range fs {
		k := f.RuleID + "\x00" + f.Key
		if h.alerted[k] {
			continue
		}
		h.alerted[k] = true
		h.raise(f)
	}
}

func (h *hunter) raise(f hunt.Finding) {
	a := Alert{Type: "alert", Raised: h.w.cfg.Now().UTC(), Finding: f}
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	h.raised.Add(1)
	if len(f.Events) > 0 && len(f.Events[0].Provenance.Chain) > 0 {
		label := f.Events[0].Provenance.Chain[0]
		for i, s := range h.w.sources {
			if s.label == label {
				h.w.stats[i].Alerts.Add(1)
				break
			}
		}
	}
	if h.w.cfg.Alerts != nil {
		h.outMu.Lock()
		h.w.cfg.Alerts.Write(append(b, '\n'))
		h.outMu.Unlock()
	}
	if h.hook != nil {
		h.hook.send(b)
	}
}

func (h *hunter) close() {
	if h.hook != nil {
		h.hook.close(10 * time.Second)
	}
}

func (h *hunter) stats() AlertStats {
	s := AlertStats{Raised: h.raised.Load(), HuntRuns: h.runs.Load(), HuntErrors: h.errs.Load()}
	if h.hook != nil {
		s.WebhookSent = h.hook.sent.Load()
		s.WebhookRetries = h.hook.retries.Load()
		s.WebhookFailed = h.hook.failed.Load()
		s.WebhookDropped = h.hook.dropped.Load()
		if e := h.hook.lastErr.Load(); e != nil {
			s.WebhookLastErr = *e
		}
	}
	return s
}

// sliceSearcher is a hunt.Searcher over events already in time order.
type sliceSearcher []*timeline.Event

func (s sliceSearcher) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	n := 0
	for _, ev := range s {
		if !q.From.IsZero() && ev.Timestamp.Before(q.From) || !q.To.IsZero() && !ev.Timestamp.Before(q.To) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
		if n++; q.Limit > 0 && n >= q.Limit {
			break
		}
	}
	return ctx.Err()
}

// webhook POSTs alerts from a bounded queue: a slow or absent receiver
// costs retries and, when the queue is full, counted drops — never a wait
// in intake or the store.
type webhook struct {
	url     string
	client  *http.Client
	ch      chan []byte
	done    chan struct{}
	stop    chan struct{}
	sent    atomic.Int64
	retries atomic.Int64
	failed  atomic.Int64
	dropped atomic.Int64
	lastErr atomic.Pointer[string]
}

const webhookQueue = 1024

func newWebhook(url string) *webhook {
	h := &webhook{url: url, client: &http.Client{Timeout: 5 * time.Second},
		ch: make(chan []byte, webhookQueue), done: make(chan struct{}), stop: make(chan struct{})}
	go h.loop()
	return h
}

func (h *webhook) send(b []byte) {
	select {
	case h.ch <- b:
	default:
		h.dropped.Add(1)
	}
}

func (h *webhook) loop() {
	defer close(h.done)
	for b := range h.ch {
		h.post(b)
	}
}

// post tries an alert up to 5 times, waiting 250 ms, 500 ms, 1 s, 2 s
// between attempts (less once close asked to stop).
func (h *webhook) post(b []byte) {
	wait := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := h.try(b)
		if err == "" {
			h.sent.Add(1)
			return
		}
		h.lastErr.Store(&err)
		if attempt == 4 {
			h.failed.Add(1)
			return
		}
		h.retries.Add(1)
		select {
		case <-time.After(wait):
		case <-h.stop:
			h.failed.Add(1)
			return
		}
		wait *= 2
	}
}

func (h *webhook) try(b []byte) string {
	resp, err := h.client.Post(h.url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err.Error()
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return h.url + ": " + resp.Status
	}
	return ""
}

// close delivers what is queued, giving up on retries after d.
func (h *webhook) close(d time.Duration) {
	close(h.ch)
	select {
	case <-h.done:
	case <-time.After(d):
		close(h.stop)
		<-h.done
	}
}
