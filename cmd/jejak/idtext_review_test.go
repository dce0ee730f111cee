package main

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// idrEvidence writes 300 small sshd logs (40 lines each, eight to a
// second: runs of equal timestamps) whose event IDs hold NUL bytes and
// bytes >= 0x80 in their first, middle and last places (checked by the
// test: the IDs are a hash of the provenance, see timeline.ComputeID).
func idrEvidence(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "ev")
	mtime := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for f := range 300 {
		dir := filepath.Join(root, fmt.Sprintf("host%d", f%5))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i := range 40 {
			fmt.Fprintf(&b, "Feb 14 19:%02d:%02d tabulasi-01 sshd[%d]: Failed password for invalid user admin%d from 203.0.113.%d port %d ssh2\n",
				10+f%40, i/8, 3000+i, i%7, f%250, 40000+i)
		}
		p := filepath.Join(dir, fmt.Sprintf("auth%d.log", f))
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

type idrDoc struct {
	TS    string `json:"@timestamp"`
	Jejak struct {
		ID string `json:"id"`
	} `json:"jejak"`
}

func idrLines(t *testing.T, out string) []idrDoc {
	t.Helper()
	var docs []idrDoc
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var d idrDoc
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("%v: %.200s", err, l)
		}
		docs = append(docs, d)
	}
	return docs
}

