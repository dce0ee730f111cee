package postgresql

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/dblog"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// pgServer is a throw-away PostgreSQL cluster run by the real server
// binaries (Debian package postgresql), as an unprivileged user when the
// test runs as root: initdb and postgres refuse root.
type pgServer struct {
	t        *testing.T
	bin, dir string
	runAs    string // "" when the test is not root
	port     int
}

// pgBinDir finds the server binaries: Debian keeps them out of PATH, in
// /usr/lib/postgresql/VERSION/bin.
func pgBinDir(t *testing.T) string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Sort(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "pg_ctl")); err == nil {
			return dirs[i]
		}
	}
	t.Skip("PostgreSQL server not installed: apt-get install -y postgresql")
	return ""
}

func newPGServer(t *testing.T) *pgServer {
	s := &pgServer{t: t, bin: pgBinDir(t)}
	if _, err := os.Stat(filepath.Join(s.bin, "psql")); err != nil {
		t.Skip("psql not installed: apt-get install -y postgresql-client")
	}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			t.Skip("running as root without runuser (util-linux) to start PostgreSQL as another user")
		}
		for _, name := range []string{"postgres", "nobody"} {
			if u, err := user.Lookup(name); err == nil {
				s.runAs = name
				uid, _ = strconv.Atoi(u.Uid)
				gid, _ = strconv.Atoi(u.Gid)
				break
			}
		}
		if s.runAs == "" {
			t.Skip("running as root and no postgres or nobody user to run PostgreSQL as")
		}
	}
	// Not t.TempDir: its parent is private to root, and the server user
	// must reach the data and socket directories.
	dir, err := os.MkdirTemp("", "jejak-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.Getenv("JEJAK_KEEP_PG") == "" {
			os.RemoveAll(dir)
		}
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s.dir = dir
	s.run("initdb", "-D", s.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C")
	// Password logons over TCP, so that a wrong password is refused the way
	// a guessing client is; the socket trusts the test's own statements.
	s.write("pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 md5\n")
	conf, err := os.ReadFile(filepath.Join(s.data(), "postgresql.conf"))
	if err != nil {
		t.Fatal(err)
	}
	s.write("postgresql.conf", string(conf)+"\ninclude 'jejak.conf'\n")
	return s
}

func (s *pgServer) data() string { return filepath.Join(s.dir, "data") }

