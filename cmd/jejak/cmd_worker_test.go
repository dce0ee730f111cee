package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestCaseInClusterCLI: a case folder ingested here is pushed; a worker
// ingests it again from the cluster into the case's index; case show,
// evidence list and warnings read the cluster; the case pulled back opens
// and its chain verifies. The worker's index holds the local ingest's
// events, ID for ID.
func TestCaseInClusterCLI(t *testing.T) {
	url := esURL(t)
	ctx := context.Background()
	dir := t.TempDir()
	cs := filepath.Join(dir, "case")
	logs := parsertest.Corpus(t, "logs")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "CLI Test", "--name", "clitest")
	mustRun(t, exitOK, "evidence", "add", cs, filepath.Join(logs, "syslog"), filepath.Join(logs, "linux"))
	if _, errs, code := jejak(t, "ingest", cs, "-q"); code != exitOK && code != exitWarnings {
		t.Fatalf("ingest: exit %d\n%s", code, errs)
	}
	index := testIndex(t, url, "jejak-test-worker")
	t.Cleanup(func() {
		for _, p := range elastic.CaseParts {
			for _, path := range []string{elastic.CaseIndex(index, p), "_index_template/jejak-case-" + elastic.CaseIndex(index, p)} {
				req, _ := http.NewRequest(http.MethodDelete, strings.TrimRight(strings.Split(url, ",")[0], "/")+"/"+path, nil)
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
			}
		}
	})
	es := []string{"--es", url, "--index", index}
	out := mustRun(t, exitOK, append([]string{"case", "push", cs}, es...)...)
	if !strings.Contains(out, "2 evidence items") || !strings.Contains(out, "1 runs") {
		t.Fatalf("push said: %s", out)
	}
	_, errs, code := jejak(t, append([]string{"worker", "--case", "clitest", "--lease", "5s", "--work-dir", filepath.Join(dir, "w")}, es...)...)
	if code != exitOK || !strings.Contains(errs, "2 items ingested") {
		t.Fatalf("worker: exit %d\n%s", code, errs)
	}

	var show struct {
		Evidence  int            `json:"evidence"`
		Claims    map[string]int `json:"claims"`
		CustodyOK bool           `json:"custody_ok"`
		Entries   int            `json:"custody_entries"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, append([]string{"case", "show", "clitest", "--json"}, es...)...)), &show); err != nil {
		t.Fatal(err)
	}
	if show.Evidence != 2 || show.Claims[elastic.ClaimDone] != 2 || !show.CustodyOK {
		t.Fatalf("case show --es: %+v", show)
	}
	var listed []evidence.Item
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, append([]string{"evidence", "list", "clitest", "--json"}, es...)...)), &listed); err != nil {
		t.Fatal(err)
	}
	local := mustRun(t, exitOK, "evidence", "list", cs)
	for _, it := range listed {
		if !strings.Contains(local, it.SHA256) {
			t.Errorf("evidence list --es names %s (%s), which the folder does not hold", it.ID, it.SHA256)
		}
	}
	localWarn := strings.Count(mustRun(t, exitOK, "warnings", cs, "--all", "--json"), "\n")
	esWarn := strings.Count(mustRun(t, exitOK, append([]string{"warnings", "clitest", "--json"}, es...)...), "\n")
	if esWarn != localWarn {
		t.Errorf("warnings --es lists %d, the folder's store %d", esWarn, localWarn)
	}

	// The worker's index holds exactly the local ingest's events.
	st, err := sqlite.Open(ctx, filepath.Join(cs, "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	est, err := elastic.Open(ctx, elastic.Config{URLs: strings.Split(url, ","), Index: index, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer est.Close()
	if err := verifyIndex(ctx, st, est); err != nil {
		t.Fatalf("worker's index against the local ingest: %v", err)
	}
	n, _ := est.Count(ctx, timeline.Query{})
	if n == 0 {
		t.Fatal("the worker indexed nothing")
	}

	// A hunt reading the worker's index finds what the local hunt finds.
	findings := func(args ...string) string {
		var h struct {
			Findings json.RawMessage `json:"findings"`
		}
		if err := json.Unmarshal([]byte(mustRun(t, exitOK, append([]string{"hunt", cs, "--after", "2000-01-01", "--json"}, args...)...)), &h); err != nil {
			t.Fatal(err)
		}
		return string(h.Findings)
	}
	// --es alone reads the index; --from-es is kept as a hidden alias.
	hunted := findings()
	for _, args := range [][]string{es, append([]string{"--from-es"}, es...)} {
		if remote := findings(args...); hunted != remote || len(hunted) < 10 {
			t.Errorf("hunt %v found\n%.1000s\nthe local hunt\n%.1000s", args, remote, hunted)
		}
	}

	// The case in the cluster by its name, no folder: hunted from the
	// index (three slices of one point in time), the hunt, its findings and
	// its custody entry stored in the cluster.
	var inCluster struct {
		Hunt     string          `json:"hunt"`
		Findings json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, append([]string{"hunt", "clitest", "--after", "2000-01-01", "--json", "--slices", "3"}, es...)...)), &inCluster); err != nil {
		t.Fatal(err)
	}
	if string(inCluster.Findings) != hunted {
		t.Errorf("hunt of the cluster case found\n%.1000s\nthe local hunt\n%.1000s", inCluster.Findings, hunted)
	}
	rep := mustRun(t, exitOK, append([]string{"report", "clitest", "--format", "md", "-o", "-", "--hunt", inCluster.Hunt}, es...)...)
	if !strings.Contains(rep, inCluster.Hunt) {
		t.Errorf("report --es of the cluster case does not name hunt %s", inCluster.Hunt)
	}

	pulled := filepath.Join(dir, "pulled")
	mustRun(t, exitOK, append([]string{"case", "pull", "clitest", "--out", pulled}, es...)...)
	out = mustRun(t, exitOK, "case", "show", pulled)
	if !strings.Contains(out, "chain intact") {
		t.Fatalf("case show of the pulled folder: %s", out)
	}
	if show.Entries < 5 {
		t.Fatalf("custody chain in the cluster has %d entries", show.Entries)
	}
}
