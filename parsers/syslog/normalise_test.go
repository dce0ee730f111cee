package syslog

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// The oracle regexps below read the raw log lines on their own; they share
// nothing with the parser's hand-written normalisers.
var (
	oracleFailed   = regexp.MustCompile(`\bFailed (\S+) for (?:invalid user )?(.*?) from (\S+) port (\d+)`)
	oracleAccepted = regexp.MustCompile(`\bAccepted (\S+) for (\S+) from (\S+) port (\d+)`)
	oracleInvalid  = regexp.MustCompile(`\bInvalid user (.*?) from (\S+?)(?: port \d+)?\s*$`)
	oraclePamFail  = regexp.MustCompile(`(?:pam_unix\(\S+\)|\(pam_unix\)\[\d+\]): authentication failure;.* rhost=(\S*)(?:\s+user=(\S+))?`)
	oracleSession  = regexp.MustCompile(`\bsession (opened|closed) for user ([^\s(]+)`)
)

// tuple is one normalised fact, comparable across the oracle and the parser.
type tuple struct{ action, user, addr string }

func (x tuple) String() string { return x.action + "/" + x.user + "/" + x.addr }

func corpusLines(t *testing.T, rel string) []string {
	t.Helper()
	f, err := os.Open(parsertest.Corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func userOf(ev *timeline.Event) string {
	if ev.User == nil {
		return ""
	}
	return ev.User.Name
}

func addrOf(ev *timeline.Event) string {
	if ev.Source == nil {
		return ""
	}
	if ev.Source.IP != "" {
		return ev.Source.IP
	}
	return ev.Source.Domain
}

// oracleTuples applies the oracle regexps to every line.
func oracleTuples(ls []string) map[string][]tuple {
	out := map[string][]tuple{}
	for _, l := range ls {
		if m := oracleFailed.FindStringSubmatch(l); m != nil {
			out["ssh_failed_login"] = append(out["ssh_failed_login"], tuple{"ssh_failed_login", m[2], m[3]})
		}
		if m := oracleAccepted.FindStringSubmatch(l); m != nil {
			out["ssh_login"] = append(out["ssh_login"], tuple{"ssh_login", m[2], m[3]})
		}
		if m := oracleInvalid.FindStringSubmatch(l); m != nil {
			out["ssh_invalid_user"] = append(out["ssh_invalid_user"], tuple{"ssh_invalid_user", m[1], m[2]})
		}
		if m := oraclePamFail.FindStringSubmatch(l); m != nil {
			out["auth_failure"] = append(out["auth_failure"], tuple{"auth_failure", m[2], m[1]})
		}
		if m := oracleSession.FindStringSubmatch(l); m != nil {
			a := "session_" + m[1]
			out[a] = append(out[a], tuple{a, m[2], ""})
		}
	}
	return out
}

// parserTuples collects the same facts from the events. Failed/Accepted
// come only from lines that name an auth method, so "User X not allowed"
// (also ssh_failed_login) stays out of the comparison; logind's sessions
// are left out for the same reason: the oracle reads PAM's wording only.
// sshd's "PAM N more authentication failures" summaries are auth_failure
// too, but not pam_unix lines, so they are left out as well.
func parserTuples(evs []*timeline.Event) map[string][]tuple {
	out := map[string][]tuple{}
	for _, ev := range evs {
		a := ev.Event.Action
		switch a {
		case "ssh_failed_login", "ssh_login":
			if ev.Jejak.Data["ssh.method"] == "" {
				continue
			}
		case "session_opened", "session_closed":
			if ev.Process != nil && ev.Process.Name == "systemd-logind" {
				continue
			}
			out[a] = append(out[a], tuple{a, userOf(ev), ""})
			continue
		case "auth_failure":
			if ev.Jejak.Data["pam.more_failures"] != "" {
				continue // sshd's "PAM N more" summary, not a pam_unix line
			}
		case "ssh_invalid_user":
		default:
			continue
		}
		out[a] = append(out[a], tuple{a, userOf(ev), addrOf(ev)})
	}
	return out
}

func compareTuples(t *testing.T, want, got map[string][]tuple) {
	t.Helper()
	for _, a := range []string{"ssh_failed_login", "ssh_login", "ssh_invalid_user", "auth_failure", "session_opened", "session_closed"} {
		w, g := want[a], got[a]
		sortT := func(s []tuple) {
			slices.SortFunc(s, func(x, y tuple) int { return strings.Compare(x.String(), y.String()) })
		}
		sortT(w)
		sortT(g)
		if len(w) != len(g) {
			t.Errorf("%s: oracle %d lines, parser %d events", a, len(w), len(g))
			continue
		}
		for i := range w {
			if w[i] != g[i] {
				t.Errorf("%s: oracle %v, parser %v", a, w[i], g[i])
				break
			}
		}
	}
}

// TestLoghub: every Failed/Accepted/Invalid user line of a real brute-forced
// server, and every PAM failure and session line, is a normalised event
// with the user and address the line names.
func TestLoghub(t *testing.T) {
	for _, rel := range []string{"logs/loghub/OpenSSH_2k.log", "logs/loghub/Linux_2k.log"} {
		t.Run(rel, func(t *testing.T) {
			res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, rel), nil)
			if res.Err != nil || len(res.Warnings) != 0 {
				t.Fatalf("err %v, %d warnings", res.Err, len(res.Warnings))
			}
			want := oracleTuples(corpusLines(t, rel))
			got := parserTuples(res.Events)
			compareTuples(t, want, got)
			n := 0
			for _, v := range want {
				n += len(v)
			}
			if n == 0 {
				t.Fatal("oracle found nothing: the test would prove nothing")
			}
			t.Logf("%d normalised facts agree with the oracle", n)
		})
	}
}

