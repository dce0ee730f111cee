package worker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// TestLeaseHeldThroughFinalWrites: a worker whose last writes for an item
// (its custody entry, its run, the claim marked done) take longer than a
// lease keeps the item: the lease is renewed through them, so a second
// worker looking meanwhile never takes the item over, and the custody
// chain records one ingest of it. The slow writes are made so by a proxy
// that holds the first worker's custody writes for three leases; its claim
// writes pass at once. TestWorkers failed 1 run in 3 on a loaded machine
// this way (an item ingested two and three times), before the lease was
// held through these writes.
func TestLeaseHeldThroughFinalWrites(t *testing.T) {
	urls := clusterURLs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const lease = time.Second
	cs, err := evidence.Init(filepath.Join(t.TempDir(), "case"), evidence.Config{Examiner: "Worker Test", Zone: "UTC", Name: "lease", ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AddEvidence(ctx, parsertest.Corpus(t, "logs/db"), nil); err != nil {
		t.Fatal(err)
	}
	items, err := cs.Evidence()
	if err != nil || len(items) != 1 {
		t.Fatalf("case items %v, %v: want one", items, err)
	}
	item := items[0].ID
	index := freshIndex(t)
	es := openES(t, urls, index)
	if _, err := worker.Push(ctx, cs, nil, es, "tester"); err != nil {
		t.Fatal(err)
	}
	cc := es.Case()

	// The slow worker reaches the node through a proxy that holds each of
	// its custody writes for three leases.
	target, err := url.Parse(urls[0])
	if err != nil {
		t.Fatal(err)
	}
	custodyDocs := "/" + cc.Index(elastic.PartCustody) + "/_doc/"
	var held atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, custodyDocs) {
			held.Add(1)
			select {
			case <-time.After(3 * lease):
			case <-r.Context().Done():
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	slowES, err := elastic.Open(ctx, elastic.Config{URLs: []string{proxy.URL}, Index: index})
	if err != nil {
		t.Fatal(err)
	}
	defer slowES.Close()

	cfg := func(name string, es *elastic.Store) worker.Config {
		return worker.Config{ES: es, Name: name, WorkDir: t.TempDir(), Registry: all.Registry(),
			Lease: lease, Poll: lease / 10, ToolVersion: "test"}
	}
	var wg sync.WaitGroup
	var slowRes, otherRes worker.Result
	var slowErr, otherErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		slowRes, slowErr = worker.Run(ctx, cfg("slow", slowES))
	}()
	// The other worker starts once the slow one holds the item, and looks
	// every tenth of a lease while the slow one's custody write is held.
	waitFor(t, "the slow worker to claim the item", time.Minute, func() bool {
		cl, found, err := cc.GetClaim(ctx, item)
		return err == nil && found && cl.Worker == "slow"
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		otherRes, otherErr = worker.Run(ctx, cfg("other", es))
	}()
	wg.Wait()
	if slowErr != nil || otherErr != nil {
		t.Fatalf("workers: slow %v, other %v", slowErr, otherErr)
	}
	if held.Load() == 0 {
		t.Fatal("no custody write went through the proxy: the test proves nothing")
	}
	if len(slowRes.Done) != 1 || len(otherRes.Done) != 0 || len(otherRes.Lost) != 0 {
		t.Errorf("slow worker %+v, other %+v: want the item done by the slow one alone", slowRes, otherRes)
	}
	cl, _, err := cc.GetClaim(ctx, item)
	if err != nil || cl.State != elastic.ClaimDone || cl.Worker != "slow" || cl.Attempt != 1 {
		t.Errorf("claim %+v (%v): want done by the slow worker on its first attempt", cl, err)
	}
	entries, err := cc.Custody(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "worker_ingest" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d worker_ingest custody entries for the one item, want 1", n)
	}
	t.Logf("%d custody write(s) held for %v each", held.Load(), 3*lease)
}
