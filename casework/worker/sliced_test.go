package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// shardedIndex makes index again with the given primary shards (the
// template gives one), so the three nodes each hold some of the case and a
// sliced read has several shards to cut; the template's mapping and its
// replica setting still apply.
func shardedIndex(t *testing.T, es *elastic.Store, shards int) {
	t.Helper()
	c := es.Client()
	res, err := c.Indices.Delete([]string{es.Index()})
	if err != nil || res.IsError() {
		t.Fatalf("delete %s: %v %v", es.Index(), err, res)
	}
	res.Body.Close()
	body := fmt.Sprintf(`{"settings":{"index":{"number_of_shards":%d}}}`, shards)
	res, err = c.Indices.Create(es.Index(), c.Indices.Create.WithBody(strings.NewReader(body)),
		c.Indices.Create.WithWaitForActiveShards("all"))
	if err != nil || res.IsError() {
		t.Fatalf("create %s with %d shards: %v %v", es.Index(), shards, err, res)
	}
	res.Body.Close()
}

// TestSlicedHuntFromCluster: the built-in hunt over the corpus case, read
// from the three-node cluster (three primaries, one replica each) through
// 3 and 5 slices of one point in time, finds exactly what the SQLite hunt
// finds, byte for byte; and a sliced hunt whose connections to one node are
// cut part way through still completes with the same findings.
func TestSlicedHuntFromCluster(t *testing.T) {
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
	shardedIndex(t, es, 3)
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
	want, err := hunt.Hunt(ctx, store, hunt.Config{Zone: cs.Location()})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("the SQLite hunt found nothing in the corpus case: the comparison would prove nothing")
	}
	wj, _ := json.Marshal(want)
	for _, n := range []int{1, 3, 5} {
		// One slice is the PIT reader: its time is the baseline logged
		// beside the sliced hunts' (docs/SCALE.md).
		var src hunt.Searcher = es.PIT()
		if n > 1 {
			src = es.Sliced(n)
		}
		t0, c0 := time.Now(), cputime.Process()
		got, err := hunt.Hunt(ctx, src, hunt.Config{Zone: cs.Location()})
		if err != nil {
			t.Fatalf("%d slices: %v", n, err)
		}
		t.Logf("hunt through %d slice(s): %v wall, %v CPU of this process", n, time.Since(t0).Round(time.Millisecond), (cputime.Process() - c0).Round(time.Millisecond))
		if gj, _ := json.Marshal(got); !bytes.Equal(gj, wj) {
			t.Errorf("%d slices: findings differ from SQLite's (%d vs %d):\n%.1500s\nwant\n%.1500s", n, len(got), len(want), gj, wj)
		}
	}

	proxy := newCutProxy(t, urls[0])
	reader, err := elastic.Open(ctx, elastic.Config{URLs: []string{proxy.url(), urls[1], urls[2]}, Index: index, ReadOnly: true,
		PageSize: 500, Backoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	src := &cutAfter{src: reader.Sliced(3), n: len(ids) / 3, cut: proxy.cut}
	got, err := hunt.Hunt(ctx, src, hunt.Config{Zone: cs.Location()})
	if err != nil {
		t.Fatalf("sliced hunt with a node cut: %v", err)
	}
	if src.seen != len(ids) {
		t.Fatalf("the sliced hunt read %d events, the case has %d", src.seen, len(ids))
	}
	if proxy.used.Load() == 0 {
		t.Fatal("no request went through the node that was cut: the test proves nothing")
	}
	if gj, _ := json.Marshal(got); !bytes.Equal(gj, wj) {
		t.Fatalf("sliced findings with a node cut differ from SQLite's (%d vs %d)", len(got), len(want))
	}
	t.Logf("%d events, %d findings equal from 3 and 5 slices and with a node cut (%d connections through it)",
		len(ids), len(want), proxy.used.Load())
}