// TestElasticAuthLog checks the grep counts MANIFEST.tsv gives for
// elastic/examples' auth.log, and the oracle tuples.
func TestElasticAuthLog(t *testing.T) {
	const rel = "more/linux/auth/elastic_examples_auth.log"
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, rel), nil)
	if res.Err != nil || len(res.Warnings) != 0 || len(res.Events) != 7121 {
		t.Fatalf("err %v, %d warnings, %d events (7121 lines)", res.Err, len(res.Warnings), len(res.Events))
	}
	count := map[string]int{}
	failedFrom := map[string]int{}
	for _, ev := range res.Events {
		a := ev.Event.Action
		switch {
		case a == "ssh_failed_login" && ev.Jejak.Data["ssh.method"] == "password":
			count["Failed password"]++
			failedFrom[addrOf(ev)]++
		case a == "ssh_invalid_user":
			count["Invalid user"]++
		case a == "ssh_login":
			count["Accepted "]++
		}
		if ev.Process != nil {
			count["prog:"+ev.Process.Name]++
		}
		if ev.Host == nil || ev.Host.Name != "ip-10-77-20-248" {
			t.Fatalf("event without the file's host: %+v", ev.Host)
		}
		count[a]++
	}
	// MANIFEST: 'Failed password' 713, 'Invalid user' 178, 'Accepted ' 226,
	// sudo 557, useradd 50; top failing source 24.151.103.17 (157).
	for k, v := range map[string]int{"Failed password": 713, "Invalid user": 178, "Accepted ": 226, "prog:sudo": 557, "prog:useradd": 50} {
		if count[k] != v {
			t.Errorf("%s: %d, MANIFEST %d", k, count[k], v)
		}
	}
	if failedFrom["24.151.103.17"] != 157 {
		t.Errorf("failed passwords from 24.151.103.17: %d, MANIFEST 157", failedFrom["24.151.103.17"])
	}
	// MANIFEST: first Accepted is publickey ubuntu from 85.245.107.41 Mar 27 13:08:09.
	for _, ev := range res.Events {
		if ev.Event.Action == "ssh_login" {
			if ev.User.Name != "ubuntu" || ev.Source.IP != "85.245.107.41" || ev.Jejak.Data["ssh.method"] != "publickey" ||
				ev.Timestamp.Format("Jan 2 15:04:05") != "Mar 27 13:08:09" || ev.Event.Outcome != "success" {
				t.Errorf("first login: %+v %+v %v %s", ev.User, ev.Source, ev.Jejak.Data, ev.Timestamp)
			}
			break
		}
	}
	// MANIFEST: elastic_user_0.. created Mar 29 10:36:43; the oracle for the
	// sudo commands and account creations is the raw text.
	ls := corpusLines(t, rel)
	nCmd, nNewUser, nNewGroup := 0, 0, 0
	for _, l := range ls {
		if strings.Contains(l, " sudo: ") && strings.Contains(l, " ; COMMAND=") {
			nCmd++
		}
		if strings.Contains(l, "useradd[") && strings.Contains(l, ": new user: name=") {
			nNewUser++
		}
		if strings.Contains(l, ": new group: name=") || strings.Contains(l, ": group added to ") {
			nNewGroup++
		}
	}
	if count["sudo_command"] != nCmd || count["user_created"] != nNewUser+30 || count["group_created"] != nNewGroup {
		// +30: the "failed adding user" lines, user_created with outcome failure.
		t.Errorf("sudo_command %d (lines %d), user_created %d (lines %d+30), group_created %d (lines %d)",
			count["sudo_command"], nCmd, count["user_created"], nNewUser, count["group_created"], nNewGroup)
	}
	for _, ev := range res.Events {
		if ev.Event.Action == "user_created" && ev.Event.Outcome == "success" {
			if ev.User.Name != "elastic_user_0" || ev.User.ID == "" || ev.Timestamp.Format("Jan 2 15:04:05") != "Mar 29 10:36:43" {
				t.Errorf("first created user %+v at %s", ev.User, ev.Timestamp)
			}
			break
		}
	}
	compareTuples(t, oracleTuples(ls), parserTuples(res.Events))
	// Every normalised action is one the table documents.
	known := map[string]bool{"": true}
	for _, a := range Actions() {
		known[a] = true
	}
	for a := range count {
		if !strings.HasPrefix(a, "prog:") && !strings.Contains(a, " ") && !known[a] {
			t.Errorf("action %q not in the table", a)
		}
	}
}

