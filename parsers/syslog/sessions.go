package syslog

import "strings"

// pam reads pam_unix's lines, "pam_unix(service:type): ..." in any program
// and the older "prog(pam_unix)[pid]: ..." form; false when the line is none
// of the kinds it knows.
func pam(b *block, body string) bool {
	svc := ""
	if strings.HasPrefix(body, "pam_") {
		mod, rest, ok := strings.Cut(body, "): ")
		if !ok {
			return false
		}
		_, svc, _ = strings.Cut(mod, "(")
		body = rest
	}
	switch {
	case strings.HasPrefix(body, "session opened for user "):
		// "session opened for user U[(uid=N)] by [A](uid=M)"
		rest := body[len("session opened for user "):]
		user, by, _ := strings.Cut(rest, " by ")
		b.set(actSessionOpened, "success")
		b.setUser(pamName(user))
		if a := pamName(by); a != "" {
			b.data("pam.by_user", a)
		}
	case strings.HasPrefix(body, "session closed for user "):
		b.set(actSessionClosed, "success")
		b.setUser(pamName(body[len("session closed for user "):]))
	case strings.HasPrefix(body, "authentication failure;"):
		b.set(actAuthFailure, "failure")
		b.setUser(kv(body, "user="))
		b.setSource(kv(body, "rhost="), "")
		if r := kv(body, "ruser="); r != "" {
			b.data("pam.ruser", r)
		}
	case strings.HasPrefix(body, "password changed for "):
		b.set(actPasswdChanged, "success")
		b.setUser(word(body[len("password changed for "):]))
	case strings.HasPrefix(body, "user \"") && strings.Contains(body, "\" does not exist"):
		// chpasswd asked to change the password of an unknown account.
		if strings.HasSuffix(svc, ":chauthtok") {
			b.set(actPasswdChanged, "failure")
			u, _, _ := strings.Cut(body[len("user \""):], "\"")
			b.setUser(u)
		}
	default:
		return false
	}
	return true
}

// pamName strips "(uid=N)" and a trailing blank from a PAM user name.
func pamName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	return word(s)
}

// logind reads systemd-logind's "New session N of user U." and
// "Removed session N.".
func logind(b *block, body string) {
	switch {
	case strings.HasPrefix(body, "New session "):
		id, rest, ok := strings.Cut(body[len("New session "):], " of user ")
		if !ok {
			return
		}
		b.set(actSessionOpened, "success")
		b.setUser(strings.TrimSuffix(rest, "."))
		b.data("session_id", id)
	case strings.HasPrefix(body, "Removed session "):
		b.set(actSessionClosed, "success")
		b.data("session_id", strings.TrimSuffix(body[len("Removed session "):], "."))
	}
}

// cron reads "(U) CMD (C)". As in plaso the command runs to the last ')'.
func cron(b *block, body string) {
	if len(body) < 2 || body[0] != '(' {
		return
	}
	user, rest, ok := strings.Cut(body[1:], ") CMD (")
	if !ok || !strings.HasSuffix(rest, ")") {
		return
	}
	b.set(actCron, "success")
	b.setUser(user)
	b.proc.CommandLine = rest[:len(rest)-1]
}
