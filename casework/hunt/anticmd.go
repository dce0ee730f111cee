package hunt

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// ---- Linux anti-forensics in typed and executed commands ----
//
// Shell history (bash, zsh) and auditd (EXECVE, sudo's USER_CMD) record
// command lines. One analyzer reads them for five kinds of tampering, each
// kind a rule of its own (JEJAK-LNX-01..05, parameter "kind"), so a report
// names the technique. A command is matched by its parsed words
// (shellcmd.go), never by a substring of the line.

// commandActions are the event actions whose process.command_line is a
// command a person typed or a process executed on Linux.
var commandActions = map[string]bool{
	"command_entered": true, // bash/zsh history
	"executed":        true, // auditd EXECVE
	"sudo_command":    true, // auditd USER_CMD
}

// cmdKinds maps a rule's "kind" parameter to its matcher. A matcher
// returns why the command is that kind of tampering, or "".
var cmdKinds = map[string]func(c simpleCmd, ctx cmdContext) string{
	"log-tamper":    logTamper,
	"history-clear": historyClear,
	"db-dump":       dbDump,
	"ssh-key":       sshKey,
	"audit-disable": auditDisable,
}

// cmdContext is what a matcher knows besides the words.
type cmdContext struct {
	cwd   string   // auditd's CWD record; "" for shell history
	watch []string // normalised --watch paths
}

type linuxCommand struct {
	h     *hunter
	r     *Rule
	match func(simpleCmd, cmdContext) string
	watch []string
	by    map[string]*cmdGroup
}

// cmdGroup is one finding: the matching commands of one file and user.
type cmdGroup struct {
	label, user string
	refs        []EventRef
	lines       []cmdLine
}

// cmdLine is one matching command as the explanation lists it, in the
// order of the file (commands typed in one second share a time).
type cmdLine struct {
	at   time.Time
	pos  int64
	text string
}

func newLinuxCommand(h *hunter, r *Rule) (analyzer, error) {
	kind := r.Parameters["kind"]
	m, ok := cmdKinds[kind]
	if !ok {
		return nil, fmt.Errorf("parameter kind %q: want one of log-tamper, history-clear, db-dump, ssh-key, audit-disable", kind)
	}
	var ws []string
	for _, w := range h.cfg.Watch {
		if n := normPath(w); n != "" {
			ws = append(ws, n)
		}
	}
	return &linuxCommand{h: h, r: r, match: m, watch: ws, by: map[string]*cmdGroup{}}, nil
}

func (a *linuxCommand) wants() interest { return interest{actions: sortedSet(commandActions)} }

func (a *linuxCommand) observe(ev *timeline.Event) {
	if ev.Process == nil || ev.Process.CommandLine == "" || !commandActions[ev.Event.Action] || !a.h.inScope(ev.Timestamp) {
		return
	}
	// A history line without a time ("Not a time") cannot be placed after
	// the cut-off; inScope already keeps it out when a cut-off is given.
	ctx := cmdContext{cwd: ev.Process.WorkingDir, watch: a.watch}
	var why []string
	for _, c := range a.h.commands(ev.Process.CommandLine) {
		if w := a.match(c, ctx); w != "" && !slices.Contains(why, w) {
			why = append(why, w)
		}
	}
	if len(why) == 0 {
		return
	}
	user := userOf(ev)
	if user == "" && ev.User != nil {
		user = "uid " + ev.User.ID
	}
	if user == "" && ev.Event.Action == "command_entered" {
		user = historyOwner(ev.Jejak.Provenance.Path)
	}
	k := fileKey(ev.Jejak.Provenance) + "\x00" + user
	g := a.by[k]
	if g == nil {
		g = &cmdGroup{label: fileLabel(ev.Jejak.Provenance), user: user}
		a.by[k] = g
	}
	g.refs = append(g.refs, a.h.ref(ev))
	line := fmt.Sprintf("%s `%s` (%s)", ts(ev.Timestamp), clip(oneLine(ev.Process.CommandLine), 100), strings.Join(why, "; "))
	g.lines = append(g.lines, cmdLine{ev.Timestamp, ev.Jejak.Provenance.Offset, line})
}

