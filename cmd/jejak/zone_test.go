package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/zonecheck"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// hostZone is the clock of the CentOS host of these tests: UTC−03:00, as
// in issue 10. Its secure log holds wall times in it; its btmp and wtmp
// hold UTC epochs.
var hostZone = time.FixedZone("UTC-3", -3*3600)

// utmpRec is one record as `utmpdump` prints it and `utmpdump -r` reads it.
type utmpRec struct {
	typ  int
	pid  int
	id   string
	user string
	line string
	host string
	addr string
	when time.Time
	usec int
}

func (r utmpRec) dump() string {
	return fmt.Sprintf("[%d] [%05d] [%-4s] [%-8s] [%-12s] [%-20s] [%-15s] [%s,%06d+00:00]\n",
		r.typ, r.pid, r.id, r.user, r.line, r.host, r.addr, r.when.UTC().Format("2006-01-02T15:04:05"), r.usec)
}

// writeUtmp writes records to path with util-linux's utmpdump -r, and reads
// the file back with utmpdump to be sure it holds what was meant.
func writeUtmp(t *testing.T, path string, recs []utmpRec) {
	t.Helper()
	bin := oracle.Tool(t, "utmpdump", "util-linux")
	var in strings.Builder
	for _, r := range recs {
		in.WriteString(r.dump())
	}
	cmd := exec.Command(bin, "-r", "-o", path)
	cmd.Stdin = strings.NewReader(in.String())
	cmd.Env = append(os.Environ(), "TZ=UTC")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("utmpdump -r: %v\n%s", err, out)
	}
	back := oracle.Output(t, "utmpdump", path)
	if n := bytes.Count(back, []byte("\n")); n != len(recs) {
		t.Fatalf("utmpdump reads %d records back from %s, wrote %d:\n%s", n, path, len(recs), back)
	}
	for _, r := range recs {
		stamp := r.when.UTC().Format("2006-01-02T15:04:05")
		if !bytes.Contains(back, []byte(stamp)) {
			t.Fatalf("utmpdump does not read %s back from %s:\n%s", stamp, path, back)
		}
	}
}

