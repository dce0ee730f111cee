package mysql

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// timedLineOffsets is the record rule Filebeat's mysql module uses
// (multiline: a line that starts with a time starts an event, any other
// line continues it), written here independently of the parser: the byte
// offset of every line starting with YYMMDD or YYYY-MM-DD and a clock.
func timedLineOffsets(t *testing.T, path string) []int64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := regexp.MustCompile(`^(?:\d{6}|\d{4}-\d\d-\d\d)[ T][ \d]?\d:\d\d:\d\d`)
	var offs []int64
	off := int64(0)
	for _, l := range bytes.SplitAfter(raw, []byte("\n")) {
		if start.Match(l) {
			offs = append(offs, off)
		}
		off += int64(len(l))
	}
	return offs
}

// Error logs of MySQL 5.5 (no thread id, InnoDB lines without a level,
// lines without a time), 5.7 (mysqld_safe's YYMMDD line before ISO times),
// 8.0 ([MY-...] [Server]) and MariaDB 10.4 (a general-log line on top),
// from Filebeat's test suite. Every timed line is an event at its offset;
// every other line is in the event before it; nothing is a warning.
func TestBeatsErrorLogs(t *testing.T) {
	for _, name := range []string{"beats_mysql-ubuntu-5.5.53.log", "beats_error.log",
		"beats_mysql-ubuntu-8.0.15.log", "beats_mariadb-10.4.8.log"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			raw, _ := os.ReadFile(path)
			if !New().Match(parsertest.FileEntry(t, path), raw[:min(len(raw), 4096)]) {
				t.Fatal("Match refuses it")
			}
			res := parsertest.ParseFile(t, New(), path, time.UTC)
			if res.Err != nil || len(res.Warnings) != 0 {
				t.Fatalf("%v, warnings %v", res.Err, res.Warnings)
			}
			want := timedLineOffsets(t, path)
			// Detection past the head judges single lines: each timed line
			// is a record, the others ("Version: ...", InnoDB's untimed
			// lines) are not.
			timed := map[int64]bool{}
			for _, o := range want {
				timed[o] = true
			}
			off := int64(0)
			for _, l := range bytes.SplitAfter(raw, []byte("\n")) {
				if got := New().MatchLine(nil, bytes.TrimSuffix(l, []byte("\n"))); got != timed[off] {
					t.Errorf("MatchLine(%q) = %v", l, got)
				}
				off += int64(len(l))
			}
			if len(res.Events) != len(want) {
				t.Fatalf("%d events, %d timed lines", len(res.Events), len(want))
			}
			var text strings.Builder
			for i, ev := range res.Events {
				if ev.Jejak.Provenance.Offset != want[i] {
					t.Errorf("event %d at offset %d, timed line at %d", i, ev.Jejak.Provenance.Offset, want[i])
				}
				if ev.Timestamp.Year() < 2016 {
					t.Errorf("event %d: time %s", i, ev.Timestamp)
				}
				text.WriteString(ev.Message)
				text.WriteString("\n")
			}
			// Every non-blank line of the file is in some event's message.
			sc := bufio.NewScanner(bytes.NewReader(raw))
			for sc.Scan() {
				// (General-log lines, with tabs, are reworded: checked above.)
				if l := strings.TrimSpace(sc.Text()); l != "" && !strings.Contains(l, "\t") && !strings.Contains(text.String(), l) {
					t.Errorf("line %q is in no event", l)
				}
			}
		})
	}
	// Filebeat's mysql-ubuntu-5.5.53.log-expected.json: its first 28 events
	// start at these offsets.
	res := parsertest.ParseFile(t, New(), "testdata/beats_mysql-ubuntu-5.5.53.log", time.UTC)
	for i, off := range []int64{0, 191, 246, 305, 374, 433, 497, 662, 782, 973, 1397, 1466, 1528, 1574,
		1647, 1838, 1893, 1952, 2021, 2080, 2144, 2208, 2276, 2345, 2653, 2687, 2733, 2806} {
		if i >= len(res.Events) || res.Events[i].Jejak.Provenance.Offset != off {
			t.Fatalf("event %d not at Filebeat's offset %d", i, off)
		}
	}
	ev := res.Events[6]
	if !strings.Contains(ev.Message, "InnoDB: a new database to be created!") || ev.Jejak.Data["error_message"] == "" {
		t.Errorf("continuation lines of event 6: %q", ev.Message)
	}
}

