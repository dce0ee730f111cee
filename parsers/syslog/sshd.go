package syslog

import (
	"net/netip"
	"strings"
)

// sshd normalises OpenSSH's authentication and connection lines. The user
// is everything between "for"/"user" and the last " from ", so names with
// blanks, and the empty name of "Invalid user  from IP", survive.
func sshd(b *block, body string) {
	body = strings.TrimPrefix(body, "error: ")
	switch {
	case strings.HasPrefix(body, "Accepted "):
		method, rest, ok := strings.Cut(body[len("Accepted "):], " for ")
		if !ok {
			break
		}
		user, ip, port, tail, ok := userFrom(rest)
		if !ok {
			break
		}
		b.set(actSSHLogin, "success")
		b.setUser(user)
		b.setSource(ip, port)
		b.data("ssh.method", method)
		if _, sig, ok := strings.Cut(tail, "ssh2: "); ok {
			b.data("ssh.signature", sig)
		}
		return
	case strings.HasPrefix(body, "Failed "):
		method, rest, ok := strings.Cut(body[len("Failed "):], " for ")
		if !ok {
			break
		}
		rest, invalid := strings.CutPrefix(rest, "invalid user ")
		user, ip, port, _, ok := userFrom(rest)
		if !ok {
			break
		}
		b.set(actSSHFailedLogin, "failure")
		b.setUser(user)
		b.setSource(ip, port)
		b.data("ssh.method", method)
		if invalid {
			b.data("ssh.invalid_user", "true")
		}
		return
	case strings.HasPrefix(body, "Invalid user "):
		user, ip, port, _, ok := userFrom(body[len("Invalid user "):])
		if !ok {
			break
		}
		b.set(actSSHInvalidUser, "failure")
		b.setUser(user)
		b.setSource(ip, port)
		return
	case strings.HasPrefix(body, "User ") && strings.Contains(body, " not allowed because "):
		head, reason, _ := strings.Cut(body[len("User "):], " not allowed because ")
		user, ip, port, _, ok := userFrom(head)
		if !ok {
			break
		}
		b.set(actSSHFailedLogin, "failure")
		b.setUser(user)
		b.setSource(ip, port)
		b.data("ssh.reason", "not allowed because "+reason)
		return
	case strings.HasPrefix(body, "Disconnected from "):
		disconnect(b, body[len("Disconnected from "):])
		return
	case strings.HasPrefix(body, "Connection closed by "):
		disconnect(b, body[len("Connection closed by "):])
		return
	case strings.HasPrefix(body, "Connection reset by "):
		disconnect(b, body[len("Connection reset by "):])
		return
	case strings.HasPrefix(body, "Received disconnect from "):
		rest := body[len("Received disconnect from "):]
		b.set(actSSHDisconnect, "")
		ip := trimPunct(word(rest))
		port := ""
		if p, ok := strings.CutPrefix(rest[len(word(rest)):], " port "); ok {
			port = trimPunct(word(p))
			port, _, _ = strings.Cut(port, ":")
		}
		b.setSource(ip, port)
		return
	case strings.HasPrefix(body, "PAM ") && strings.Contains(body, " more authentication failure"):
		// sshd's summary "PAM N more authentication failure(s); ... rhost=H user=U"
		b.set(actAuthFailure, "failure")
		b.data("pam.more_failures", word(body[len("PAM "):]))
		b.setUser(kv(body, "user="))
		b.setSource(kv(body, "rhost="), "")
		return
	case strings.HasPrefix(body, "Connection from "):
		rest := body[len("Connection from "):]
		ip := word(rest)
		port := ""
		if p, ok := strings.CutPrefix(rest[len(ip):], " port "); ok {
			port = word(p)
		}
		b.set(actSSHConnection, "")
		b.setSource(ip, port)
		return
	}
	peer(b, body)
}

// userFrom splits "U from IP[ port N][ tail]".
func userFrom(s string) (user, ip, port, tail string, ok bool) {
	i := lastFrom(s)
	if i < 0 {
		return "", "", "", "", false
	}
	user = s[:i]
	rest := s[i+len(" from "):]
	ip = word(rest)
	rest = rest[len(ip):]
	if p, found := strings.CutPrefix(rest, " port "); found {
		port = word(p)
		rest = p[len(port):]
	}
	return user, trimPunct(ip), port, strings.TrimPrefix(rest, " "), ip != ""
}

// lastFrom is strings.LastIndex(s, " from "), written as forward
// searches: strings.Index compares a short string in vector registers,
// where LastIndex hashes every byte and LastIndexByte steps back a byte at
// a time (amd64 has no assembly for it), and every sshd logon line asks it.
// A line names " from " once, so what follows is nearly always settled
// by one byte search for an 'f'; one match may overlap the next by its
// blank (FuzzLastFrom checks it against LastIndex).
func lastFrom(s string) int {
	const sep = " from "
	i := strings.Index(s, sep)
	if i < 0 {
		return -1
	}
	for {
		// A later match starts at i+5 at the earliest (sharing this one's
		// last blank), so its 'f' is at i+6 or after.
		if strings.IndexByte(s[i+len(sep):], 'f') < 0 {
			// No 'f', no " from ": the common tail ("1.2.3.4 port 22
			// ssh2") is settled by one byte search.
			return i
		}
		j := strings.Index(s[i+1:], sep)
		if j < 0 {
			return i
		}
		i += 1 + j
	}
}

// disconnect reads "[[invalid|authenticating] user U ]IP[ port N][ [preauth]]".
func disconnect(b *block, s string) {
	b.set(actSSHDisconnect, "")
	s = strings.TrimSuffix(strings.TrimSpace(s), " [preauth]")
	head, port := word(s), ""
	if i := strings.LastIndex(s, " port "); i >= 0 {
		head, port = s[:i], trimPunct(word(s[i+len(" port "):]))
	}
	ip, who := head, ""
	if j := strings.LastIndexByte(head, ' '); j >= 0 {
		ip, who = head[j+1:], head[:j]
	}
	b.setSource(trimPunct(ip), port)
	if _, u, ok := strings.Cut(who, "user "); ok {
		b.setUser(u)
	}
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

// peer finds the remote address in an sshd line no template above knows:
// "IP port N" anywhere, "from IP" or "for IP" at the end, or "(IP)".
func peer(b *block, body string) {
	for off := 0; ; {
		i := strings.Index(body[off:], " port ")
		if i < 0 {
			break
		}
		i += off
		head := body[:i]
		ip := head[strings.LastIndexByte(head, ' ')+1:]
		if isIP(ip) {
			b.setSource(ip, trimPunct(word(body[i+len(" port "):])))
			return
		}
		off = i + len(" port ")
	}
	if i := strings.LastIndex(body, " from "); i >= 0 {
		if ip := trimPunct(word(body[i+len(" from "):])); isIP(ip) {
			b.setSource(ip, "")
			return
		}
	}
	if i := strings.LastIndexByte(body, '('); i >= 0 {
		if j := strings.IndexByte(body[i:], ')'); j > 0 && isIP(body[i+1:i+j]) {
			b.setSource(body[i+1:i+j], "")
		}
	}
}