// centosTree writes a CentOS /var/log as a host in UTC−3 leaves it: secure
// in local wall time, in the line shapes of the real sshd logs of the
// corpus (loghub OpenSSH, elastic auth.log), and the btmp/wtmp records
// sshd wrote for the same logons, UTC epochs made by utmpdump -r.
func centosTree(t *testing.T, root string) {
	t.Helper()
	logDir := filepath.Join(root, "var", "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	local := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, hostZone)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	secure := `Feb 14 10:00:01 centos7 sshd[4101]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root
Feb 14 10:00:03 centos7 sshd[4101]: Failed password for root from 203.0.113.9 port 51234 ssh2
Feb 14 10:00:38 centos7 sshd[4107]: Invalid user admin from 203.0.113.9 port 51240
Feb 14 10:00:38 centos7 sshd[4107]: input_userauth_request: invalid user admin [preauth]
Feb 14 10:00:40 centos7 sshd[4107]: Failed password for invalid user admin from 203.0.113.9 port 51240 ssh2
Feb 14 10:01:12 centos7 sshd[4111]: Failed password for root from 203.0.113.9 port 51260 ssh2
Feb 14 10:02:13 centos7 sshd[4120]: Accepted password for kpu from 198.51.100.7 port 52011 ssh2
Feb 14 10:02:13 centos7 sshd[4120]: pam_unix(sshd:session): session opened for user kpu by (uid=0)
Feb 14 10:31:50 centos7 sshd[4120]: pam_unix(sshd:session): session closed for user kpu
`
	secPath := filepath.Join(logDir, "secure")
	if err := os.WriteFile(secPath, []byte(secure), 0o600); err != nil {
		t.Fatal(err)
	}
	// mtime: the last line's time, so the year is 2024.
	mt := local("2024-02-14 10:31:50")
	if err := os.Chtimes(secPath, mt, mt); err != nil {
		t.Fatal(err)
	}
	// sshd writes btmp in the monitor (the pid of its log lines) a moment
	// after logging the failure, with the attempted name.
	writeUtmp(t, filepath.Join(logDir, "btmp"), []utmpRec{
		{typ: 6, pid: 4101, user: "root", line: "ssh:notty", host: "203.0.113.9", addr: "203.0.113.9", when: local("2024-02-14 10:00:03"), usec: 214077},
		{typ: 6, pid: 4107, user: "admin", line: "ssh:notty", host: "203.0.113.9", addr: "203.0.113.9", when: local("2024-02-14 10:00:40"), usec: 530112},
		{typ: 6, pid: 4111, user: "root", line: "ssh:notty", host: "203.0.113.9", addr: "203.0.113.9", when: local("2024-02-14 10:01:12"), usec: 90321},
	})
	// The wtmp login record comes from the session's child, a few pids on.
	writeUtmp(t, filepath.Join(logDir, "wtmp"), []utmpRec{
		{typ: 2, pid: 0, id: "~~", user: "reboot", line: "~", host: "3.10.0-1160.el7.x86_64", addr: "0.0.0.0", when: local("2024-02-14 08:12:45"), usec: 1},
		{typ: 7, pid: 4124, id: "ts/0", user: "kpu", line: "pts/0", host: "198.51.100.7", addr: "198.51.100.7", when: local("2024-02-14 10:02:13"), usec: 861204},
		{typ: 8, pid: 4124, id: "ts/0", line: "pts/0", addr: "0.0.0.0", when: local("2024-02-14 10:31:50"), usec: 977001},
	})
}

// runJSON is the --json summary with the zone check beside the counts.
type runJSON struct {
	ZoneCheck []zonecheck.Finding `json:"zone_check"`
}

func zoneFindings(t *testing.T, out string) []zonecheck.Finding {
	t.Helper()
	var r runJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, out)
	}
	return r.ZoneCheck
}

func zoneWarnings(t *testing.T, cs string) []timeline.Warning {
	t.Helper()
	out := mustRun(t, 0, "warnings", cs, "--json")
	var ws []timeline.Warning
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var w timeline.Warning
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatal(err)
		}
		if w.Kind == timeline.WarnZone {
			ws = append(ws, w)
		}
	}
	return ws
}

// TestZoneMismatchCentOS is issue 10 point 5: secure in UTC−3 read with
// the default zone against btmp/wtmp, as a folder and as a tar.
func TestZoneMismatchCentOS(t *testing.T) {
	tarBin := oracle.Tool(t, "tar", "tar")
	dir := t.TempDir()
	tree := filepath.Join(dir, "centos")
	centosTree(t, tree)
	tarPath := filepath.Join(dir, "centos-varlog.tar")
	if out, err := exec.Command(tarBin, "-C", tree, "-cf", tarPath, "var").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}

	for _, ev := range []struct{ name, path string }{{"folder", tree}, {"tar", tarPath}} {
		t.Run(ev.name+" read in UTC", func(t *testing.T) {
			cs := filepath.Join(t.TempDir(), "case")
			out := mustRun(t, 0, "analyze", ev.path, "--out", cs, "--json", "-q")
			fs := zoneFindings(t, out)
			if len(fs) != 1 {
				t.Fatalf("%d zone findings, want 1: %+v", len(fs), fs)
			}
			f := fs[0]
			// 3 failed logons tied to btmp by sshd's pid, 1 session to
			// wtmp by its child's pid.
			if f.Agree || f.Shift != "-03:00" || f.WrittenIn != "-03:00" || f.SuggestTZ != "Etc/GMT+3" ||
				f.Pairs != 4 || f.PIDPairs != 4 || f.ZoneAssumed != "UTC" || !strings.HasSuffix(f.Path, "secure") {
				t.Errorf("finding %+v", f)
			}
			if len(f.ExactFiles) != 2 || !strings.Contains(f.ExactFiles[0], "btmp") || !strings.Contains(f.ExactFiles[1], "wtmp") {
				t.Errorf("exact files %v, want btmp and wtmp", f.ExactFiles)
			}
			// The median holds the logging delay: under a second, since
			// the epochs were written a fraction of a second after the line.
			if d := f.Median + 3*time.Hour; d < -time.Second || d > time.Second {
				t.Errorf("median %s, want -3h within a second", f.Median)
			}
			ws := zoneWarnings(t, cs)
			if len(ws) != 1 || !strings.HasSuffix(ws[0].Path, "secure") || !strings.Contains(ws[0].Message, "--tz Etc/GMT+3") {
				t.Errorf("zone warnings %+v", ws)
			}
			// The text summary says it where an examiner looks.
			_, stderr, code := jejak(t, "ingest", cs, "-q")
			// A tar member's display ends with its identity in brackets.
			loud := regexp.MustCompile(`(?m)^ZONE MISMATCH +.*secure( \[tar#\d+@\d+\])? \(read in UTC\)\n  its times are 3h00m earlier than .*btmp.*wtmp[^\n]*\n  4 pairs, 4 tied by pid, .*\n  e\.g\. .*\n  the file was written at UTC-03:00: read it with --tz Etc/GMT\+3`)
			if code != 0 || !loud.MatchString(stderr) || strings.Count(stderr, "3h00m earlier") != 1 {
				t.Errorf("ingest again: exit %d, summary:\n%s", code, stderr)
			}
		})
	}

	// The three files registered as three evidence items: tied by pid,
	// they still pair.
	t.Run("files as separate evidence", func(t *testing.T) {
		cs := filepath.Join(t.TempDir(), "case")
		logs := filepath.Join(tree, "var", "log")
		out := mustRun(t, 0, "analyze", filepath.Join(logs, "secure"), filepath.Join(logs, "btmp"), filepath.Join(logs, "wtmp"), "--out", cs, "--json", "-q")
		fs := zoneFindings(t, out)
		if len(fs) != 1 || fs[0].Agree || fs[0].Shift != "-03:00" || fs[0].PIDPairs != 4 || len(fs[0].ExactFiles) != 2 {
			t.Errorf("findings %+v", fs)
		}
	})

	// Read in the host's zone, the two agree: no warning. Etc/GMT+3 is the
	// suggestion, America/Sao_Paulo the host's named zone (no DST in 2024).
	for _, tz := range []string{"Etc/GMT+3", "America/Sao_Paulo"} {
		t.Run("folder read in "+tz, func(t *testing.T) {
			cs := filepath.Join(t.TempDir(), "case")
			out := mustRun(t, 0, "analyze", tree, "--out", cs, "--tz", tz, "--json", "-q")
			fs := zoneFindings(t, out)
			if len(fs) != 1 || !fs[0].Agree || fs[0].Pairs != 4 || fs[0].ZoneAssumed != tz {
				t.Errorf("findings %+v, want one agreement over 4 pairs", fs)
			}
			if ws := zoneWarnings(t, cs); len(ws) != 0 {
				t.Errorf("zone warnings in the right zone: %+v", ws)
			}
		})
	}
}

