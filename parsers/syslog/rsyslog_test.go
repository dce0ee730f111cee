package syslog

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// sent is one message the rsyslog test feeds in, with what the parser must
// make of it. The expectations come from the input (what logger or the
// test was told to send), not from the parser's output.
type sent struct {
	raw     bool   // sent as a whole RFC 3164 line to the parseHostname socket, else by logger
	tag     string // logger -t, or the tag written in a raw line ("" for none)
	pid     string // logger --id, or the pid written in a raw line
	host    string // the host rsyslog must write (raw lines name their own)
	text    string // the message text
	proc    string // expected process.name ("" for no process)
	action  string // expected event.action
	user    string // expected user.name
	ip      string // expected source.ip
	outcome string // expected event.outcome
}

const rsyslogHost = "web01.example.org"

var rsyslogInput = []sent{
	{tag: "sshd", pid: "4242", text: "Failed password for root from 203.0.113.5 port 4242 ssh2",
		proc: "sshd", action: "ssh_failed_login", user: "root", ip: "203.0.113.5", outcome: "failure"},
	{tag: "postfix/smtpd", pid: "123", text: "connect from unknown[198.51.100.7]", proc: "smtpd"},
	{tag: "CRON", pid: "5", text: "(root) CMD (run-parts /etc/cron.hourly)", proc: "CRON", action: "cron_command", user: "root", outcome: "success"},
	{tag: "systemd", pid: "1", text: "Started session-4.scope - Session 4 of User kpu.", proc: "systemd"},
	{tag: "kernel", text: "[   12.345678] usb 1-1: new high-speed USB device number 2 using xhci_hcd", proc: "kernel"},
	{tag: "mysqld", pid: "1234", text: "2024-02-14T19:05:01.123456Z 12 [Warning] [MY-010055] [Server] Access denied for user 'root'@'203.0.113.5' (using password: YES)",
		proc: "mysqld", action: "db_auth_failed", user: "root", ip: "203.0.113.5", outcome: "failure"},
	{tag: "mariadbd", pid: "77", text: "2024-02-14 19:05:02 31 [Warning] Access denied for user 'admin'@'198.51.100.23' (using password: YES)",
		proc: "mariadbd", action: "db_auth_failed", user: "admin", ip: "198.51.100.23", outcome: "failure"},
	{tag: "mysqld", pid: "1234", text: "2024-02-14T19:05:03.000001Z 13 [Note] [MY-010914] [Server] Aborted connection 13 to db: 'pemilu' user: 'tally' host: '192.0.2.44' (Got an error reading communication packets).",
		proc: "mysqld", action: "db_aborted_connection", user: "tally", ip: "192.0.2.44", outcome: "failure"},
	{tag: "mysqld", pid: "1234", text: "2024-02-14T19:05:03.500000Z 14 [Note] [MY-010914] [Server] Aborted connection 14 to db: 'unconnected' user: 'unauthenticated' host: '192.0.2.45' (Got timeout reading communication packets).",
		proc: "mysqld", action: "db_aborted_connection", ip: "192.0.2.45", outcome: "failure"},
	{tag: "postgres", pid: "900", text: `[3-1] 2024-02-14 19:05:04 UTC [900] FATAL:  password authentication failed for user "kpu"`,
		proc: "postgres", action: "db_auth_failed", user: "kpu", outcome: "failure"},
	{tag: "postgres", pid: "901", text: "[1-1] 2024-02-14 19:05:05 UTC [901] LOG:  connection received: host=203.0.113.77 port=51234",
		proc: "postgres", action: "db_connection_received", ip: "203.0.113.77"},
	{tag: "postgres", pid: "902", text: `[2-1] 2024-02-14 19:05:06 UTC [902] FATAL:  no pg_hba.conf entry for host "198.51.100.8", user "admin", database "pemilu", no encryption`,
		proc: "postgres", action: "db_auth_failed", user: "admin", ip: "198.51.100.8", outcome: "failure"},
	// Hosts that are addresses or FQDNs, tags with dots, a tag-less mark.
	{raw: true, host: "203.0.113.9", tag: "sshd", pid: "12", text: "Accepted password for bob from 10.0.0.1 port 22 ssh2",
		proc: "sshd", action: "ssh_login", user: "bob", ip: "10.0.0.1", outcome: "success"},
	{raw: true, host: "db1.example.org", tag: "systemd", pid: "1", text: "Started foo.service.", proc: "systemd"},
	{raw: true, host: "db1", tag: "org.gnome.Shell.desktop", pid: "1830", text: "hello", proc: "org.gnome.Shell.desktop"},
	{raw: true, host: "db1", text: markText},
	// No tag: rsyslog itself takes the first word for one (its protocol-23
	// output writes APP-NAME "no"), and so does the parser.
	{raw: true, host: "db1", text: "no tag at all here", proc: "no"},
}

