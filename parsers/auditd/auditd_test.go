package auditd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

var corpusFiles = []string{
	"logs/linux/selinux.log",
	"logs/linux/audit_enriched.log",
	"more/audit/go-libaudit_audit-rhel7.log",
	"more/audit/go-libaudit_audit-ubuntu16.log",
	"more/audit/go-libaudit_test3.log",
}

func TestContract(t *testing.T) {
	var files []string
	for _, f := range corpusFiles {
		files = append(files, parsertest.Corpus(t, f))
	}
	parsertest.Contract(t, New(), files...)
}

func records(evs []*timeline.Event) int {
	n := 0
	for _, ev := range evs {
		c, _ := strconv.Atoi(ev.Jejak.Data["audit.records"])
		n += c
	}
	return n
}

// TestPlasoSelinux: plaso's selinux parser (tests/parsers/selinux.py) gives
// 7 events and 4 warnings, one event per line. We join records by
// time:serial, so the AVC and SYSCALL lines of 1243332701.744:101 are one
// event: 6 events holding plaso's 7 records, and the same 4 warnings
// (WRONGDATE and EMPTYDATE headers, "type=" without a value, no type).
func TestPlasoSelinux(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "logs/linux/selinux.log"), nil)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Events) != 6 || records(res.Events) != 7 || len(res.Warnings) != 4 {
		t.Fatalf("%d events holding %d records, %d warnings; want 6, 7 (plaso's events), 4", len(res.Events), records(res.Events), len(res.Warnings))
	}
	wantLines := []int64{2, 4, 6, 7}
	for i, w := range res.Warnings {
		if w.Record != wantLines[i] {
			t.Errorf("warning %d on line %d, want %d (%v)", i, w.Record, wantLines[i], w)
		}
	}
	var avc *timeline.Event
	for _, ev := range res.Events {
		if ev.Jejak.Data["audit.id"] == "1243332701.744:101" {
			avc = ev
		}
	}
	if avc == nil {
		t.Fatal("no event 1243332701.744:101")
	}
	if avc.Event.Action != "mac_denied" || avc.Jejak.Data["avc.permissions"] != "getattr" ||
		avc.Process == nil || avc.Process.PID != 2714 || avc.Process.Executable != "/bin/ls" ||
		avc.Jejak.Data["audit.record_types"] != "AVC,SYSCALL" {
		t.Errorf("AVC event: %q %v %+v %v", avc.Event.Action, avc.Jejak.Data["avc.permissions"], avc.Process, avc.Jejak.Data["audit.record_types"])
	}
	if got := res.Events[0].Timestamp; !got.Equal(time.Date(2012, 5, 24, 7, 40, 1, 174e6, time.UTC)) {
		t.Errorf("first time %v", got)
	}
}

type goldenRecord struct {
	Timestamp  string            `json:"@timestamp"`
	RecordType string            `json:"record_type"`
	Sequence   uint64            `json:"sequence"`
	RawMsg     string            `json:"raw_msg"`
	Data       map[string]string `json:"data"`
}

// goldenSame lists the go-libaudit fields that hold the value as written (or
// hex-decoded, as we do); the others are interpreted by go-libaudit
// (auid "unset", arch names, syscall names, result, split SELinux context).
var goldenSame = []string{"acct", "addr", "exe", "pid", "ppid", "comm", "op", "terminal", "hostname",
	"cwd", "name", "uid", "gid", "euid", "id", "argc", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "cmd",
	"proctitle", "apparmor", "profile", "operation", "inode", "mode", "grp", "new-level", "old-level"}

var stampRE = regexp.MustCompile(`^audit\(([0-9.]+:[0-9]+)\)`)

