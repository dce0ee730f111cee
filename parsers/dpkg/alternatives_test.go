package dpkg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// testdata/alternatives.log is the /var/log/alternatives.log of the Debian
// 12 machine this parser was written on, as update-alternatives (dpkg
// 1.21) wrote it while packages were installed.

// altOracle reads an alternatives.log with regular expressions of its own,
// from update-alternatives' log_msg format, not from the parser.
type altOracle struct {
	lines   int      // well-formed lines
	runs    int      // "run with" lines
	updates []string // "name -> target" of "updated to point to" lines
	other   int      // lines not in the format
}

var (
	altLineRE   = regexp.MustCompile(`^update-alternatives \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: (.*)$`)
	altUpdateRE = regexp.MustCompile(`^link group (\S+) updated to point to (\S+)$`)
)

func readAltOracle(t *testing.T, path string) altOracle {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var o altOracle
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		m := altLineRE.FindStringSubmatch(l)
		if m == nil {
			o.other++
			continue
		}
		o.lines++
		if strings.HasPrefix(m[1], "run with ") {
			o.runs++
		}
		if u := altUpdateRE.FindStringSubmatch(m[1]); u != nil {
			o.updates = append(o.updates, u[1]+" -> "+u[2])
		}
	}
	return o
}

// checkAlt compares the parser with the oracle on one file.
func checkAlt(t *testing.T, path string, zone *time.Location) parsertest.Result {
	t.Helper()
	o := readAltOracle(t, path)
	res := parsertest.ParseFile(t, NewAlternatives(), path, zone)
	if res.Err != nil || len(res.Events) != o.lines || len(res.Warnings) != o.other {
		t.Fatalf("%s: err %v, %d events, %d warnings; want %d, %d", path, res.Err, len(res.Events), len(res.Warnings), o.lines, o.other)
	}
	runs := 0
	var updates []string
	for _, ev := range res.Events {
		switch ev.Event.Action {
		case "run":
			runs++
			if ev.Process == nil || !strings.HasPrefix(ev.Process.CommandLine, "update-alternatives --") {
				t.Errorf("run without its command line: %+v", ev.Process)
			}
		case "link_updated":
			updates = append(updates, ev.Jejak.Data["alternative"]+" -> "+ev.Jejak.Data["target"])
		}
		if ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != zone.String() {
			t.Errorf("zone not recorded: %+v", ev.Jejak.Time)
		}
	}
	if runs != o.runs || strings.Join(updates, "\n") != strings.Join(o.updates, "\n") {
		t.Errorf("%d runs, want %d; updates\n%s\nwant\n%s", runs, o.runs, strings.Join(updates, "\n"), strings.Join(o.updates, "\n"))
	}
	return res
}

func TestAlternativesReal(t *testing.T) {
	parsertest.Contract(t, NewAlternatives(), "testdata/alternatives.log")
	res := checkAlt(t, "testdata/alternatives.log", time.UTC)
	first := res.Events[0]
	// The first line: "update-alternatives 2025-06-24 14:36:53: run with
	// --quiet --install /usr/bin/pager pager /usr/bin/less 77 --slave …"
	if !first.Timestamp.Equal(time.Date(2025, 6, 24, 14, 36, 53, 0, time.UTC)) ||
		first.Jejak.Data["command"] != "install" || first.Jejak.Data["alternative"] != "pager" ||
		first.Jejak.Data["link"] != "/usr/bin/pager" || first.Jejak.Data["path"] != "/usr/bin/less" ||
		first.Jejak.Data["priority"] != "77" || first.Jejak.Data["slaves"] != "1" {
		t.Errorf("first line: %v %v", first.Timestamp, first.Jejak.Data)
	}
	// This machine's own log, when there is one: it grows with every
	// package installed, so only the oracle knows its counts.
	if _, err := os.Stat("/var/log/alternatives.log"); err == nil {
		checkAlt(t, "/var/log/alternatives.log", time.UTC)
	}
}

