package syslog

import "strings"

// sudo reads "U : [reason ; ]TTY=t ; PWD=d ; USER=e ; [GROUP=g ; ][ENV=.. ; ]COMMAND=c".
// COMMAND comes last and may itself hold " ; ", so it takes the rest.
func sudo(b *block, body string) {
	user, rest, ok := strings.Cut(body, " : ")
	if !ok || strings.ContainsRune(strings.TrimSpace(user), ' ') {
		return
	}
	var reason string
	for rest != "" {
		if cmd, ok := strings.CutPrefix(rest, "COMMAND="); ok {
			b.proc.CommandLine = cmd
			break
		}
		var f string
		f, rest, _ = strings.Cut(rest, " ; ")
		switch {
		case strings.HasPrefix(f, "TTY="):
			b.proc.TTY = f[len("TTY="):]
		case strings.HasPrefix(f, "PWD="):
			b.proc.WorkingDir = f[len("PWD="):]
		case strings.HasPrefix(f, "USER="):
			b.setEffective(f[len("USER="):])
		case !strings.Contains(f, "="):
			reason = strings.TrimSpace(f)
		}
	}
	if reason != "" {
		b.set(actSudo, "failure")
		b.data("sudo.reason", reason)
	} else {
		b.set(actSudo, "success")
	}
	b.setUser(strings.TrimSpace(user))
}

// su reads the shadow-utils and util-linux forms of su's own log line.
func su(b *block, body string) {
	outcome := "success"
	switch {
	case strings.HasPrefix(body, "Successful su for "), strings.HasPrefix(body, "FAILED su for "):
		if body[0] == 'F' {
			outcome = "failure"
		}
		_, rest, _ := strings.Cut(body, " su for ")
		target, by, ok := strings.Cut(rest, " by ")
		if !ok {
			return
		}
		b.setUser(by)
		b.setEffective(target)
	case strings.HasPrefix(body, "+ "), strings.HasPrefix(body, "- "):
		// "+ /dev/pts/0 ubuntu:root": '+' success, '-' failure.
		if body[0] == '-' {
			outcome = "failure"
		}
		tty, pair, ok := strings.Cut(body[2:], " ")
		from, to, ok2 := strings.Cut(pair, ":")
		if !ok || !ok2 {
			return
		}
		b.proc.TTY = tty
		b.setUser(from)
		b.setEffective(to)
	case strings.HasPrefix(body, "(to "), strings.HasPrefix(body, "FAILED SU (to "):
		if body[0] == 'F' {
			outcome = "failure"
		}
		_, rest, _ := strings.Cut(body, "(to ")
		target, rest, ok := strings.Cut(rest, ") ")
		if !ok {
			return
		}
		user, tty, _ := strings.Cut(rest, " on ")
		b.proc.TTY = tty
		b.setUser(user)
		b.setEffective(target)
	default:
		return
	}
	b.set(actSu, outcome)
}

// accounts reads the shadow-utils tools (useradd, usermod, userdel,
// groupadd, groupdel, groupmod, gpasswd, passwd, chpasswd).
func accounts(b *block, body string) {
	switch {
	case strings.HasPrefix(body, "new user: "):
		b.set(actUserCreated, "success")
		b.setUser(kv(body, "name="))
		b.user.ID = kv(body, "UID=")
		b.ev.User = &b.user
		b.setGroup("", kv(body, "GID="))
		if home := kv(body, "home="); home != "" {
			b.data("user.home", home)
		}
		if shell := kv(body, "shell="); shell != "" {
			b.data("user.shell", shell)
		}
	case strings.HasPrefix(body, "failed adding user "):
		b.set(actUserCreated, "failure")
		b.setUser(quoted(body, ""))
	case strings.HasPrefix(body, "new group: "), strings.HasPrefix(body, "group added to "):
		b.set(actGroupCreated, "success")
		b.setGroup(kv(body, "name="), kv(body, "GID="))
	case strings.HasPrefix(body, "add '"):
		// "add 'U' to group 'G'", "add 'U' to shadow group 'G'"
		b.set(actUserModified, "success")
		b.setUser(quoted(body, ""))
		b.setGroup(quoted(body, "group "), "")
	case strings.HasPrefix(body, "change user '"):
		if strings.HasSuffix(body, "' password") {
			b.set(actPasswdChanged, "success")
		} else {
			b.set(actUserModified, "success")
		}
		b.setUser(quoted(body, ""))
	case strings.HasPrefix(body, "lock user '"), strings.HasPrefix(body, "unlock user '"):
		b.set(actUserModified, "success")
		b.setUser(quoted(body, ""))
	case strings.HasPrefix(body, "delete user '"):
		b.set(actUserDeleted, "success")
		b.setUser(quoted(body, ""))
	case strings.HasPrefix(body, "removed group '"), strings.HasPrefix(body, "removed shadow group '"):
		b.set(actGroupDeleted, "success")
		b.setGroup(quoted(body, ""), "")
	case strings.HasPrefix(body, "group '") && strings.Contains(body, "' removed"):
		b.set(actGroupDeleted, "success")
		b.setGroup(quoted(body, ""), "")
	case strings.HasPrefix(body, "group changed in "):
		// "group changed in /etc/group (group G/1001, new name: H)"
		b.set(actGroupModified, "success")
		if _, g, ok := strings.Cut(body, "(group "); ok {
			name, id, _ := strings.Cut(strings.TrimSuffix(word(g), ","), "/")
			b.setGroup(name, strings.TrimRight(id, ",)"))
		}
	case strings.HasPrefix(body, "user ") && (strings.Contains(body, " to group ") || strings.Contains(body, " from group ")):
		// gpasswd: "user U added by A to group G", "user U removed by A from group G"
		b.set(actGroupModified, "success")
		b.setUser(word(body[len("user "):]))
		if _, g, ok := strings.Cut(body, " group "); ok {
			b.setGroup(word(g), "")
		}
	case strings.HasPrefix(body, "members of group "):
		b.set(actGroupModified, "success")
		b.setGroup(word(body[len("members of group "):]), "")
	case strings.HasPrefix(body, "password for '"):
		// passwd: "password for 'U' changed by 'A'"
		b.set(actPasswdChanged, "success")
		b.setUser(quoted(body, ""))
		if by := quoted(body, " by "); by != "" {
			b.data("changed_by", by)
		}
	}
}