func (s *pgServer) write(name, text string) {
	if err := os.WriteFile(filepath.Join(s.data(), name), []byte(text), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// run runs a server binary as the server user.
func (s *pgServer) run(tool string, args ...string) []byte {
	s.t.Helper()
	argv := append([]string{filepath.Join(s.bin, tool)}, args...)
	if s.runAs != "" {
		argv = append([]string{"runuser", "-u", s.runAs, "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

// psql runs one statement; wantErr says whether the server must refuse it.
func (s *pgServer) psql(host, user, password, sql string, wantErr bool) string {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(s.bin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", host, "-p", strconv.Itoa(s.port), "-U", user, "-d", "postgres", "-c", sql)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "LC_ALL=C", "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	if (err != nil) != wantErr {
		s.t.Fatalf("psql -U %s -c %q: %v (want error %v)\n%s", user, sql, err, wantErr, out)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// session is what one server run did, as the client saw it.
type session struct {
	from, to time.Time
	alicePID int64 // pg_backend_pid() of alice's password logon
}

// logWith starts the server with a log_line_prefix and log_timezone, runs a
// fixed session (a password logon, a wrong password, a multi-line UPDATE, a
// failing SELECT) and stops it. The logging collector writes the same
// records to name.log (stderr format, with the prefix) and name.csv
// (csvlog, every field in its own column): the csv is the oracle.
func (s *pgServer) logWith(name, prefix, zone string, first bool) session {
	s.t.Helper()
	s.port = freePort(s.t)
	s.write("jejak.conf", strings.Join([]string{
		"port = " + strconv.Itoa(s.port),
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = '" + s.dir + "'",
		"logging_collector = on",
		"log_destination = 'stderr,csvlog'",
		"log_directory = '" + filepath.Join(s.dir, "log") + "'",
		"log_filename = '" + name + ".log'",
		"log_connections = on",
		"log_disconnections = on",
		"log_statement = 'all'",
		"password_encryption = 'md5'",
		"lc_messages = 'C'",
		"log_timezone = '" + zone + "'",
		"log_line_prefix = '" + strings.ReplaceAll(prefix, "'", "''") + "'",
		"",
	}, "\n"))
	var ses session
	ses.from = time.Now().Add(-time.Second)
	s.run("pg_ctl", "-D", s.data(), "-w", "-l", filepath.Join(s.dir, name+".startup"), "start")
	stopped := false
	defer func() {
		if !stopped {
			s.run("pg_ctl", "-D", s.data(), "-w", "-m", "immediate", "stop")
		}
	}()
	if first {
		s.psql(s.dir, "postgres", "", "CREATE ROLE alice LOGIN PASSWORD 'tally-2024'", false)
		s.psql(s.dir, "postgres", "", "CREATE TABLE tally (tps int, votes int); GRANT SELECT ON tally TO alice", false)
	}
	pid, err := strconv.ParseInt(s.psql("127.0.0.1", "alice", "tally-2024", "SELECT pg_backend_pid()", false), 10, 64)
	if err != nil {
		s.t.Fatal(err)
	}
	ses.alicePID = pid
	s.psql("127.0.0.1", "alice", "guess", "SELECT 1", true)
	s.psql(s.dir, "postgres", "", "UPDATE tally SET votes = 9\nWHERE tps = 4", false)
	s.psql(s.dir, "postgres", "", "SELECT * FROM no_such_table", true)
	s.run("pg_ctl", "-D", s.data(), "-w", "-m", "fast", "stop")
	stopped = true
	ses.to = time.Now().Add(time.Second)
	return ses
}

// TestRealServerLogLinePrefixes runs PostgreSQL with the log_line_prefix
// forms seen in the field and checks every stderr record against the
// csvlog record the server wrote for the same message: same count, time
// (to the prefix's precision), severity, action, pid, user, database and
// client where the prefix has them; and against what the client saw:
// alice's backend pid and the wall clock.
func TestRealServerLogLinePrefixes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	s := newPGServer(t)
	// want lists what the prefix lets a reader recover besides the time:
	// p pid, u user, d database, h client address, r client port.
	cases := []struct {
		name, prefix, zone, want string
	}{
		{"host_first", "%h %m [%p] %u@%d ", "Asia/Jakarta", "pudh"},                                  // WIB
		{"pgbadger", "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ", "America/Sao_Paulo", "pudh"}, // "-03"
		{"pid_only", "%m [%p] ", "Asia/Kathmandu", "p"},                                              // "+0545"
		{"debian", "%m [%p] %q%u@%d ", "Europe/Berlin", "pud"},                                       // CET
		{"angle", "< %m >", "UTC", ""},
		{"rds", "%t:%r:%u@%d:[%p]:", "UTC", "pudhr"},
		{"epoch", "%n [%p] %u@%d ", "Asia/Kolkata", "pud"}, // %n carries no zone at all
		// Fields by position only: user and database cannot be told apart.
		{"positional", "%m %c %r %a %u %d [%p] %e ", "Australia/Sydney", "phr"}, // AEDT
	}
	for i, c := range cases {
		ses := s.logWith(c.name, c.prefix, c.zone, i == 0)
		t.Run(c.name, func(t *testing.T) {
			logPath := filepath.Join(s.dir, "log", c.name+".log")
			raw, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if !New().Match(parsertest.FileEntry(t, logPath), raw[:min(len(raw), 4096)]) {
				t.Fatalf("Match refuses the log of prefix %q:\n%s", c.prefix, raw[:min(len(raw), 600)])
			}
			// Detection past the head judges single lines: every line that
			// is not a tab continuation starts a record.
			for _, l := range bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n")) {
				if len(l) > 0 && (l[0] == '\t') == New().MatchLine(nil, l) {
					t.Errorf("MatchLine(%q) = %v", l, !(l[0] == '\t'))
				}
			}
			// The stderr log is read with a case zone of UTC: its times
			// must carry their own zone. The csvlog is read in the server's
			// zone, so that ambiguous abbreviations (IST) resolve.
			loc, err := time.LoadLocation(c.zone)
			if err != nil {
				t.Skip(err)
			}
			got := parsertest.ParseFile(t, New(), logPath, time.UTC)
			want := parsertest.ParseFile(t, New(), filepath.Join(s.dir, "log", c.name+".csv"), loc)
			if got.Err != nil || want.Err != nil || len(got.Warnings)+len(want.Warnings) != 0 {
				t.Fatalf("stderr: %v %v; csvlog: %v %v", got.Err, got.Warnings, want.Err, want.Warnings)
			}
			has := func(f byte) bool { return strings.IndexByte(c.want, f) >= 0 }
			secTime := strings.Contains(c.prefix, "%t")
			// csvlog writes a report as one record; stderr writes its
			// DETAIL, HINT, STATEMENT... as records of their own after it.
			// Backends write the two files with separate calls, so reports
			// of two backends may come in either order: a stderr report is
			// paired with the first unused csvlog record of the same
			// severity whose message begins its own (stderr appends "at
			// character N", which csvlog keeps in a column).
			used := make([]bool, len(want.Events))
			j, reports := -1, 0
			for _, g := range got.Events {
				_, msg, _ := strings.Cut(g.Message, strings.ToUpper(g.Log.Level)+":  ")
				msg = strings.ReplaceAll(msg, "\n\t", "\n")
				if part, ok := reportPart[g.Log.Level]; ok && j >= 0 {
					w := want.Events[j]
					if part != "" && msg != w.Jejak.Data[part] {
						t.Errorf("%s of csvlog record %d: %q, csvlog %s %q", g.Log.Level, j, msg, part, w.Jejak.Data[part])
					}
					compareRecord(t, j, g, w, has, secTime, false)
					continue
				}
				reports++
				j = -1
				for k, w := range want.Events {
					_, wmsg, _ := strings.Cut(w.Message, ":  ")
					if !used[k] && w.Log.Level == g.Log.Level && strings.HasPrefix(msg, wmsg) &&
						(g.Process == nil || g.Process.PID == w.Process.PID) && sameTime(g.Timestamp, w.Timestamp, secTime) {
						j = k
						break
					}
				}
				if j < 0 {
					t.Errorf("stderr report %q has no csvlog record", g.Message)
					continue
				}
				used[j] = true
				compareRecord(t, j, g, want.Events[j], has, secTime, true)
				if g.Timestamp.Before(ses.from) || g.Timestamp.After(ses.to) {
					t.Errorf("record %d at %s, outside the run %s..%s", j, g.Timestamp, ses.from, ses.to)
				}
			}
			if reports != len(want.Events) || reports < 20 {
				t.Fatalf("%d stderr reports, %d csvlog records", reports, len(want.Events))
			}
			checkSession(t, got.Events, ses, has)
		})
	}
}

// reportPart maps the stderr lines that continue a report to the csvlog
// column holding the same text ("" when not compared).
var reportPart = map[string]string{
	"detail": "detail", "hint": "hint", "statement": "query", "context": "context", "query": "", "location": "",
}

// sameTime compares a stderr time with its csvlog time: to the
// millisecond, or for %t to the second, which elog.c takes from its own
// time(2) call, a coarse clock that can still show the second before the
// record's own time.
func sameTime(got, csv time.Time, secTime bool) bool {
	if !secTime {
		return got.Equal(csv)
	}
	want := csv.Truncate(time.Second)
	return !got.After(want) && !got.Before(want.Add(-time.Second))
}

func compareRecord(t *testing.T, j int, g, w *timeline.Event, has func(byte) bool, secTime, primary bool) {
	t.Helper()
	if !sameTime(g.Timestamp, w.Timestamp, secTime) || g.Jejak.Time != nil {
		t.Errorf("record %d: time %s (assumed %+v), csvlog %s", j, g.Timestamp, g.Jejak.Time, w.Timestamp)
	}
	if primary && (g.Log.Level != w.Log.Level || g.Event.Action != w.Event.Action || g.Event.Outcome != w.Event.Outcome) {
		t.Errorf("record %d: %s %s %s, csvlog %s %s %s", j, g.Log.Level, g.Event.Action, g.Event.Outcome,
			w.Log.Level, w.Event.Action, w.Event.Outcome)
	}
	if has('p') && (g.Process == nil || w.Process == nil || g.Process.PID != w.Process.PID) {
		t.Errorf("record %d: process %+v, csvlog %+v", j, g.Process, w.Process)
	}
	if has('u') && userName(g) != userName(w) {
		t.Errorf("record %d: user %q, csvlog %q", j, userName(g), userName(w))
	}
	if has('d') && g.Jejak.Data["db.name"] != w.Jejak.Data["db.name"] {
		t.Errorf("record %d: database %q, csvlog %q", j, g.Jejak.Data["db.name"], w.Jejak.Data["db.name"])
	}
	if has('h') {
		gi, wi := sourceIP(g), sourceIP(w)
		if gi != wi || g.Jejak.Data["client.host"] != w.Jejak.Data["client.host"] {
			t.Errorf("record %d: client %q %q, csvlog %q %q", j, gi, g.Jejak.Data["client.host"], wi, w.Jejak.Data["client.host"])
		}
		if has('r') && g.Source != nil && g.Source.Port != w.Source.Port {
			t.Errorf("record %d: client port %d, csvlog %d", j, g.Source.Port, w.Source.Port)
		}
	}
	if st := w.Jejak.Data["db.statement"]; st != "" && primary {
		// elog.c indents the further lines of a message with a tab in
		// stderr output, not in csvlog.
		if gs := strings.ReplaceAll(g.Jejak.Data["db.statement"], "\n\t", "\n"); gs != st {
			t.Errorf("record %d: statement %q, csvlog %q", j, gs, st)
		}
	}
	if primary && slices.Contains(g.Jejak.Tags, dblog.WriteTag) != slices.Contains(w.Jejak.Tags, dblog.WriteTag) {
		t.Errorf("record %d: tags %v, csvlog %v", j, g.Jejak.Tags, w.Jejak.Tags)
	}
}

// checkSession checks the records against what the client did and saw.
func checkSession(t *testing.T, evs []*timeline.Event, ses session, has func(byte) bool) {
	t.Helper()
	var connect, failed, update *timeline.Event
	for _, ev := range evs {
		switch {
		case ev.Event.Action == "db_connect" && userName(ev) == "alice" && connect == nil:
			connect = ev
		case ev.Event.Action == "db_auth_failed":
			failed = ev
		case slices.Contains(ev.Jejak.Tags, dblog.WriteTag) && ev.Event.Action == "db_statement":
			update = ev
		}
	}
	if connect == nil || failed == nil || update == nil {
		t.Fatalf("connect %v, failed logon %v, update %v", connect != nil, failed != nil, update != nil)
	}
	if has('p') && connect.Process.PID != ses.alicePID {
		t.Errorf("alice's logon pid %d, pg_backend_pid() said %d", connect.Process.PID, ses.alicePID)
	}
	if userName(failed) != "alice" || failed.Event.Outcome != "failure" {
		t.Errorf("failed logon: %q %+v", userName(failed), failed.Event)
	}
	if has('h') && sourceIP(failed) != "127.0.0.1" {
		t.Errorf("failed logon from %q, want 127.0.0.1", sourceIP(failed))
	}
	if !strings.HasPrefix(update.Jejak.Data["db.statement"], "UPDATE tally SET votes = 9\n") {
		t.Errorf("update: %q", update.Jejak.Data["db.statement"])
	}
}

func userName(ev *timeline.Event) string {
	if ev.User == nil {
		return ""
	}
	return ev.User.Name
}

func sourceIP(ev *timeline.Event) string {
	if ev.Source == nil {
		return ""
	}
	return ev.Source.IP
}
