package syslog

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The oracle regexps read the servers' own log files; they share nothing
// with the normalisers.
var (
	oracleMyDenied  = regexp.MustCompile(`Access denied for user '([^']*)'@'([^']*)'`)
	oracleMyAborted = regexp.MustCompile(`Aborted connection \d+ to db: '[^']*' user: '([^']*)' host: '([^']*)'`)
	oraclePgFailed  = regexp.MustCompile(`FATAL:  password authentication failed for user "([^"]*)"`)
	oraclePgHba     = regexp.MustCompile(`FATAL:  no pg_hba.conf entry for host "([^"]*)", user "([^"]*)"`)
	oraclePgRecv    = regexp.MustCompile(`LOG:  connection received: host=(\S+)`)
	oraclePgAuthz   = regexp.MustCompile(`LOG:  connection authorized: user=(\S+)`)
	oraclePgDisc    = regexp.MustCompile(`LOG:  disconnection: session time: \S+ user=(\S+) database=\S+ host=(\S+)`)
)

// TestDatabaseLinesInSyslog reads what real MariaDB and PostgreSQL servers
// logged, as rsyslogd wrote it to a syslog file (testdata/db/generate.sh
// made all three files): every line is one event, and the logon facts the
// normalisers find in the syslog file are exactly those an independent
// reading of the servers' own logs finds.
func TestDatabaseLinesInSyslog(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/db/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	local := func(h string) string {
		if h == "[local]" || h == "localhost" {
			return ""
		}
		return h
	}
	var want []string
	add := func(action, user, ip, outcome string) {
		want = append(want, fact{action, user, ip, outcome}.String())
	}
	for _, l := range strings.Split(string(read("mariadb-error.log")), "\n") {
		if m := oracleMyDenied.FindStringSubmatch(l); m != nil {
			add("db_auth_failed", m[1], local(m[2]), "failure")
		}
		if m := oracleMyAborted.FindStringSubmatch(l); m != nil {
			add("db_aborted_connection", m[1], local(m[2]), "failure")
		}
	}
	for _, l := range strings.Split(string(read("postgresql-stderr.log")), "\n") {
		if m := oraclePgFailed.FindStringSubmatch(l); m != nil {
			add("db_auth_failed", m[1], "", "failure")
		}
		if m := oraclePgHba.FindStringSubmatch(l); m != nil {
			add("db_auth_failed", m[2], local(m[1]), "failure")
		}
		if m := oraclePgRecv.FindStringSubmatch(l); m != nil {
			add("db_connection_received", "", local(m[1]), "")
		}
		if m := oraclePgAuthz.FindStringSubmatch(l); m != nil {
			add("db_connect", m[1], "", "success")
		}
		if m := oraclePgDisc.FindStringSubmatch(l); m != nil {
			add("db_disconnect", m[1], local(m[2]), "")
		}
	}
	if len(want) < 10 {
		t.Fatalf("only %d facts in the servers' logs: regenerate testdata/db", len(want))
	}

	data := read("db_syslog.log")
	res := parseBytes(t, "syslog", data, time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC)
	if n := bytes.Count(data, []byte("\n")); len(res.Events) != n || len(res.Warnings) != 0 {
		t.Errorf("%d events, %d warnings from %d lines", len(res.Events), len(res.Warnings), n)
	}
	var got []string
	for _, ev := range res.Events {
		if !strings.HasPrefix(ev.Event.Action, "db_") {
			continue
		}
		got = append(got, facts(ev).String())
		switch procName(ev) {
		case "mysqld", "mariadbd", "postgres":
		default:
			t.Errorf("%s from program %q", ev.Event.Action, procName(ev))
		}
		if ev.Event.Category == nil || ev.Event.Type == nil {
			t.Errorf("%q: no category or type", ev.Message)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("facts from syslog:\n%s\nfrom the servers' logs:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func (f fact) String() string { return f.action + "/" + f.user + "/" + f.ip + "/" + f.outcome }
