package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPushPull: a case folder pushed to the cluster and pulled back is the
// same folder byte for byte (case files, manifests, custody chain), and
// forensics/evidence verifies the pulled chain. An entry appended in the
// cluster (as a worker does) is a valid link of the chain for
// forensics/evidence too, and an entry edited in the cluster is caught.
func TestPushPull(t *testing.T) {
	urls := clusterURLs(t)
	ctx := context.Background()
	cs := corpusCase(t)
	es := openES(t, urls, freshIndex(t))
	res, err := worker.Push(ctx, cs, nil, es, "tester")
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	if res.Items != len(corpusFolders) || res.CustodyAdded != res.Custody || res.Custody < len(corpusFolders)+1 {
		t.Fatalf("push wrote %+v", res)
	}
	// Pushing again adds nothing but the new case_push entry.
	res2, err := worker.Push(ctx, cs, nil, es, "tester")
	if err != nil {
		t.Fatalf("second push: %v", err)
	}
	if res2.CustodyAdded != 1 {
		t.Fatalf("second push added %d custody entries, want 1 (its own case_push)", res2.CustodyAdded)
	}

	out := filepath.Join(t.TempDir(), "pulled")
	pr, err := worker.Pull(ctx, es, out)
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	for _, name := range []string{"case.json", "evidence.json", "custody.log"} {
		if !bytes.Equal(readFile(t, cs.Dir(), name), readFile(t, out, name)) {
			t.Errorf("pulled %s differs from the pushed folder's", name)
		}
	}
	items, _ := cs.Evidence()
	for _, it := range items {
		if !bytes.Equal(readFile(t, cs.Dir(), it.Manifest), readFile(t, out, it.Manifest)) {
			t.Errorf("pulled manifest %s differs", it.Manifest)
		}
	}
	pulled, err := evidence.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := pulled.VerifyCustody()
	if err != nil || len(entries) != pr.Custody {
		t.Fatalf("pulled chain: %d entries, err %v; want %d", len(entries), err, pr.Custody)
	}
	// The pulled folder re-hashes its evidence like the original.
	for _, it := range items {
		if err := pulled.Recheck(ctx, it, true); err != nil {
			t.Errorf("recheck %s in the pulled case: %v", it.ID, err)
		}
	}

	// An entry appended in the cluster verifies with forensics/evidence.
	cc := es.Case()
	e, err := cc.AppendCustody(ctx, time.Now(), "Worker Test", "worker_ingest", map[string]any{"id": items[0].ID, "events": 12})
	if err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "pulled2")
	if _, err := worker.Pull(ctx, es, out2); err != nil {
		t.Fatalf("pull after a cluster entry: %v", err)
	}
	p2, _ := evidence.Open(out2)
	entries, err = p2.VerifyCustody()
	if err != nil {
		t.Fatalf("forensics/evidence refuses the entry written in the cluster: %v", err)
	}
	if last := entries[len(entries)-1]; last.Hash != e.Hash || last.Action != "worker_ingest" {
		t.Fatalf("last pulled entry %+v, want the cluster's %s", last, e.Hash)
	}
	// The folder has moved on too: the two chains have diverged.
	if err := cs.Log("export", map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := worker.Push(ctx, cs, nil, es, "tester"); err == nil || !strings.Contains(err.Error(), "differs") {
		t.Fatalf("push of a diverged folder: %v, want a refusal", err)
	}

	// An entry edited in the cluster breaks the chain there.
	chain, err := cc.Custody(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim := chain[2]
	victim.Line = strings.Replace(victim.Line, `"examiner":"Worker Test"`, `"examiner":"Someone Else"`, 1)
	body, _ := json.Marshal(victim)
	c := es.Client()
	r, err := c.Index(cc.Index(elastic.PartCustody), bytes.NewReader(body), c.Index.WithDocumentID("3"), c.Index.WithRefresh("true"))
	if err != nil || r.IsError() {
		t.Fatalf("tamper: %v %v", err, r)
	}
	r.Body.Close()
	var ce *elastic.ChainError
	if _, err := cc.Custody(ctx); !errors.As(err, &ce) || ce.Seq != 3 {
		t.Fatalf("edited entry 3: %v, want a ChainError at 3", err)
	}
	if _, err := worker.Pull(ctx, es, filepath.Join(t.TempDir(), "pulled3")); !errors.As(err, &ce) {
		t.Fatalf("pull of a broken chain: %v, want a ChainError", err)
	}
}

// TestStrictMappings: a field the case mappings do not name is refused.
func TestStrictMappings(t *testing.T) {
	urls := clusterURLs(t)
	ctx := context.Background()
	es := openES(t, urls, freshIndex(t))
	cc := es.Case()
	if err := cc.Install(ctx); err != nil {
		t.Fatal(err)
	}
	c := es.Client()
	for _, p := range elastic.CaseParts {
		r, err := c.Index(cc.Index(p), strings.NewReader(`{"not_a_field": 1}`))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 400 {
			t.Errorf("%s took an unmapped field (status %d); its mapping must be strict", p, r.StatusCode)
		}
	}
}
