package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestBruteForceAlertToWebhook sends sshd failures over TCP and checks that
// the password-guessing alert arrives at a loopback webhook while the
// watch runs, after the webhook refused the first attempt (retry), and on
// stdout. How soon is logged, not asserted: the stream hunt runs once a
// second and the retry waits 250 ms, so it is 1-2 s on an idle machine,
// but a bound on it fails on a loaded one; the 10 s wait only stops a
// watch that never delivers.
func TestBruteForceAlertToWebhook(t *testing.T) {
	var (
		mu      sync.Mutex
		alerts  []Alert
		arrived = make(chan time.Time, 16)
		calls   atomic.Int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var a Alert
		if err := json.Unmarshal(b, &a); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook body %q: %v", b, err)
		}
		mu.Lock()
		alerts = append(alerts, a)
		mu.Unlock()
		arrived <- time.Now()
	}))
	defer srv.Close()

	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	out := &syncBuf{}
	cfg := baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.Webhook = srv.URL
	cfg.Alerts = out
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	c, err := net.Dial("tcp", w.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := 0; i < 8; i++ {
		fmt.Fprintf(c, "<38>1 %s tabsrv sshd 77 - - Failed password for root from 203.0.113.66 port %d ssh2\n",
			now.Add(time.Duration(i)*time.Second).Format(time.RFC3339), 40000+i)
	}
	sent := time.Now()
	c.Close()
	var got time.Time
	select {
	case got = <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no alert reached the webhook within 10 s")
	}
	sum := stop()
	t.Logf("alert at the webhook %v after the last line was sent (one refused attempt and its 250 ms backoff included)", got.Sub(sent))
	mu.Lock()
	defer mu.Unlock()
	var brute *Alert
	for i := range alerts {
		if alerts[i].RuleID == "JEJAK-AUTH-01" {
			brute = &alerts[i]
		}
	}
	if brute == nil || brute.Key != "203.0.113.66" || len(brute.Events) != 8 || brute.Type != "alert" {
		t.Fatalf("webhook alerts %+v: want JEJAK-AUTH-01 on 203.0.113.66 with the 8 failures", alerts)
	}
	if !strings.Contains(out.String(), `"rule_id":"JEJAK-AUTH-01"`) {
		t.Errorf("stdout has no JSON line for the alert: %q", out.String())
	}
	a := sum.Alerts
	if a.WebhookRetries < 1 || a.WebhookSent != a.Raised || a.WebhookFailed != 0 {
		t.Errorf("alert stats %+v: want the refused attempt retried and every alert sent", a)
	}
}

// A webhook that is down costs counted failures, never intake.
func TestWebhookDownNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	cfg := baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.Webhook = downWebhook(t)
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	c, _ := net.Dial("tcp", w.Addrs()[0].String())
	now := time.Now().UTC()
	for i := 0; i < 6; i++ {
		fmt.Fprintf(c, "<38>1 %s tabsrv sshd 77 - - Failed password for root from 203.0.113.%d port 22 ssh2 tok=w%d\n", now.Format(time.RFC3339), 70, i)
	}
	c.Close()
	if !waitFor(5*time.Second, func() bool { return len(tokens(t, st)) == 6 }) {
		t.Fatalf("%d of the 6 lines stored", len(tokens(t, st)))
	}
	// The alert raised by the running watch (not only by the last hunt at
	// the stop) and refused at least once: the webhook fails while intake
	// goes on.
	if !waitFor(10*time.Second, func() bool { a := w.hunter.stats(); return a.Raised > 0 && a.WebhookRetries > 0 }) {
		t.Fatalf("no alert raised and refused while the watch ran: %+v", w.hunter.stats())
	}
	sum := stop()
	if sum.Total.Events != 6 {
		t.Errorf("%d events stored, want 6", sum.Total.Events)
	}
	if a := sum.Alerts; a.Raised == 0 || a.WebhookFailed != a.Raised || a.WebhookLastErr == "" {
		t.Errorf("alert stats %+v: want every alert counted failed with the error", a)
	}
}

// slowSink delays every write, as a store on a busy disk or a far
// Elasticsearch does.
type slowSink struct {
	timeline.Sink
	delay time.Duration
}

func (s slowSink) Write(ctx context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	time.Sleep(s.delay)
	return s.Sink.Write(ctx, b)
}

