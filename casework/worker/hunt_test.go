package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestHuntFromCluster: the built-in analyzers and rules, run over the
// corpus case read from the cluster through a point in time (PIT), find
// exactly what they find over the SQLite store of the same ingest, with a
// cut-off and without: same findings, same IDs, same events, same log
// verdicts, byte for byte as JSON.
func TestHuntFromCluster(t *testing.T) {
	urls := clusterURLs(t)
	ctx := context.Background()
	cs := corpusCase(t)
	ids, db := singleMachineStore(t, cs)
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	es := openES(t, urls, freshIndex(t))
	b := es.NewBulk()
	if err := store.ScanRaw(ctx, func(id string, doc []byte) error {
		return b.Add(ctx, elastic.RawEvent{ID: id, Doc: doc})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := es.Count(ctx, timeline.Query{}); err != nil || n != int64(len(ids)) {
		t.Fatalf("index holds %d events (err %v), the store %d", n, err, len(ids))
	}
	// The cut-off at the middle event: half the case is baseline.
	var times []time.Time
	if err := store.Search(ctx, timeline.Query{}, func(ev *timeline.Event) error {
		times = append(times, ev.Timestamp)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, after := range []time.Time{{}, times[len(times)/2]} {
		run := func(src hunt.Searcher) ([]byte, []byte, int) {
			var logs []hunt.LogVerdict
			f, err := hunt.Hunt(ctx, src, hunt.Config{After: after, Zone: cs.Location(), Examined: func(v hunt.LogVerdict) { logs = append(logs, v) }})
			if err != nil {
				t.Fatal(err)
			}
			fj, _ := json.Marshal(f)
			lj, _ := json.Marshal(logs)
			return fj, lj, len(f)
		}
		wantF, wantL, n := run(store)
		gotF, gotL, _ := run(es.PIT())
		if n == 0 {
			t.Fatalf("after %v: the SQLite hunt found nothing in the corpus case: the comparison would prove nothing", after)
		}
		if !bytes.Equal(gotF, wantF) {
			t.Errorf("after %v: findings from the cluster differ from SQLite's:\n%.2000s\nwant\n%.2000s", after, gotF, wantF)
		}
		if !bytes.Equal(gotL, wantL) {
			t.Errorf("after %v: log verdicts differ", after)
		}
		t.Logf("after %v: %d findings, equal", after, n)
	}
}

// cutProxy forwards TCP from 127.0.0.1 to one node until cut, when it
// closes its listener and every connection: the node's links cut, as a
// network fault would.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	used  atomic.Int64
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", u.Host)
			if err != nil {
				c.Close()
				continue
			}
			p.used.Add(1)
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// cutAfter is a hunt.Searcher that cuts the proxy once n events were read.
type cutAfter struct {
	src  hunt.Searcher
	n    int
	cut  func()
	seen int
}

func (c *cutAfter) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	return c.src.Search(ctx, q, func(ev *timeline.Event) error {
		if c.seen++; c.seen == c.n {
			c.cut()
		}
		return fn(ev)
	})
}

// TestHuntSurvivesNodeCut: a hunt from the cluster whose connections to one
// of its three nodes are cut part way through still completes, with the
// findings of the SQLite hunt.
func TestHuntSurvivesNodeCut(t *testing.T) {
	urls := clusterURLs(t)
	ctx := context.Background()
	cs := corpusCase(t)
	ids, db := singleMachineStore(t, cs)
	store, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	index := freshIndex(t)
	es := openES(t, urls, index)
	b := es.NewBulk()
	if err := store.ScanRaw(ctx, func(id string, doc []byte) error {
		return b.Add(ctx, elastic.RawEvent{ID: id, Doc: doc})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, urls[0])
	reader, err := elastic.Open(ctx, elastic.Config{URLs: []string{proxy.url(), urls[1], urls[2]}, Index: index, ReadOnly: true,
		PageSize: 500, Backoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	want, err := hunt.Hunt(ctx, store, hunt.Config{Zone: cs.Location()})
	if err != nil {
		t.Fatal(err)
	}
	src := &cutAfter{src: reader.PIT(), n: len(ids) / 3, cut: proxy.cut}
	got, err := hunt.Hunt(ctx, src, hunt.Config{Zone: cs.Location()})
	if err != nil {
		t.Fatalf("hunt with a node cut: %v", err)
	}
	if src.seen != len(ids) {
		t.Fatalf("the hunt read %d events, the case has %d", src.seen, len(ids))
	}
	if proxy.used.Load() == 0 {
		t.Fatal("no request went through the node that was cut: the test proves nothing")
	}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if !bytes.Equal(wj, gj) || len(want) == 0 {
		t.Fatalf("findings with a node cut differ from SQLite's (%d vs %d)", len(got), len(want))
	}
	t.Logf("%d events, %d findings, %d connections through the cut node", src.seen, len(got), proxy.used.Load())
}
