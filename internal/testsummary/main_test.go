package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// module is a small Go module whose tests pass, skip (two reasons, one of
// them twice, once in a subtest), fail with a log line, and one package
// that does not build.
var module = map[string]string{
	"go.mod": "module example.com/m\n\ngo 1.21\n",
	"a/a_test.go": `package a

import "testing"

func TestOK(t *testing.T) { t.Log("chatter a passing test prints") }

func TestNoTool(t *testing.T) { t.Skip("tool frob not installed") }

func TestTable(t *testing.T) {
	t.Run("one", func(t *testing.T) {})
	t.Run("two", func(t *testing.T) {
		t.Log("looking for the corpus")
		t.Skipf("corpus not found")
	})
}
`,
	"b/b_test.go": `package b

import "testing"

func TestCorpus(t *testing.T) { t.Skip("corpus not found") }

func TestBad(t *testing.T) {
	t.Log("what went wrong, line one")
	t.Errorf("got %d, want %d", 1, 2)
}

func TestNoReason(t *testing.T) { t.SkipNow() }
`,
	"c/c_test.go": "package c\n\nimport \"testing\"\n\nfunc TestX(t *testing.T) { undefined() }\n",
	"d/d.go":      "package d\n",
}

func goTest(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", append([]string{"test", "-count=1", "-p", "1"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("go test: %v", err)
	}
	return out
}

// durations are the only thing that differs between two runs.
var durations = regexp.MustCompile(`\(\d+\.\d+s\)|\t\d+\.\d+s|\t\(cached\)`)

// TestAgainstGoTest runs the real go test on the module three ways: the
// filtered -json run must print what plain go test prints (times aside),
// and its counts must be those of the --- PASS/SKIP/FAIL lines of -v.
func TestAgainstGoTest(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not on PATH")
	}
	dir := t.TempDir()
	for name, body := range module {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plain := goTest(t, dir, "./...")
	verbose := goTest(t, dir, "-v", "./...")
	js := goTest(t, dir, "-json", "./...")

	var got bytes.Buffer
	sum, err := Filter(bytes.NewReader(js), &got)
	if err != nil {
		t.Fatal(err)
	}
	// Plain go test prints the compiler's errors on stderr before the
	// packages run; with -json they come as build-output events. Compare
	// line sets, each normalised for times.
	norm := func(b []byte) []string {
		var out []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			out = append(out, durations.ReplaceAllString(l, ""))
		}
		return out
	}
	want, have := norm(plain), norm(got.Bytes())
	if strings.Join(sorted(want), "\n") != strings.Join(sorted(have), "\n") {
		t.Errorf("filtered -json differs from plain go test:\n--- got\n%s\n--- plain go test\n%s", got.Bytes(), plain)
	}
	for _, l := range []string{"ok  \texample.com/m/a", "FAIL\texample.com/m/b", "what went wrong, line one", "--- FAIL: TestBad"} {
		if !strings.Contains(got.String(), l) {
			t.Errorf("filtered output lacks %q:\n%s", l, got.Bytes())
		}
	}

	count := func(prefix string) int {
		n := 0
		for _, l := range strings.Split(string(verbose), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), prefix) {
				n++
			}
		}
		return n
	}
	// The package that does not build is one failure with no test line.
	wantPass, wantFail, wantSkip := count("--- PASS"), count("--- FAIL")+1, count("--- SKIP")
	if sum.Passed != wantPass || sum.Failed != wantFail || len(sum.Skips) != wantSkip {
		t.Errorf("counts %d passed, %d failed, %d skipped; go test -v says %d, %d, %d",
			sum.Passed, sum.Failed, len(sum.Skips), wantPass, wantFail, wantSkip)
	}

	var rep bytes.Buffer
	Report(&rep, sum)
	for _, l := range []string{
		"tests: 3 passed, 2 failed, 4 skipped\n",
		"     2  corpus not found  [e.g. example.com/m/a TestTable/two]\n",
		"     1  tool frob not installed  [e.g. example.com/m/a TestNoTool]\n",
		"     1  (no reason logged)  [e.g. example.com/m/b TestNoReason]\n",
	} {
		if !strings.Contains(rep.String(), l) {
			t.Errorf("report lacks %q:\n%s", l, rep.Bytes())
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// -strict picks out the skips for missing data, tools or the test node, and
// leaves the others (a helper process, a platform limit) alone.
func TestMissing(t *testing.T) {
	s := Summary{Skips: []Skip{
		{Test: "A", Reason: "shared corpus not found: x.evtx is not redistributable"},
		{Test: "B", Reason: "JEJAK_TEST_ES not set: run via scripts/test.sh"},
		{Test: "C", Reason: "helper process for TestSignalStopsHashing"},
		{Test: "D", Reason: "sccainfo not installed (libscca-utils)"},
		{Test: "E", Reason: "JEJAK_TEST_ES_CLUSTER not set: start a three-node cluster"},
		{Test: "F", Reason: "SigmaHQ snapshot not present (stat x): this test needs ../shared/sigma"},
	}}
	var got []string
	for _, sk := range Missing(s) {
		got = append(got, sk.Test)
	}
	if strings.Join(got, ",") != "A,B,D,F" {
		t.Errorf("missing = %v, want A,B,D,F", got)
	}
}