// maxCommandCache bounds the command lines whose split is remembered.
const maxCommandCache = 4096

// commands is splitCommands of a command line, split once for the five
// linux-command rules and for every line seen again (sudo and cron repeat
// the same few commands all day): splitting was most of an auth.log's
// analyzer time. The matchers only read the split.
func (h *hunter) commands(line string) []simpleCmd {
	if c, ok := h.cmds[line]; ok {
		return c
	}
	if h.cmds == nil || len(h.cmds) >= maxCommandCache {
		h.cmds = make(map[string][]simpleCmd, 64)
	}
	c := splitCommands(line)
	h.cmds[line] = c
	return c
}

func (a *linuxCommand) finish() []Finding {
	var out []Finding
	for _, g := range a.by {
		key := g.label
		if g.user != "" {
			key += " user=" + g.user
		}
		fd := newFinding(a.r, key, "", g.refs)
		by := ""
		if g.user != "" {
			by = " by " + g.user
		}
		slices.SortStableFunc(g.lines, func(a, b cmdLine) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return cmp.Compare(a.pos, b.pos)
		})
		texts := make([]string, len(g.lines))
		for i, l := range g.lines {
			texts[i] = l.text
		}
		when := "after the cut-off"
		if a.h.cfg.After.IsZero() {
			when = "(no cut-off given)"
		}
		fd.Explanation = fmt.Sprintf("%s%s in %s %s, %s to %s: %s",
			plural(len(fd.Events), "command", "commands"), by, g.label, when, ts(fd.First), ts(fd.Last), strings.Join(firstN(texts, 6), "; "))
		out = append(out, fd)
	}
	return out
}

