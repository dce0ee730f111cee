package dpkg

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// testdata/term.log is seven of the apt runs in the /var/log/apt/term.log
// of the Debian 12 machine this parser was written on (apt 2.6, dpkg
// 1.21), cut at "Log started"/"Log ended" lines, whole runs only: three
// of them are in testdata/history.log too.

// termRun is one apt run as the test's own regular expressions read it.
type termRun struct {
	start              string
	unpacked, setUp    []string // package names
	removed            []string
	lines              int // non-blank lines between start and end
	progress, prepared int
}

var (
	termStartRE    = regexp.MustCompile(`^Log started: (\d{4}-\d\d-\d\d  \d\d:\d\d:\d\d)$`)
	termEndRE      = regexp.MustCompile(`^Log ended: \d{4}-\d\d-\d\d  \d\d:\d\d:\d\d$`)
	termUnpackRE   = regexp.MustCompile(`^Unpacking (\S+) \(.*\) \.\.\.$`)
	termSetUpRE    = regexp.MustCompile(`^Setting up (\S+) \(.*\) \.\.\.$`)
	termRemoveRE   = regexp.MustCompile(`^Removing (\S+) \(.*\) \.\.\.$`)
	termProgressRE = regexp.MustCompile(`^\(Reading database \.\.\.`)
	termPrepareRE  = regexp.MustCompile(`^Preparing to unpack `)
)

func readTermRuns(t *testing.T, path string) []termRun {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var runs []termRun
	var cur *termRun
	for _, l := range strings.Split(string(data), "\n") {
		// dpkg's lines come from a terminal: they end in "\r\n", some
		// in "\r\r\n".
		l = strings.TrimRight(l, "\r")
		switch {
		case termStartRE.MatchString(l):
			runs = append(runs, termRun{start: termStartRE.FindStringSubmatch(l)[1]})
			cur = &runs[len(runs)-1]
		case termEndRE.MatchString(l):
			cur = nil
		case cur == nil || strings.TrimSpace(l) == "":
		default:
			cur.lines++
			if m := termUnpackRE.FindStringSubmatch(l); m != nil {
				cur.unpacked = append(cur.unpacked, m[1])
			}
			if m := termSetUpRE.FindStringSubmatch(l); m != nil {
				cur.setUp = append(cur.setUp, m[1])
			}
			if m := termRemoveRE.FindStringSubmatch(l); m != nil {
				cur.removed = append(cur.removed, m[1])
			}
			if termProgressRE.MatchString(l) {
				cur.progress++
			}
			if termPrepareRE.MatchString(l) {
				cur.prepared++
			}
		}
	}
	return runs
}

// names reads the package names of a list the parser joined.
func names(list string) []string {
	var out []string
	for _, item := range strings.Split(list, "), ") {
		if item != "" {
			name, _, _ := strings.Cut(item, " ")
			out = append(out, name)
		}
	}
	return out
}

