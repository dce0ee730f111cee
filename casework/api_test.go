package casework_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/casework/report"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// TestAPIIngestHuntReport: the README example through the public API only,
// ending in a report file: the report states every finding the hunt
// stored, the hunt again with the same parameters keeps its key and adds
// nothing, and the custody chain the API wrote verifies.
func TestAPIIngestHuntReport(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "case")
	clock := time.Date(2024, 3, 1, 2, 0, 0, 0, time.UTC)
	opts := casework.Options{Examiner: "A. Examiner", Zone: "Asia/Jakarta", ToolVersion: "api-test",
		Clock: func() time.Time { clock = clock.Add(time.Second); return clock }}
	c, err := casework.Init(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := casework.Init(ctx, dir, opts); !errors.Is(err, casework.ErrCaseExists) {
		t.Fatalf("Init over a case: %v, want ErrCaseExists", err)
	}
	if _, err := c.Ingest(ctx, casework.IngestOptions{}); !errors.Is(err, casework.ErrNoEvidence) {
		t.Fatalf("Ingest without evidence: %v, want ErrNoEvidence", err)
	}
	var hashed int64
	it, err := c.AddEvidence(ctx, "../fixtures/example", casework.AddOptions{Progress: func(done, _ int64) { hashed = done }})
	if err != nil {
		t.Fatal(err)
	}
	if hashed != it.Size || it.Size == 0 {
		t.Errorf("progress said %d bytes hashed, the item has %d", hashed, it.Size)
	}
	var progressed bool
	ing, err := c.Ingest(ctx, casework.IngestOptions{Progress: func(p ingest.Progress) { progressed = progressed || p.Done }})
	if err != nil {
		t.Fatal(err)
	}
	if !progressed || ing.Summary.Events == 0 || !ing.Summary.Clean() || ing.Names[it.SHA256] != it.Name {
		t.Errorf("ingest: progress done %v, %d events, clean %v, names %v", progressed, ing.Summary.Events, ing.Summary.Clean(), ing.Names)
	}
	comp, err := c.Completeness(ctx)
	if err != nil || !comp.Complete || comp.Runs != 1 {
		t.Fatalf("completeness after one run: %+v, %v", comp, err)
	}

	after := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC) // 19:00 WIB
	var started bool
	res, err := c.Hunt(ctx, casework.HuntOptions{After: after, Started: func(*export.Completeness) { started = true }})
	if err != nil {
		t.Fatal(err)
	}
	if !started || len(res.Findings) != 9 || res.Key != res.Params.Key() {
		t.Fatalf("hunt: started %v, %d findings (want the README's 9), key %s for params key %s", started, len(res.Findings), res.Key, res.Params.Key())
	}
	// The same instant in another zone is the same hunt.
	wib := time.FixedZone("WIB", 7*3600)
	again, err := c.Hunt(ctx, casework.HuntOptions{After: after.In(wib), MinSeverity: hunt.Informational})
	if err != nil {
		t.Fatal(err)
	}
	if again.Key != res.Key || len(again.Findings) != len(res.Findings) {
		t.Errorf("same parameters: key %s (%d findings), then %s (%d)", res.Key, len(res.Findings), again.Key, len(again.Findings))
	}
	hunts, err := c.Store.Hunts(ctx)
	if err != nil || len(hunts) != 1 {
		t.Fatalf("hunts stored: %d, %v; want 1 (the second replaces the first)", len(hunts), err)
	}

	out := filepath.Join(t.TempDir(), "report.md")
	rep, err := c.Report(ctx, nil, casework.ReportOptions{Format: report.Markdown, Output: out, ToolVersion: "api-test"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Findings != len(res.Findings) {
		t.Errorf("report states %d findings, the hunt stored %d", rep.Findings, len(res.Findings))
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Findings {
		if !strings.Contains(string(md), f.RuleID) || !strings.Contains(string(md), f.Title) {
			t.Errorf("the report does not name finding %s (%s %q)", f.ID, f.RuleID, f.Title)
		}
	}
	if !strings.Contains(string(md), res.Key) {
		t.Errorf("the report does not name hunt %s", res.Key)
	}
	if _, err := c.Evidence.VerifyCustody(); err != nil {
		t.Errorf("custody chain written through the API: %v", err)
	}
}

// TestAPIIngestRefused: evidence changed after its registration is refused
// before anything is read: no result, the error names the item, the run's
// record is removed (a refused run is no incomplete run) and the item
// stays "not ingested".
func TestAPIIngestRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(logs, "auth.log")
	if err := os.WriteFile(auth, []byte("Feb 14 19:01:02 tab01 sshd[42]: Accepted password for root from 203.0.113.9 port 5050 ssh2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := casework.Init(ctx, filepath.Join(dir, "case"), casework.Options{Examiner: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it, err := c.AddEvidence(ctx, logs, casework.AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(auth, []byte("Feb 14 19:01:02 tab01 sshd[42]: Accepted password for admin from 203.0.113.9 port 5050 ssh2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := c.Ingest(ctx, casework.IngestOptions{})
	if err == nil || res != nil || !strings.Contains(err.Error(), it.ID) || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Ingest of changed evidence: %+v, %v; want a refusal naming %s and no result", res, err, it.ID)
	}
	comp, err := c.Completeness(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if comp.Runs != 0 || len(comp.Incomplete) != 0 || len(comp.NotIngested) != 1 || comp.Complete {
		t.Errorf("after a refused ingest: %+v; want no run and the item not ingested", comp)
	}
}
