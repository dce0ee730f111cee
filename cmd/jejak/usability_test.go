package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A mistyped or unknown command is the caller's mistake (exit 2) and names
// the nearest command; 'version' is a command.
func TestUnknownCommandIsUsageError(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		want     int
		stderrIn string
	}{
		{[]string{"bogus"}, exitUsage, `unknown command "bogus"`},
		{[]string{"verson"}, exitUsage, `did you mean "version"`},
		{[]string{"hnut", "x"}, exitUsage, `did you mean "hunt"`},
		{[]string{"version", "extra"}, exitUsage, "no arguments"},
	} {
		_, errs, code := jejak(t, tc.args...)
		if code != tc.want || !strings.Contains(errs, tc.stderrIn) {
			t.Errorf("jejak %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, tc.want, tc.stderrIn)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	out := mustRun(t, exitOK, "version")
	for _, want := range []string{"jejak " + version, "commit:", "built:", runtime.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	var b buildInfo
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, "version", "--json")), &b); err != nil {
		t.Fatal(err)
	}
	if b.Version != version || b.GoVersion != runtime.Version() || b.Commit == "" {
		t.Errorf("version --json = %+v", b)
	}
}

// Zone abbreviations and bare offsets are refused with the IANA names to use
// instead, as usage errors.
func TestTZSuggestions(t *testing.T) {
	for _, tc := range []struct{ tz, want string }{
		{"WIB", "Asia/Jakarta"},
		{"wita", "Asia/Makassar"},
		{"+07:00", "Etc/GMT-7"},
		{"UTC+7", "Asia/Jakarta"},
		{"-03", "Etc/GMT+3"},
		{"Mars/Olympus", "not an IANA zone"},
		{"Local", "not reproducible"},
	} {
		dir := filepath.Join(t.TempDir(), "case")
		_, errs, code := jejak(t, "case", "init", dir, "--examiner", "x", "--tz", tc.tz)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("--tz %s: exit %d, stderr %q; want exit 2 naming %q", tc.tz, code, errs, tc.want)
		}
		_, errs, code = jejak(t, "analyze", "../../fixtures/example", "--out", dir, "--tz", tc.tz)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("analyze --tz %s: exit %d, stderr %q; want exit 2 naming %q", tc.tz, code, errs, tc.want)
		}
	}
	mustRun(t, exitOK, "case", "init", filepath.Join(t.TempDir(), "ok"), "--examiner", "x", "--tz", "Asia/Jakarta")
}

// Logs without a zone read in the default UTC: the summary says so and
// 'jejak warnings' lists it, naming no file but the assumption.
func TestDefaultZoneIsAnnounced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case")
	_, errs, _ := jejak(t, "analyze", "../../fixtures/example", "--out", dir)
	if !strings.Contains(errs, "were read as UTC (the case zone)") || !strings.Contains(errs, "--tz ZONE") {
		t.Errorf("summary does not announce the assumed zone:\n%s", errs)
	}
	w := mustRun(t, exitOK, "warnings", dir)
	if !strings.Contains(w, "[zone_assumed]") || !strings.Contains(w, "read as UTC") {
		t.Errorf("warnings lack the default-zone line:\n%s", w)
	}
	dir2 := filepath.Join(t.TempDir(), "case")
	_, errs, _ = jejak(t, "analyze", "../../fixtures/example", "--out", dir2, "--tz", "Asia/Jakarta")
	if !strings.Contains(errs, "read as Asia/Jakarta") || strings.Contains(errs, "WARNING        UTC") {
		t.Errorf("summary with --tz Asia/Jakarta:\n%s", errs)
	}
}

// Group commands explain themselves, and the exit table is printed once.
func TestHelpPages(t *testing.T) {
	for _, g := range []string{"case", "evidence", "rules", "es", "key"} {
		out := mustRun(t, exitOK, g, "--help")
		i := strings.Index(out, "DESCRIPTION:")
		j := strings.Index(out, "EXIT STATUS")
		if i < 0 || j < 0 || len(strings.TrimSpace(out[i+len("DESCRIPTION:"):j])) < 40 {
			t.Errorf("jejak %s --help has no description of its own:\n%s", g, out)
		}
	}
	full := mustRun(t, exitOK, "--help")
	if !strings.Contains(full, "130  interrupted") {
		t.Errorf("jejak --help lacks the exit-status table")
	}
	sub := mustRun(t, exitOK, "timeline", "--help")
	if strings.Contains(sub, "130  interrupted") || !strings.Contains(sub, "'jejak --help' explains each") {
		t.Errorf("timeline --help repeats the exit table instead of pointing to it:\n%s", sub)
	}
}

// A run that fails after a complete one (an unreachable Elasticsearch) must
// not hide the complete run's warnings, and each line names its evidence.
func TestFailedRunKeepsWarnings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case")
	jejak(t, "analyze", "../../fixtures/example", "--out", dir)
	before := mustRun(t, exitOK, "warnings", dir)
	if strings.TrimSpace(before) == "" {
		t.Fatal("no warnings after analyze")
	}
	if _, _, code := jejak(t, "ingest", dir, "--es", "http://127.0.0.1:1"); code != exitFatal {
		t.Fatalf("ingest --es to a closed port: exit %d, want %d", code, exitFatal)
	}
	after := mustRun(t, exitOK, "warnings", dir)
	for _, line := range strings.Split(strings.TrimSpace(before), "\n") {
		if !strings.Contains(after, line) {
			t.Errorf("after a failed run, warnings lost %q\nnow:\n%s", line, after)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(after), "\n") {
		if !strings.HasPrefix(line, "[zone_assumed]") && !strings.Contains(line, "example") {
			t.Errorf("warning line does not name its evidence item: %q", line)
		}
	}
}