// TestGoLibauditGolden compares every record of go-libaudit's golden parse
// with the event that holds it: same time:serial, type, and the fields both
// keep verbatim. A null golden entry is a line go-libaudit rejects; it must
// be one of our warnings.
func TestGoLibauditGolden(t *testing.T) {
	for _, name := range []string{"audit-rhel7.log", "audit-ubuntu16.log", "test3.log"} {
		t.Run(name, func(t *testing.T) {
			path := parsertest.Corpus(t, "more/audit/go-libaudit_"+name)
			gb, err := os.ReadFile(path + ".golden")
			if err != nil {
				t.Fatal(err)
			}
			var golden []*goldenRecord
			if err := json.Unmarshal(gb, &golden); err != nil {
				t.Fatal(err)
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			byID := map[string]*timeline.Event{}
			for _, ev := range res.Events {
				id := ev.Jejak.Data["audit.id"]
				if byID[id] != nil {
					t.Errorf("two events for %s", id)
				}
				byID[id] = ev
			}
			nulls, nrec := 0, 0
			for _, g := range golden {
				if g == nil {
					nulls++
					continue
				}
				nrec++
				m := stampRE.FindStringSubmatch(g.RawMsg)
				if m == nil {
					t.Fatalf("golden raw_msg %q", g.RawMsg)
				}
				ev := byID[m[1]]
				if ev == nil {
					t.Errorf("%s: no event", m[1])
					continue
				}
				gt, err := time.Parse(time.RFC3339Nano, g.Timestamp)
				if err != nil || !gt.Equal(ev.Timestamp) {
					t.Errorf("%s: time %v, golden %v", m[1], ev.Timestamp, g.Timestamp)
				}
				typ := strings.ToUpper(g.RecordType)
				prefix := strings.ToLower(typ)
				if !strings.Contains(","+ev.Jejak.Data["audit.record_types"]+",", ","+typ+",") {
					t.Errorf("%s: types %s lack %s", m[1], ev.Jejak.Data["audit.record_types"], typ)
					continue
				}
				for _, k := range goldenSame {
					want, ok := g.Data[k]
					if !ok {
						continue
					}
					got, ok := ev.Jejak.Data[prefix+"."+k]
					if !ok {
						got, ok = ev.Jejak.Data[prefix+"[0]."+k]
					}
					if !ok || got != want {
						t.Errorf("%s %s.%s = %q, golden %q", m[1], prefix, k, got, want)
					}
				}
				if r := g.Data["result"]; r != "" && ev.Jejak.Data["audit.records"] == "1" {
					want := map[string]string{"success": "success", "fail": "failure"}[r]
					if ev.Event.Outcome != want {
						t.Errorf("%s: outcome %q, golden result %q", m[1], ev.Event.Outcome, r)
					}
				}
			}
			if records(res.Events) != nrec || len(res.Warnings) != nulls {
				t.Errorf("%d records, %d warnings; golden %d records, %d rejected", records(res.Events), len(res.Warnings), nrec, nulls)
			}
		})
	}
}

// ausearchSkips lists records ausearch 3.0.9 does not print although they
// are well formed, with why we keep them.
var ausearchSkips = map[string]string{
	// An AppArmor AVC: ausearch prints nothing for it even alone in a file;
	// go-libaudit's golden parse has it.
	"1524662933.080:61207": "apparmor AVC",
}

// TestAusearch runs ausearch --raw (Debian package auditd) on each file:
// every record it prints must be in the event with the same time:serial,
// or on a line we reported. Event counts differ by design: ausearch closes
// an event on a record it considers standalone (LOGIN) or when later
// records arrive, we join everything that shares time:serial.
func TestAusearch(t *testing.T) {
	bin := oracle.Tool(t, "ausearch", "auditd")
	for _, f := range corpusFiles {
		t.Run(f, func(t *testing.T) {
			path := parsertest.Corpus(t, f)
			out, err := exec.Command(bin, "--input", path, "--raw").Output()
			if err != nil && len(out) == 0 {
				t.Fatalf("ausearch: %v", err)
			}
			res := parsertest.ParseFile(t, New(), path, nil)
			ours := map[string]int{}
			for _, ev := range res.Events {
				n, _ := strconv.Atoi(ev.Jejak.Data["audit.records"])
				ours[ev.Jejak.Data["audit.id"]] = n
			}
			warnedLines := map[string]bool{}
			data, _ := os.ReadFile(path)
			lines := strings.Split(string(data), "\n")
			for _, w := range res.Warnings {
				warnedLines[lines[w.Record-1]] = true
			}
			theirs := map[string]int{}
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if l == "" {
					continue
				}
				if warnedLines[l] {
					continue
				}
				i := strings.Index(l, "audit(")
				j := strings.IndexByte(l[i:], ')')
				theirs[l[i+6:i+j]]++
			}
			for id, n := range theirs {
				if ours[id] != n {
					t.Errorf("%s: ausearch %d records, we %d", id, n, ours[id])
				}
			}
			for id, n := range ours {
				if theirs[id] == 0 && ausearchSkips[id] == "" {
					t.Errorf("%s: we have %d records, ausearch none", id, n)
				}
			}
		})
	}
}