// Match judges the share of lines: comment lines on top and lines sampled
// from the middle are accepted; dpkg.log, whose lines also start with a
// time, is not.
func TestMatchShareOfLines(t *testing.T) {
	raw, _ := os.ReadFile("testdata/beats_mysql-ubuntu-5.5.53.log")
	lines := strings.Split(string(raw), "\n")
	e := parsertest.BytesEntry("error.log", nil, time.Time{})
	for name, head := range map[string]string{
		"comments first": "# error log of db1, copied 2024-02-15\n# sha256 in custody log\n" + string(raw[:3000]),
		"middle of file": strings.Join(lines[7:40], "\n"),
	} {
		if !New().Match(e, []byte(head)) {
			t.Errorf("%s: refused", name)
		}
	}
	dpkg := "2024-02-14 10:00:00 startup archives unpack\n2024-02-14 10:00:01 install openssh-server:amd64 <none> 1:9.2p1-2\n"
	if New().Match(e, []byte(dpkg)) {
		t.Error("dpkg.log accepted")
	}
	for _, l := range strings.Split(strings.TrimSpace(dpkg), "\n") {
		if New().MatchLine(e, []byte(l)) {
			t.Errorf("MatchLine(%q) accepts a dpkg.log line", l)
		}
	}
	// The comments are reported; the records after them all read.
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("error.log",
		append([]byte("# copied from db1\n"), raw...), time.Time{}), time.UTC)
	if len(res.Warnings) != 1 || res.Warnings[0].Record != 1 || len(res.Events) != len(timedLineOffsets(t, "testdata/beats_mysql-ubuntu-5.5.53.log")) {
		t.Errorf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
}

// mariadbTool finds a MariaDB program under its new or its old name.
func mariadbTool(t *testing.T, names ...string) string {
	for _, n := range names {
		for _, dir := range []string{"", "/usr/sbin/", "/usr/bin/"} {
			if p, err := exec.LookPath(dir + n); err == nil {
				return p
			}
		}
	}
	t.Skipf("%s not installed: apt-get install -y mariadb-server", names[0])
	return ""
}