// bareNames is names without the architectures.
func bareNames(list string) []string {
	out := names(list)
	for i, n := range out {
		out[i], _, _ = strings.Cut(n, ":")
	}
	return out
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// checkTerm compares the parser with the oracle on a whole term.log: one
// start and one end event per run, the run's packages, and every line of
// the run accounted for in its event.
func checkTerm(t *testing.T, path string) []*timeline.Event {
	t.Helper()
	runs := readTermRuns(t, path)
	res := parsertest.ParseFile(t, NewAptTerm(), path, nil)
	if res.Err != nil || len(res.Events) != 2*len(runs) || len(res.Warnings) != 0 {
		t.Fatalf("%s: err %v, %d events, warnings %v; want %d, 0", path, res.Err, len(res.Events), res.Warnings, 2*len(runs))
	}
	var starts []*timeline.Event
	for _, ev := range res.Events {
		if ev.Event.Action == "apt_run_started" {
			starts = append(starts, ev)
		}
	}
	if len(starts) != len(runs) {
		t.Fatalf("%d start events, %d runs", len(starts), len(runs))
	}
	for i, run := range runs {
		ev, d := starts[i], starts[i].Jejak.Data
		want, _ := time.Parse(aptLayout, run.start)
		if !ev.Timestamp.Equal(want) || d["end"] == "" {
			t.Errorf("run %d: start %v end %q, want %v", i, ev.Timestamp, d["end"], want)
		}
		for _, c := range []struct {
			list string
			want []string
		}{{"unpacked", run.unpacked}, {"configured", run.setUp}, {"removed", run.removed}} {
			if got := names(d[c.list]); !slices.Equal(got, c.want) {
				t.Errorf("run %d (%s): %s %v, want %v", i, run.start, c.list, got, c.want)
			}
		}
		if atoi(d["progress_lines"]) != run.progress || atoi(d["prepared_count"]) != run.prepared {
			t.Errorf("run %d: %s progress, %s prepared; want %d, %d", i, d["progress_lines"], d["prepared_count"], run.progress, run.prepared)
		}
		// Every line is in the event: a package list, the output, or a
		// counted progress line.
		kept := atoi(d["output_lines"]) + atoi(d["progress_lines"]) + atoi(d["prepared_count"])
		for _, a := range termActions {
			kept += atoi(d[a.list+"_count"])
		}
		if kept != run.lines {
			t.Errorf("run %d (%s): %d lines in the event, %d in the run", i, run.start, kept, run.lines)
		}
	}
	return starts
}

func TestAptTermReal(t *testing.T) {
	parsertest.Contract(t, NewAptTerm(), "testdata/term.log")
	starts := checkTerm(t, "testdata/term.log")
	// The output the examiner looks for is kept: the postgresql run's
	// maintainer script output, the timezone set by tzdata.
	var all strings.Builder
	for _, ev := range starts {
		all.WriteString(ev.Jejak.Data["output"])
	}
	for _, want := range []string{"update-alternatives: using /usr/share/postgresql/15/man/man1/psql.1.gz", "Universal Time is now:"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// A maintainer script's "Removing obsolete dictionary files:" is not a
	// package removal.
	for _, ev := range starts {
		if strings.Contains(ev.Jejak.Data["removed"], "obsolete") {
			t.Errorf("script output read as a removal: %q", ev.Jejak.Data["removed"])
		}
	}
	// This machine's own term.log when readable (root:adm): it grows with
	// every install, so only the oracle knows its counts.
	if f, err := os.Open("/var/log/apt/term.log"); err == nil {
		f.Close()
		checkTerm(t, "/var/log/apt/term.log")
	}
}

// TestAptTermAgainstHistory checks term.log against apt's other log: a run
// in both (same start second) unpacked every package history.log says it
// installed, upgraded or reinstalled, and removed every one it removed.
func TestAptTermAgainstHistory(t *testing.T) {
	for _, pair := range [][2]string{
		{"testdata/term.log", "testdata/history.log"},
		{"/var/log/apt/term.log", "/var/log/apt/history.log"},
	} {
		if _, err := os.Stat(pair[0]); err != nil {
			continue
		}
		term := parsertest.ParseFile(t, NewAptTerm(), pair[0], nil)
		hist := parsertest.ParseFile(t, NewAptHistory(), pair[1], nil)
		byStart := map[time.Time]map[string]string{}
		for _, ev := range term.Events {
			if ev.Event.Action == "apt_run_started" {
				byStart[ev.Timestamp] = ev.Jejak.Data
			}
		}
		matched, checked := 0, 0
		for _, run := range hist.Events {
			d, ok := byStart[run.Timestamp]
			if !ok {
				continue
			}
			matched++
			for _, c := range []struct{ hist, term string }{
				{"install", "unpacked"}, {"upgrade", "unpacked"}, {"reinstall", "unpacked"}, {"remove", "removed"}, {"purge", "removed"},
			} {
				for _, item := range strings.Split(run.Jejak.Data[c.hist], "), ") {
					if item == "" {
						continue
					}
					// history.log names every package with its
					// architecture, dpkg only a Multi-Arch: same one.
					name, _, _ := strings.Cut(item, " ")
					name, _, _ = strings.Cut(name, ":")
					checked++
					if !slices.Contains(bareNames(d[c.term]), name) {
						t.Errorf("%s: run at %v: history.log %s %s, term.log %s lacks it", pair[0], run.Timestamp, c.hist, name, c.term)
					}
				}
			}
		}
		if pair[0] == "testdata/term.log" && (matched < 3 || checked < 3) {
			t.Errorf("only %d runs, %d packages cross-checked", matched, checked)
		}
		t.Logf("%s: %d runs, %d packages cross-checked with %s", pair[0], matched, checked, pair[1])
	}
}

func TestAptTermBadLines(t *testing.T) {
	data, err := os.ReadFile("testdata/term.log")
	if err != nil {
		t.Fatal(err)
	}
	runs := readTermRuns(t, "testdata/term.log")
	// A stray line before the first run; the first run's start unreadable
	// (its lines are warnings, its end is a lone end event); the last run
	// cut before its "Log ended" (apt killed, or the copy made mid-run).
	s := string(data)
	s = strings.Replace(s, "Log started: "+runs[0].start, "Log started: 2025-06-24 14:36", 1)
	cut := strings.LastIndex(s, "Log ended: ")
	s = "stray\n" + s[:cut]
	res := parsertest.Parse(context.Background(), NewAptTerm(), parsertest.BytesEntry("term.log", []byte(s), time.Time{}), time.UTC)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	// 1 stray + 1 bad start + the first run's lines.
	if want := 2 + runs[0].lines; len(res.Warnings) != want {
		t.Errorf("%d warnings, want %d: %v", len(res.Warnings), want, res.Warnings)
	} else {
		for i, w := range res.Warnings {
			want := ErrUntimedRun
			switch i {
			case 0:
				want = ErrOutsideTermBlock
			case 1:
				want = ErrBadTermTime
			}
			if !errors.Is(w, want) {
				t.Errorf("warning %d: %v, want %v", i, w, want)
			}
		}
	}
	// Every run gives two events, less the first's start and the last's end.
	if want := 2*len(runs) - 2; len(res.Events) != want {
		t.Fatalf("%d events, want %d", len(res.Events), want)
	}
	if first := res.Events[0]; first.Event.Action != "apt_run_ended" || first.Jejak.Data["log_started"] != "missing" {
		t.Errorf("first event %q %v", first.Event.Action, first.Jejak.Data)
	}
	last := res.Events[len(res.Events)-1]
	if last.Event.Action != "apt_run_started" || last.Jejak.Data["log_ended"] != "missing" || !strings.Contains(last.Message, "no \"Log ended\"") {
		t.Errorf("last event %q %q %v", last.Event.Action, last.Message, last.Jejak.Data)
	}
}

// TestAptTermFailure: a run where dpkg failed is marked so. The lines are
// dpkg's own messages for a failed postinst (src/main/errors.c).
func TestAptTermFailure(t *testing.T) {
	log := "\nLog started: 2026-01-02  03:04:05\n" +
		"Setting up demo (1.0) ...\n" +
		"dpkg: error processing package demo (--configure):\n" +
		" installed demo package post-installation script subprocess returned error exit status 1\n" +
		"Errors were encountered while processing:\n" +
		" demo\n" +
		"Log ended: 2026-01-02  03:04:07\n\n"
	res := parsertest.Parse(context.Background(), NewAptTerm(), parsertest.BytesEntry("term.log", []byte(log), time.Time{}), time.UTC)
	if len(res.Events) != 2 || len(res.Warnings) != 0 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	ev := res.Events[0]
	if ev.Event.Outcome != "failure" || ev.Jejak.Data["dpkg_errors"] != "1" || ev.Jejak.Data["output_lines"] != "4" || ev.Jejak.Data["configured"] != "demo (1.0)" {
		t.Errorf("%q %v", ev.Event.Outcome, ev.Jejak.Data)
	}
}

// FuzzAptTerm: any input, no panic, and every event has a time.
func FuzzAptTerm(f *testing.F) {
	data, err := os.ReadFile("testdata/term.log")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("Log started: 2026-01-02  03:04:05\nUnpacking a (1) over (0) ...\nLog ended: 2026-01-02  03:04:06\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), NewAptTerm(), parsertest.BytesEntry("term.log", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if ev.Timestamp.IsZero() {
				t.Fatalf("event without time: %q", ev.Message)
			}
		}
	})
}
