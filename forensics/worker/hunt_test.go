package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/hunt"
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