// TestRealMariaDBErrorLog runs MariaDB (Debian mariadb-server) in a
// throw-away datadir with its clock in WIB, logs on once, fails twice
// with wrong credentials and shuts it down. The error log must give one
// event per timed line, the two failures with the user and address the
// client was refused with, a start and a stop, all inside the run's wall
// clock when read in the server's zone; the general log written at the
// same time must name the same connection ids.
func TestRealMariaDBErrorLog(t *testing.T) {
	if testing.Short() {
		t.Skip("starts MariaDB")
	}
	server := mariadbTool(t, "mariadbd", "mysqld")
	install := mariadbTool(t, "mariadb-install-db", "mysql_install_db")
	client := mariadbTool(t, "mariadb", "mysql")
	admin := mariadbTool(t, "mariadb-admin", "mysqladmin")
	runAs, uid, gid := "", -1, -1
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("running as root without runuser (util-linux)")
		}
		for _, name := range []string{"mysql", "nobody"} {
			if u, err := user.Lookup(name); err == nil {
				runAs = name
				uid, _ = strconv.Atoi(u.Uid)
				gid, _ = strconv.Atoi(u.Gid)
				break
			}
		}
		if runAs == "" {
			t.Skip("running as root with no mysql or nobody user to run MariaDB as")
		}
	}
	// Not t.TempDir: the server user must reach it.
	dir, err := os.MkdirTemp("", "jejak-mariadb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	asServer := func(argv ...string) *exec.Cmd {
		if runAs != "" {
			argv = append([]string{"runuser", "-u", runAs, "--"}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = append(os.Environ(), "TZ=Asia/Jakarta", "LC_ALL=C")
		return cmd
	}
	if out, err := asServer(install, "--no-defaults", "--datadir="+filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", install, err, out)
	}
	sock, errLog, genLog := filepath.Join(dir, "sock"), filepath.Join(dir, "error.log"), filepath.Join(dir, "general.log")
	port := strconv.Itoa(freePort(t))
	from := time.Now().Add(-time.Second)
	srv := asServer(server, "--no-defaults", "--datadir="+filepath.Join(dir, "data"), "--socket="+sock,
		"--port="+port, "--bind-address=127.0.0.1", "--log-error="+errLog, "--pid-file="+filepath.Join(dir, "pid"),
		"--skip-name-resolve", "--innodb-buffer-pool-size=8M", "--general-log=1", "--general-log-file="+genLog)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	t.Cleanup(func() {
		if srv.ProcessState == nil {
			srv.Process.Kill()
			<-done
		}
	})
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if i == 300 {
			log, _ := os.ReadFile(errLog)
			t.Fatalf("MariaDB did not start:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sql := func(wantErr bool, args ...string) string {
		cmd := exec.Command(client, append([]string{"--no-defaults", "-N", "-B"}, args...)...)
		out, err := cmd.CombinedOutput()
		if (err != nil) != wantErr {
			t.Fatalf("%s %v: %v (want error %v)\n%s", client, args, err, wantErr, out)
		}
		return strings.TrimSpace(string(out))
	}
	sql(false, "-S", sock, "-u", "root", "-e",
		"CREATE USER alice@'127.0.0.1' IDENTIFIED BY 'tally-2024'; CREATE DATABASE pemilu; GRANT ALL ON pemilu.* TO alice@'127.0.0.1'")
	tcp := []string{"-h", "127.0.0.1", "-P", port}
	id := sql(false, append(tcp, "-u", "alice", "-ptally-2024", "pemilu", "-e",
		"CREATE TABLE tally (tps INT, votes INT); INSERT INTO tally VALUES (4, 9); SELECT CONNECTION_ID()")...)
	refused := []string{
		sql(true, append(tcp, "-u", "alice", "-pguess", "pemilu", "-e", "SELECT 1")...),
		sql(true, append(tcp, "-u", "mallory", "-pguess", "-e", "SELECT 1")...),
	}
	if out, err := exec.Command(admin, "--no-defaults", "-S", sock, "-u", "root", "shutdown").CombinedOutput(); err != nil {
		t.Fatalf("shutdown: %v\n%s", err, out)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("MariaDB did not stop")
	}
	to := time.Now().Add(time.Second)

	wib, err := time.LoadLocation("Asia/Jakarta")
	if err != nil {
		t.Skip(err)
	}
	res := parsertest.ParseFile(t, New(), errLog, wib)
	if res.Err != nil || len(res.Warnings) != 0 {
		t.Fatalf("%v, warnings %v", res.Err, res.Warnings)
	}
	if want := timedLineOffsets(t, errLog); len(res.Events) != len(want) {
		t.Fatalf("%d events, %d timed lines", len(res.Events), len(want))
	}
	var failed []*timeline.Event
	actions := map[string]int{}
	for _, ev := range res.Events {
		actions[ev.Event.Action]++
		if ev.Timestamp.Before(from.Truncate(time.Second)) || ev.Timestamp.After(to) {
			t.Errorf("%s at %s, outside the run %s..%s", ev.Event.Action, ev.Timestamp, from, to)
		}
		if ev.Event.Action == "db_auth_failed" {
			failed = append(failed, ev)
		}
	}
	if actions["db_server_start"] != 1 || actions["db_server_stop"] != 1 || len(failed) != 2 {
		t.Fatalf("actions %v", actions)
	}
	// The client's own refusal: "ERROR 1045 (28000): Access denied for user
	// 'alice'@'127.0.0.1' (using password: YES)".
	gen := parsertest.ParseFile(t, New(), genLog, wib)
	if gen.Err != nil || len(gen.Warnings) != 0 {
		t.Fatalf("general log: %v %v", gen.Err, gen.Warnings)
	}
	for i, ev := range failed {
		m := denied.FindStringSubmatch(refused[i])
		if m == nil || ev.User == nil || ev.User.Name != m[1] || ev.Source == nil || ev.Source.IP != m[2] {
			t.Errorf("failure %d: %+v %+v, client said %q", i, ev.User, ev.Source, refused[i])
		}
		// The general log has the same refusal under the same connection id.
		// MariaDB also wrote "Connect user@host on db" for it before the
		// password check: that line must not read as a logon.
		found := false
		for _, g := range gen.Events {
			same := g.Jejak.Data["connection_id"] == ev.Jejak.Data["thread_id"]
			found = found || same && g.Event.Action == "db_auth_failed" && g.User.Name == ev.User.Name
			if same && g.Event.Action == "db_connect" {
				t.Errorf("refused connection %s reads as a logon: %q", ev.Jejak.Data["thread_id"], g.Message)
			}
		}
		if !found {
			t.Errorf("failure %d: thread %s not refused in the general log", i, ev.Jejak.Data["thread_id"])
		}
	}
	// The banner MariaDB wrote when it opened the general log goes with
	// the first record.
	if b := gen.Events[0].Jejak.Data["log_banner"]; !strings.Contains(b, "mariadbd, Version: ") || strings.Count(b, "\n") != 2 {
		t.Errorf("banner of the general log: %q", b)
	}
	var connect *timeline.Event
	for _, g := range gen.Events {
		if g.Event.Action == "db_connect" && g.Jejak.Data["connection_id"] == id {
			connect = g
		}
	}
	if connect == nil || connect.User.Name != "alice" || connect.Source == nil || connect.Source.IP != "127.0.0.1" {
		t.Errorf("general log: no logon by alice from 127.0.0.1 as connection %s: %+v", id, connect)
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Lines that start with a time but carry no [Level] are records of their
// own: before, a MySQL 5.6 InnoDB line (hex thread id) was folded into
// the record above it without a warning, and mysqld_safe's ISO-time line
// of 5.7+ too.
func TestTimedLinesWithoutLevel(t *testing.T) {
	log := "2019-01-01T12:00:00.123456Z mysqld_safe Logging to '/var/log/mysql/error.log'.\n" +
		"2019-01-01T12:00:00.223456Z 0 [Note] mysqld (mysqld 5.7.10) starting as process 1 ...\n" +
		"2014-03-22 19:46:29 7f2f5b5b6740 InnoDB: Warning: Using innodb_additional_mem_pool_size is DEPRECATED.\n" +
		"2014-03-22 19:46:30 1234 [Note] Plugin 'FEDERATED' is disabled.\n" +
		"2024-01-01  2:00:00 0 [Note] InnoDB: Buffer pool(s) load completed at 240101  2:00:00\n"
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("error.log", []byte(log), time.Time{}), time.UTC)
	if len(res.Warnings) != 0 || len(res.Events) != 5 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	want := []struct{ time, thread, msg string }{
		{"2019-01-01T12:00:00.123456Z", "", "mysqld_safe Logging to"},
		{"2019-01-01T12:00:00.223456Z", "0", "mysqld (mysqld 5.7.10)"},
		{"2014-03-22T19:46:29Z", "7f2f5b5b6740", "InnoDB: Warning:"},
		{"2014-03-22T19:46:30Z", "1234", "Plugin 'FEDERATED'"},
		{"2024-01-01T02:00:00Z", "0", "InnoDB: Buffer pool(s)"},
	}
	for i, w := range want {
		ev := res.Events[i]
		if ev.Timestamp.Format(time.RFC3339Nano) != w.time || ev.Jejak.Data["thread_id"] != w.thread ||
			!strings.HasPrefix(ev.Jejak.Data["error_message"], w.msg) {
			t.Errorf("event %d: %s thread %q %q", i, ev.Timestamp, ev.Jejak.Data["thread_id"], ev.Jejak.Data["error_message"])
		}
	}
}

// MariaDB's general log names a client on connect and refuses it on a
// second Connect line of the same connection, possibly after lines of
// other connections: the first line is an attempt, not a logon; events
// still come in file order.
func TestRefusedConnectIsNoLogon(t *testing.T) {
	log := "261206  4:05:29\t     5 Connect\talice@127.0.0.1 on pemilu using TCP/IP\n" +
		"\t\t     6 Query\tSELECT 1\n" +
		"\t\t     5 Connect\tAccess denied for user 'alice'@'127.0.0.1' (using password: YES)\n" +
		"\t\t     7 Connect\tbob@10.0.0.1 on pemilu using TCP/IP\n" +
		"\t\t     7 Query\tUPDATE tally SET votes = 9\n" +
		"\t\t     8 Connect\tcarol@10.0.0.2 on pemilu using TCP/IP\n"
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("general.log", []byte(log), time.Time{}), time.UTC)
	if len(res.Warnings) != 0 || len(res.Events) != 6 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
	want := []string{"db_connect_attempt", "db_statement", "db_auth_failed", "db_connect", "db_statement", "db_connect"}
	for i, ev := range res.Events {
		if ev.Event.Action != want[i] || ev.Jejak.Provenance.Record != int64(i+1) {
			t.Errorf("event %d: %s at record %d, want %s", i, ev.Event.Action, ev.Jejak.Provenance.Record, want[i])
		}
	}
	if ev := res.Events[0]; ev.Event.Outcome != "unknown" || ev.User.Name != "alice" {
		t.Errorf("attempt: %+v %+v", ev.Event, ev.User)
	}
}

// A banner with no record after it (the server stopped before any client
// came) is reported, not dropped.
func TestBannerWithoutRecord(t *testing.T) {
	log := "/usr/sbin/mysqld, Version: 8.0.36 (MySQL Community Server - GPL). started with:\n" +
		"Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n" +
		"Time                 Id Command    Argument\n"
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("general.log", []byte(log), time.Time{}), time.UTC)
	if len(res.Events) != 0 || len(res.Warnings) != 1 || res.Warnings[0].Record != 1 {
		t.Fatalf("%d events, warnings %v", len(res.Events), res.Warnings)
	}
}
