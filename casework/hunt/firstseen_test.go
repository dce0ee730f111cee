package hunt

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// countingSearcher counts the reads a hunt makes of its store.
type countingSearcher struct {
	timeline.Store
	searches int
}

func (c *countingSearcher) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	c.searches++
	return c.Store.Search(ctx, q, fn)
}

// TestFirstSeenReadBack: first-seen holds the rows of at most maxKeptRows
// scanning candidates and reads back from the store, at finish, the rows
// its findings show. The findings must be the same, row for row and ID for
// ID, whatever the bound: a case with each kind of first-seen finding (a
// source that keeps trying, one that gets in after failures, scanning
// folded per host with rows capped by source, capped with fewer sources
// than rows, and not capped) is hunted with the rows all held, with a few,
// with none, each with the rows read back one time each and with one read
// over their span.
func TestFirstSeenReadBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.log")
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	cut := base.Add(time.Hour)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	at := base
	line := func(host, format string, args ...any) {
		fmt.Fprintf(w, "%s %s sshd[%d]: %s\n", at.Format(time.Stamp), host, 1000+at.Second(), fmt.Sprintf(format, args...))
		at = at.Add(time.Second)
	}
	fail := func(host, user, ip string) {
		line(host, "Failed password for invalid user %s from %s port 4242 ssh2", user, ip)
	}
	// The baseline: the administrator's address, known before the cut-off.
	for range 5 {
		line("tab-a", "Accepted password for operator from 192.0.2.10 port 50000 ssh2")
	}
	at = cut
	// Interleaved after the cut-off, so the rows of one source are
	// between those of others (and several share a second).
	for round := range 6 {
		for s := range 400 { // host b: 400 scanners, one attempt each: rows capped by source
			if s%6 == round {
				fail("tab-b", fmt.Sprintf("user%d", s%37), fmt.Sprintf("198.51.%d.%d", s/250, s%250))
			}
		}
		for s := range 120 { // host a: 120 scanners with 1–4 attempts: fewer sources than rows shown
			if round < 1+s%4 {
				fail("tab-a", fmt.Sprintf("guest%d", s%11), fmt.Sprintf("203.0.113.%d", s))
			}
		}
		for s := range 12 { // host a: sources that keep trying, with a dictionary
			fail("tab-a", fmt.Sprintf("name%d", round*12+s), fmt.Sprintf("100.64.0.%d", s))
		}
		for s := range 5 { // host c: scanners, rows not capped
			if round < 2 {
				fail("tab-c", "admin", fmt.Sprintf("100.65.0.%d", s))
			}
		}
		if round < 3 {
			for s := range 4 { // sources that get in after a few failures
				fail("tab-a", "oracle", fmt.Sprintf("100.66.0.%d", s))
			}
		}
	}
	for s := range 4 {
		line("tab-a", "Accepted password for oracle from 100.66.0.%d port 50001 ssh2", s)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, at, at); err != nil { // the year comes from it
		t.Fatal(err)
	}
	st := buildCase(t, path)
	cfg := Config{After: cut, Rules: []*Rule{ruleByID(t, "JEJAK-AUTH-03")}}

	run := func(limit int) ([]Finding, int) {
		t.Helper()
		old := maxKeptRows
		maxKeptRows = limit
		defer func() { maxKeptRows = old }()
		cs := &countingSearcher{Store: st}
		return hunt(t, cs, cfg), cs.searches
	}
	// folded is run with at most cands scanning candidates held whole.
	folded := func(limit, cands int) ([]Finding, int) {
		t.Helper()
		old := maxCandidates
		maxCandidates = cands
		defer func() { maxCandidates = old }()
		return run(limit)
	}
	want, n := run(1 << 30)
	if n != 1 {
		t.Fatalf("all rows held: %d reads of the store, want 1", n)
	}
	// The case has what the test is about.
	kinds := map[string]int{}
	for _, f := range want {
		switch {
		case f.Key == "scanning on tab-b":
			kinds["capped by source"] = len(f.Events)
		case f.Key == "scanning on tab-a":
			kinds["fill"] = len(f.Events)
		case f.Key == "scanning on tab-c":
			kinds["all"] = len(f.Events)
		default:
			kinds["own"]++
		}
	}
	if kinds["capped by source"] != maxScanRows || kinds["fill"] != maxScanRows || kinds["all"] != 10 || kinds["own"] != 16 {
		t.Fatalf("findings of the case: %v", kinds)
	}
	wantJSON, _ := json.MarshalIndent(want, "", " ")
	for _, c := range []struct {
		bound, queries int
		span           bool // the rows are read back by one read over their span
	}{{0, 4096, false}, {3, 4096, false}, {150, 4096, false}, {0, 10, true}, {150, 10, true}} {
		old := maxFetchQueries
		maxFetchQueries = c.queries
		got, n := run(c.bound)
		maxFetchQueries = old
		if c.span && n != 2 {
			t.Errorf("bound %d, %d point reads: %d reads of the store, want 2 (the hunt, one read over the span)", c.bound, c.queries, n)
		} else if !c.span && n <= 2 {
			t.Errorf("bound %d, %d point reads: %d reads of the store, want the rows read back one time each", c.bound, c.queries, n)
		}
		gotJSON, _ := json.MarshalIndent(got, "", " ")
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("bound %d, %d point reads: findings differ from those with every row held:\n%s\nwant\n%s", c.bound, c.queries, gotJSON, wantJSON)
		}
	}
	// Folding the candidates idle the longest (firstseen_bound.go) keeps
	// the findings: host b's 400 one-time scanners are folded and most
	// left as counts, but none comes back; host a's come back, from the
	// folded sources held whole.
	for _, c := range []struct{ bound, cands int }{{1 << 30, 10}, {1 << 30, 150}, {0, 40}, {150, 25}} {
		got, _ := folded(c.bound, c.cands)
		gotJSON, _ := json.MarshalIndent(got, "", " ")
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("bound %d, %d candidates: findings differ from those with every candidate held:\n%s\nwant\n%s", c.bound, c.cands, gotJSON, wantJSON)
		}
	}
}
