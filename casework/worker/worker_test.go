package worker_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// Environment of a worker run in a subprocess (TestHelperWorkerProcess).
const (
	envChild = "JEJAK_WORKER_CHILD" // "stall" or "run"
	envURLs  = "JEJAK_WORKER_URLS"
	envIndex = "JEJAK_WORKER_INDEX"
	envName  = "JEJAK_WORKER_NAME"
	envDir   = "JEJAK_WORKER_DIR"
)

const testLease = 3 * time.Second

// stallSink writes the first batch it gets synchronously (so those events
// are in the index) and then blocks until the worker is killed: a worker
// dying mid-item, after part of the item went in.
type stallSink struct{ es *elastic.Store }

func (s *stallSink) Write(ctx context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	if _, err := s.es.Write(ctx, b[:max(1, len(b)/2)]); err != nil {
		return timeline.WriteStats{}, err
	}
	<-ctx.Done()
	return timeline.WriteStats{}, ctx.Err()
}

func (s *stallSink) Close() error { return nil }

// TestHelperWorkerProcess is a worker in a process of its own: the test
// binary started again by startChild. It does nothing in a normal run.
func TestHelperWorkerProcess(t *testing.T) {
	mode := os.Getenv(envChild)
	if mode == "" {
		t.Skip("runs only as the subprocess of TestWorkers")
	}
	ctx := context.Background()
	es, err := elastic.Open(ctx, elastic.Config{URLs: strings.Split(os.Getenv(envURLs), ","), Index: os.Getenv(envIndex)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	cfg := worker.Config{ES: es, Name: os.Getenv(envName), WorkDir: os.Getenv(envDir), Registry: all.Registry(),
		Lease: testLease, Poll: 300 * time.Millisecond, ToolVersion: "test", Log: os.Stderr}
	if mode == "stall" {
		cfg.Sink = func(timeline.Sink) timeline.Sink { return &stallSink{es: es} }
	}
	res, err := worker.Run(ctx, cfg)
	fmt.Fprintf(os.Stderr, "worker %s: done %v, refused %v, lost %v, err %v\n", cfg.Name, res.Done, res.Refused, res.Lost, err)
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

func startChild(t *testing.T, mode, name string, urls []string, index string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envURLs+"="+strings.Join(urls, ","), envIndex+"="+index,
		envName+"="+name, envDir+"="+t.TempDir())
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestWorkers: the corpus case, pushed to the three-node cluster, is
// ingested by workers in two processes and two goroutines. The first
// subprocess claims an item, writes part of it and stalls while renewing
// its lease; the others take the other items and leave that one alone
// while its lease is renewed; then the stalled process is killed
// (SIGKILL), its lease runs out, and another worker ingests the item from
// the start. At the end every item is done, the killed one on its second
// attempt, and the timeline index holds exactly the event IDs of a
// single-machine ingest of the same evidence; the custody chain, pulled
// back, verifies and records one finished ingest per item.
func TestWorkers(t *testing.T) {
	urls := clusterURLs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cs := corpusCase(t)
	want := singleMachine(t, cs)
	if len(want) < 1000 {
		t.Fatalf("the single-machine ingest of the corpus case has %d events: too few to mean anything", len(want))
	}
	index := freshIndex(t)
	es := openES(t, urls, index)
	if _, err := worker.Push(ctx, cs, nil, es, "tester"); err != nil {
		t.Fatal(err)
	}
	cc := es.Case()
	items, _ := cs.Evidence()
	first := items[0].ID

	doomed, doomedOut := startChild(t, "stall", "doomed", urls, index)
	defer doomed.Process.Kill()
	waitFor(t, "the stalling worker to claim an item and write part of it", 3*time.Minute, func() bool {
		cl, found, err := cc.GetClaim(ctx, first)
		if err != nil || !found || cl.Worker != "doomed" {
			return false
		}
		n, err := es.Count(ctx, timeline.Query{})
		return err == nil && n > 0
	})
	partial, _ := es.Count(ctx, timeline.Query{})

	// The others start while the doomed worker still renews its lease.
	other, otherOut := startChild(t, "run", "child-2", urls, index)
	defer other.Process.Kill()
	var wg sync.WaitGroup
	results := make([]worker.Result, 2)
	errs := make([]error, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = worker.Run(ctx, worker.Config{ES: es, Name: fmt.Sprintf("goroutine-%d", i+1),
				WorkDir: t.TempDir(), Registry: all.Registry(), Lease: testLease, Poll: 300 * time.Millisecond, ToolVersion: "test"})
		}()
	}
	// Longer than the lease: it holds only because it is renewed.
	time.Sleep(2 * testLease)
	cl, _, err := cc.GetClaim(ctx, first)
	if err != nil || cl.Worker != "doomed" || cl.Attempt != 1 || cl.State != elastic.ClaimWorking {
		t.Fatalf("after two leases the stalled worker's claim is %+v (err %v), want it still held by doomed", cl, err)
	}
	if err := doomed.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = doomed.Wait()
	killedAt := time.Now()

	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine worker %d: %v", i+1, err)
		}
	}
	if err := other.Wait(); err != nil {
		t.Fatalf("worker subprocess: %v\n%s", err, otherOut)
	}
	t.Logf("doomed worker's output:\n%s", doomedOut)
	t.Logf("every item done %v after the kill", time.Since(killedAt).Round(time.Second))

	claims, err := cc.Claims(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != len(items) {
		t.Fatalf("%d claims for %d items", len(claims), len(items))
	}
	for _, cl := range claims {
		if cl.State != elastic.ClaimDone {
			t.Errorf("item %s ended %s (%s)", cl.Item, cl.State, cl.Error)
		}
		// Attempt 2, or more when a loaded machine let a lease lapse.
		if cl.Item == first && (cl.Attempt < 2 || cl.Worker == "doomed") {
			t.Errorf("the killed worker's item: attempt %d by %s, want a later attempt by another worker", cl.Attempt, cl.Worker)
		}
	}
	done := map[string]int{}
	for _, r := range results {
		for _, id := range r.Done {
			done[id]++
		}
	}
	if !strings.Contains(otherOut.String(), "done [") {
		t.Errorf("worker subprocess output lacks its summary:\n%s", otherOut)
	}

	// The index equals the single-machine ingest: same IDs, same count.
	var got []string
	if err := es.Search(ctx, timeline.Query{}, func(ev *timeline.Event) error {
		got = append(got, ev.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("the cluster's index holds %d events, the single-machine ingest %d; first difference: %s",
			len(got), len(want), firstDiff(got, want))
	}
	t.Logf("%d events; %d were in the index from the killed worker before it died", len(got), partial)

	// Custody: the chain verifies in the cluster and, pulled, with
	// forensics/evidence; one worker_ingest per item.
	out := filepath.Join(t.TempDir(), "pulled")
	if _, err := worker.Pull(ctx, es, out); err != nil {
		t.Fatal(err)
	}
	pulled, _ := evidence.Open(out)
	entries, err := pulled.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	ingested := map[string]int{}
	for _, e := range entries {
		if e.Action == "worker_ingest" {
			ingested[fmt.Sprint(e.Details["id"])]++
		}
	}
	for _, it := range items {
		if ingested[it.ID] != 1 {
			t.Errorf("item %s has %d worker_ingest entries, want 1", it.ID, ingested[it.ID])
		}
	}
	runs, err := cc.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]int{}
	for _, r := range runs {
		states[r.State]++
	}
	// The killed worker's run stays "running": its process never ended it.
	// A worker whose lease lapsed under load ends its run "lost".
	if states["complete"] != len(items) || states["running"] != 1 || len(runs) != len(items)+1+states["lost"] {
		t.Errorf("runs by state %v, want %d complete, the killed one running, and any others lost", states, len(items))
	}
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("index %d: %s vs %s", i, a[i], b[i])
		}
	}
	return "one list is a prefix of the other"
}