func TestEnriched(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "logs/linux/audit_enriched.log"), nil)
	want := map[string]struct {
		action, user, ip, cmd, outcome string
	}{
		"1783414573.076:399": {"user_deleted", "root", "", "", "failure"},
		"1783414573.687:423": {"sudo_command", "root", "", "true", "success"},
		"1783414613.119:441": {"authenticated", "root", "172.23.112.1", "", "failure"},
		"1783414661.350:487": {"executed", "root", "", "/bin/sh -c grep -c . /etc/hostname", "success"},
		"1783416217.830:735": {"executed", "root", "", "/usr/bin/cat /tmp/my report.txt", "success"},
	}
	seen := 0
	for _, ev := range res.Events {
		w, ok := want[ev.Jejak.Data["audit.id"]]
		if !ok {
			continue
		}
		seen++
		var user, ip, cmd string
		if ev.User != nil {
			user = ev.User.Name
		}
		if ev.Source != nil {
			ip = ev.Source.IP
		}
		if ev.Process != nil {
			cmd = ev.Process.CommandLine
		}
		got := struct{ action, user, ip, cmd, outcome string }{ev.Event.Action, user, ip, cmd, ev.Event.Outcome}
		if got != w {
			t.Errorf("%s: got %+v, want %+v", ev.Jejak.Data["audit.id"], got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of %d events", seen, len(want))
	}
	for _, ev := range res.Events {
		if ev.Jejak.Data["audit.id"] == "1783414573.076:399" {
			if ev.User == nil || ev.User.Target == nil || ev.User.Target.Name != "specimenuser" || ev.User.ID != "0" {
				t.Errorf("DEL_USER user: %+v", ev.User)
			}
		}
	}
}

// TestLongLine feeds a real record followed by one longer than the limit:
// the long one is a warning, the records around it survive.
func TestLongLine(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "more/audit/go-libaudit_test3.log"))
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(data, []byte("\n"))
	var b bytes.Buffer
	b.Write(first)
	b.WriteString("\ntype=EXECVE msg=audit(1451781471.394:1): a0=")
	b.Write(bytes.Repeat([]byte("41"), lines.Max))
	b.WriteString("\n")
	b.Write(data)
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("audit.log", b.Bytes(), time.Time{}), time.UTC)
	if len(res.Warnings) != 1 || !errors.Is(res.Warnings[0].Err, ErrLineTooLong) || res.Warnings[0].Record != 2 {
		t.Fatalf("warnings %v", res.Warnings)
	}
	if records(res.Events) != 18 {
		t.Errorf("%d records, want 18", records(res.Events))
	}
	if off := res.Warnings[0].Offset; off != int64(len(first)+1) {
		t.Errorf("warning offset %d, want %d", off, len(first)+1)
	}
}

func FuzzParse(f *testing.F) {
	dir, err := parsertest.CorpusDir()
	if err == nil {
		for _, name := range corpusFiles {
			if b, err := os.ReadFile(dir + "/" + name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("audit.log", b, time.Time{}), time.UTC)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		// Every non-blank line is a record of some event or a warning.
		lines := 0
		for _, l := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(strings.TrimRight(l, "\r")) != "" {
				lines++
			}
		}
		if records(res.Events)+len(res.Warnings) != lines {
			t.Fatalf("%d lines, %d records + %d warnings", lines, records(res.Events), len(res.Warnings))
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "more/audit/go-libaudit_audit-rhel7.log"))
	if err != nil {
		b.Fatal(err)
	}
	big := bytes.Repeat(append(data, '\n'), (4<<20)/len(data))
	b.SetBytes(int64(len(big)))
	p := New()
	e := parsertest.BytesEntry("audit.log", big, time.Time{})
	for b.Loop() {
		src := &parsers.Source{Entry: e, R: bytes.NewReader(big), Size: int64(len(big)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) {}}
		if err := p.Parse(context.Background(), src, func(*timeline.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSockaddr: go-libaudit decodes saddr 02000050A9FEA9FE... as
// 169.254.169.254 port 80; it is the syscall's peer, not a login source.
func TestSockaddr(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "more/audit/go-libaudit_audit-rhel7.log"), nil)
	for _, ev := range res.Events {
		if ev.Jejak.Data["audit.id"] != "1481078424.953:688" {
			continue
		}
		if ev.Destination == nil || ev.Destination.IP != "169.254.169.254" || ev.Destination.Port != 80 || ev.Source != nil {
			t.Errorf("destination %+v, source %+v", ev.Destination, ev.Source)
		}
		return
	}
	t.Error("no event 1481078424.953:688")
}