// TestNormalisedFields checks single lines of each kind the brief names,
// written as the tools write them (taken from the corpus where it has them).
func TestNormalisedFields(t *testing.T) {
	type want struct {
		action, outcome, user, effective, addr string
		port                                   int
		cmd, group, uid                        string
	}
	cases := []struct {
		line string
		w    want
	}{
		{"Mar 11 22:55:30 ubuntu2015 sshd[3]:  Accepted password for plaso from 2001:0db8:0a0b:12f0:0000:0000:0000:0001 port 42532  ssh2",
			want{action: "ssh_login", outcome: "success", user: "plaso", addr: "2001:0db8:0a0b:12f0:0000:0000:0000:0001", port: 42532}},
		{"Apr  6 18:51:41 eve sshd[2784424]: Failed password for invalid user root from 192.168.1.2 port 51182 ssh2",
			want{action: "ssh_failed_login", outcome: "failure", user: "root", addr: "192.168.1.2", port: 51182}},
		{"Sep 6 10:00:56 bullseye sshd[12032]: Accepted keyboard-interactive/pam for test from 192.168.121.1 port 43124 ssh2",
			want{action: "ssh_login", outcome: "success", user: "test", addr: "192.168.121.1", port: 43124}},
		{"Mar 27 13:08:09 h sshd[1]: Invalid user  from 5.188.10.180", want{action: "ssh_invalid_user", outcome: "failure", addr: "5.188.10.180"}},
		{"Feb 19 10:38:14 myhost sshd[3355]: Disconnected from invalid user ftp 92.255.85.135 port 26138 [preauth]",
			want{action: "ssh_disconnect", user: "ftp", addr: "92.255.85.135", port: 26138}},
		{"Mar 27 13:08:10 h sshd[1]: Received disconnect from 85.245.107.41 port 54259:11: disconnected by user",
			want{action: "ssh_disconnect", addr: "85.245.107.41", port: 54259}},
		{"Dec 10 07:02:47 LabSZ sshd[24208]: error: Received disconnect from 112.95.230.3: 3: com.jcraft.jsch.JSchException: Auth fail [preauth]",
			want{action: "ssh_disconnect", addr: "112.95.230.3"}},
		{"Mar 27 13:08:09 h sshd[1]: pam_unix(sshd:session): session opened for user ubuntu by (uid=0)", want{action: "session_opened", outcome: "success", user: "ubuntu"}},
		{"Mar 27 13:09:37 h sudo:   ubuntu : TTY=pts/0 ; PWD=/home/ubuntu ; USER=root ; COMMAND=/usr/bin/apt install -y x ; echo",
			want{action: "sudo_command", outcome: "success", user: "ubuntu", effective: "root", cmd: "/usr/bin/apt install -y x ; echo"}},
		{"Mar 27 13:09:37 h sudo:   mallory : user NOT in sudoers ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/bin/sh",
			want{action: "sudo_command", outcome: "failure", user: "mallory", effective: "root", cmd: "/bin/sh"}},
		{"Mar 29 10:38:09 h su[1]: Successful su for root by root", want{action: "su", outcome: "success", user: "root", effective: "root"}},
		{"Oct 11 22:14:15 h su[1]: FAILED SU (to root) bob on pts/3", want{action: "su", outcome: "failure", user: "bob", effective: "root"}},
		{"Mar 29 10:36:43 h useradd[1]: new user: name=elastic_user_0, UID=1001, GID=1002, home=/home/elastic_user_0, shell=/bin/bash",
			want{action: "user_created", outcome: "success", user: "elastic_user_0", uid: "1001"}},
		{"Mar 29 10:36:43 h useradd[1]: new group: name=elastic_user_0, GID=1002", want{action: "group_created", outcome: "success", group: "elastic_user_0"}},
		{"Mar 29 10:36:43 h usermod[1]: add 'bob' to group 'sudo'", want{action: "user_modified", outcome: "success", user: "bob", group: "sudo"}},
		{"Mar 29 10:36:43 h userdel[1]: delete user 'bob'", want{action: "user_deleted", outcome: "success", user: "bob"}},
		{"Mar 29 10:36:43 h groupdel[1]: group 'staff2' removed", want{action: "group_deleted", outcome: "success", group: "staff2"}},
		{"Mar 29 10:36:43 h gpasswd[1]: user bob added by root to group sudo", want{action: "group_modified", outcome: "success", user: "bob", group: "sudo"}},
		{"Mar 29 10:36:43 h passwd[1]: pam_unix(passwd:chauthtok): password changed for bob", want{action: "password_changed", outcome: "success", user: "bob"}},
		{"Mar 29 10:32:51 h chpasswd[30938]: pam_unix(chpasswd:chauthtok): user \"x\" does not exist in /etc/passwd", want{action: "password_changed", outcome: "failure", user: "x"}},
		{"Mar 27 13:08:09 h systemd-logind[1118]: New session 2 of user ubuntu.", want{action: "session_opened", outcome: "success", user: "ubuntu"}},
		{"Mar 27 13:08:09 h systemd-logind[1118]: Removed session 2.", want{action: "session_closed", outcome: "success"}},
		{"Mar 27 13:17:01 h CRON[1]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
			want{action: "cron_command", outcome: "success", user: "root", cmd: "   cd / && run-parts --report /etc/cron.hourly"}},
		{"Jun 15 02:04:59 combo sshd(pam_unix)[20882]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=220-135-151-1.hinet-ip.hinet.net  user=root",
			want{action: "auth_failure", outcome: "failure", user: "root", addr: "220-135-151-1.hinet-ip.hinet.net"}},
		{"Mar 29 23:18:33 h sshd[6402]: message repeated 5 times: [ Failed password for root from 218.60.136.106 port 56338 ssh2]",
			want{action: "ssh_failed_login", outcome: "failure", user: "root", addr: "218.60.136.106", port: 56338}},
		{"Dec 12 14:10:24 myhost sshd[16379]: refused connect from x.example (::ffff:192.168.1.1)", want{addr: "192.168.1.1"}},
	}
	for _, c := range cases {
		res := parseBytes(t, "x", []byte(c.line), time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC), time.UTC)
		if len(res.Events) != 1 {
			t.Fatalf("%q: %d events", c.line, len(res.Events))
		}
		ev := res.Events[0]
		g := want{action: ev.Event.Action, outcome: ev.Event.Outcome, user: userOf(ev), addr: addrOf(ev)}
		if ev.User != nil {
			g.uid = ev.User.ID
			if ev.User.Effective != nil {
				g.effective = ev.User.Effective.Name
			}
		}
		if ev.Source != nil {
			g.port = ev.Source.Port
		}
		if ev.Process != nil {
			g.cmd = ev.Process.CommandLine
		}
		if ev.Group != nil {
			g.group = ev.Group.Name
		}
		if g != c.w {
			t.Errorf("%q:\n got %+v\nwant %+v", c.line, g, c.w)
		}
		if c.w.action != "" && (len(ev.Event.Category) == 0 || len(ev.Event.Type) == 0) {
			t.Errorf("%q: action without category/type", c.line)
		}
	}
	// plaso's testProcessCron: event 1 is command "sleep $(( 1 * 60 )); touch /tmp/afile.txt" by root.
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "logs/syslog/syslog_cron.log"), nil)
	if ev := res.Events[1]; ev.Process.CommandLine != "sleep $(( 1 * 60 )); touch /tmp/afile.txt" || ev.User.Name != "root" {
		t.Errorf("plaso cron event: %+v %+v", ev.Process, ev.User)
	}
}

