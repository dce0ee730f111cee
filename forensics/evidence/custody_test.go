package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// sixEntryCase has case_init plus five entries: lines 1..6.
func sixEntryCase(t *testing.T) *Case {
	c := newCase(t)
	for i := 2; i <= 6; i++ {
		if err := c.Log("ingest", map[string]any{"step": i, "file": fmt.Sprintf("auth.log.%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestCustodyTamperingIsDetected(t *testing.T) {
	// Each tamper gets the log's lines (with newlines) and returns new bytes.
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, lines []string) string
		line   int
	}{
		{"untouched", func(t *testing.T, l []string) string { return strings.Join(l, "") }, -1},
		{"edit a byte in line 3", func(t *testing.T, l []string) string {
			l[2] = strings.Replace(l[2], "auth.log.3", "auth.log.9", 1)
			return strings.Join(l, "")
		}, 3},
		{"break the json of line 4", func(t *testing.T, l []string) string {
			l[3] = strings.Replace(l[3], `"seq":4`, `"seq"4`, 1)
			return strings.Join(l, "")
		}, 4},
		{"edit the hash of line 2", func(t *testing.T, l []string) string {
			i := strings.Index(l[1], `"hash":"`) + len(`"hash":"`)
			b := []byte(l[1])
			b[i] ^= 1
			return strings.Join(append(append(l[:1:1], string(b)), l[2:]...), "")
		}, 2},
		{"edit line 3 and fix its own hash", func(t *testing.T, l []string) string {
			l[2] = rehash(t, strings.Replace(l[2], "auth.log.3", "auth.log.9", 1))
			return strings.Join(l, "")
		}, 4}, // line 3 is self-consistent now; line 4's link to it breaks
		{"delete line 3", func(t *testing.T, l []string) string { return strings.Join(append(l[:2:2], l[3:]...), "") }, 3},
		{"delete line 1", func(t *testing.T, l []string) string { return strings.Join(l[1:], "") }, 1},
		{"swap lines 3 and 4", func(t *testing.T, l []string) string {
			l[2], l[3] = l[3], l[2]
			return strings.Join(l, "")
		}, 3},
		{"swap lines 5 and 6", func(t *testing.T, l []string) string {
			l[4], l[5] = l[5], l[4]
			return strings.Join(l, "")
		}, 5},
		{"truncate the last two lines", func(t *testing.T, l []string) string { return strings.Join(l[:4], "") }, 5},
		{"truncate the last line", func(t *testing.T, l []string) string { return strings.Join(l[:5], "") }, 6},
		{"truncate mid-line", func(t *testing.T, l []string) string {
			s := strings.Join(l, "")
			return s[:len(s)-20]
		}, 6},
		{"empty the log", func(t *testing.T, l []string) string { return "" }, 1},
		{"insert a blank line", func(t *testing.T, l []string) string {
			return strings.Join(append(append(l[:3:3], "\n"), l[3:]...), "")
		}, 4},
		{"duplicate line 2", func(t *testing.T, l []string) string {
			return strings.Join(append(append(l[:2:2], l[1]), l[2:]...), "")
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sixEntryCase(t)
			p := filepath.Join(c.Dir(), custodyFile)
			lines := readLines(t, p)
			lines = lines[:len(lines)-1] // SplitAfter leaves "" after the last newline
			if len(lines) != 6 {
				t.Fatalf("setup: %d lines", len(lines))
			}
			if err := os.WriteFile(p, []byte(tc.tamper(t, lines)), 0o600); err != nil {
				t.Fatal(err)
			}
			entries, err := c.VerifyCustody()
			if tc.line < 0 {
				if err != nil || len(entries) != 6 {
					t.Fatalf("untouched log: %d entries, %v", len(entries), err)
				}
				return
			}
			var ce *ChainError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a ChainError at line %d", err, tc.line)
			}
			if ce.Line != tc.line {
				t.Errorf("broken link reported at line %d, want %d: %v", ce.Line, tc.line, err)
			}
			if len(entries) > tc.line-1 {
				t.Errorf("%d entries returned as verified before line %d", len(entries), tc.line)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("line %d", tc.line)) {
				t.Errorf("error does not name the line: %v", err)
			}
			// A damaged log must not be extended: a fresh entry (and head)
			// would hide a truncation.
			if strings.HasPrefix(tc.name, "truncate") {
				if err := c.Log("ingest", nil); err == nil {
					t.Error("Log appended to a truncated custody log")
				}
			}
		})
	}
}

// rehash recomputes a line's hash after an edit, as a careful forger would.
func rehash(t *testing.T, line string) string {
	canon, _, ok := splitLine([]byte(strings.TrimSuffix(line, "\n")))
	if !ok {
		t.Fatal("rehash: not a custody line")
	}
	var b entryBody
	d := json.NewDecoder(bytes.NewReader(canon))
	d.UseNumber()
	if err := d.Decode(&b); err != nil {
		t.Fatal(err)
	}
	out, _, err := encodeEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(out) + "\n"
}

// Two Case handles on one folder (so two open file descriptions, as two
// processes would have) and several goroutines each.
func TestCustodyConcurrentAppends(t *testing.T) {
	c := newCase(t)
	o, err := Open(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for _, h := range []*Case{c, o} {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					errs <- h.Log("ingest", map[string]any{"worker": fmt.Sprintf("%p/%d", h, w), "i": i})
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	entries, err := c.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + 2*workers*each; len(entries) != want {
		t.Fatalf("%d entries, want %d", len(entries), want)
	}
	seen := map[string]bool{}
	for _, e := range entries[1:] {
		k := fmt.Sprint(e.Details["worker"], e.Details["i"])
		if seen[k] {
			t.Errorf("entry %s twice", k)
		}
		seen[k] = true
	}
}

// The same actions at the same clock times give the same bytes, wherever the
// case lives. The golden file pins the format: old cases must keep verifying.
func TestCustodyReproducible(t *testing.T) {
	run := func() []byte {
		c, err := Init(filepath.Join(t.TempDir(), "case"), Config{
			Examiner: "Siti Examiner", Zone: "Asia/Jakarta", Name: "pemilu-2024-tps-001",
			ToolVersion: "jejak-test", Clock: stepClock(testBase.In(time.FixedZone("WIB", 7*3600))),
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Log("ingest", map[string]any{"evidence": "3f2a9c0d11aa", "events": 16, "warnings": 1, "parsers": []string{"syslog"}})
		c.Log("export", map[string]any{"format": "l2tcsv", "rows": 16, "note": "<tab>&\"quoted\" ünïcode"})
		b, err := os.ReadFile(filepath.Join(c.Dir(), custodyFile))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b := run(), run()
	if !bytes.Equal(a, b) {
		t.Fatalf("custody bytes differ between runs:\n%s\n%s", a, b)
	}
	golden := filepath.Join("testdata", "custody.golden.jsonl")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, a, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(a, want) {
		t.Errorf("custody format changed:\n got %s\nwant %s", a, want)
	}

	// Times are UTC whatever zone the clock reports in.
	lines := strings.SplitAfter(string(a), "\n")
	if !strings.Contains(lines[0], `"time":"2024-02-14T09:30:00.123456789Z"`) {
		t.Errorf("first line time not UTC RFC3339Nano: %s", lines[0])
	}
	// An independent check of the chain: sha256sum of line 1's bytes is
	// line 2's prev, and of line 2's canonical bytes is line 2's hash.
	prev := shellSHA256(t, strings.TrimSuffix(lines[0], "\n"))
	var e2 Entry
	json.Unmarshal([]byte(lines[1]), &e2)
	if e2.Prev != prev {
		t.Errorf("line 2 prev %s, sha256sum of line 1 is %s", e2.Prev, prev)
	}
	canon, _, _ := splitLine([]byte(strings.TrimSuffix(lines[1], "\n")))
	if h := shellSHA256(t, string(canon)); e2.Hash != h {
		t.Errorf("line 2 hash %s, sha256sum of its canonical bytes is %s", e2.Hash, h)
	}
}

func shellSHA256(t *testing.T, s string) string {
	t.Helper()
	oracle.Tool(t, "sha256sum", "coreutils")
	cmd := exec.Command("sha256sum")
	cmd.Stdin = strings.NewReader(s)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))[0]
}

func TestCustodyEntriesReadBack(t *testing.T) {
	c := newCase(t)
	it, err := c.AddEvidence(context.Background(), parsertest.Corpus(t, "logs/syslog/syslog"), nil)
	if err != nil {
		t.Fatal(err)
	}
	big := int64(1) << 60 // survives as json.Number, not a rounded float
	if err := c.Log("ingest", map[string]any{"evidence": it.ID, "events": big}); err != nil {
		t.Fatal(err)
	}
	entries, err := c.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	// case_files records evidence.json's new SHA-256 after the registration.
	if got := custodyActions(t, c); strings.Join(got, ",") != "case_init,evidence_add,case_files,ingest" {
		t.Errorf("actions %v", got)
	}
	add := entries[1]
	if add.Details["sha256"] != it.SHA256 || add.Details["path"] != it.Path || add.Examiner != "Siti Examiner" {
		t.Errorf("evidence_add entry %+v", add)
	}
	if n, _ := entries[3].Details["events"].(json.Number); n.String() != fmt.Sprint(big) {
		t.Errorf("events read back as %v", entries[3].Details["events"])
	}
	for i, e := range entries {
		if e.Seq != int64(i+1) || e.Time.Location() != time.UTC {
			t.Errorf("entry %d: seq %d time %v", i+1, e.Seq, e.Time)
		}
	}
	if err := c.Log("", nil); err == nil {
		t.Error("an entry without action was accepted")
	}
	if err := c.Log("ingest", map[string]any{"bad": func() {}}); err == nil {
		t.Error("unencodable details accepted")
	}
	if _, err := c.VerifyCustody(); err != nil {
		t.Errorf("refused entries damaged the log: %v", err)
	}
}
