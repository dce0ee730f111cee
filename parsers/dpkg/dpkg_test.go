package dpkg

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// testdata/history.log and testdata/dpkg.log are real logs written by apt
// 2.6 and dpkg 1.21 on the Debian 12 machine this package was written on
// (the short apt runs, and the dpkg.log lines of the last five of them;
// one run was started with SUDO_UID=65534 to get a Requested-By line).

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, "logs/linux/dpkg.log"), "testdata/dpkg.log")
	parsertest.Contract(t, NewAptHistory(), "testdata/history.log")
}

// TestPlasoDpkg: plaso tests/parsers/text_plugins/dpkg.py: 4 event data,
// 0 warnings, the first added 2009-02-25T11:45:23 (no zone), body
// "conffile /etc/X11/Xsession keep".
func TestPlasoDpkg(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	for _, zone := range []*time.Location{time.UTC, berlin} {
		res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "logs/linux/dpkg.log"), zone)
		if res.Err != nil || len(res.Events) != 4 || len(res.Warnings) != 0 {
			t.Fatalf("%v: err %v, %d events, %d warnings; want 4, 0", zone, res.Err, len(res.Events), len(res.Warnings))
		}
		ev := res.Events[0]
		want := time.Date(2009, 2, 25, 11, 45, 23, 0, zone)
		if !ev.Timestamp.Equal(want) || ev.Jejak.Data["body"] != "conffile /etc/X11/Xsession keep" {
			t.Errorf("%v: first %v %q", zone, ev.Timestamp, ev.Jejak.Data["body"])
		}
		if ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != zone.String() || ev.Event.Timezone != zone.String() {
			t.Errorf("%v: zone not recorded: %+v %q", zone, ev.Jejak.Time, ev.Event.Timezone)
		}
		if ev.File == nil || ev.File.Path != "/etc/X11/Xsession" {
			t.Errorf("conffile path: %+v", ev.File)
		}
		inst := res.Events[2]
		if inst.Event.Action != "install" || inst.Jejak.Data["package"] != "base-passwd" ||
			inst.Jejak.Data["architecture"] != "amd64" || inst.Jejak.Data["version_new"] != "3.5.33" || inst.Jejak.Data["version_old"] != "" {
			t.Errorf("install line: %q %v", inst.Event.Action, inst.Jejak.Data)
		}
	}
}

// blocks counts the apt runs independently of the parser.
func blocks(t *testing.T, path string) (starts int, requested []string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Start-Date: ") {
			starts++
		}
		if v, ok := strings.CutPrefix(sc.Text(), "Requested-By: "); ok {
			requested = append(requested, v)
		}
	}
	return starts, requested
}

func TestAptHistory(t *testing.T) {
	starts, requested := blocks(t, "testdata/history.log")
	res := parsertest.ParseFile(t, NewAptHistory(), "testdata/history.log", nil)
	if res.Err != nil || len(res.Events) != starts || len(res.Warnings) != 0 {
		t.Fatalf("err %v, %d events, %d warnings; want %d, 0", res.Err, len(res.Events), len(res.Warnings), starts)
	}
	var users []string
	for _, ev := range res.Events {
		if ev.User != nil {
			users = append(users, ev.User.Name+" ("+ev.User.ID+")")
		}
	}
	if strings.Join(users, ";") != strings.Join(requested, ";") {
		t.Errorf("users %v, Requested-By lines %v", users, requested)
	}
	last := res.Events[len(res.Events)-1]
	if last.Process == nil || last.Process.CommandLine != "apt-get install -y --reinstall --no-install-recommends zsh" ||
		last.Jejak.Data["reinstall_count"] != "1" || last.Event.Outcome != "success" {
		t.Errorf("last run: %+v %v", last.Process, last.Jejak.Data)
	}
	if !last.Timestamp.Equal(time.Date(2026, 11, 28, 22, 49, 8, 0, time.UTC)) {
		t.Errorf("last start %v", last.Timestamp)
	}
}

// TestAptAgainstDpkg checks the two logs against each other: every package
// apt says it installed or reinstalled in a run is in dpkg.log as an
// "install" (a reinstall: "upgrade" from a version to itself) between the
// run's Start-Date and End-Date.
func TestAptAgainstDpkg(t *testing.T) {
	apt := parsertest.ParseFile(t, NewAptHistory(), "testdata/history.log", nil)
	dp := parsertest.ParseFile(t, New(), "testdata/dpkg.log", nil)
	if len(dp.Warnings) != 0 {
		t.Fatalf("dpkg.log warnings: %v", dp.Warnings)
	}
	first := dp.Events[0].Timestamp
	checked := 0
	for _, run := range apt.Events {
		if run.Timestamp.Before(first) {
			continue // runs older than the dpkg.log excerpt
		}
		end, err := time.Parse(aptLayout, run.Jejak.Data["end-date"])
		if err != nil {
			t.Fatal(err)
		}
		installed := map[string]bool{}
		for _, ev := range dp.Events {
			if (ev.Event.Action == "install" || ev.Event.Action == "upgrade") && !ev.Timestamp.Before(run.Timestamp) && !ev.Timestamp.After(end) {
				installed[ev.Jejak.Data["package"]] = true
			}
		}
		for _, list := range []string{run.Jejak.Data["install"], run.Jejak.Data["reinstall"]} {
			for _, item := range strings.Split(list, "), ") {
				if item == "" {
					continue
				}
				name, _, _ := strings.Cut(item, ":")
				checked++
				if !installed[name] {
					t.Errorf("apt run at %v installed %s; dpkg.log has no install of it", run.Timestamp, name)
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d packages cross-checked", checked)
	}
}

func TestBadLines(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "logs/linux/dpkg.log"))
	if err != nil {
		t.Fatal(err)
	}
	garbled := append([]byte("Feb 25 11:45:23 not dpkg\n"), data...)
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("dpkg.log", garbled, time.Time{}), time.UTC)
	if len(res.Events) != 4 || len(res.Warnings) != 1 || res.Warnings[0].Record != 1 || res.Warnings[0].Offset != 0 {
		t.Errorf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	hist, err := os.ReadFile("testdata/history.log")
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte("stray line\n"), bytes.Replace(hist, []byte("Start-Date: 2026-05-09  07:28:46"), []byte("Start-Date: 2026-05-09 7:28"), 1)...)
	res = parsertest.Parse(context.Background(), NewAptHistory(), parsertest.BytesEntry("history.log", bad, time.Time{}), time.UTC)
	starts, _ := blocks(t, "testdata/history.log")
	if len(res.Events) != starts-1 || len(res.Warnings) != 2 {
		t.Errorf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
}

func BenchmarkDpkg(b *testing.B) {
	data, err := os.ReadFile("testdata/dpkg.log")
	if err != nil {
		b.Fatal(err)
	}
	big := bytes.Repeat(data, (4<<20)/len(data))
	b.SetBytes(int64(len(big)))
	p := New()
	e := parsertest.BytesEntry("dpkg.log", big, time.Time{})
	for b.Loop() {
		src := &parsers.Source{Entry: e, R: bytes.NewReader(big), Size: int64(len(big)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) {}}
		if err := p.Parse(context.Background(), src, func(*timeline.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
