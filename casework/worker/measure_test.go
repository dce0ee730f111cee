package worker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestMeasureWorkers times 1, 2 and 3 workers ingesting the same case (the
// shared corpus's logs, more and windows folders, one item per folder)
// into a fresh index of the cluster each time: the numbers of
// docs/SCALE.md. It runs only with JEJAK_WORKER_MEASURE=1.
func TestMeasureWorkers(t *testing.T) {
	if os.Getenv("JEJAK_WORKER_MEASURE") == "" {
		t.Skip("set JEJAK_WORKER_MEASURE=1 to measure worker throughput")
	}
	urls := clusterURLs(t)
	ctx := context.Background()
	cs, err := evidence.Init(filepath.Join(t.TempDir(), "case"), evidence.Config{Examiner: "Measure", Zone: "UTC", Name: "measure"})
	if err != nil {
		t.Fatal(err)
	}
	var bytes int64
	for _, top := range []string{"logs", "more", "windows"} {
		root := parsertest.Corpus(t, top)
		ents, err := os.ReadDir(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			it, err := cs.AddEvidence(ctx, filepath.Join(root, e.Name()), nil)
			if err != nil {
				t.Logf("skip %s/%s: %v", top, e.Name(), err)
				continue
			}
			bytes += it.Size
		}
	}
	items, _ := cs.Evidence()
	for _, n := range []int{1, 2, 3} {
		es := openES(t, urls, freshIndex(t))
		if _, err := worker.Push(ctx, cs, nil, es, "measure"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = worker.Run(ctx, worker.Config{ES: es, Name: fmt.Sprintf("w%d", i), WorkDir: t.TempDir(),
					Registry: all.Registry(), Workers: 1, Lease: 30 * time.Second, Poll: 200 * time.Millisecond})
			}()
		}
		wg.Wait()
		el := time.Since(start)
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		events, err := es.Count(ctx, timeline.Query{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("workers=%d items=%d bytes=%d events=%d wall=%.2fs events/s=%.0f", n, len(items), bytes, events, el.Seconds(), float64(events)/el.Seconds())
	}
}