// TestReviewTextIDsEndToEnd: on a case whose event IDs hold NULs and
// bytes >= 0x80 at the first, middle and last places (written for store
// format 6, which kept them as raw bytes in TEXT; the BLOB IDs of format 5
// came back), export (jsonl, csv, Timesketch) and
// timeline give every ID, in (@timestamp, ID bytes) order; jejak search
// finds each such ID alone and several in one OR; every event a hunt's
// findings cite is in the timeline and found by its ID; ingesting again
// adds nothing; verify passes.
func TestReviewTextIDsEndToEnd(t *testing.T) {
	ev := idrEvidence(t)
	cs := filepath.Join(t.TempDir(), "case")
	sum := summaryOf(t, mustRun(t, exitOK, "analyze", ev, "--out", cs, "--tz", "UTC", "-q", "--json"))

	docs := idrLines(t, mustRun(t, exitOK, "export", cs, "--format", "jsonl", "-o", "-"))
	if int64(len(docs)) != sum.Events || sum.Events < 12000 {
		t.Fatalf("export: %d events, the summary %d", len(docs), sum.Events)
	}
	ids := map[string]bool{}
	var order []string
	for i, d := range docs {
		if len(d.Jejak.ID) != 32 || ids[d.Jejak.ID] {
			t.Fatalf("export line %d: ID %q (repeated: %v)", i+1, d.Jejak.ID, ids[d.Jejak.ID])
		}
		ids[d.Jejak.ID] = true
		order = append(order, d.Jejak.ID)
		// Lower-case hex sorts as the bytes do.
		if i > 0 && (d.TS < docs[i-1].TS || d.TS == docs[i-1].TS && d.Jejak.ID < docs[i-1].Jejak.ID) {
			t.Errorf("export line %d (%s %s) sorts before line %d (%s %s)", i+1, d.TS, d.Jejak.ID, i, docs[i-1].TS, docs[i-1].Jejak.ID)
		}
	}
	// The IDs the rest of the test looks up: a NUL, or a byte >= 0x80,
	// at each of the places.
	var pick []string
	for _, c := range []struct {
		pos  int
		high bool
	}{{0, false}, {7, false}, {8, false}, {15, false}, {0, true}, {7, true}, {8, true}, {15, true}} {
		n := 0
		for _, id := range order {
			b, _ := hex.DecodeString(id)
			if c.high && b[c.pos] >= 0x80 || !c.high && b[c.pos] == 0 {
				pick = append(pick, id)
				if n++; n == 3 {
					break
				}
			}
		}
		if n < 3 {
			t.Fatalf("only %d IDs with byte %d %s: the evidence no longer makes the IDs this test needs", n, c.pos, map[bool]string{false: "NUL", true: ">= 0x80"}[c.high])
		}
	}

	// timeline --json: the same events in the same order.
	var tl []string
	for _, d := range idrLines(t, mustRun(t, exitOK, "timeline", cs, "--json")) {
		tl = append(tl, d.Jejak.ID)
	}
	if !slices.Equal(tl, order) {
		t.Errorf("timeline --json differs from export's order (%d vs %d events)", len(tl), len(order))
	}
	// csv and Timesketch: every ID once.
	recs, err := csv.NewReader(strings.NewReader(mustRun(t, exitOK, "export", cs, "--format", "csv", "-o", "-"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := slices.Index(recs[0], "id")
	if col < 0 {
		t.Fatalf("csv header %v has no id", recs[0])
	}
	var csvIDs []string
	for _, r := range recs[1:] {
		csvIDs = append(csvIDs, r[col])
	}
	if !slices.Equal(csvIDs, order) {
		t.Errorf("csv ids differ from jsonl's (%d vs %d)", len(csvIDs), len(order))
	}
	var tsIDs []string
	for _, l := range strings.Split(strings.TrimSpace(mustRun(t, exitOK, "export", cs, "--format", "timesketch", "-o", "-")), "\n") {
		var d struct {
			ID string `json:"jejak.id"`
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatal(err)
		}
		tsIDs = append(tsIDs, d.ID)
	}
	if !slices.Equal(tsIDs, order) {
		t.Errorf("timesketch ids differ from jsonl's (%d vs %d)", len(tsIDs), len(order))
	}

	// search by ID: each alone, then all in one OR.
	for _, id := range pick {
		got := idrLines(t, mustRun(t, exitOK, "search", cs, "jejak.id:"+id, "--json"))
		if len(got) != 1 || got[0].Jejak.ID != id {
			t.Errorf("search jejak.id:%s found %v", id, got)
		}
	}
	var or []string
	for _, id := range pick {
		or = append(or, "jejak.id:"+id)
	}
	got := idrLines(t, mustRun(t, exitOK, "search", cs, strings.Join(or, " or "), "--json"))
	var gotIDs []string
	for _, d := range got {
		gotIDs = append(gotIDs, d.Jejak.ID)
	}
	want := slices.Clone(pick)
	slices.SortFunc(want, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) })
	want = slices.Compact(want)
	if !slices.Equal(gotIDs, want) {
		t.Errorf("search of %d IDs in one OR:\n got %v\nwant %v", len(want), gotIDs, want)
	}

	// hunt: every event a finding cites is one of the timeline's.
	var h struct {
		Findings []struct {
			RuleID string `json:"rule_id"`
			Events []struct {
				ID string `json:"id"`
			} `json:"events"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, "hunt", cs, "--after", "2024-02-14T19:00:00Z", "--json")), &h); err != nil {
		t.Fatal(err)
	}
	cited := 0
	var odd string
	for _, f := range h.Findings {
		for _, e := range f.Events {
			cited++
			if !ids[e.ID] {
				t.Errorf("finding %s cites %s, no event of the timeline", f.RuleID, e.ID)
			}
			if b, _ := hex.DecodeString(e.ID); odd == "" && bytes.IndexByte(b, 0) >= 0 {
				odd = e.ID
			}
		}
	}
	if cited == 0 || odd == "" {
		t.Fatalf("the hunt cites %d events, none with a NUL in its ID (%q)", cited, odd)
	}
	if got := idrLines(t, mustRun(t, exitOK, "search", cs, "jejak.id:"+odd, "--json")); len(got) != 1 || got[0].Jejak.ID != odd {
		t.Errorf("search of the cited %s found %v", odd, got)
	}

	again := summaryOf(t, mustRun(t, exitOK, "ingest", cs, "--json"))
	if again.Inserted != 0 || again.Duplicates != sum.Events {
		t.Errorf("ingest again: %d inserted, %d duplicates; want 0 and %d", again.Inserted, again.Duplicates, sum.Events)
	}
	mustRun(t, exitOK, "verify", cs)
}

// TestReviewOlderFormatRefused: a case whose case.db is of an older store
// format that Open does not convert (6; it converts 5 and 7) is refused by every command that reads events, with a
// message naming the format and telling the examiner what to do, and the
// file is left as it was.
func TestReviewOlderFormatRefused(t *testing.T) {
	example, err := filepath.Abs("../../fixtures/example")
	if err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(t.TempDir(), "case")
	mustRun(t, exitOK, "analyze", example, "--out", cs, "--tz", "UTC", "-q")
	older := 6
	old, err := os.ReadFile(filepath.Join("..", "..", "timeline", "store", "sqlite", "testdata", fmt.Sprintf("format%d-case.db", older)))
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(cs, "case.db")
	for _, p := range []string{db + "-wal", db + "-shm"} {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(db, old, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"timeline", cs, "--limit", "3"},
		{"hunt", cs, "--after", "2024-02-14T19:00:00Z"},
		{"export", cs, "--format", "jsonl", "-o", "-"},
		{"search", cs, "jejak.id:00112233445566778899aabbccddeeff"},
		{"ingest", cs},
		{"warnings", cs},
		{"verify", cs},
	} {
		t.Run(args[0], func(t *testing.T) {
			out, errs, code := jejak(t, args...)
			if code != exitFatal {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFatal, out, errs)
			}
			for _, want := range []string{fmt.Sprintf("format version %d", older), fmt.Sprintf("reads version %d only", sqlite.FormatVersion), "analyze the evidence again into a new case", "open this one with the jejak that wrote it"} {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errs)
				}
			}
			now, err := os.ReadFile(db)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(now, old) {
				t.Errorf("jejak %s changed the format %d case.db", args[0], older)
			}
		})
	}
}
