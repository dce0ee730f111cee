package syslog

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// Independent readings of a file's lines, sharing nothing with the parser.
var (
	oracleStart3164 = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d `)
	oracleRepeat    = regexp.MustCompile(`^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d --- last message repeated (\d+) times? ---$`)
	oracleRecord    = regexp.MustCompile(`^(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d |\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)`)
	oracleASL       = regexp.MustCompile(`^\S+ +\d+ \S+ \S+ ([^\[\s]+)\[(\d+)\] <(\w+)>: `)
)

// aslLevels are Apple's ASL level names (asl.h, ASL_STRING_EMERG ...) and the
// syslog severity of the same number (RFC 5424 table 2, as syslog.h names it).
var aslLevels = map[string]string{"Emergency": "emerg", "Alert": "alert", "Critical": "crit", "Error": "err",
	"Warning": "warning", "Notice": "notice", "Info": "info", "Debug": "debug"}

// TestMacOSSystemLog reads a macOS syslogd file (testdata/README.md says
// how it was written): tab-indented lines continue the message before
// them, the host-less "--- last message repeated N time(s) ---" notes are
// events of their own, ASL levels are read, and nothing is a warning.
func TestMacOSSystemLog(t *testing.T) {
	data, err := os.ReadFile("testdata/macos_system.log")
	if err != nil {
		t.Fatal(err)
	}
	if !New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), data) {
		t.Error("Match rejects a macOS system.log whose first line is launchd's (no colon after the pid)")
	}
	res := parseBytes(t, "system.log", data, time.Date(2016, 9, 1, 0, 0, 0, 0, time.UTC), time.UTC)
	var starts, continued int
	var repeats []string
	var asl [][]string
	for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		switch {
		case oracleStart3164.MatchString(l):
			starts++
			if m := oracleRepeat.FindStringSubmatch(l); m != nil {
				repeats = append(repeats, m[1])
			}
			if m := oracleASL.FindStringSubmatch(l); m != nil {
				asl = append(asl, m[1:])
			}
		case strings.TrimLeft(l, " ") != l || strings.HasPrefix(l, "\t"):
			continued++
		default:
			t.Fatalf("fixture line neither a record nor indented: %q", l)
		}
	}
	if len(res.Events) != starts || len(res.Warnings) != 0 {
		t.Fatalf("%d events, %d warnings; the file has %d record lines (%v)", len(res.Events), len(res.Warnings), starts, res.Warnings)
	}
	folded := 0
	var gotRepeats []string
	var gotASL [][]string
	for _, ev := range res.Events {
		folded += strings.Count(ev.Message, "\n")
		if n, ok := ev.Jejak.Data["repeat_count"]; ok {
			gotRepeats = append(gotRepeats, n)
			if ev.Host != nil || ev.Process != nil || !strings.HasPrefix(ev.Message, "last message repeated ") {
				t.Errorf("repeat note %q: host %+v process %+v", ev.Message, ev.Host, ev.Process)
			}
		}
		if ev.Log != nil && ev.Log.Level != "" {
			gotASL = append(gotASL, []string{procName(ev), procPID(ev), ev.Log.Level})
		}
	}
	if folded != continued {
		t.Errorf("%d continuation lines folded, the file has %d", folded, continued)
	}
	if strings.Join(gotRepeats, ",") != strings.Join(repeats, ",") {
		t.Errorf("repeat counts %v, file %v", gotRepeats, repeats)
	}
	if len(gotASL) != len(asl) {
		t.Fatalf("ASL levels %v, file %v", gotASL, asl)
	}
	for i := range asl {
		if gotASL[i][0] != asl[i][0] || gotASL[i][1] != asl[i][1] || gotASL[i][2] != aslLevels[asl[i][2]] {
			t.Errorf("ASL line %d: %v, file %v", i, gotASL[i], asl[i])
		}
	}
	notice := findText(res.Events, "Those messages may not appear in standard system log files or in the ASL database.")
	if notice == nil || notice.Message != "syslogd[39]: Configuration Notice:\n\tASL Module \"com.apple.cdscheduler\" claims selected messages.\n\tThose messages may not appear in standard system log files or in the ASL database." {
		t.Errorf("multi-line notice: %+v", notice)
	}
	var failed, accepted int
	for _, ev := range res.Events {
		switch facts(ev) {
		case fact{"ssh_failed_login", "admin", "203.0.113.5", "failure"}:
			failed++
		case fact{"ssh_login", "admin", "198.51.100.7", "success"}:
			accepted++
		}
	}
	if failed != 2 || accepted != 1 {
		t.Errorf("sshd on macOS: %d failures, %d logons; want 2 and 1", failed, accepted)
	}
}

// TestCommentsAndGarbage puts what exported or damaged logs carry into real
// files: a comment header and a blank line at the top, a comment inside, a
// line of NUL bytes and a record preceded by NULs (file space a crash left
// unwritten). Match still takes the file, every record is still an event
// (counted by an independent regexp on the untouched file), and each added
// line is one warning at its own offset and line number.
func TestCommentsAndGarbage(t *testing.T) {
	for _, rel := range []string{"more/linux/auth/elastic_examples_auth.log", "logs/syslog/syslog_ssh.log", "more/linux/auth/crowdsec_sshd-logs.log"} {
		t.Run(rel, func(t *testing.T) {
			orig := corpusBytes(t, rel)
			var lines []string
			records := 0
			for _, l := range strings.Split(strings.TrimSuffix(string(orig), "\n"), "\n") {
				if oracleRecord.MatchString(l) {
					records++
				}
				lines = append(lines, l)
			}
			if records < 4 {
				t.Fatalf("%d records", records)
			}
			nul := strings.Repeat("\x00", 512)
			mid := len(lines) / 2
			// What is added, and whether each added line is a warning.
			header := []string{"# exported by logcollect 2.1 from kpu-tabulasi-01", "# zone: Asia/Jakarta", ""}
			var out []string
			out = append(out, header...)
			out = append(out, lines[:mid]...)
			out = append(out, "# --- rotated here ---", nul, nul+lines[mid])
			out = append(out, lines[mid+1:]...)
			data := []byte(strings.Join(out, "\n") + "\n")

			if !New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), data[:min(len(data), 4096)]) {
				t.Error("Match rejects the file once comments lead it")
			}
			res := parseBytes(t, "auth.log", data, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC)
			if len(res.Events) != records {
				t.Errorf("%d events, the file has %d records", len(res.Events), records)
			}
			// The warnings expected, located from the bytes written above.
			type loc struct{ off, line int64 }
			at := func(i int) loc {
				off := 0
				for _, l := range out[:i] {
					off += len(l) + 1
				}
				return loc{int64(off), int64(i + 1)}
			}
			want := []loc{at(0), at(1), at(len(header) + mid), at(len(header) + mid + 1)}
			if len(res.Warnings) != len(want) {
				t.Fatalf("%d warnings, want %d: %v", len(res.Warnings), len(want), res.Warnings)
			}
			for i, w := range res.Warnings {
				if (loc{w.Offset, w.Record}) != want[i] || w.Parser != "syslog" || w.Path != "auth.log" {
					t.Errorf("warning %d: %+v, want offset %d line %d", i, w, want[i].off, want[i].line)
				}
			}
			// The record behind the NULs starts after them, on its own line.
			p := at(len(header) + mid + 2)
			var ev *timeline.Event
			for _, e := range res.Events {
				if e.Jejak.Provenance.Record == p.line {
					ev = e
				}
			}
			if ev == nil || ev.Jejak.Provenance.Offset != p.off+512 || ev.Jejak.Data["nul_bytes_before"] != "512" ||
				!strings.HasSuffix(lines[mid], ev.Message) {
				t.Errorf("record after NULs: %+v", ev)
			}
		})
	}
}

// TestMatchShare checks that Match judges the share of lines, not line 1.
func TestMatchShare(t *testing.T) {
	rec := "Feb 14 19:05:01 kpu-db sshd[4242]: Failed password for root from 203.0.113.5 port 4242 ssh2"
	many := func(n int, l string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = l
		}
		return out
	}
	cases := []struct {
		name  string
		lines []string
		want  bool
	}{
		{"comment header", append([]string{"# exported by jejak-collector", "# host kpu-db", ""}, many(6, rec)...), true},
		{"long comment header", append(many(10, "# licence text of the export tool"), many(12, rec)...), true},
		{"tag-less mark first", append([]string{"Feb 14 19:00:01 kpu-db -- MARK --"}, many(5, rec)...), true},
		{"launchd first", append([]string{"Aug 18 16:29:17 mac com.apple.xpc.launchd[1] (com.apple.x[1]): Service exited"}, many(3, rec)...), true},
		{"sample starting inside a message", append([]string{"\tcontinued text", "    more"}, many(4, rec)...), true},
		{"one record", []string{rec}, true},
		{"garbage with one record", append(append([]string{rec}, many(6, "some other text")...), rec), false},
		{"time word word log", many(8, "Feb 14 19:05:01 INFO starting worker pool size 4"), false},
		{"mostly weak records", append(many(6, "Feb 14 19:05:01 INFO starting worker pool size 4"), rec, rec), false},
		{"prose", many(5, "The quick brown fox: jumps"), false},
	}
	for _, c := range cases {
		head := []byte(strings.Join(c.lines, "\n") + "\n")
		if got := New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), head); got != c.want {
			t.Errorf("%s: Match %v, want %v", c.name, got, c.want)
		}
	}
	// Syslog text inside a binary file (plaso's syslog.tar: a tar header,
	// then the file) is not a syslog file; NUL runs that lead lines are.
	if tarHead := corpusBytes(t, "archives/syslog.tar"); New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), tarHead[:4096]) {
		t.Error("Match takes a tar archive for syslog")
	}
	crashed := []byte(strings.Repeat("\x00", 4000) + rec + "\n" + rec + "\n")
	if !New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), crashed) {
		t.Error("Match rejects a log whose head is a run of NULs before records")
	}
	// A head cut inside a line: the cut line is not judged.
	full := bytes.Repeat([]byte(rec+"\n"), 200)
	if !New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), full[:4096]) {
		t.Error("Match rejects a full head cut inside a line")
	}
}

// TestNotesAndTags covers syslogd's own notes and tag shapes line by line;
// the expectations are read off each line by eye.
func TestNotesAndTags(t *testing.T) {
	mtime := time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		line, host, proc, pid, level, message, repeat string
	}{
		// sysklogd (Debian before rsyslog): the note follows the host.
		{"Jan  1 00:00:00 oldhost last message repeated 3 times", "oldhost", "", "", "", "last message repeated 3 times", "3"},
		// macOS syslogd: no host, "1 time" singular.
		{"Aug 18 16:29:25 --- last message repeated 1 time ---", "", "", "", "", "last message repeated 1 time", "1"},
		{"Aug 18 16:29:25 db1 --- last message repeated 2 times ---", "db1", "", "", "", "last message repeated 2 times", "2"},
		// sysklogd's and older rsyslog's mark: no tag.
		{"Dec  6 03:57:38 db1 -- MARK --", "db1", "", "", "", "-- MARK --", ""},
		// rsyslog 8's immark writes it under its own tag.
		{"Dec  6 03:57:38 db1 rsyslogd: -- MARK --", "db1", "rsyslogd", "", "", "rsyslogd: -- MARK --", ""},
		// Apple ASL's level between pid and colon.
		{"Oct  6 14:31:16 ip-172-27-239-114 Docker[588] <Notice>: Reap com.docker.osxfs (pid 24270): exit status 1",
			"ip-172-27-239-114", "Docker", "588", "notice", "Docker[588] <Notice>: Reap com.docker.osxfs (pid 24270): exit status 1", ""},
		{"Dec  6 04:00:25 10.0.0.7 postfix/smtpd[123]: connect from unknown[198.51.100.7]", "10.0.0.7", "smtpd", "123", "", "postfix/smtpd[123]: connect from unknown[198.51.100.7]", ""},
		{"Dec  6 04:00:25 h kernel: [   12.345678] usb 1-1: new device", "h", "kernel", "", "", "kernel: [   12.345678] usb 1-1: new device", ""},
	}
	for _, c := range cases {
		res := parseBytes(t, "x", []byte(c.line+"\n"), mtime, time.UTC)
		if len(res.Events) != 1 || len(res.Warnings) != 0 {
			t.Errorf("%q: %d events %d warnings", c.line, len(res.Events), len(res.Warnings))
			continue
		}
		ev := res.Events[0]
		level := ""
		if ev.Log != nil {
			level = ev.Log.Level
		}
		got := []string{hostName(ev), procName(ev), procPID(ev), level, ev.Message, ev.Jejak.Data["repeat_count"]}
		want := []string{c.host, c.proc, c.pid, c.level, c.message, c.repeat}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q:\n got %q\nwant %q", c.line, got, want)
		}
	}
}

// TestTailOfSeveralFiles reads what coreutils tail writes for several real
// logs ("==> name <==" before each, a blank line between): every record of
// both files is an event, each header is a warning at its own line, and no
// header is folded into a message.
func TestTailOfSeveralFiles(t *testing.T) {
	tail := oracle.Tool(t, "tail", "coreutils")
	dir := t.TempDir()
	rels := []string{"logs/syslog/syslog_ssh.log", "more/linux/auth/crowdsec_sshd-success-logs.log"}
	var paths []string
	records := 0
	for i, rel := range rels {
		data := corpusBytes(t, rel)
		for _, l := range strings.Split(string(data), "\n") {
			if oracleRecord.MatchString(l) {
				records++
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("auth%d.log", i))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, err := exec.Command(tail, append([]string{"-n", "+1"}, paths...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), out[:min(len(out), 4096)]) {
		t.Error("Match rejects tail's output")
	}
	res := parseBytes(t, "collected.txt", out, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC)
	var headers []int64
	for i, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "==> ") {
			headers = append(headers, int64(i+1))
		}
	}
	if len(res.Events) != records || len(res.Warnings) != len(headers) || len(headers) != len(rels) {
		t.Fatalf("%d events, %d warnings; files have %d records, tail wrote %d headers", len(res.Events), len(res.Warnings), records, len(headers))
	}
	for i, w := range res.Warnings {
		if w.Record != headers[i] {
			t.Errorf("warning %d on line %d, header on line %d", i, w.Record, headers[i])
		}
	}
	for _, ev := range res.Events {
		if strings.Contains(ev.Message, "==>") {
			t.Errorf("header folded into %q", ev.Message)
		}
	}
}
