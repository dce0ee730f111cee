package syslog

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// manifestFacts reads the oracle column of MANIFEST.tsv for one corpus
// path: "N events, M warnings" and the first timestamp written there.
type manifestFacts struct {
	events, warnings int
	first            string // as written, e.g. "0000-01-22T07:52:33"
}

var (
	reCounts = regexp.MustCompile(`(\d+) events?, (\d+) warnings?`)
	reFirst  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00)?`)
)

func manifest(t *testing.T, rel string) manifestFacts {
	t.Helper()
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("shared corpus not found: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "MANIFEST.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 10 || cols[1] != rel {
			continue
		}
		oracle := cols[9]
		m := reCounts.FindStringSubmatch(oracle)
		if m == nil {
			t.Fatalf("MANIFEST row for %s has no event/warning counts: %q", rel, oracle)
		}
		ev, _ := strconv.Atoi(m[1])
		w, _ := strconv.Atoi(m[2])
		return manifestFacts{events: ev, warnings: w, first: reFirst.FindString(oracle)}
	}
	t.Fatalf("%s not in MANIFEST.tsv", rel)
	return manifestFacts{}
}

// TestPlasoCorpus holds the parser to plaso's own counts on plaso's test
// files. Plaso leaves year-less times in year 0; we infer the year (see
// yearGuess), so for those the oracle is checked on month, day and time
// only, and the year is checked against the file mtime rule separately.
func TestPlasoCorpus(t *testing.T) {
	for _, c := range []struct {
		rel string
		idx int // the event plaso's test checks the time of
	}{
		{"logs/syslog/syslog", 0},
		{"logs/syslog/syslog_ssh.log", 0},
		{"logs/syslog/syslog_rsyslog", 0},
		{"logs/syslog/syslog_rsyslog_SyslogProtocol23Format", 0},
		// MANIFEST says "first" but plaso's testProcessCron checks
		// event_data index 1 (the "sleep $(( 1 * 60 ))" line).
		{"logs/syslog/syslog_cron.log", 1},
	} {
		rel := c.rel
		t.Run(filepath.Base(rel), func(t *testing.T) {
			want := manifest(t, rel)
			res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, rel), nil)
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			if len(res.Events) != want.events || len(res.Warnings) != want.warnings {
				t.Errorf("got %d events %d warnings, plaso %d/%d", len(res.Events), len(res.Warnings), want.events, want.warnings)
			}
			if want.first == "" || len(res.Events) == 0 {
				t.Fatalf("no first timestamp to compare (%q)", want.first)
			}
			got := res.Events[c.idx].Timestamp
			if strings.HasPrefix(want.first, "0000-") {
				if s := got.Format("01-02T15:04:05"); s != want.first[5:] {
					t.Errorf("first time %s, plaso (year-less) %s", s, want.first)
				}
				if tn := res.Events[c.idx].Jejak.Time; tn == nil || !tn.YearInferred || tn.ZoneAssumed != "UTC" {
					t.Errorf("year-less time without its note: %+v", tn)
				}
				return
			}
			exp, err := time.Parse(time.RFC3339Nano, want.first)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(exp) {
				t.Errorf("first time %s, plaso %s", got, exp)
			}
		})
	}
}

func parseBytes(t *testing.T, name string, data []byte, mtime time.Time, zone *time.Location) parsertest.Result {
	t.Helper()
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry(name, data, mtime), zone)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res
}

func corpusBytes(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(parsertest.Corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestYearInference checks the mtime-and-rollover rule on real files with
// chosen mtimes, so the expected years follow from the rule and the file,
// not from the day the test runs.
func TestYearInference(t *testing.T) {
	day := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	wib := time.FixedZone("WIB", 7*3600)
	cases := []struct {
		name  string
		rel   string
		mtime time.Time
		zone  *time.Location
		// index of the event to check and its expected UTC time
		idx   int
		want  string
		basis string // substring of YearBasis
	}{
		// mtime the day after the last line: same year.
		{"ssh same year", "logs/syslog/syslog_ssh.log", day("2016-03-12T10:00:00Z"), time.UTC, 8, "2016-03-11T22:55:35Z", "2016-03-12"},
		// First line (Mar 11) more than a day after the mtime's Feb 1: it
		// belongs to the year before.
		{"ssh year before", "logs/syslog/syslog_ssh.log", day("2016-02-01T00:00:00Z"), time.UTC, 0, "2015-03-11T00:00:00Z", "2016-02-01"},
		// Mar 11 ... Jan 22: one rollover, the Jan lines in the mtime's year.
		{"cron rollover before", "logs/syslog/syslog_cron.log", day("2017-01-23T00:00:00Z"), time.UTC, 0, "2016-03-11T00:00:00Z", "+ 0 year rollover"},
		{"cron rollover after", "logs/syslog/syslog_cron.log", day("2017-01-23T00:00:00Z"), time.UTC, 6, "2017-01-22T07:53:01Z", "+ 1 year rollover"},
		// Plaso's note in the file: "events take place in 2012" (Feb 29).
		{"leap day", "logs/syslog/syslog", day("2012-12-31T00:00:00Z"), time.UTC, 6, "2012-02-29T01:15:43Z", "2012-12-31"},
		// The case zone is applied to zone-less times.
		{"zone", "logs/syslog/syslog_ssh.log", day("2016-03-12T10:00:00Z"), wib, 0, "2016-03-10T17:00:00Z", "2016-03-12"},
		// No mtime: relative year 0, as plaso.
		{"no mtime", "logs/syslog/syslog_ssh.log", time.Time{}, time.UTC, 0, "0000-03-11T00:00:00Z", "no file mtime"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := parseBytes(t, filepath.Base(c.rel), corpusBytes(t, c.rel), c.mtime, c.zone)
			ev := res.Events[c.idx]
			if got := ev.Timestamp.Format(time.RFC3339); got != c.want {
				t.Errorf("event %d at %s, want %s", c.idx, got, c.want)
			}
			tn := ev.Jejak.Time
			if tn == nil || !tn.YearInferred || !strings.Contains(tn.YearBasis, c.basis) || tn.ZoneAssumed != c.zone.String() {
				t.Errorf("time note %+v, want basis with %q in zone %s", tn, c.basis, c.zone)
			}
			if ev.Event.Timezone != c.zone.String() {
				t.Errorf("event.timezone %q", ev.Event.Timezone)
			}
		})
	}
	// Without an mtime the years are plaso's relative ones: plaso's
	// testProcess expects event 9 at "0001-03-23T23:01:18" (one rollover).
	res0 := parseBytes(t, "syslog", corpusBytes(t, "logs/syslog/syslog"), time.Time{}, time.UTC)
	if got := res0.Events[9].Timestamp.Format("2006-01-02T15:04:05"); got != "0001-03-23T23:01:18" {
		t.Errorf("relative year: event 9 at %s, plaso 0001-03-23T23:01:18", got)
	}

	// A non-leap inferred year cannot hold Feb 29: the event stays, and
	// its basis says how the date was read.
	res := parseBytes(t, "syslog", corpusBytes(t, "logs/syslog/syslog"), day("2013-12-31T00:00:00Z"), time.UTC)
	if b := res.Events[6].Jejak.Time.YearBasis; !strings.Contains(b, "Feb 29 does not exist in 2013") {
		t.Errorf("Feb 29 in 2013 basis: %q", b)
	}
	// That file spans several rollovers, so its later lines land after any
	// mtime that fits its first line: they are flagged.
	last := res.Events[len(res.Events)-1].Jejak.Time.YearBasis
	if !strings.Contains(last, "year doubtful") {
		t.Errorf("line after mtime not flagged: %q", last)
	}
}

// TestRecordsAndWarnings checks what plaso's counts rest on, line by line:
// continuation lines join the record before them, the bad month is a
// warning at its own offset and line, kernel lines without a host, RFC 5424
// header fields.
func TestRecordsAndWarnings(t *testing.T) {
	data := corpusBytes(t, "logs/syslog/syslog")
	res := parseBytes(t, "syslog", data, time.Date(2012, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC)
	if len(res.Warnings) != 1 {
		t.Fatalf("%d warnings", len(res.Warnings))
	}
	w := res.Warnings[0]
	wantOff := int64(bytes.Index(data, []byte("\nMMM ")) + 1)
	wantLine := int64(bytes.Count(data[:wantOff], []byte("\n")) + 1)
	if w.Offset != wantOff || w.Record != wantLine || w.Path != "syslog" || w.Parser != "syslog" {
		t.Errorf("warning %+v, want offset %d line %d", w, wantOff, wantLine)
	}
	byLine := map[string]int{}
	for i, ev := range res.Events {
		off := ev.Jejak.Provenance.Offset
		line := string(data[off : off+int64(bytes.IndexByte(data[off:], '\n'))])
		byLine[line] = i
		// Every record starts at its offset, on the line it names.
		if n := int64(bytes.Count(data[:off], []byte("\n")) + 1); n != ev.Jejak.Provenance.Record {
			t.Errorf("event %d: record %d, offset is on line %d", i, ev.Jejak.Provenance.Record, n)
		}
	}
	multi := res.Events[byLine["Nov 18 01:15:20 myhostname.myhost.com aprocess[10100]: This is a multi-line message that screws up"]]
	if multi.Message != "aprocess[10100]: This is a multi-line message that screws up\n\tmany syslog parsers." {
		t.Errorf("multi-line message %q", multi.Message)
	}
	rep := res.Events[byLine["Nov 18 01:15:43: --- last message repeated 5 times ---"]]
	if rep.Message != "last message repeated 5 times" || rep.Jejak.Data["repeat_count"] != "5" {
		t.Errorf("repeat note %q %v", rep.Message, rep.Jejak.Data)
	}
	kern := res.Events[byLine["Nov 18 08:30:20 kernel: [997.390602] sda2: rw=0, want=65, limit=2"]]
	if kern.Host != nil || kern.Process == nil || kern.Process.Name != "kernel" || kern.Process.PID != 0 {
		t.Errorf("kernel line without host: host %+v process %+v", kern.Host, kern.Process)
	}
	single := res.Events[byLine["Feb  6 15:16:30 victoria process[2085]: Test message with single character day"]]
	if single.Timestamp.Day() != 6 || single.Host.Name != "victoria" {
		t.Errorf("single-digit day: %s %+v", single.Timestamp, single.Host)
	}
	dotted := res.Events[0]
	if dotted.Host.Name != "myhostname.myhost.com" || dotted.Process.PID != 30840 {
		t.Errorf("dotted host: %+v %+v", dotted.Host, dotted.Process)
	}
	frac := res.Events[byLine["Mar 23 23:01:18.123 myhostname.myhost.com somrandomexe[19]: This syslog message has a fractional value for seconds."]]
	if frac.Timestamp.Nanosecond() != 123000000 {
		t.Errorf("fraction lost: %s", frac.Timestamp)
	}

	// RFC 5424 as rsyslog writes it.
	res = parseBytes(t, "p23", corpusBytes(t, "logs/syslog/syslog_rsyslog_SyslogProtocol23Format"), time.Time{}, time.UTC)
	e0 := res.Events[0]
	sl := e0.Log.Syslog
	if sl.Priority != 15 || sl.Facility.Name != "user" || sl.Severity.Code != 7 || sl.MsgID != "123" || sl.Version != "1" || e0.Message != "log_tag: this is debug" || e0.Jejak.Time != nil {
		t.Errorf("5424 header: %+v %+v %q", sl, e0.Jejak.Time, e0.Message)
	}
	if m := res.Events[1].Message; m != "log_tag: this is info\nwith another line" {
		t.Errorf("5424 continuation %q", m)
	}
	if p := res.Events[4].Process; p.Name != "systemd" || p.PID != 1 {
		t.Errorf("5424 procid: %+v", p)
	}
}

// TestHeaders covers header shapes the corpus files do not: RFC 5424 with
// structured data (RFC 5424 section 6.5 examples), <PRI> on BSD syslog,
// zone forms, and lines that must be warnings.
func TestHeaders(t *testing.T) {
	mtime := time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		line    string
		ok      bool
		when    string // UTC, RFC 3339
		host    string
		tag     string
		message string
	}{
		{`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"] ` + "\ufeff" + `An application event log entry`,
			true, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "evntslog", "evntslog: An application event log entry"},
		{`<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.`,
			true, "2003-08-24T12:14:15.000003Z", "192.0.2.1", "myproc", "myproc[8710]: %% It's time to make the do-nuts."},
		{`<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8`,
			true, "2024-10-11T22:14:15Z", "mymachine", "su", "su: 'su root' failed for lonvick on /dev/pts/8"},
		{`2023-11-14T00:20:42.738197+01:00 myserver sshd[1112652]: User root from 192.168.1.1 not allowed`,
			true, "2023-11-13T23:20:42.738197Z", "myserver", "sshd", "sshd[1112652]: User root from 192.168.1.1 not allowed"},
		{`2016-10-25T12:37:23.297265-07:00 INFO periodic_scheduler[13707]: cleanup_logs: job completed`,
			true, "2016-10-25T19:37:23.297265Z", "", "periodic_scheduler", "periodic_scheduler[13707]: cleanup_logs: job completed"},
		{`2020-05-31T00:00:45+0530 host prog: no colon in zone`, true, "2020-05-30T18:30:45Z", "host", "prog", "prog: no colon in zone"},
		{`Aug 03 21:39:20 hostname sshd[69420]: zero-padded day`, true, "2024-08-03T21:39:20Z", "hostname", "sshd", "sshd[69420]: zero-padded day"},
		{`Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2`, true, "2024-07-07T08:06:15Z", "combo", "--", "-- root[2421]: ROOT LOGIN ON tty2"},
		{`<15>1 - host app - - - no time`, false, "", "", "", ""},
		{`<999>Oct 11 22:14:15 host su: pri too big`, false, "", "", "", ""},
		{`Foo 11 22:14:15 host su: bad month`, false, "", "", "", ""},
		{`Oct 11 25:14:15 host su: bad hour`, false, "", "", "", ""},
		{`2021-02-30T00:00:00Z host app: no such day`, false, "", "", "", ""},
		{`<14>1 2021-03-06T04:07:38Z host app - - [unterminated x="1" msg`, false, "", "", "", ""},
		{`just some text`, false, "", "", "", ""},
	}
	for _, c := range cases {
		res := parseBytes(t, "x", []byte(c.line+"\n"), mtime, time.UTC)
		if !c.ok {
			if len(res.Events) != 0 || len(res.Warnings) != 1 {
				t.Errorf("%q: %d events %d warnings, want a warning", c.line, len(res.Events), len(res.Warnings))
			}
			continue
		}
		if len(res.Events) != 1 || len(res.Warnings) != 0 {
			t.Errorf("%q: %d events %d warnings (%v)", c.line, len(res.Events), len(res.Warnings), res.Warnings)
			continue
		}
		ev := res.Events[0]
		host := ""
		if ev.Host != nil {
			host = ev.Host.Name
		}
		if got := ev.Timestamp.Format(time.RFC3339Nano); got != c.when || host != c.host || ev.Log.Syslog.Appname != c.tag || ev.Message != c.message {
			t.Errorf("%q:\n got %s %q %q %q\nwant %s %q %q %q", c.line, got, host, ev.Log.Syslog.Appname, ev.Message, c.when, c.host, c.tag, c.message)
		}
	}
	res := parseBytes(t, "x", []byte(cases[0].line), mtime, time.UTC)
	sd := res.Events[0].Log.Syslog.StructuredData
	if sd["exampleSDID@32473"]["eventID"] != "1011" || sd["exampleSDID@32473"]["iut"] != "3" || sd["examplePriority@32473"]["class"] != "high" {
		t.Errorf("structured data %v", sd)
	}
	if got := parseSD(`[a@1 x="q\"uo\]te\\"]`); got["a@1"]["x"] != `q"uo]te\` {
		t.Errorf("escaped SD value %q", got["a@1"]["x"])
	}
}

// TestNothingDropped: every non-empty line of a file is an event, a
// warning, or a continuation folded into the record before it.
func TestNothingDropped(t *testing.T) {
	for _, rel := range []string{"logs/syslog/syslog", "logs/syslog/syslog_rsyslog_SyslogProtocol23Format", "logs/loghub/Linux_2k.log", "more/linux/auth/elastic_examples_auth.log"} {
		data := corpusBytes(t, rel)
		res := parseBytes(t, filepath.Base(rel), data, time.Date(2012, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC)
		lines := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines++
			}
		}
		folded := 0
		for _, ev := range res.Events {
			folded += strings.Count(ev.Message, "\n")
		}
		if got := len(res.Events) + len(res.Warnings) + folded; got != lines {
			t.Errorf("%s: %d events + %d warnings + %d folded = %d, file has %d non-empty lines", rel, len(res.Events), len(res.Warnings), folded, got, lines)
		}
	}
}

func TestMatch(t *testing.T) {
	p := New()
	for _, rel := range []string{
		"logs/syslog/syslog", "logs/syslog/syslog_ssh.log", "logs/syslog/syslog_rsyslog",
		"logs/syslog/syslog_rsyslog_SyslogProtocol23Format", "logs/syslog/syslog_cron.log",
		"logs/loghub/OpenSSH_2k.log", "logs/loghub/Linux_2k.log", "more/linux/auth/elastic_examples_auth.log",
		"more/linux/auth/crowdsec_sshd-logs.log",
	} {
		data := corpusBytes(t, rel)
		// A neutral name: the content alone must decide.
		if !p.Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), data[:min(len(data), 4096)]) {
			t.Errorf("Match rejects %s", rel)
		}
	}
	for _, rel := range []string{"logs/linux/dpkg.log", "logs/linux/bash_history", "logs/linux/selinux.log", "logs/linux/utmp"} {
		data := corpusBytes(t, rel)
		if p.Match(parsertest.BytesEntry("syslog", nil, time.Time{}), data[:min(len(data), 4096)]) {
			t.Errorf("Match accepts %s, which is not syslog", rel)
		}
	}
}

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(),
		parsertest.Corpus(t, "logs/syslog/syslog"),
		parsertest.Corpus(t, "logs/syslog/syslog_rsyslog_SyslogProtocol23Format"),
		parsertest.Corpus(t, "logs/syslog/syslog_rsyslog"),
		parsertest.Corpus(t, "logs/loghub/OpenSSH_2k.log"),
	)
}

func TestActionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Actions() {
		if seen[a] {
			t.Errorf("action %q twice", a)
		}
		seen[a] = true
	}
	for _, a := range []string{"ssh_login", "ssh_failed_login", "ssh_invalid_user", "ssh_disconnect", "sudo_command", "su",
		"user_created", "user_modified", "user_deleted", "group_created", "password_changed", "session_opened", "session_closed", "cron_command"} {
		if !seen[a] {
			t.Errorf("action %q missing from the table", a)
		}
	}
}

// TestLongLines: a line longer than the read buffer is still one record; a
// line past the 1 MiB limit is a warning at its own offset, and parsing
// goes on after it.
func TestLongLines(t *testing.T) {
	long := "Mar 11 22:55:30 h app[1]: " + strings.Repeat("x", 200<<10)
	huge := "Mar 11 22:55:31 h app[1]: " + strings.Repeat("y", 2<<20)
	tail := "Mar 11 22:55:32 h app[1]: after"
	data := []byte(long + "\n" + huge + "\n" + tail + "\n")
	res := parseBytes(t, "x", data, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC)
	if len(res.Events) != 2 || len(res.Warnings) != 1 {
		t.Fatalf("%d events %d warnings", len(res.Events), len(res.Warnings))
	}
	if len(res.Events[0].Message) != len(long)-len("Mar 11 22:55:30 h ") {
		t.Errorf("long line message cut: %d", len(res.Events[0].Message))
	}
	if w := res.Warnings[0]; w.Offset != int64(len(long)+1) || w.Record != 2 {
		t.Errorf("warning at %d record %d", w.Offset, w.Record)
	}
	if ev := res.Events[1]; ev.Message != "app[1]: after" || ev.Jejak.Provenance.Record != 3 || ev.Jejak.Provenance.Offset != int64(len(long)+len(huge)+2) {
		t.Errorf("after the huge line: %q record %d offset %d", ev.Message, ev.Jejak.Provenance.Record, ev.Jejak.Provenance.Offset)
	}
}