// TestBackPressureSpool: with a slow store and a small memory queue,
// received lines go to the spool on disk and are all stored, once; with a
// spool too small as well, the excess is dropped and counted, and what was
// kept is stored.
func TestBackPressureSpool(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spool int64
	}{{"spool", 64 << 20}, {"spool-full", 16 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openStore(t, dir)
			defer st.Close()
			cfg := baseConfig(dir, slowSink{st, 150 * time.Millisecond})
			cfg.Listen = []string{"tcp://127.0.0.1:0"}
			cfg.NoHunt = true
			cfg.QueueSize = 100
			cfg.BatchSize = 200
			cfg.SpoolLimit = tc.spool
			w, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			stop := started(t, w)
			c, _ := net.Dial("tcp", w.Addrs()[0].String())
			const n = 3000
			for i := 0; i < n; i++ {
				fmt.Fprintf(c, "%s\n", msg3164(i, fmt.Sprintf("tok=b-%d", i)))
			}
			c.Close()
			sum := stop() // at once: what was sent is still read (drained)
			s := sum.Sources[0]
			got := tokens(t, st)
			for tok, k := range got {
				if k != 1 {
					t.Errorf("%s stored %d times", tok, k)
				}
			}
			if s.Lines != n || int64(len(got))+s.Dropped != n || s.Events != int64(len(got)) {
				t.Errorf("stats %+v, %d stored: want %d lines = stored + dropped", s, len(got), n)
			}
			if s.Spooled == 0 {
				t.Errorf("nothing spooled behind a slow store: %+v", s)
			}
			if tc.spool > 1<<20 && s.Dropped != 0 {
				t.Errorf("%d dropped with room in the spool", s.Dropped)
			}
			if tc.spool < 1<<20 && s.Dropped == 0 {
				t.Errorf("a 16 KiB spool took %d lines and dropped none", s.Spooled)
			}
			t.Logf("%s: %d lines, %d spooled, %d dropped, %d stored", tc.name, s.Lines, s.Spooled, s.Dropped, len(got))
		})
	}
}

// TestFirstSeenAgainstCaseBaseline: a source that logged on before the
// cut-off (in the case already) is not new; one never seen is, and its
// alert comes from the stream.
func TestFirstSeenAgainstCaseBaseline(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	cut := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	// The baseline: what an ingest before the watch would have stored.
	pre := filepath.Join(dir, "pre.log")
	var b strings.Builder
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, "<38>1 %s tabsrv sshd 7 - - Accepted password for operator from 192.0.2.10 port %d ssh2\n",
			cut.Add(-time.Duration(24-i)*time.Hour).Format(time.RFC3339), 50000+i)
	}
	if err := os.WriteFile(pre, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(dir, st)
	cfg.Follow = []string{pre}
	cfg.NoHunt = true
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	waitFor(5*time.Second, func() bool { n, _ := st.Count(context.Background(), timeline.Query{}); return n == 3 })
	stop()

	out := &syncBuf{}
	cfg = baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.After = cut
	cfg.Baseline = st
	cfg.Alerts = out
	w, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = started(t, w)
	c, _ := net.Dial("tcp", w.Addrs()[0].String())
	now := time.Now().UTC().Format(time.RFC3339)
	fmt.Fprintf(c, "<38>1 %s tabsrv sshd 7 - - Accepted password for operator from 192.0.2.10 port 50100 ssh2\n", now)
	fmt.Fprintf(c, "<38>1 %s tabsrv sshd 7 - - Accepted password for operator from 198.51.100.99 port 50101 ssh2\n", now)
	c.Close()
	waitFor(5*time.Second, func() bool { return strings.Contains(out.String(), "198.51.100.99") })
	sum := stop()
	if sum.Baseline != 3 {
		t.Errorf("baseline of %d events, want the 3 stored before the cut-off", sum.Baseline)
	}
	var newSrc, known int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var a Alert
		if json.Unmarshal([]byte(line), &a) != nil || a.RuleID != "JEJAK-AUTH-03" {
			continue
		}
		if strings.Contains(a.Key, "198.51.100.99") {
			newSrc++
		}
		if strings.Contains(a.Key, "192.0.2.10") {
			known++
		}
	}
	if newSrc != 1 || known != 0 {
		t.Errorf("first-seen alerts: %d for the new source (want 1), %d for the known one (want 0)\n%s", newSrc, known, out)
	}
}

// TestSpoolLeftBehindIsStored: the spool of a watch killed with lines in
// it is stored at the next start, under the source it names, and storing
// it twice (a second crash before it was removed) stores nothing twice.
func TestSpoolLeftBehindIsStored(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	defer st.Close()
	cfg := baseConfig(dir, st)
	cfg.Listen = []string{"tcp://127.0.0.1:0"}
	cfg.NoHunt = true
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 1; i <= 5; i++ {
		it := item{Label: "syslog-tcp:127.0.0.1:9", Path: "127.0.0.1:4000", Ident: "session:1", Off: int64(i), Rec: int64(i),
			Text: []byte(msg3164(i, fmt.Sprintf("tok=s-%d", i))), Recv: time.Now()}
		j, _ := json.Marshal(&it)
		b.Write(append(j, '\n'))
	}
	b.WriteString(`{"label":"torn`) // the line being written at the kill
	spool := filepath.Join(cfg.Dir, "spool.jsonl")
	for round := 0; round < 2; round++ {
		if err := os.WriteFile(spool, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		sum := started(t, w)()
		if sum.Recovered != 5 {
			t.Errorf("round %d: %d lines recovered, want 5", round, sum.Recovered)
		}
		if round == 1 && sum.Total.Duplicates != 5 {
			t.Errorf("the same spool again: %d duplicates, want 5", sum.Total.Duplicates)
		}
		if _, err := os.Stat(spool + ".recovering"); !os.IsNotExist(err) {
			t.Errorf("recovered spool not removed: %v", err)
		}
	}
	got := tokens(t, st)
	for i := 1; i <= 5; i++ {
		if got[fmt.Sprintf("tok=s-%d", i)] != 1 {
			t.Errorf("spooled line %d stored %d times", i, got[fmt.Sprintf("tok=s-%d", i)])
		}
	}
}
