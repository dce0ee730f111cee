package postgresql

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// Prefix forms the real-server test cannot produce on this machine: a host
// name (log_hostname), an IPv6 client glued by "%t:%r:", a zone PostgreSQL
// prints as an hh:mm offset, and a line forwarded by syslog (not ours).
func TestPrefixForms(t *testing.T) {
	cases := []struct {
		line             string
		ok               bool
		time, ip, client string
		pid              int64
	}{
		{"db1.example.org 2024-02-14 19:05:01.250 WIB [812] alice@pemilu LOG:  statement: SELECT 1",
			true, "2024-02-14T12:05:01.25Z", "", "db1.example.org", 812},
		{"2024-02-14 12:05:01 UTC:::1(51234):alice@pemilu:[812]:LOG:  connection authorized: user=alice database=pemilu",
			true, "2024-02-14T12:05:01Z", "::1", "", 812},
		{"2024-02-14 17:50:01 +05:45 [812] LOG:  checkpoint starting: time",
			true, "2024-02-14T12:05:01Z", "", "", 812},
		{"Feb 14 19:05:01 db1 postgres[812]: [3-1] 2024-02-14 19:05:01 WIB LOG:  statement: SELECT 1", false, "", "", "", 0},
		{"[812] LOG:  no time in this prefix", false, "", "", "", 0},
		// lc_messages = 'de_DE': the severity is translated.
		{"2024-02-14 13:05:01.250 CET [812] alice@pemilu FEHLER:  Relation »tally« existiert nicht",
			true, "2024-02-14T12:05:01.25Z", "", "", 812},
		{"2024-02-14 19:05:01 WIB [812] LOG: one space after the colon", false, "", "", "", 0},
	}
	for _, c := range cases {
		h, ok := parseHead(c.line, true)
		if ok != c.ok {
			t.Errorf("%q: record start %v, want %v", c.line, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		ev, err := stderrEvent(&record{head: h, text: []byte(c.line)}, &parsers.Source{Entry: parsertest.BytesEntry("pg.log", nil, time.Time{}), Zone: time.UTC,
			Warn: func(w *parsers.RecordError) { t.Error(w) }})
		if err != nil {
			t.Fatalf("%q: %v", c.line, err)
		}
		if got := ev.Timestamp.Format(time.RFC3339Nano); got != c.time || ev.Jejak.Time != nil {
			t.Errorf("%q: time %s (assumed %+v), want %s", c.line, got, ev.Jejak.Time, c.time)
		}
		if sourceIP(ev) != c.ip || ev.Jejak.Data["client.host"] != c.client || ev.Process == nil || ev.Process.PID != c.pid {
			t.Errorf("%q: ip %q host %q process %+v", c.line, sourceIP(ev), ev.Jejak.Data["client.host"], ev.Process)
		}
	}
}

// Match judges lines sampled from anywhere in a file by their share:
// comment lines at the top and a garbage line do not decide, lines taken
// from the middle (continuation lines first) do not either.
func TestMatchShareOfLines(t *testing.T) {
	raw, err := os.ReadFile(parsertest.Corpus(t, "logs/db/postgresql.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	p := New()
	e := parsertest.BytesEntry("pg.log", nil, time.Time{})
	for name, head := range map[string]string{
		"comments first":    "# copied from db1 on 2024-02-15\n# by the audit team\n" + string(raw),
		"middle of file":    strings.Join(lines[9:], "\n"),
		"one garbage line":  "garbage\n" + strings.Join(lines[:3], "\n"),
		"continuation only": "\tWHERE tps = 4\n" + lines[0],
	} {
		if !p.Match(e, []byte(head)) {
			t.Errorf("%s: refused", name)
		}
	}
	for name, head := range map[string]string{
		"mostly other text": "a\nb\nc\n" + lines[0],
		"syslog-wrapped":    "Feb 14 19:05:01 db1 postgres[812]: [3-1] 2024-02-14 19:05:01 WIB LOG:  statement: SELECT 1\n",
	} {
		if p.Match(e, []byte(head)) {
			t.Errorf("%s: accepted", name)
		}
	}
	// The comment lines are reported, the records all read.
	res := parsertest.Parse(context.Background(), p, parsertest.BytesEntry("pg.log",
		append([]byte("# copied from db1\n"), raw...), time.Time{}), time.UTC)
	if len(res.Events) != 20 || len(res.Warnings) != 1 || res.Warnings[0].Record != 1 {
		t.Errorf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
}
