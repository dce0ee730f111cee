package elastic_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

func rawEvents(t testing.TB, evs []*timeline.Event) []elastic.RawEvent {
	t.Helper()
	raw := make([]elastic.RawEvent, len(evs))
	for i, e := range evs {
		doc, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		raw[i] = elastic.RawEvent{ID: e.Jejak.ID, Doc: doc}
	}
	return raw
}

// stream sends raw through one Bulk, as `jejak index` does.
func stream(ctx context.Context, s *elastic.Store, raw []elastic.RawEvent) (timeline.WriteStats, error) {
	b := s.NewBulk()
	var err error
	for _, r := range raw {
		if err = b.Add(ctx, r); err != nil {
			break
		}
	}
	st, cerr := b.Close(ctx)
	if err == nil {
		err = cerr
	}
	return st, err
}

func indexIDs(t *testing.T, s *elastic.Store) []string {
	t.Helper()
	var got []string
	if err := s.Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
		got = append(got, e.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

// TestStreamThroughFaults: a whole stream through the fault proxy, with
// requests small enough that refused events pile up past the point where
// the stream stops to resend them before going on. Every event lands once.
func TestStreamThroughFaults(t *testing.T) {
	urls := esURLs(t)
	p := newFaultProxy(t, urls[0])
	idx := freshIndex(t)
	direct := open(t, elastic.Config{Index: idx})
	s := open(t, elastic.Config{URLs: []string{p.srv.URL}, Index: idx, FlushBytes: 32 << 10, Workers: 2,
		MaxRetries: 8, Backoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RequestTimeout: time.Second})
	raw := rawEvents(t, storetest.Many(6000))
	st, err := stream(context.Background(), s, raw)
	if err != nil {
		t.Fatalf("stream through faults: %v", err)
	}
	stats := s.Stats()
	t.Logf("stream %+v, store %+v, %d bulk requests seen by the proxy", st, stats, p.bulk.Load())
	if stats.Retries < 2 || stats.ItemRetries == 0 || stats.ResentConflicts == 0 {
		t.Errorf("Stats() = %+v: want several rounds of resends, and resent conflicts", stats)
	}
	if st.Inserted+st.Duplicates != len(raw) || int64(st.Inserted)+stats.ResentConflicts != int64(len(raw)) {
		t.Errorf("accounting: %+v with %d resent conflicts, want %d events inserted", st, stats.ResentConflicts, len(raw))
	}
	want := make([]string, len(raw))
	for i, r := range raw {
		want[i] = r.ID
	}
	slices.Sort(want)
	if got := indexIDs(t, direct); !slices.Equal(got, want) {
		t.Errorf("index holds %d IDs, not exactly the %d streamed", len(got), len(want))
	}
}

// TestStreamNamesRejected: events the index refuses are named with the
// reason when the stream closes, and the others are all indexed.
func TestStreamNamesRejected(t *testing.T) {
	s := open(t, elastic.Config{FlushBytes: 16 << 10})
	raw := rawEvents(t, storetest.Many(500))
	bad := map[string]bool{}
	for _, i := range []int{7, 250, 499} {
		// event.severity is a long that takes no malformed values.
		raw[i].Doc = []byte(strings.Replace(string(raw[i].Doc), `"event":{`, `"event":{"severity":"high",`, 1))
		bad[raw[i].ID] = true
	}
	st, err := stream(context.Background(), s, raw)
	if err == nil || !strings.Contains(err.Error(), "rejected 3 of 500 events") {
		t.Fatalf("stream with 3 bad documents = %+v, %v; want an error naming 3 rejected", st, err)
	}
	for id := range bad {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("the error does not name rejected event %s: %v", id, err)
		}
	}
	if !strings.Contains(err.Error(), "event.severity") {
		t.Errorf("the error does not give Elasticsearch's reason: %v", err)
	}
	if st.Inserted != len(raw)-len(bad) {
		t.Errorf("inserted %d, want the %d good events", st.Inserted, len(raw)-len(bad))
	}
	got := indexIDs(t, s)
	if len(got) != len(raw)-len(bad) {
		t.Errorf("index holds %d events, want %d", len(got), len(raw)-len(bad))
	}
	for _, id := range got {
		if bad[id] {
			t.Errorf("rejected event %s is in the index", id)
		}
	}
}

// TestStreamStopsOnForbidden: when the cluster refuses whole requests for a
// reason a resend cannot change (here 403 once indexing has begun), the
// stream stops early with that reason instead of pushing the whole case
// into a wall.
func TestStreamStopsOnForbidden(t *testing.T) {
	urls := esURLs(t)
	u, err := url.Parse(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	var bulks atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_bulk") && bulks.Add(1) > 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized"},"status":403}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	// Closed after open's cleanup has deleted the index through it.
	t.Cleanup(srv.Close)
	s := open(t, elastic.Config{URLs: []string{srv.URL}, FlushBytes: 16 << 10, Backoff: time.Millisecond})
	raw := rawEvents(t, storetest.Many(5000))
	b := s.NewBulk()
	added := 0
	for _, r := range raw {
		if err = b.Add(context.Background(), r); err != nil {
			break
		}
		added++
	}
	_, cerr := b.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("Add after 403s = %v; want the 403 and its reason", err)
	}
	if cerr == nil {
		t.Error("Close after 403s reports success")
	}
	if added == len(raw) {
		t.Error("the stream took every event despite the 403s")
	}
	t.Logf("stopped after %d of %d events, %d bulk requests: %v", added, len(raw), bulks.Load(), err)
}
