package elastic_test

import (
	"context"
	"net"
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

// faultProxy sits on 127.0.0.1 between the store and the real node and
// breaks bulk requests on a fixed schedule: 429 and 503 bursts, connection
// resets after the node has applied the request (the answer is lost), and
// stalls longer than the client's timeout.
type faultProxy struct {
	srv     *httptest.Server
	bulk    atomic.Int64
	storm   atomic.Bool // answer every request 429
	injects map[string]*atomic.Int64
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		t.Fatalf("fault proxy only fronts a loopback node, not %s", h)
	}
	p := &faultProxy{injects: map[string]*atomic.Int64{}}
	for _, k := range []string{"429", "503", "reset", "stall"} {
		p.injects[k] = new(atomic.Int64)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.storm.Load() {
			p.injects["429"].Add(1)
			http.Error(w, `{"error":{"type":"es_rejected_execution_exception","reason":"injected storm"},"status":429}`, http.StatusTooManyRequests)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			rp.ServeHTTP(w, r)
			return
		}
		n := p.bulk.Add(1)
		switch {
		case n%20 == 2, n%20 == 3, n%20 == 4: // a burst of three 429s
			p.injects["429"].Add(1)
			http.Error(w, `{"error":{"type":"es_rejected_execution_exception","reason":"injected"},"status":429}`, http.StatusTooManyRequests)
		case n%20 == 7, n%20 == 8: // a burst of two 503s
			p.injects["503"].Add(1)
			http.Error(w, `{"error":"injected"}`, http.StatusServiceUnavailable)
		case n%20 == 11: // the node applies the request, the answer is lost
			p.injects["reset"].Add(1)
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r)
			reset(w)
		case n%20 == 15: // a stall past the client's response timeout
			p.injects["stall"].Add(1)
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			reset(w)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// reset closes the client's connection with an RST, no HTTP answer.
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func TestFaultsLoseNothing(t *testing.T) {
	urls := esURLs(t)
	p := newFaultProxy(t, urls[0])
	idx := freshIndex(t)
	direct := open(t, elastic.Config{Index: idx})
	s := open(t, elastic.Config{URLs: []string{p.srv.URL}, Index: idx, FlushBytes: 48 << 10, Workers: 2,
		MaxRetries: 8, Backoff: 5 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, RequestTimeout: time.Second})

	evs := storetest.Many(4000)
	ctx := context.Background()
	var total timeline.WriteStats
	for lo := 0; lo < len(evs); lo += 500 {
		st, err := s.Write(ctx, evs[lo:min(lo+500, len(evs))])
		if err != nil {
			t.Fatalf("Write through faults: %v", err)
		}
		total.Add(st)
	}
	stats := s.Stats()
	t.Logf("write %+v, store %+v, injected 429=%d 503=%d reset=%d stall=%d", total, stats,
		p.injects["429"].Load(), p.injects["503"].Load(), p.injects["reset"].Load(), p.injects["stall"].Load())
	for k, c := range p.injects {
		if k != "stall" && c.Load() == 0 {
			t.Errorf("the schedule injected no %s: the test did not test it", k)
		}
	}
	if stats.Retries == 0 || stats.ItemRetries == 0 || stats.ResentConflicts == 0 {
		t.Errorf("Stats() = %+v: want retries, resent events and resent conflicts after injected faults", stats)
	}
	// A fresh index: every event was inserted, either seen as such or, when
	// the answer was lost, seen as a 409 on the resend.
	if total.Inserted+total.Duplicates != len(evs) || int64(total.Inserted)+stats.ResentConflicts != int64(len(evs)) {
		t.Errorf("accounting: %+v with %d resent conflicts, want %d events inserted", total, stats.ResentConflicts, len(evs))
	}
	// The node's own view, without the proxy: exactly these IDs, once each.
	n, err := direct.Count(ctx, timeline.Query{})
	if err != nil || n != int64(len(evs)) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(evs))
	}
	var got []string
	if err := direct.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		got = append(got, e.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := make([]string, len(evs))
	for i, e := range evs {
		want[i] = e.Jejak.ID
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("index holds %d IDs, not exactly the %d written", len(got), len(want))
	}
	// Re-indexing through the faults changes nothing.
	st, err := s.Write(ctx, evs)
	if err != nil {
		t.Fatalf("re-Write: %v", err)
	}
	if st.Inserted != 0 || st.Duplicates != len(evs) {
		t.Errorf("re-Write = %+v, want all %d duplicates", st, len(evs))
	}
	if n, _ := direct.Count(ctx, timeline.Query{}); n != int64(len(evs)) {
		t.Errorf("Count after re-Write = %d", n)
	}
}

func TestStormFailsLoudly(t *testing.T) {
	urls := esURLs(t)
	p := newFaultProxy(t, urls[0])
	cfg := elastic.Config{URLs: []string{p.srv.URL}, MaxRetries: 2, Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
	s := open(t, cfg)
	p.storm.Store(true)
	st, err := s.Write(context.Background(), storetest.Events())
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "did not take") {
		t.Fatalf("Write in a 429 storm = %+v, %v; want an error naming the 429s", st, err)
	}
	if st.Inserted != 0 {
		t.Errorf("Write in a storm claims %d inserted", st.Inserted)
	}
	_, err = elastic.Open(context.Background(), elastic.Config{URLs: []string{p.srv.URL}, Index: freshIndex(t), MaxRetries: 2, Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("Open in a 429 storm = %v, want an error naming the 429s", err)
	}
	t.Logf("storm error: %v", err)
	p.storm.Store(false)
}

func TestOneURLDown(t *testing.T) {
	urls := esURLs(t)
	// Port 9 on loopback answers nothing; the client must go on with the rest.
	s := open(t, elastic.Config{URLs: append([]string{"http://127.0.0.1:9"}, urls...), Backoff: time.Millisecond})
	evs := storetest.Many(300)
	st, err := s.Write(context.Background(), evs)
	if err != nil || st.Inserted != len(evs) {
		t.Fatalf("Write with one URL down = %+v, %v", st, err)
	}
	if n, err := s.Count(context.Background(), timeline.Query{}); err != nil || n != int64(len(evs)) {
		t.Fatalf("Count = %d, %v", n, err)
	}
}
