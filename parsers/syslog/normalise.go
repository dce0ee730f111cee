package syslog

import (
	"net/netip"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// normalise fills ECS fields for the audit lines it knows. It is chosen by
// program name (and a PAM prefix) with plain string checks, so the common
// line pays one switch and no regular expression. Field conventions, as in
// Filebeat's system module: for account changes user.* is the account acted
// on; for sudo and su user.name is who ran it and user.effective.name whom
// it ran as.
func normalise(b *block, prog, body string) {
	if body != "" && body[0] == 'm' { // "message repeated ", checked past its first byte
		if n, inner, ok := repeated(body); ok {
			b.data("repeat_count", n)
			body = inner
		}
	}
	if strings.HasPrefix(body, "pam_") || strings.HasSuffix(prog, "(pam_unix)") {
		if pam(b, body) {
			return
		}
	}
	switch prog {
	case "sshd", "sshd-session", "sshd-auth":
		sshd(b, body)
	case "sudo":
		sudo(b, body)
	case "su":
		su(b, body)
	case "useradd", "usermod", "userdel", "groupadd", "groupdel", "groupmod", "gpasswd", "passwd", "chpasswd":
		accounts(b, body)
	case "systemd-logind":
		logind(b, body)
	case "CRON", "cron", "crond":
		cron(b, body)
	case "mysqld", "mariadbd", "mysqld_safe", "mariadb", "mysql":
		mysql(b, body)
	case "postgres", "postgresql", "postmaster":
		postgres(b, body)
	}
}

// repeated unwraps rsyslog's "message repeated N times: [ inner]".
func repeated(body string) (n, inner string, ok bool) {
	n, ok = repeatCount(body, "message repeated ")
	if !ok {
		return "", "", false
	}
	_, rest, found := strings.Cut(body, " times: [")
	if !found {
		return "", "", false
	}
	return n, strings.TrimSpace(strings.TrimSuffix(rest, "]")), true
}

func (b *block) set(a action, outcome string) {
	b.ev.Event.Action = a.name
	b.ev.Event.Category = a.category
	b.ev.Event.Type = a.typ
	b.ev.Event.Outcome = outcome
}

func (b *block) setUser(name string) {
	if name == "" {
		return
	}
	b.user.Name = name
	b.ev.User = &b.user
}

func (b *block) setEffective(name string) {
	if name == "" {
		return
	}
	b.user.Effective = &timeline.User{Name: name}
	b.ev.User = &b.user
}

func (b *block) setGroup(name, id string) {
	if name == "" && id == "" {
		return
	}
	b.ev.Group = &timeline.Group{Name: name, ID: id}
}

// setSource records the peer: source.ip when addr is an IP address (an
// IPv4-mapped IPv6 address is written as IPv4), source.domain otherwise.
func (b *block) setSource(addr, port string) {
	addr = trimBrackets(addr)
	if addr == "" {
		return
	}
	if plainIPv4(addr) {
		b.src.IP = addr
	} else if ip, err := netip.ParseAddr(addr); err == nil {
		if ip.Is4In6() {
			addr = ip.Unmap().String()
		}
		b.src.IP = addr
	} else {
		b.src.Domain = addr
	}
	b.src.Address = addr
	b.src.Port = atoiPort(port)
	b.ev.Source = &b.src
}

func (b *block) data(k, v string) {
	if b.ev.Jejak.Data == nil {
		if b.spare == nil {
			b.spare = make(map[string]string, 2)
		} else {
			// Emptied here, not by reset: a record without data (a
			// session, sudo, cron line) leaves its block's map alone.
			clear(b.spare)
		}
		b.ev.Jejak.Data = b.spare
	}
	b.ev.Jejak.Data[k] = v
}

func atoiPort(s string) int {
	n := 0
	for i := 0; i < len(s) && i < 5; i++ {
		if !isDigit(s[i]) {
			return 0
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > 65535 {
		return 0
	}
	return n
}

// word returns s up to the first blank.
func word(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// kv returns the value of "key=value" in a "k=v k=v" or "k=v, k=v" list,
// with key at the start or after a blank, so "user=" does not match
// "ruser=".
func kv(s, key string) string {
	for off := 0; ; {
		i := strings.Index(s[off:], key)
		if i < 0 {
			return ""
		}
		i += off
		if i == 0 || s[i-1] == ' ' || s[i-1] == ',' || s[i-1] == ';' {
			v := s[i+len(key):]
			if j := strings.IndexAny(v, " ,;"); j >= 0 {
				v = v[:j]
			}
			return v
		}
		off = i + len(key)
	}
}

// quoted returns the text between the first pair of single quotes after
// prefix in s ("add 'bob' to group 'sudo'" with prefix "to group " gives
// "sudo"); prefix "" takes the first pair.
func quoted(s, prefix string) string {
	if prefix != "" {
		i := strings.Index(s, prefix)
		if i < 0 {
			return ""
		}
		s = s[i+len(prefix):]
	}
	i := strings.IndexByte(s, '\'')
	if i < 0 {
		return ""
	}
	s = s[i+1:]
	j := strings.IndexByte(s, '\'')
	if j < 0 {
		return ""
	}
	return s[:j]
}

// trimPunct is strings.TrimRight(s, ":,;."), and trimBrackets
// strings.Trim(s, "[]"), by hand: with more than one byte to trim,
// strings builds its byte set on every call, and every sshd line asks
// (FuzzTrims compares them).
func trimPunct(s string) string {
	for len(s) > 0 {
		switch s[len(s)-1] {
		case ':', ',', ';', '.':
			s = s[:len(s)-1]
			continue
		}
		break
	}
	return s
}

func trimBrackets(s string) string {
	for len(s) > 0 && (s[0] == '[' || s[0] == ']') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == '[' || s[len(s)-1] == ']') {
		s = s[:len(s)-1]
	}
	return s
}

// plainIPv4 reports whether s is an IPv4 address in the dotted decimal
// netip.ParseAddr reads (four fields of one to three digits, none over 255,
// no leading zero), so that the common peer skips the general parser. It
// only answers for that form: anything else is left to netip
// (FuzzPlainIPv4 holds it to netip's answer).
func plainIPv4(s string) bool {
	if len(s) < len("0.0.0.0") || len(s) > len("255.255.255.255") {
		return false
	}
	i := 0
	for field := 0; ; field++ {
		// A field: a digit, then up to two more unless it is a lone 0.
		if i == len(s) || !isDigit(s[i]) {
			return false
		}
		v := int(s[i] - '0')
		i++
		if v != 0 {
			for n := 1; n < 3 && i < len(s) && isDigit(s[i]); n++ {
				v = v*10 + int(s[i]-'0')
				i++
			}
			if v > 255 {
				return false
			}
		}
		if field == 3 {
			return i == len(s) // a fourth digit or more text: not this form
		}
		if i == len(s) || s[i] != '.' {
			return false
		}
		i++
	}
}