// TestRsyslog runs the real rsyslogd with an imuxsock socket and three
// omfile outputs (RSYSLOG_TraditionalFileFormat, RSYSLOG_FileFormat and
// RSYSLOG_SyslogProtocol23Format; RSYSLOG_ForwardFormat writes no line
// ends, it is for the network), feeds it known messages with util-linux
// logger and as raw datagrams, and checks the three files against the
// input: every line one event, no warning; hosts, tags, pids and the
// normalised user/address/action of each message as sent; the same facts
// from all formats; rsyslogd's own start, MARK, repeat and exit
// lines; and each file's time against the other's rendering of the same
// receive time.
func TestRsyslog(t *testing.T) {
	rsyslogd, err := exec.LookPath("rsyslogd")
	if err != nil {
		rsyslogd = "/usr/sbin/rsyslogd" // not on a non-root PATH
		if _, err := os.Stat(rsyslogd); err != nil {
			t.Skip("rsyslogd not installed: apt-get install -y rsyslog")
		}
	}
	logger := oracle.Tool(t, "logger", "bsdutils")
	dir := t.TempDir()
	sock, raw := filepath.Join(dir, "log.sock"), filepath.Join(dir, "raw.sock")
	out := func(name string) string { return filepath.Join(dir, name+".log") }
	conf := fmt.Sprintf(`global(processInternalMessages="on" workDirectory=%q localHostname=%q)
module(load="imuxsock" SysSock.Use="off")
module(load="immark" interval="1" use.syslogcall="off")
$RepeatedMsgReduction on
input(type="imuxsock" Socket=%q)
input(type="imuxsock" Socket=%q useSpecialParser="off" parseHostname="on")
*.* action(type="omfile" file=%q template="RSYSLOG_TraditionalFileFormat")
*.* action(type="omfile" file=%q template="RSYSLOG_FileFormat")
*.* action(type="omfile" file=%q template="RSYSLOG_SyslogProtocol23Format")
`, dir, rsyslogHost, sock, raw, out("trad"), out("file"), out("proto"))
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	var stderr bytes.Buffer
	cmd := exec.Command(rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	defer stop()
	waitFor(t, func() bool { return exists(sock) && exists(raw) }, "rsyslogd sockets; rsyslogd said: "+stderr.String())

	conn, err := net.Dial("unixgram", raw)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, m := range rsyslogInput {
		if m.raw {
			// imuxsock replaces the time by the receive time; the host and
			// tag are rsyslog's to parse from the line.
			line := "<38>" + time.Now().Format(time.Stamp) + " " + m.host + " "
			if m.tag != "" {
				line += m.tag + "[" + m.pid + "]: "
			}
			if _, err := conn.Write([]byte(line + m.text)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		args := []string{"-u", sock, "-t", m.tag}
		if m.pid != "" {
			args = append(args, "--id="+m.pid)
		}
		if b, err := exec.Command(logger, append(args, "--", m.text)...).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v: %s", err, b)
		}
	}
	// Three identical lines: rsyslog writes the first, then "message
	// repeated 2 times: [ ...]" once another line arrives.
	for _, text := range []string{"same line", "same line", "same line", "other line"} {
		if b, err := exec.Command(logger, "-u", sock, "-t", "app", "--id=7", "--", text).CombinedOutput(); err != nil {
			t.Fatalf("logger: %v: %s", err, b)
		}
	}
	// immark writes "-- MARK --" after a quiet second.
	waitFor(t, func() bool {
		b, _ := os.ReadFile(out("trad"))
		return bytes.Contains(b, []byte("rsyslogd: -- MARK --"))
	}, "immark's -- MARK -- line")
	stop()
	t1 := time.Now()

	parse := func(name string) (parsertest.Result, []byte) {
		data, err := os.ReadFile(out(name))
		if err != nil {
			t.Fatal(err)
		}
		res := parsertest.ParseFile(t, New(), out(name), time.Local)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		if !New().Match(parsertest.BytesEntry("evidence.bin", nil, time.Time{}), data[:min(len(data), 4096)]) {
			t.Errorf("%s: Match rejects what rsyslogd wrote", name)
		}
		nonEmpty := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				nonEmpty++
			}
		}
		// rsyslog escapes control characters (#011, #012), so every line
		// it writes is one record.
		if len(res.Events) != nonEmpty || len(res.Warnings) != 0 {
			t.Errorf("%s: %d events, %d warnings from %d lines (%v)", name, len(res.Events), len(res.Warnings), nonEmpty, res.Warnings)
		}
		for _, ev := range res.Events {
			// Traditional format has whole seconds and no year or zone.
			if ev.Timestamp.Before(t0.Add(-time.Second).UTC()) || ev.Timestamp.After(t1.Add(time.Second).UTC()) {
				t.Errorf("%s: %q at %s, rsyslogd ran %s..%s", name, ev.Message, ev.Timestamp, t0.UTC(), t1.UTC())
			}
		}
		return res, data
	}
	trad, tradData := parse("trad")
	file, _ := parse("file")
	proto, _ := parse("proto")
	t.Logf("rsyslogd wrote %d lines:\n%s", len(trad.Events), tradData)
	if len(trad.Events) != len(file.Events) || len(trad.Events) != len(proto.Events) {
		t.Fatalf("events: traditional %d, file format %d, protocol 23 %d", len(trad.Events), len(file.Events), len(proto.Events))
	}
	for i := range trad.Events {
		a, b, c := trad.Events[i], file.Events[i], proto.Events[i]
		// One receive time, written at two precisions.
		if !a.Timestamp.Equal(b.Timestamp.Truncate(time.Second)) {
			t.Errorf("line %d: traditional %s, file format %s", i+1, a.Timestamp, b.Timestamp)
		}
		if hostName(a) != hostName(b) || hostName(a) != hostName(c) {
			t.Errorf("line %d: hosts %q %q %q", i+1, hostName(a), hostName(b), hostName(c))
		}
		if a.Message != b.Message {
			t.Errorf("line %d: messages differ:\n%q\n%q", i+1, a.Message, b.Message)
		}
		if fa, fc := facts(a), facts(c); fa != fc {
			t.Errorf("line %d: traditional %v, protocol 23 %v", i+1, fa, fc)
		}
		// rsyslog's own reading of the tag is the APP-NAME it writes in
		// protocol 23, except that it ends APP-NAME at a '/' and that a
		// tag-less mark has none.
		if ta, tc := appname(a), appname(c); ta != tc && !strings.Contains(ta, "/") && a.Message != markText {
			t.Errorf("line %d: tag %q, rsyslog's APP-NAME %q", i+1, ta, tc)
		}
	}

	for _, m := range rsyslogInput {
		host := m.host
		if host == "" {
			host = rsyslogHost
		}
		for name, res := range map[string]parsertest.Result{"trad": trad, "file": file} {
			ev := findText(res.Events, m.text)
			if ev == nil {
				t.Errorf("%s: no event for %q", name, m.text)
				continue
			}
			want := fmt.Sprintf("host=%s proc=%s pid=%s %s", host, m.proc, m.pid, fact{m.action, m.user, m.ip, m.outcome})
			got := fmt.Sprintf("host=%s proc=%s pid=%s %s", hostName(ev), procName(ev), procPID(ev), facts(ev))
			if got != want {
				t.Errorf("%s: %q\n got %s\nwant %s", name, ev.Message, got, want)
			}
		}
	}
	ev := findText(trad.Events, "message repeated 2 times: [ same line]")
	if ev == nil || ev.Jejak.Data["repeat_count"] != "2" || procName(ev) != "app" {
		t.Errorf("repeat line: %+v", ev)
	}
	var starts, exits, marks int
	for _, ev := range trad.Events {
		switch {
		case procName(ev) != "rsyslogd":
		case strings.Contains(ev.Message, `[origin software="rsyslogd"`) && strings.HasSuffix(ev.Message, "] start"):
			starts++
		case strings.Contains(ev.Message, `[origin software="rsyslogd"`) && strings.Contains(ev.Message, "] exiting on signal 15"):
			exits++
		case ev.Message == "rsyslogd: -- MARK --":
			marks++
		}
	}
	if starts != 1 || exits != 1 || marks == 0 {
		t.Errorf("rsyslogd's own lines: %d start, %d exit, %d MARK", starts, exits, marks)
	}
}

// fact is what the normalisers made of one line.
type fact struct{ action, user, ip, outcome string }

func facts(ev *timeline.Event) fact {
	return fact{ev.Event.Action, userOf(ev), addrOf(ev), ev.Event.Outcome}
}

func appname(ev *timeline.Event) string {
	if ev.Log == nil || ev.Log.Syslog == nil {
		return ""
	}
	return ev.Log.Syslog.Appname
}

func hostName(ev *timeline.Event) string {
	if ev.Host == nil {
		return ""
	}
	return ev.Host.Name
}

func procName(ev *timeline.Event) string {
	if ev.Process == nil {
		return ""
	}
	return ev.Process.Name
}

func procPID(ev *timeline.Event) string {
	if ev.Process == nil || ev.Process.PID == 0 {
		return ""
	}
	return fmt.Sprint(ev.Process.PID)
}

// findText returns the first event whose message ends with text.
func findText(evs []*timeline.Event, text string) *timeline.Event {
	for _, ev := range evs {
		if strings.HasSuffix(ev.Message, text) {
			return ev
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// waitFor polls cond for up to five seconds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