// The timeline table fits a width, shows another zone and chosen columns;
// --json is unaffected; a negative --limit and an unknown column are usage
// errors.
func TestTimelineDisplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "case")
	jejak(t, "analyze", "../../fixtures/example", "--out", dir, "--tz", "Asia/Jakarta")
	out := mustRun(t, exitOK, "timeline", dir, "--width", "100")
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if n := len([]rune(line)); n > 100 {
			t.Errorf("--width 100: a row of %d characters: %q", n, line)
		}
	}
	if !strings.Contains(out, "…") {
		t.Errorf("--width 100 cut nothing")
	}
	full := mustRun(t, exitOK, "timeline", dir, "--width", "0")
	if strings.Contains(full, "…") {
		t.Errorf("--width 0 cut a cell")
	}
	utc := mustRun(t, exitOK, "timeline", dir, "--limit", "1", "--columns", "time")
	wib := mustRun(t, exitOK, "timeline", dir, "--limit", "1", "--columns", "time", "--tz", "case")
	if !strings.HasPrefix(utc, "TIME (UTC)") || !strings.HasPrefix(wib, "TIME (Asia/Jakarta)") || !strings.Contains(wib, "+07:00") {
		t.Errorf("--tz: UTC\n%s\ncase zone\n%s", utc, wib)
	}
	cols := mustRun(t, exitOK, "timeline", dir, "--limit", "1", "--columns", "host,user,ip")
	if !strings.HasPrefix(cols, "HOST") || strings.Contains(cols, "MESSAGE") {
		t.Errorf("--columns host,user,ip:\n%s", cols)
	}
	for _, args := range [][]string{{"--limit", "-5"}, {"--columns", "time,bogus"}, {"--tz", "WIB"}, {"--width", "-1"}} {
		if _, _, code := jejak(t, append([]string{"timeline", dir}, args...)...); code != exitUsage {
			t.Errorf("timeline %v: exit %d, want %d", args, code, exitUsage)
		}
	}
	// search --limit says how many matched in all.
	_, errs, _ := jejak(t, "search", dir, "event.action:*", "--limit", "2")
	if !strings.Contains(errs, "the first 2 shown (--limit 2)") {
		t.Errorf("search --limit 2 summary: %q", errs)
	}
}

// Reading an index that is not there is an error, and it is not created.
func TestSearchMissingIndexIsError(t *testing.T) {
	es := esURL(t)
	dir := filepath.Join(t.TempDir(), "case")
	jejak(t, "analyze", "../../fixtures/example", "--out", dir)
	index := "jejak-test-nosuchindex"
	_, errs, code := jejak(t, "search", dir, "event.action:*", "--es", es, "--index", index)
	if code != exitFatal || !strings.Contains(errs, "is not on the cluster") {
		t.Errorf("search of a missing index: exit %d, stderr %q", code, errs)
	}
	res, err := http.Head(strings.TrimRight(es, "/") + "/" + index)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("search created index %s (HEAD: %d)", index, res.StatusCode)
	}
	if _, errs, code := jejak(t, "search", dir, "x", "--es", es, "--ca-fingerprint", "zz"); code != exitUsage {
		t.Errorf("--ca-fingerprint zz: exit %d (%s)", code, errs)
	}
}

// No rate before a second has passed: the first readings of a bar divided
// a first batch by milliseconds ("24 GB/s").
func TestProgressRate(t *testing.T) {
	p := &progressBar{bytes: true}
	if got := p.rateText(1<<30, 5*time.Millisecond); strings.Contains(got, "/s") {
		t.Errorf("rate shown after 5 ms: %q", got)
	}
	if got := p.rateText(100<<20, 2*time.Second); !strings.Contains(got, "50.0 MiB/s") {
		t.Errorf("rate after 2 s: %q", got)
	}
	ev := &progressBar{unit: "events"}
	if got := ev.rateText(3000, 3*time.Second); !strings.Contains(got, "1000 events/s") {
		t.Errorf("events rate: %q", got)
	}
}

// hunt's cluster flags: --slices and --from-es read an index and need
// --es; --slices wants a reader at least. Usage errors (exit 2) before
// anything is read or stored, on a real case.
func TestHuntClusterFlagUsage(t *testing.T) {
	cs := filepath.Join(t.TempDir(), "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--slices", "3"}, "--slices reads the Elasticsearch index: it needs --es URL"},
		{[]string{"--slices", "0", "--es", "http://127.0.0.1:1"}, "--slices 0: want 1 or more readers"},
		{[]string{"--from-es"}, "--from-es needs --es URL"},
	} {
		args := append([]string{"hunt", cs, "--after", "2024-02-14 19:00"}, tc.args...)
		_, errs, code := jejak(t, args...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("jejak %v: exit %d, stderr %q; want exit %d and %q", args, code, errs, exitUsage, tc.want)
		}
	}
	// Nothing was hunted: no hunt in the custody log.
	log, err := os.ReadFile(filepath.Join(cs, "custody.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), `"action":"hunt"`) {
		t.Errorf("a refused hunt left a custody entry:\n%s", log)
	}
}
