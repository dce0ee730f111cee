// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` would (each package's closing line, and the whole output of a
// failed test), then how many tests passed, failed and skipped, and the
// skips grouped by the reason the test gave. scripts/test.sh pipes the test
// run through it so that a run whose tests skip for missing tools or data
// says so at the end instead of looking like a clean pass.
//
// It only reports — the exit status of the run is go test's (the script's
// pipefail) — unless its own input cannot be read, or with -strict (CI:
// the test script installs every tool and has all the data) a test skipped
// for missing data, a missing tool or no Elasticsearch: then it exits 3, so
// that a green CI run means every test ran.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// event is one line of test2json output (go doc test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output events name the package being built
}

type key struct{ pkg, test string }

// Skip is one skipped test and the reason it logged last before skipping.
type Skip struct {
	Package, Test, Reason string
}

// Summary is what a run came to.
type Summary struct {
	Passed, Failed int
	Skips          []Skip
}

// logPrefix is the "file_test.go:123: " that testing puts before a log line.
var logPrefix = regexp.MustCompile(`^\s*[\w.\-]+\.go:\d+: `)

// Filter copies the plain go test view of the events in r to w and returns
// the counts. Lines that are not JSON (a toolchain message) are copied as
// they are.
func Filter(r io.Reader, w io.Writer) (Summary, error) {
	var sum Summary
	buf := map[key][]string{}
	failedIn := map[string]bool{}
	var order []key // first output order, to flush unfinished tests in order
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		switch {
		case ev.Action == "build-output":
			io.WriteString(w, ev.Output)
		case ev.Test == "" && ev.Action == "fail":
			// A package that failed with no failed test (it did not
			// build, or crashed outside a test) counts as one failure.
			if !failedIn[ev.Package] {
				sum.Failed++
			}
		case ev.Test == "":
			// Package lines: "ok", "FAIL", "?   ... [no test files]", and
			// what TestMain or a crash printed. Plain go test does not
			// print the bare PASS of a passing package.
			if ev.Action == "output" && ev.Output != "PASS\n" {
				io.WriteString(w, ev.Output)
			}
		default:
			k := key{ev.Package, ev.Test}
			switch ev.Action {
			case "output":
				if _, seen := buf[k]; !seen {
					order = append(order, k)
				}
				buf[k] = append(buf[k], ev.Output)
			case "pass":
				sum.Passed++
				delete(buf, k)
			case "skip":
				sum.Skips = append(sum.Skips, Skip{Package: ev.Package, Test: ev.Test, Reason: skipReason(buf[k])})
				delete(buf, k)
			case "fail":
				sum.Failed++
				failedIn[ev.Package] = true
				io.WriteString(w, failedOutput(buf[k]))
				delete(buf, k)
			}
		}
	}
	// A test with no result (the binary crashed or timed out in it): its
	// output is the evidence, so it is shown.
	for _, k := range order {
		if out, ok := buf[k]; ok {
			io.WriteString(w, strings.Join(out, ""))
		}
	}
	// The go command's own last word on a run with a failure.
	if sum.Failed > 0 {
		io.WriteString(w, "FAIL\n")
	}
	return sum, sc.Err()
}

// failedOutput is a failed test's output as plain go test shows it: the
// "--- FAIL" line, then what the test logged, without the === lines that
// -json's verbose stream adds.
func failedOutput(out []string) string {
	var head, body strings.Builder
	for _, o := range out {
		t := strings.TrimSpace(o)
		switch {
		case strings.HasPrefix(t, "=== RUN"), strings.HasPrefix(t, "=== PAUSE"), strings.HasPrefix(t, "=== CONT"), strings.HasPrefix(t, "=== NAME"):
		case strings.HasPrefix(t, "--- FAIL"):
			head.WriteString(o)
		default:
			body.WriteString(o)
		}
	}
	return head.String() + body.String()
}

// skipReason is the last line the test logged before its "--- SKIP" line,
// without the file:line prefix.
func skipReason(out []string) string {
	reason := ""
	for _, o := range out {
		for _, l := range strings.Split(strings.TrimRight(o, "\n"), "\n") {
			t := strings.TrimSpace(l)
			switch {
			case t == "", strings.HasPrefix(t, "=== "), strings.HasPrefix(t, "--- "):
			case logPrefix.MatchString(l):
				reason = logPrefix.ReplaceAllString(l, "")
			case reason == "":
				reason = t
			}
		}
	}
	if reason == "" {
		return "(no reason logged)"
	}
	return reason
}

// missing matches skip reasons that say data, a tool or the test node was
// not there (the wording parsertest, internal/oracle and the store tests
// use).
var missing = regexp.MustCompile(`(?i)corpus not found|snapshot not present|not present:|JEJAK_TEST_ES not set|not installed|executable file not found|not in \$PATH|missing: apt-get`)

// Missing returns the skips whose reason says something was missing.
func Missing(s Summary) []Skip {
	var out []Skip
	for _, sk := range s.Skips {
		if missing.MatchString(sk.Reason) {
			out = append(out, sk)
		}
	}
	return out
}

// maxReasons bounds the summary; the rest are counted on one line.
const maxReasons = 30

// Report writes the counts as the plain closing line ("N passed, N
// failed, N skipped") and the skips grouped by reason, most first.
func Report(w io.Writer, s Summary) {
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", s.Passed, s.Failed, len(s.Skips))
	if len(s.Skips) == 0 {
		return
	}
	type group struct {
		reason string
		n      int
		first  Skip
	}
	byReason := map[string]*group{}
	for _, sk := range s.Skips {
		g := byReason[sk.Reason]
		if g == nil {
			g = &group{reason: sk.Reason, first: sk}
			byReason[sk.Reason] = g
		}
		g.n++
	}
	groups := make([]*group, 0, len(byReason))
	for _, g := range byReason {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].n != groups[j].n {
			return groups[i].n > groups[j].n
		}
		return groups[i].reason < groups[j].reason
	})
	fmt.Fprintf(w, "skipped tests by reason (%d reasons):\n", len(groups))
	for i, g := range groups {
		if i == maxReasons {
			rest := 0
			for _, g := range groups[i:] {
				rest += g.n
			}
			fmt.Fprintf(w, "  %4d  (%d other reasons)\n", rest, len(groups)-i)
			break
		}
		fmt.Fprintf(w, "  %4d  %s  [e.g. %s %s]\n", g.n, g.reason, g.first.Package, g.first.Test)
	}
}

func main() {
	strict := flag.Bool("strict", false, "exit 3 when a test skipped for missing data, tools or Elasticsearch (CI)")
	flag.Parse()
	s, err := Filter(os.Stdin, os.Stdout)
	Report(os.Stdout, s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if m := Missing(s); *strict && len(m) > 0 {
		fmt.Fprintf(os.Stdout, "testsummary: -strict: %d tests skipped for missing data, tools or Elasticsearch, which this run must have:\n", len(m))
		for _, sk := range m {
			fmt.Fprintf(os.Stdout, "  %s %s: %s\n", sk.Package, sk.Test, sk.Reason)
		}
		os.Exit(3)
	}
}