// TestCrowdsec holds the parser to crowdsec hub's parser.assert files: the
// s00-raw stage gives program, pid, message body and host per line; the
// s01-parse stage the source IP and target user of the sshd lines.
func TestCrowdsec(t *testing.T) {
	reAssert := regexp.MustCompile(`^results\["(s0[01]-\w+)"\]\["[^"]+"\]\[(\d+)\]\.Evt\.(Parsed|Meta)\["(\w+)"\] == "(.*)"$`)
	for _, name := range []string{"sshd-logs", "sshd-success-logs"} {
		t.Run(name, func(t *testing.T) {
			res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "more/linux/auth/crowdsec_"+name+".log"), nil)
			if res.Err != nil || len(res.Warnings) != 0 {
				t.Fatalf("err %v, warnings %v", res.Err, res.Warnings)
			}
			checked := 0
			for _, l := range corpusLines(t, "more/linux/auth/crowdsec_"+name+".parser.assert") {
				m := reAssert.FindStringSubmatch(l)
				if m == nil {
					continue
				}
				i, _ := strconv.Atoi(m[2])
				if i >= len(res.Events) {
					t.Errorf("crowdsec has line %d, parser has %d events", i, len(res.Events))
					continue
				}
				ev := res.Events[i]
				val, err := strconv.Unquote(`"` + m[5] + `"`)
				if err != nil {
					val = m[5]
				}
				var got string
				switch m[3] + "." + m[4] {
				case "Parsed.program":
					got = ev.Process.Name
				case "Parsed.pid":
					got = fmt.Sprint(ev.Process.PID)
				case "Parsed.message":
					// Our message keeps the tag; crowdsec's is the body.
					got = strings.TrimLeft(strings.TrimPrefix(ev.Message, ev.Log.Syslog.Appname+"["+ev.Log.Syslog.ProcID+"]:"), " ")
				case "Meta.machine":
					got = ev.Host.Name
				case "Meta.source_ip":
					got = addrOf(ev)
				case "Meta.target_user", "Meta.user":
					got = userOf(ev)
				default:
					continue
				}
				checked++
				if got != val {
					t.Errorf("line %d %s.%s: got %q, crowdsec %q (%s)", i, m[3], m[4], got, val, ev.Message)
				}
			}
			if checked == 0 {
				t.Fatal("no assertion read")
			}
			t.Logf("%d crowdsec assertions hold", checked)
		})
	}
	// ssh-bf: crowdsec's scenario sees 6 "Invalid user" tries from
	// 35.188.49.176 on sd-126005 (incl. one from the newer sshd-session).
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "more/linux/auth/crowdsec_ssh-bf.log"), nil)
	n := 0
	for _, ev := range res.Events {
		if ev.Event.Action == "ssh_invalid_user" && addrOf(ev) == "35.188.49.176" && ev.Host.Name == "sd-126005" {
			n++
		}
	}
	if n != 6 || res.Events[0].User.Name != "pascal" || res.Events[0].Timestamp.Format("Jan 2 15:04:05") != "Feb 12 14:10:21" {
		t.Errorf("ssh-bf: %d invalid-user events, first %+v", n, res.Events[0].User)
	}
}