// TestAlternativesTool runs the real update-alternatives on a private
// alternatives directory, in a zone other than UTC, and checks the parser
// against the oracle, the wall clock and the links the tool left behind.
func TestAlternativesTool(t *testing.T) {
	tool := oracle.Tool(t, "update-alternatives", "dpkg")
	jakarta, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	dir := t.TempDir()
	alt, adm, bin := filepath.Join(dir, "alt"), filepath.Join(dir, "adm"), filepath.Join(dir, "bin")
	for _, d := range []string{alt, adm, bin} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"vi", "nano", "ed"} {
		if err := os.WriteFile(filepath.Join(bin, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "alternatives.log")
	link := filepath.Join(bin, "editor")
	run := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(tool, append([]string{"--altdir", alt, "--admindir", adm, "--log", logPath}, args...)...)
		cmd.Env = append(os.Environ(), "TZ=Asia/Jakarta", "LC_ALL=C")
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("update-alternatives %v: %v\n%s", args, err, out)
		}
	}
	before := time.Now().Truncate(time.Second)
	run("", "--install", link, "editor", filepath.Join(bin, "nano"), "40")
	run("", "--install", link, "editor", filepath.Join(bin, "vi"), "50", "--slave", link+".1", "editor.1", filepath.Join(bin, "vi"))
	run("", "--set", "editor", filepath.Join(bin, "nano"))
	run("", "--auto", "editor")
	run("", "--install", filepath.Join(bin, "red"), "red", filepath.Join(bin, "ed"), "10")
	run("", "--remove-all", "red")
	run("", "--remove", "editor", filepath.Join(bin, "vi"))
	run("editor manual "+filepath.Join(bin, "nano")+"\n", "--set-selections")
	after := time.Now()

	res := checkAlt(t, logPath, jakarta)
	actions := map[string]int{}
	for _, ev := range res.Events {
		actions[ev.Event.Action]++
		if ev.Timestamp.Before(before) || ev.Timestamp.After(after) {
			t.Errorf("%s read as %v, outside the run %v..%v", ev.Message, ev.Timestamp, before, after)
		}
	}
	// Eight commands; --set and --auto set the status, --remove-all and
	// the last --remove empty their groups.
	if actions["run"] != 8 || actions["status_set"] < 2 || actions["link_group_removed"] != 1 {
		t.Errorf("actions %v", actions)
	}
	// The last target the log gives editor is where the tool's link points.
	target, err := os.Readlink(filepath.Join(alt, "editor"))
	if err != nil {
		t.Fatal(err)
	}
	last := ""
	for _, ev := range res.Events {
		if ev.Event.Action == "link_updated" && ev.Jejak.Data["alternative"] == "editor" {
			last = ev.Jejak.Data["target"]
		}
	}
	if last != target {
		t.Errorf("log says editor points to %q, the link points to %q", last, target)
	}
	for _, ev := range res.Events {
		if ev.Event.Action == "status_set" && (ev.File == nil || ev.File.Path != link) {
			t.Errorf("status line names the link %s: %+v", link, ev.File)
		}
	}
}

func TestAlternativesBadLines(t *testing.T) {
	data, err := os.ReadFile("testdata/alternatives.log")
	if err != nil {
		t.Fatal(err)
	}
	o := readAltOracle(t, "testdata/alternatives.log")
	bad := "update-alternatives: warning: not logged\n" + // stderr mixed in
		"update-alternatives 2025-13-40 99:00:00: run with --auto x\n" + // impossible time
		string(data) +
		"update-alternatives 2025-06-24 14:40:00: some message of a later dpkg\n"
	res := parsertest.Parse(context.Background(), NewAlternatives(), parsertest.BytesEntry("alternatives.log", []byte(bad), time.Time{}), time.UTC)
	if len(res.Events) != o.lines+1 || len(res.Warnings) != 2 || res.Warnings[0].Record != 1 || res.Warnings[1].Record != 2 {
		t.Errorf("%d events (want %d), warnings %v", len(res.Events), o.lines+1, res.Warnings)
	}
	if last := res.Events[len(res.Events)-1]; last.Event.Action != "message" || last.Jejak.Data["body"] != "some message of a later dpkg" {
		t.Errorf("unknown message: %q %v", last.Event.Action, last.Jejak.Data)
	}
}

// FuzzAlternatives: any input, no panic, and every event has a time.
func FuzzAlternatives(f *testing.F) {
	data, err := os.ReadFile("testdata/alternatives.log")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("update-alternatives 2025-06-24 14:36:53: run with --install\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), NewAlternatives(), parsertest.BytesEntry("alternatives.log", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if ev.Timestamp.IsZero() {
				t.Fatalf("event without time: %q", ev.Message)
			}
		}
	})
}