// sshdLine is an OpenSSH line of a real auth.log: pid, verb, user, IP.
var sshdLine = regexp.MustCompile(`^(\w{3} [ \d]\d \d\d:\d\d:\d\d) \S+ sshd\[(\d+)\]: (Failed password for (?:invalid user )?|Accepted \S+ for )(\S+) from (\S+) port`)

// TestZoneMismatchRealAuthLog reads a real Ubuntu auth.log (elastic
// examples, Apache-2.0: an sshd under brute force, 713 failed passwords,
// 226 logons) as written by a host in UTC−3, with the btmp and wtmp that
// sshd would have written for its lines, made by utmpdump -r. The pairs
// are many and dense (the same IPs try every few seconds): the pid must
// decide, and the verdict must be the host's offset.
func TestZoneMismatchRealAuthLog(t *testing.T) {
	src := parsertest.Corpus(t, "more/linux/auth/elastic_examples_auth.log")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "host", "var", "log")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	const year = 2018
	var btmp, wtmp []utmpRec
	var last time.Time
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := sshdLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		wall, err := time.ParseInLocation("2006 Jan _2 15:04:05", fmt.Sprintf("%d %s", year, m[1]), hostZone)
		if err != nil {
			t.Fatal(err)
		}
		last = wall
		var pid int
		fmt.Sscan(m[2], &pid)
		if len(btmp)+len(wtmp) > 400 {
			continue
		}
		r := utmpRec{pid: pid, user: m[4], host: m[5], addr: m[5], when: wall, usec: 250000}
		if strings.HasPrefix(m[3], "Failed") {
			r.typ, r.line = 6, "ssh:notty"
			btmp = append(btmp, r)
		} else {
			r.typ, r.pid, r.line, r.id = 7, pid+3, "pts/0", "ts/0"
			wtmp = append(wtmp, r)
		}
	}
	if len(btmp) < 50 || len(wtmp) < 10 {
		t.Fatalf("only %d failed and %d accepted sshd lines in %s", len(btmp), len(wtmp), src)
	}
	authPath := filepath.Join(logDir, "auth.log")
	if err := os.WriteFile(authPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(authPath, last, last); err != nil {
		t.Fatal(err)
	}
	writeUtmp(t, filepath.Join(logDir, "btmp"), btmp)
	writeUtmp(t, filepath.Join(logDir, "wtmp"), wtmp)

	cs := filepath.Join(dir, "case")
	out, stderr, code := jejak(t, "analyze", filepath.Join(dir, "host"), "--out", cs, "--json", "-q")
	if code != 0 && code != exitWarnings {
		t.Fatalf("analyze: exit %d\n%s", code, stderr)
	}
	fs := zoneFindings(t, out)
	if len(fs) != 1 {
		t.Fatalf("%d zone findings, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Agree || f.Shift != "-03:00" || f.SuggestTZ != "Etc/GMT+3" || f.PIDPairs < 3 || f.Pairs != f.PIDPairs {
		t.Errorf("finding %+v", f)
	}
	t.Logf("%d btmp and %d wtmp records: %s", len(btmp), len(wtmp), f.Message())

	// In the host's zone the dense brute force agrees, and nothing warns.
	cs = filepath.Join(dir, "case-3")
	out, stderr, code = jejak(t, "analyze", filepath.Join(dir, "host"), "--out", cs, "--tz", "Etc/GMT+3", "--json", "-q")
	if code != 0 && code != exitWarnings {
		t.Fatalf("analyze --tz Etc/GMT+3: exit %d\n%s", code, stderr)
	}
	if fs := zoneFindings(t, out); len(fs) != 1 || !fs[0].Agree || fs[0].PIDPairs != f.PIDPairs {
		t.Errorf("read in Etc/GMT+3: %+v", fs)
	}
	if ws := zoneWarnings(t, cs); len(ws) != 0 {
		t.Errorf("zone warnings in the right zone: %+v", ws)
	}
}

// TestZoneMismatchWeb: an Apache server in Jakarta writes its access log
// with +0700 and its error log in wall time without a zone (Apache 2.4's
// shapes, as in the corpus' crowdsec apache2 logs). Read in UTC, the
// errors sit 7 h after the requests they are about.
func TestZoneMismatchWeb(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "web")
	logDir := filepath.Join(dir, "var", "log", "httpd")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	access := `198.51.100.23 - - [14/Feb/2024:19:02:11 +0700] "GET /c1/admin HTTP/1.1" 401 381 "-" "Mozilla/5.0 (X11; Linux x86_64)"
198.51.100.23 - - [14/Feb/2024:19:02:15 +0700] "GET /c1/upload.php HTTP/1.1" 404 196 "-" "Mozilla/5.0 (X11; Linux x86_64)"
203.0.113.77 - - [14/Feb/2024:19:05:02 +0700] "GET /index.html HTTP/1.1" 200 5120 "-" "curl/8.5.0"
203.0.113.77 - - [14/Feb/2024:19:07:40 +0700] "GET /wp-login.php HTTP/1.1" 404 196 "-" "curl/8.5.0"
`
	errs := `[Wed Feb 14 19:02:11.482113 2024] [auth_basic:error] [pid 2211:tid 140120579262208] [client 198.51.100.23:50229] AH01618: user tps01 not found: /c1/admin
[Wed Feb 14 19:02:15.090331 2024] [core:info] [pid 2213:tid 140120570869504] [client 198.51.100.23:50231] AH00128: File does not exist: /var/www/html/c1/upload.php
[Wed Feb 14 19:07:40.711804 2024] [core:info] [pid 2214:tid 140120562476800] [client 203.0.113.77:41502] AH00128: File does not exist: /var/www/html/wp-login.php
`
	for name, body := range map[string]string{"access_log": access, "error_log": errs} {
		if err := os.WriteFile(filepath.Join(logDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cs := filepath.Join(t.TempDir(), "case")
	fs := zoneFindings(t, mustRun(t, 0, "analyze", dir, "--out", cs, "--json", "-q"))
	if len(fs) != 1 {
		t.Fatalf("%d zone findings, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Agree || f.Shift != "+07:00" || f.WrittenIn != "+07:00" || f.SuggestTZ != "Etc/GMT-7" || f.Pairs != 3 || f.PIDPairs != 3 ||
		!strings.HasSuffix(f.Path, "error_log") || len(f.ExactFiles) != 1 || !strings.HasSuffix(f.ExactFiles[0], "access_log") {
		t.Errorf("finding %+v", f)
	}
	if !strings.Contains(f.Message(), "7h00m later than") || !strings.Contains(f.Message(), "3 tied by path") {
		t.Errorf("message: %s", f.Message())
	}
	if ws := zoneWarnings(t, cs); len(ws) != 1 {
		t.Errorf("zone warnings %+v", ws)
	}

	cs = filepath.Join(t.TempDir(), "case")
	fs = zoneFindings(t, mustRun(t, 0, "analyze", dir, "--out", cs, "--tz", "Asia/Jakarta", "--json", "-q"))
	if len(fs) != 1 || !fs[0].Agree || fs[0].Pairs != 3 {
		t.Errorf("read in Asia/Jakarta: %+v", fs)
	}
}

// TestZoneMismatchAuditd pairs secure with auditd's USER_LOGIN records
// (epoch times; the shapes of the corpus' go-libaudit RHEL 7 log): the
// success names only the uid (id=1000), so sshd's pid alone ties it.
func TestZoneMismatchAuditd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "rhel")
	logDir := filepath.Join(dir, "var", "log")
	if err := os.MkdirAll(filepath.Join(logDir, "audit"), 0o755); err != nil {
		t.Fatal(err)
	}
	secure := `Dec  7 00:17:22 rhel7 sshd[1298]: Accepted publickey for andrew from 96.241.146.97 port 50382 ssh2: RSA SHA256:Kl8kPGZrTiz7g4FO1hyqHdsSBBb5Fge6NWOobN03XJg
Dec  7 00:17:23 rhel7 sshd[1298]: pam_unix(sshd:session): session opened for user andrew by (uid=0)
Dec  7 00:20:05 rhel7 sshd[1340]: Failed password for root from 203.0.113.9 port 40022 ssh2
`
	// 1481080643 is 2016-12-07T03:17:23Z: 00:17:23 at UTC−3.
	audit := `type=USER_LOGIN msg=audit(1481080643.193:421): pid=1298 uid=0 auid=1000 ses=1 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login id=1000 exe="/usr/sbin/sshd" hostname=pool-96-241-146-97.washdc.fios.verizon.net addr=96.241.146.97 terminal=/dev/pts/0 res=success'
type=USER_LOGIN msg=audit(1481080805.733:433): pid=1340 uid=0 auid=4294967295 ses=4294967295 subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login acct="root" exe="/usr/sbin/sshd" hostname=? addr=203.0.113.9 terminal=ssh res=failed'
`
	if err := os.WriteFile(filepath.Join(logDir, "secure"), []byte(secure), 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2016, 12, 7, 3, 20, 5, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(logDir, "secure"), mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(logDir, "audit", "audit.log"), []byte(audit), 0o600); err != nil {
		t.Fatal(err)
	}
	cs := filepath.Join(t.TempDir(), "case")
	fs := zoneFindings(t, mustRun(t, 0, "analyze", dir, "--out", cs, "--json", "-q"))
	if len(fs) != 1 {
		t.Fatalf("%d zone findings, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Agree || f.Shift != "-03:00" || f.SuggestTZ != "Etc/GMT+3" || f.Pairs != 2 || f.PIDPairs != 2 ||
		len(f.ExactFiles) != 1 || !strings.HasSuffix(f.ExactFiles[0], "audit.log") {
		t.Errorf("finding %+v", f)
	}
}

// TestZoneMismatchNginx: nginx's error log (no zone; the shape of the
// corpus' crowdsec nginx logs) names the request; its access log has +0700.
func TestZoneMismatchNginx(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nginx")
	logDir := filepath.Join(dir, "var", "log", "nginx")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	access := `203.0.113.77 - - [14/Feb/2024:19:07:40 +0700] "GET /wp-login.php HTTP/1.1" 404 153 "-" "curl/8.5.0"
203.0.113.78 - tps01 [14/Feb/2024:19:09:02 +0700] "POST /c1/upload HTTP/1.1" 413 183 "-" "Mozilla/5.0"
`
	errs := `2024/02/14 19:07:40 [error] 1925800#1925800: *17 open() "/usr/share/nginx/html/wp-login.php" failed (2: No such file or directory), client: 203.0.113.77, server: _, request: "GET /wp-login.php HTTP/1.1", host: "kpu.example"
2024/02/14 19:09:02 [error] 1925800#1925800: *18 client intended to send too large body: 10485761 bytes, client: 203.0.113.78, server: _, request: "POST /c1/upload HTTP/1.1", host: "kpu.example"
`
	for name, body := range map[string]string{"access.log": access, "error.log": errs} {
		if err := os.WriteFile(filepath.Join(logDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cs := filepath.Join(t.TempDir(), "case")
	fs := zoneFindings(t, mustRun(t, 0, "analyze", dir, "--out", cs, "--json", "-q"))
	if len(fs) != 1 || fs[0].Agree || fs[0].Shift != "+07:00" || fs[0].PIDPairs != 2 || !strings.HasSuffix(fs[0].Path, "error.log") {
		t.Errorf("findings %+v", fs)
	}
}