func TestPlainIPv4(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"10.0.0.1", true},
		{"255.255.255.255", true},
		{"0.0.0.0", true},
		{"256.1.1.1", false},
		{"01.2.3.4", false}, // netip refuses the leading zero
		{"1.2.3", false},
		{"1.2.3.4.5", false},
		{"1..3.4", false},
		{".1.2.3", false},
		{"1.2.3.4.", false},
		{"1.2.3.4 ", false},
		{"::ffff:1.2.3.4", false}, // valid, but netip's to read
		{"", false},
	} {
		if got := plainIPv4(tc.s); got != tc.want {
			t.Errorf("plainIPv4(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// FuzzPlainIPv4: what plainIPv4 takes, netip reads as that IPv4 address,
// and every IPv4 address netip reads and writes back as it was is taken
// (the fast path misses no plain address).
func FuzzPlainIPv4(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "::ffff:1.2.3.4", "1.2.3.4%eth0",
		"0.0.0.0", "1.0.10.100", "1.2.3.0", "1.2.3.00", "1.2.3.1000", "1.2.3.4x", "9.99.199.249"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !plainIPv4(s) {
			if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() && ip.String() == s {
				t.Errorf("plainIPv4(%q) is false, but netip reads it as %v", s, ip)
			}
			return
		}
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is4() || ip.String() != s {
			t.Errorf("plainIPv4(%q) but netip: %v, %v", s, ip, err)
		}
	})
}

// FuzzTrims: trimPunct, trimBrackets and trimBlanks are the strings calls
// they stand for.
func FuzzTrims(f *testing.F) {
	for _, s := range []string{"", "a", "1.2.3.4:", "x.;,:", "[::1]", "]]a[[", "[", ":", "  a ", " \t b", "   "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := trimBlanks(s), strings.TrimLeft(s, " "); got != want {
			t.Errorf("trimBlanks(%q) = %q, want %q", s, got, want)
		}
		if got, want := trimPunct(s), strings.TrimRight(s, ":,;."); got != want {
			t.Errorf("trimPunct(%q) = %q, want %q", s, got, want)
		}
		if got, want := trimBrackets(s), strings.Trim(s, "[]"); got != want {
			t.Errorf("trimBrackets(%q) = %q, want %q", s, got, want)
		}
	})
}
