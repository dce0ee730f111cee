package elastic_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// clusterURLs returns the node URLs of a three-node cluster from
// JEJAK_TEST_ES_CLUSTER, or skips.
func clusterURLs(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("JEJAK_TEST_ES_CLUSTER")
	if v == "" {
		t.Skip("JEJAK_TEST_ES_CLUSTER not set: start a three-node cluster with " +
			"'JEJAK_ES_NODES=3 scripts/elasticsearch.sh start' and set it to 'scripts/elasticsearch.sh urls'")
	}
	urls := strings.Split(v, ",")
	if len(urls) < 3 {
		t.Fatalf("JEJAK_TEST_ES_CLUSTER names %d node(s); the cluster tests need three", len(urls))
	}
	return urls
}

// getJSON GETs path from the first node that answers and decodes the answer.
func getJSON(t *testing.T, s *elastic.Store, path string, out any) {
	t.Helper()
	c := s.Client()
	req, err := newGet(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Perform(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s: %s", path, res.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

// checkReplicated waits for the index to go green and checks that every
// shard has one started primary and one started replica on another node,
// both holding want documents.
func checkReplicated(t *testing.T, s *elastic.Store, want int64) {
	t.Helper()
	var nodes struct {
		NumberOfNodes int    `json:"number_of_nodes"`
		Status        string `json:"status"`
		TimedOut      bool   `json:"timed_out"`
	}
	getJSON(t, s, "/_cluster/health/"+s.Index()+"?wait_for_status=green&timeout=90s", &nodes)
	if nodes.TimedOut || nodes.Status != "green" || nodes.NumberOfNodes < 3 {
		t.Fatalf("index %s: health %+v, want green on three nodes", s.Index(), nodes)
	}
	var settings map[string]struct {
		Settings struct {
			Index struct {
				Replicas string `json:"number_of_replicas"`
			} `json:"index"`
		} `json:"settings"`
	}
	getJSON(t, s, "/"+s.Index()+"/_settings", &settings)
	if r := settings[s.Index()].Settings.Index.Replicas; r != "1" {
		t.Errorf("index %s has %q replicas per shard, want 1", s.Index(), r)
	}
	// _stats and _cat/shards read shard-level counts, which the refresh done
	// by Count has made current on both copies.
	if _, err := s.Count(context.Background(), timeline.Query{}); err != nil {
		t.Fatal(err)
	}
	var shards []struct {
		Shard, Prirep, State, Node, Docs string
	}
	getJSON(t, s, "/_cat/shards/"+s.Index()+"?format=json&h=shard,prirep,state,node,docs", &shards)
	copies := map[string]map[string]string{} // shard -> p/r -> node
	for _, sh := range shards {
		if sh.State != "STARTED" {
			t.Errorf("shard %s (%s) is %s on %s", sh.Shard, sh.Prirep, sh.State, sh.Node)
		}
		if copies[sh.Shard] == nil {
			copies[sh.Shard] = map[string]string{}
		}
		copies[sh.Shard][sh.Prirep] = sh.Node
	}
	if len(copies) == 1 {
		// One shard (the template's setting): each copy holds every event.
		for _, sh := range shards {
			if n, _ := strconv.ParseInt(sh.Docs, 10, 64); n != want {
				t.Errorf("shard %s copy %s on %s holds %s documents, want %d", sh.Shard, sh.Prirep, sh.Node, sh.Docs, want)
			}
		}
	}
	if len(shards) != 2*len(copies) {
		t.Errorf("index %s has %d shard copies for %d shards, want a primary and a replica each: %+v", s.Index(), len(shards), len(copies), shards)
	}
	for sh, c := range copies {
		if c["p"] == "" || c["r"] == "" || c["p"] == c["r"] {
			t.Errorf("shard %s: primary on %q, replica on %q; want both, on different nodes", sh, c["p"], c["r"])
		}
	}
}

// recordingSink passes batches to a store and remembers every event ID it
// was given; before the batch that crosses half of expect it calls half once.
type recordingSink struct {
	dst    timeline.Sink
	ids    map[string]bool
	events int
	expect int
	half   func()
	total  timeline.WriteStats
}

func (r *recordingSink) Write(ctx context.Context, batch []*timeline.Event) (timeline.WriteStats, error) {
	if r.half != nil && r.events+len(batch) > r.expect/2 {
		r.half()
		r.half = nil
	}
	st, err := r.dst.Write(ctx, batch)
	r.total.Add(st)
	for _, e := range batch {
		r.ids[e.Jejak.ID] = true // Write has finalised every event
	}
	r.events += len(batch)
	return st, err
}

func (r *recordingSink) Close() error { return nil }

// corpusItems opens the corpus's folders as evidence items, the way
// `jejak evidence add` + `jejak ingest` would see them.
func corpusItems(t *testing.T) []ingest.Item {
	t.Helper()
	var items []ingest.Item
	for _, dir := range []string{"logs", "more", "archives", "images", "ntfs"} {
		path := parsertest.Corpus(t, dir)
		w, err := jfs.Open(context.Background(), path, jfs.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		// The items are folders: a stand-in digest keeps their IDs distinct.
		sum := sha256.Sum256([]byte(filepath.ToSlash(path)))
		items = append(items, ingest.Item{SHA256: hex.EncodeToString(sum[:]), Name: filepath.Base(path), Walker: w})
	}
	return items
}

// writeCase sends a full case to sink: the corpus through the ingest
// pipeline (every parser, real files), then 20,000 synthetic sessions, so
// about 50,000 events of every shape jejak makes.
func writeCase(t *testing.T, sink *recordingSink) {
	t.Helper()
	ctx := context.Background()
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: t.TempDir(),
		Workers: 2, BatchSize: 5000}, corpusItems(t), sink)
	if err != nil {
		t.Fatalf("ingest the corpus into %T: %v", sink.dst, err)
	}
	if sum.Events < 20000 {
		t.Fatalf("the corpus gave only %d events: is ../shared/corpus complete?", sum.Events)
	}
	many := storetest.Many(20000)
	for lo := 0; lo < len(many); lo += 5000 {
		if _, err := sink.Write(ctx, many[lo:lo+5000]); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
}

// expectedEvents is how many events writeCase sends, counted without a store.
func expectedEvents(t *testing.T) int {
	t.Helper()
	c := &countSink{}
	sum, err := ingest.Run(context.Background(), ingest.Config{Registry: all.Registry(), Zone: time.UTC,
		TempDir: t.TempDir(), Workers: 2}, corpusItems(t), c)
	if err != nil {
		t.Fatal(err)
	}
	return int(sum.Events) + 20000
}

type countSink struct{}

func (countSink) Write(_ context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	return timeline.WriteStats{Inserted: len(b)}, nil
}
func (countSink) Close() error { return nil }

// checkExact checks through s that the index holds exactly the IDs in want,
// each once.
func checkExact(t *testing.T, s *elastic.Store, want map[string]bool) {
	t.Helper()
	ctx := context.Background()
	n, err := s.Count(ctx, timeline.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(want)) {
		t.Errorf("index %s holds %d documents, want %d", s.Index(), n, len(want))
	}
	seen := make(map[string]bool, len(want))
	var dups, foreign int
	if err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		if seen[e.Jejak.ID] {
			dups++
		}
		if !want[e.Jejak.ID] {
			foreign++
		}
		seen[e.Jejak.ID] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for id := range want {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	if dups > 0 || foreign > 0 || len(missing) > 0 {
		t.Errorf("index %s: %d duplicate, %d unexpected, %d missing documents (first missing: %v)",
			s.Index(), dups, foreign, len(missing), missing[:min(len(missing), 5)])
	}
}

// TestClusterFullCase indexes a full case into a three-node cluster through
// every node's URL: the index goes green with one replica per shard, and
// both copies hold exactly the case's events.
func TestClusterFullCase(t *testing.T) {
	urls := clusterURLs(t)
	s := open(t, elastic.Config{URLs: urls})
	sink := &recordingSink{dst: s, ids: map[string]bool{}}
	writeCase(t, sink)
	t.Logf("%d events written (%+v), %d distinct, store %+v", sink.events, sink.total, len(sink.ids), s.Stats())
	if len(sink.ids) < 45000 {
		t.Fatalf("only %d distinct events: not a full case", len(sink.ids))
	}
	if sink.total.Inserted != len(sink.ids) {
		t.Errorf("Write reported %d inserted into a fresh index, want %d", sink.total.Inserted, len(sink.ids))
	}
	checkExact(t, s, sink.ids)
	checkReplicated(t, s, int64(len(sink.ids)))
}

// TestClusterNodeStopsAnswering puts a loopback TCP proxy in front of each
// node, gives the store only the proxies, and halfway through the case cuts
// one of them in the middle of a bulk request: its listener closes and its
// open connections are reset. The nodes share one JVM, so the proxy is how
// a node "stops answering" from jejak's side; the cluster itself keeps all
// three nodes, which is also what makes the final check exact.
func TestClusterNodeStopsAnswering(t *testing.T) {
	urls := clusterURLs(t)
	proxies := make([]*tcpProxy, len(urls))
	purls := make([]string, len(urls))
	var armed atomic.Bool
	var cut atomic.Int32
	cut.Store(-1)
	for i, u := range urls {
		i := i
		proxies[i] = newTCPProxy(t, u, func(p *tcpProxy) {
			// The first request bytes after arming cut the proxy carrying them.
			if armed.CompareAndSwap(true, false) {
				cut.Store(int32(i))
				go p.cut()
			}
		})
		purls[i] = proxies[i].url()
	}
	direct := open(t, elastic.Config{URLs: urls})
	s := open(t, elastic.Config{URLs: purls, Index: direct.Index(), FlushBytes: 1 << 20,
		Backoff: 50 * time.Millisecond, MaxBackoff: time.Second, RequestTimeout: 30 * time.Second})

	expect := expectedEvents(t)
	sink := &recordingSink{dst: s, ids: map[string]bool{}, expect: expect, half: func() { armed.Store(true) }}
	writeCase(t, sink)

	stats := s.Stats()
	i := cut.Load()
	if i < 0 {
		t.Fatal("no proxy was cut: the test did not test losing a node")
	}
	p := proxies[i]
	t.Logf("cut the proxy of %s mid-request (%d connections reset); %d events, write %+v, store %+v",
		urls[i], p.resets.Load(), sink.events, sink.total, stats)
	if p.resets.Load() == 0 {
		t.Error("the cut reset no open connection: no request was in flight")
	}
	if stats.Retries == 0 || stats.ItemRetries == 0 {
		t.Errorf("Stats() = %+v: want the retries after the cut reported", stats)
	}
	if _, err := net.DialTimeout("tcp", p.ln.Addr().String(), time.Second); err == nil {
		t.Error("the cut proxy still accepts connections")
	}
	// Fresh index: every event inserted once, seen as such or, for requests
	// whose answer the cut lost, as a 409 on the resend.
	if int64(sink.total.Inserted)+stats.ResentConflicts != int64(len(sink.ids)) {
		t.Errorf("accounting: %+v and %d resent conflicts for %d distinct events", sink.total, stats.ResentConflicts, len(sink.ids))
	}
	checkExact(t, direct, sink.ids)
	checkReplicated(t, direct, int64(len(sink.ids)))
	// The store still works with a node gone: a re-index through the
	// remaining proxies changes nothing.
	again := storetest.Many(20000)[:2000]
	st, err := s.Write(context.Background(), again)
	if err != nil || st.Inserted != 0 || st.Duplicates != len(again) {
		t.Errorf("re-Write with one node gone = %+v, %v; want %d duplicates", st, err, len(again))
	}
}

// tcpProxy forwards a loopback port to one node, byte for byte, and calls
// onRequest whenever bytes go from jejak to the node.
type tcpProxy struct {
	ln        net.Listener
	target    string
	onRequest func(*tcpProxy)

	mu     sync.Mutex
	conns  map[net.Conn]bool // true for jejak's side
	closed bool
	resets atomic.Int64
}

func newTCPProxy(t *testing.T, node string, onRequest func(*tcpProxy)) *tcpProxy {
	t.Helper()
	host := strings.TrimPrefix(strings.TrimPrefix(node, "http://"), "https://")
	host = strings.TrimSuffix(host, "/")
	if h, _, err := net.SplitHostPort(host); err != nil || (h != "127.0.0.1" && h != "localhost" && h != "::1") {
		t.Fatalf("the proxy only fronts a loopback node, not %s", node)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: host, onRequest: onRequest, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *tcpProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.pipe(c)
	}
}

func (p *tcpProxy) track(client, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[client] = true
	p.conns[up] = false
	return true
}

func (p *tcpProxy) pipe(client net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client, up) {
		client.Close()
		up.Close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { // node -> jejak
		_, _ = io.Copy(client, up)
		done <- struct{}{}
	}()
	go func() { // jejak -> node
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if p.onRequest != nil {
					p.onRequest(p)
				}
				if _, werr := up.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	<-done
	client.Close()
	up.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, up)
	p.mu.Unlock()
}

// cut stops the proxy: no new connections, and every open one is reset
// (RST, not FIN), on jejak's side and the node's.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.ln.Close()
	// jejak's side first: once a node side is closed, its pipe closes the
	// jejak side too, and a reset would go uncounted.
	for _, clients := range []bool{true, false} {
		for c, isClient := range p.conns {
			if isClient != clients {
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			if err := c.Close(); err == nil && isClient {
				p.resets.Add(1)
			}
		}
	}
}

// newGet builds a GET for Client().Perform, which picks the node.
func newGet(path string) (*http.Request, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, errors.New("path must start with /")
	}
	return http.NewRequest(http.MethodGet, path, nil)
}