// historyOwner is the account whose home holds a history file
// (home/NAME/..., root/...), as far as its path says; "" otherwise.
func historyOwner(p string) string {
	parts := strings.Split(strings.Trim(strings.ReplaceAll(p, `\`, "/"), "/"), "/")
	for i, s := range parts[:max(len(parts)-1, 0)] {
		switch {
		case s == "home" && i+2 < len(parts):
			return parts[i+1]
		case s == "root" && i+2 == len(parts):
			return "root"
		}
	}
	return ""
}

func firstN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clip(s[:n]), fmt.Sprintf("… and %d more", len(s)-n))
}

// ---- what the paths are ----

// knownLogs are the base names of system logs (rotation suffixes removed).
var knownLogs = map[string]bool{
	"wtmp": true, "btmp": true, "utmp": true, "lastlog": true, "faillog": true, "auth.log": true, "syslog": true,
	"messages": true, "secure": true, "audit.log": true, "kern.log": true, "daemon.log": true, "user.log": true,
	"maillog": true, "mail.log": true, "cron": true, "cron.log": true, "boot.log": true, "dpkg.log": true, "yum.log": true,
}

// logPath: the path is a log: under /var/log, the utmp file, or a file in
// a folder named log or logs (an application's, e.g.
// /opt/tabulasi/logs/app.log). A relative path is resolved against the
// working directory when it is known (auditd's CWD record); when it is not
// (shell history), a known system log's name ("auth.log.1" typed in
// /var/log) is taken as that log.
func logPath(p, cwd string) bool {
	if p == "" || strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/proc/") {
		return false
	}
	abs := p
	relative := !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "~") && !strings.HasPrefix(p, "$")
	if relative {
		if cwd == "" {
			return knownLogs[unrotated(path.Base(p))]
		}
		abs = path.Join(cwd, p)
	}
	abs = path.Clean(abs)
	if abs == "/var/log" || strings.HasPrefix(abs, "/var/log/") || abs == "/run/utmp" || abs == "/var/run/utmp" {
		return true
	}
	switch path.Base(path.Dir(abs)) {
	case "log", "logs":
		return true
	}
	return false
}

// unrotated strips what logrotate and savelog append: .gz/.xz/.bz2/.zst,
// a number, a date.
func unrotated(b string) string {
	for _, ext := range []string{".gz", ".xz", ".bz2", ".zst", ".Z"} {
		b = strings.TrimSuffix(b, ext)
	}
	if i := strings.LastIndexAny(b, ".-"); i > 0 && allDigits(b[i+1:]) {
		b = b[:i]
	}
	return b
}

// historyPath: a shell's or a database client's history file, or the
// variable naming it.
func historyPath(p string) bool {
	switch p {
	case "$HISTFILE", "${HISTFILE}":
		return true
	}
	b := path.Base(p)
	return strings.HasSuffix(b, "_history") || b == ".history" || b == ".zhistory" || b == ".histfile"
}

// dbDirs hold database servers' files.
var dbDirs = []string{"var/lib/mysql", "var/lib/mariadb", "var/lib/postgresql", "var/lib/pgsql", "var/lib/mongodb", "var/opt/mssql", "var/lib/sqlite"}

// dbExts are database files and dumps. ".bak" is not among them: editors
// and operators name every backup so (nginx.conf.bak).
var dbExts = []string{".db", ".sqlite", ".sqlite3", ".db3", ".mdb", ".accdb", ".mdf", ".ldf", ".ibd", ".myd", ".sql", ".dump"}

func dbPath(p, cwd string, watch []string) bool {
	abs := p
	if !strings.HasPrefix(p, "/") && cwd != "" {
		abs = path.Join(cwd, p)
	}
	n := normPath(path.Clean(abs))
	for _, d := range dbDirs {
		if under(n, d) {
			return true
		}
	}
	for _, w := range watch {
		if under(n, w) {
			return true
		}
	}
	b := strings.ToLower(path.Base(p))
	b = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(b, ".gz"), ".xz"), ".zip")
	for _, e := range dbExts {
		if strings.HasSuffix(b, e) {
			return true
		}
	}
	return false
}

// ---- the five kinds ----

// deleters remove or destroy the files they are given.
var deleters = map[string]bool{"rm": true, "unlink": true, "shred": true, "wipe": true, "srm": true}

// truncateZero: "truncate -s 0", "-s0", "--size=0", "--size 0".
func truncateZero(c simpleCmd) bool {
	for i, a := range c.args {
		switch {
		case a == "-s0" || a == "--size=0":
			return true
		case (a == "-s" || a == "--size") && i+1 < len(c.args) && c.args[i+1] == "0":
			return true
		}
	}
	return false
}

// destroys names how c destroys or empties a file for which is(p) holds,
// or "".
func destroys(c simpleCmd, is func(string) bool) string {
	for _, t := range c.writes(">") {
		if is(t) {
			if c.name == "" || c.name == ":" || c.name == "true" || c.name == "echo" || c.name == "printf" ||
				c.name == "cat" && slices.Contains(c.args, "/dev/null") {
				return "emptied " + t
			}
			return "overwrote " + t
		}
	}
	ops := c.operands()
	switch {
	case deleters[c.name]:
		for _, p := range ops {
			if is(p) {
				return c.name + " " + p
			}
		}
	case c.name == "truncate" && truncateZero(c):
		for _, p := range ops {
			if is(p) {
				return "truncated " + p + " to 0"
			}
		}
	case c.name == "tee" && !c.has("-a", "--append"):
		for _, p := range ops {
			if is(p) {
				return "overwrote " + p + " (tee)"
			}
		}
	case c.name == "mv" && len(ops) >= 2 && !is(ops[len(ops)-1]):
		// Moved away (to /tmp, /dev/null): gone from where it is read.
		for _, p := range ops[:len(ops)-1] {
			if is(p) {
				return "moved " + p + " to " + ops[len(ops)-1]
			}
		}
	case c.name == "cp" && len(ops) == 2 && (ops[0] == "/dev/null" || ops[0] == "/dev/zero") && is(ops[1]):
		return "emptied " + ops[1] + " from " + ops[0]
	case c.name == "ln" && len(ops) == 2 && ops[0] == "/dev/null" && is(ops[1]):
		return "linked " + ops[1] + " to /dev/null"
	case c.name == "dd":
		for _, a := range c.args {
			if t, ok := strings.CutPrefix(a, "of="); ok && is(t) {
				return "dd over " + t
			}
		}
	case (c.name == "sed" || c.name == "perl") && slices.ContainsFunc(c.args, func(a string) bool { return strings.HasPrefix(a, "-i") || strings.HasPrefix(a, "-pi") }):
		for _, p := range ops {
			if is(p) {
				return "edited " + p + " in place"
			}
		}
	case c.name == "find" && (c.has("-delete") || c.has("-exec") && (c.has("rm") || c.has("shred") || c.has("truncate"))):
		for _, p := range ops {
			if is(p) {
				return "find " + p + " deleting files"
			}
		}
	}
	return ""
}

func logTamper(c simpleCmd, ctx cmdContext) string {
	if c.name == "journalctl" {
		for _, a := range c.args {
			if strings.HasPrefix(a, "--vacuum") {
				return "journalctl " + a
			}
		}
		return ""
	}
	isLog := func(p string) bool { return logPath(p, ctx.cwd) }
	return destroys(c, isLog)
}

var histVars = map[string]bool{"HISTFILE": true, "HISTSIZE": true, "HISTFILESIZE": true, "SAVEHIST": true}

func historyClear(c simpleCmd, ctx cmdContext) string {
	switch {
	case c.name == "history" && (c.has("-c") || c.has("-d") || c.has("-cw")):
		return "history " + strings.Join(c.args, " ")
	case c.name == "unset":
		for _, a := range c.args {
			if histVars[a] {
				return "unset " + a
			}
		}
	case c.name == "set" && len(c.args) >= 2 && c.args[0] == "+o" && c.args[1] == "history":
		return "set +o history"
	case c.name == "kill" && slices.Contains(c.args, "$$") && (c.has("-9") || c.has("-KILL") || c.has("-SIGKILL")):
		// Killing one's own shell skips writing the history file.
		return "kill -9 $$"
	}
	for _, a := range c.assigns {
		k, v, _ := strings.Cut(a, "=")
		switch {
		case (k == "HISTSIZE" || k == "HISTFILESIZE" || k == "SAVEHIST") && v == "0":
			return a
		case k == "HISTFILE" && (v == "" || v == "/dev/null"):
			return "HISTFILE=" + v
		}
	}
	return destroys(c, historyPath)
}

// dumpers copy a database server's content out.
var dumpers = map[string]bool{
	"pg_dump": true, "pg_dumpall": true, "pg_basebackup": true, "mysqldump": true, "mariadb-dump": true,
	"mysqlpump": true, "mydumper": true, "mariabackup": true, "xtrabackup": true, "mongodump": true, "mongoexport": true,
}

// copiers copy or pack files, possibly to another host.
var copiers = map[string]bool{
	"cp": true, "scp": true, "rsync": true, "sftp": true, "tar": true, "zip": true, "7z": true, "7za": true,
	"rclone": true, "dd": true, "install": true,
}

func dbDump(c simpleCmd, ctx cmdContext) string {
	switch {
	case dumpers[c.name]:
		return c.name
	case c.name == "sqlite3":
		for _, a := range c.args {
			if a == ".dump" || strings.HasPrefix(a, ".backup") || strings.HasPrefix(a, ".clone") || strings.HasPrefix(a, ".output") || strings.HasPrefix(a, ".once") {
				return "sqlite3 " + a
			}
		}
	case copiers[c.name]:
		for _, p := range c.operands() {
			if dbPath(p, ctx.cwd, ctx.watch) {
				return c.name + " of " + p
			}
		}
		if c.name == "dd" {
			for _, a := range c.args {
				if f, ok := strings.CutPrefix(a, "if="); ok && dbPath(f, ctx.cwd, ctx.watch) {
					return "dd of " + f
				}
			}
		}
	case c.name == "curl" || c.name == "wget":
		// Uploads: curl -T FILE, -F field=@FILE, --data-binary @FILE;
		// wget --post-file=FILE.
		for i, a := range c.args {
			f := ""
			switch {
			case a == "-T" || a == "--upload-file":
				if i+1 < len(c.args) {
					f = c.args[i+1]
				}
			case strings.Contains(a, "@"):
				_, f, _ = strings.Cut(a, "@")
			case strings.HasPrefix(a, "--post-file="):
				f = strings.TrimPrefix(a, "--post-file=")
			}
			if f != "" && dbPath(f, ctx.cwd, ctx.watch) {
				return c.name + " upload of " + f
			}
		}
	}
	return ""
}

func authorizedKeys(p string) bool {
	b := path.Base(p)
	return b == "authorized_keys" || b == "authorized_keys2"
}

func sshKey(c simpleCmd, ctx cmdContext) string {
	if c.name == "ssh-copy-id" {
		return "ssh-copy-id"
	}
	for _, op := range []string{">>", ">"} {
		for _, t := range c.writes(op) {
			if authorizedKeys(t) {
				return "wrote to " + t
			}
		}
	}
	ops := c.operands()
	switch c.name {
	case "tee":
		for _, p := range ops {
			if authorizedKeys(p) {
				return "tee into " + p
			}
		}
	case "cp", "mv", "install", "scp", "rsync", "ln":
		if len(ops) >= 2 && authorizedKeys(ops[len(ops)-1]) {
			return c.name + " to " + ops[len(ops)-1]
		}
	case "sed", "vi", "vim", "nano", "ed":
		for _, p := range ops {
			if authorizedKeys(p) {
				return c.name + " " + p
			}
		}
	}
	return ""
}

// auditUnits are the services that record what happens on the host.
var auditUnits = map[string]bool{
	"auditd": true, "rsyslog": true, "syslog": true, "syslog-ng": true, "systemd-journald": true,
	"journald": true, "apparmor": true, "audit": true, "sysklogd": true, "metalog": true,
}

func auditUnit(s string) bool {
	s = strings.TrimSuffix(strings.TrimSuffix(s, ".service"), ".socket")
	return auditUnits[s] || auditUnits[strings.TrimSuffix(s, "d")]
}

func auditDisable(c simpleCmd, ctx cmdContext) string {
	args := c.args
	switch c.name {
	case "auditctl":
		for i, a := range args {
			switch {
			case a == "-e0" || a == "-e" && i+1 < len(args) && args[i+1] == "0":
				return "auditctl -e 0 (auditing disabled)"
			case a == "-D":
				return "auditctl -D (all rules deleted)"
			case (a == "-a" || a == "-A") && i+1 < len(args) && strings.Contains(args[i+1], "never") && strings.Contains(args[i+1], "task"):
				return "auditctl " + a + " " + args[i+1] + " (tasks exempted)"
			}
		}
	case "systemctl":
		verb := ""
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			if verb == "" {
				verb = a
				if verb != "stop" && verb != "disable" && verb != "mask" && verb != "kill" {
					return ""
				}
				continue
			}
			if auditUnit(a) {
				return "systemctl " + verb + " " + a
			}
		}
	case "service", "invoke-rc.d", "rc-service":
		if len(args) >= 2 && auditUnit(args[0]) && (args[1] == "stop" || args[1] == "disable") {
			return c.name + " " + args[0] + " " + args[1]
		}
	case "update-rc.d", "chkconfig":
		if len(args) >= 2 && auditUnit(args[0]) && (args[1] == "disable" || args[1] == "remove" || args[1] == "off") {
			return c.name + " " + args[0] + " " + args[1]
		}
	case "pkill", "killall":
		for _, p := range c.operands() {
			if auditUnit(p) {
				return c.name + " " + p
			}
		}
	case "setenforce":
		if len(args) == 1 && (args[0] == "0" || strings.EqualFold(args[0], "permissive")) {
			return "setenforce " + args[0] + " (SELinux permissive)"
		}
	case "aa-teardown":
		return "aa-teardown (AppArmor unloaded)"
	}
	// /etc/init.d/auditd stop
	if len(args) >= 1 && args[0] == "stop" && auditUnit(c.name) {
		return c.name + " stop"
	}
	return ""
}
