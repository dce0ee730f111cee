package syslog

import (
	"strings"
)

// Database servers that log to syslog write their logon failures there too;
// these normalisers give them the fields sshd failures get (user.name,
// source.ip, event.category/type/outcome), under the event.action names
// parsers/dblog uses for the same lines in the servers' own log files, so a
// rule or analyzer sees one name whichever file the line came from.

// mysql reads MySQL's and MariaDB's error-log lines as syslog carries them:
// "2024-02-14T19:05:01.123456Z 12 [Warning] [MY-010055] [Server] Access
// denied for user 'root'@'203.0.113.5' (using password: YES)" (MySQL 8),
// "2024-02-14 19:05:01 12 [Warning] Access denied for user ..." (MariaDB)
// and "Aborted connection 12 to db: 'x' user: 'u' host: '1.2.3.4' (...)".
// The time inside the text is the server's and stays in the message: the
// event is placed by the syslog header, as for every other program.
func mysql(b *block, body string) {
	if _, rest, ok := strings.Cut(body, "Access denied for user '"); ok {
		user, rest, ok := strings.Cut(rest, "'@'")
		if !ok {
			return
		}
		host, _, ok := strings.Cut(rest, "'")
		if !ok {
			return
		}
		b.set(actDBAuthFailed, "failure")
		b.setUser(user)
		dbClient(b, host, "")
		return
	}
	if _, rest, ok := strings.Cut(body, "Aborted connection "); ok {
		if !strings.Contains(rest, " host: '") {
			return
		}
		b.set(actDBAborted, "failure")
		if db := quoted(rest, " db: "); db != "" && db != "unconnected" {
			b.data("db.name", db)
		}
		// MySQL names a connection that never logged on "unauthenticated".
		if u := quoted(rest, " user: "); u != "unauthenticated" {
			b.setUser(u)
		}
		dbClient(b, quoted(rest, " host: "), "")
	}
}

// postgres reads PostgreSQL's lines as syslog carries them, after whatever
// log_line_prefix the server has: "[3-1] 2024-02-14 19:05:04 UTC [900]
// FATAL:  password authentication failed for user "kpu"", "no pg_hba.conf
// entry for host "H", user "U", database "D"", "connection received:
// host=H port=P", "connection authorized: user=U database=D" and
// "disconnection: session time: T user=U database=D host=H port=P".
func postgres(b *block, body string) {
	switch {
	case strings.Contains(body, "authentication failed for user \""):
		b.set(actDBAuthFailed, "failure")
		b.setUser(dquoted(body, "authentication failed for user "))
	case strings.Contains(body, "no pg_hba.conf entry for host \""):
		b.set(actDBAuthFailed, "failure")
		b.setUser(dquoted(body, ", user "))
		dbClient(b, dquoted(body, "no pg_hba.conf entry for host "), "")
		if db := dquoted(body, ", database "); db != "" {
			b.data("db.name", db)
		}
	case strings.Contains(body, "connection received: "):
		_, rest, _ := strings.Cut(body, "connection received: ")
		b.set(actDBConnReceived, "")
		dbClient(b, kv(rest, "host="), kv(rest, "port="))
	case strings.Contains(body, "disconnection: "):
		_, rest, _ := strings.Cut(body, "disconnection: ")
		b.set(actDBDisconnect, "")
		b.setUser(kv(rest, "user="))
		dbClient(b, kv(rest, "host="), kv(rest, "port="))
	case strings.Contains(body, "connection authorized: "):
		_, rest, _ := strings.Cut(body, "connection authorized: ")
		b.set(actDBConnect, "success")
		b.setUser(kv(rest, "user="))
		if db := kv(rest, "database="); db != "" {
			b.data("db.name", db)
		}
	}
}

// dbClient records a database client's address. The local ends ("localhost",
// "[local]" for a Unix socket) are no network source and stay as data.
func dbClient(b *block, host, port string) {
	switch host {
	case "":
	case "localhost", "[local]", "%":
		b.data("db.client_host", host)
	default:
		b.setSource(host, port)
	}
}

// dquoted returns the text between the double quotes that follow prefix.
func dquoted(s, prefix string) string {
	i := strings.Index(s, prefix)
	if i < 0 {
		return ""
	}
	s = s[i+len(prefix):]
	if len(s) == 0 || s[0] != '"' {
		return ""
	}
	v, _, ok := strings.Cut(s[1:], "\"")
	if !ok {
		return ""
	}
	return v
}
