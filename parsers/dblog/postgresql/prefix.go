package postgresql

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/jejak-forensics/jejak/parsers/dblog"
	"github.com/jejak-forensics/jejak/timeline"
)

// A stderr record is "<log_line_prefix><SEVERITY>:  <message>". The prefix
// is whatever the administrator configured: the time may come first (%m,
// %t, %n) or after the client host (%h %m), be wrapped ("< %m >"), or be
// followed by colons ("%t:%r:%u@%d:[%p]:"). So a record is recognised by
// its severity word followed by a colon and two spaces, and the time is
// searched for anywhere in the text before it.

// severities are the words elog.c writes before ":  " (error_severity and
// the DETAIL/HINT/... lines of the same report).
var severities = map[string]bool{
	"LOG": true, "ERROR": true, "FATAL": true, "PANIC": true, "WARNING": true, "NOTICE": true,
	"INFO": true, "DEBUG": true, "DEBUG1": true, "DEBUG2": true, "DEBUG3": true, "DEBUG4": true,
	"DEBUG5": true, "DETAIL": true, "HINT": true, "STATEMENT": true, "CONTEXT": true,
	"QUERY": true, "LOCATION": true,
}

// head is the first line of a stderr record, split.
type head struct {
	prefix   string // log_line_prefix output, time included
	severity string
	msg      string
	// The time: wall text ("2006-01-02 15:04:05[.000]") with its zone
	// text, or Unix seconds with milliseconds for %n.
	ts, zone string
	epoch    bool
	// where the time sits in prefix
	tsStart, tsEnd int
}

// maxPrefix bounds how far into a line the severity is looked for; a
// prefix with %a, %h and %s is well under this.
const maxPrefix = 512

// parseHead splits a line into prefix, severity and message, and finds the
// time in the prefix. ok is false when the line is no record start.
// With localized, a word that is no English severity is taken as one when
// a time precedes it: a server with lc_messages in another language
// prints "FEHLER:  " or "ОШИБКА:  ". Match does not use it: it must not
// take other formats for PostgreSQL.
func parseHead(line string, localized bool) (h head, ok bool) {
	sevStart, sevEnd := findSeverity(line, false)
	if sevStart < 0 && localized {
		sevStart, sevEnd = findSeverity(line, true)
	}
	if sevStart < 0 {
		return h, false
	}
	h.prefix, h.severity, h.msg = line[:sevStart], line[sevStart:sevEnd], line[sevEnd+3:]
	h.tsStart, h.tsEnd, h.ts, h.zone, h.epoch = findTime(h.prefix)
	if h.tsStart < 0 {
		return h, false
	}
	// A PostgreSQL line forwarded by syslog carries the syslog time
	// before PostgreSQL's own ("Jan  1 12:00:00 host postgres[1]: [2-1]
	// 2024-..."): that file is syslog's to read. Nothing PostgreSQL
	// prints before its time (%h, %p, %a, user@db) holds hh:mm:ss.
	if hasClock(h.prefix[:h.tsStart]) {
		return h, false
	}
	return h, true
}

// findSeverity returns the bounds of the first severity word followed by
// ":  ", or -1. With anyWord, the first word of letters (any script)
// before ":  " with a time somewhere before it.
func findSeverity(line string, anyWord bool) (start, end int) {
	limit := len(line)
	if limit > maxPrefix+12 {
		limit = maxPrefix + 12
	}
	from := 0
	for from < limit {
		i := strings.Index(line[from:limit], ":  ")
		if i < 0 {
			return -1, -1
		}
		i += from
		j := i
		if anyWord {
			for j > 0 && (line[j-1] >= 'A' && line[j-1] <= 'Z' || line[j-1] >= 'a' && line[j-1] <= 'z' || line[j-1] >= 0x80) {
				j--
			}
			if j < i && (j == 0 || !isWordByte(line[j-1]) && line[j-1] < 0x80) {
				if ts, _, _, _, _ := findTime(line[:j]); ts >= 0 {
					return j, i
				}
			}
		} else {
			for j > 0 && (line[j-1] >= 'A' && line[j-1] <= 'Z' || line[j-1] >= '0' && line[j-1] <= '9') {
				j--
			}
			if j < i && severities[line[j:i]] && (j == 0 || !isWordByte(line[j-1])) {
				return j, i
			}
		}
		from = i + 3
	}
	return -1, -1
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// findTime finds "YYYY-MM-DD hh:mm:ss[.fff][ ZONE]" (%t, %m) or Unix
// seconds with milliseconds (%n) in a prefix. The zone is an abbreviation
// or a numeric offset ("+07", "-0330"): PostgreSQL prints the offset for
// zones that have no abbreviation.
func findTime(p string) (start, end int, ts, zone string, epoch bool) {
	for i := 0; i+19 <= len(p); i++ {
		if !isWallTime(p[i : i+19]) {
			continue
		}
		if i > 0 && isDigit(p[i-1]) {
			continue
		}
		end = i + 19
		if end+1 < len(p) && p[end] == '.' && isDigit(p[end+1]) {
			end++
			for end < len(p) && isDigit(p[end]) {
				end++
			}
		}
		ts = p[i:end]
		if end < len(p) && p[end] == ' ' {
			if z := zoneAt(p[end+1:]); z != "" {
				zone = z
				end += 1 + len(z)
			}
		}
		return i, end, ts, zone, false
	}
	// %n: 10 digits, a dot, 3 digits, standing alone.
	for i := 0; i+14 <= len(p); i++ {
		if p[i+10] != '.' || i > 0 && (isDigit(p[i-1]) || p[i-1] == '.') ||
			i+14 < len(p) && (isDigit(p[i+14]) || p[i+14] == '.') {
			continue
		}
		if allDigits(p[i:i+10]) && allDigits(p[i+11:i+14]) {
			return i, i + 14, p[i : i+14], "", true
		}
	}
	return -1, -1, "", "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// isWallTime checks "dddd-dd-dd dd:dd:dd".
func isWallTime(s string) bool {
	for i := 0; i < 19; i++ {
		switch i {
		case 4, 7:
			if s[i] != '-' {
				return false
			}
		case 10:
			if s[i] != ' ' {
				return false
			}
		case 13, 16:
			if s[i] != ':' {
				return false
			}
		default:
			if !isDigit(s[i]) {
				return false
			}
		}
	}
	return true
}

// zoneAt reads a zone at the start of s: letters (an abbreviation, up to
// 6) or [+-]hh, [+-]hhmm, [+-]hh:mm, ending at a non-word byte.
func zoneAt(s string) string {
	n := 0
	if n < len(s) && (s[0] == '+' || s[0] == '-') {
		n = 1
		for n < len(s) && n <= 5 && (isDigit(s[n]) || s[n] == ':' && n == 3) {
			n++
		}
		if _, ok := dblog.ParseNumericZone(s[:n]); !ok {
			return ""
		}
	} else {
		for n < len(s) && n <= 6 && (s[n] >= 'A' && s[n] <= 'Z' || s[n] >= 'a' && s[n] <= 'z') {
			n++
		}
		if n == 0 || n > 6 {
			return ""
		}
	}
	if n < len(s) && isWordByte(s[n]) {
		return ""
	}
	return s[:n]
}

// hasClock reports whether s holds "dd:dd:dd".
func hasClock(s string) bool {
	for i := 0; i+8 <= len(s); i++ {
		if s[i+2] == ':' && s[i+5] == ':' && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+3]) &&
			isDigit(s[i+4]) && isDigit(s[i+6]) && isDigit(s[i+7]) {
			return true
		}
	}
	return false
}

var (
	bracket = regexp.MustCompile(`\[(\d+)(?:-(\d+))?\]`)
	// user@db (%u@%d); colons separate fields in "%t:%r:%u@%d:[%p]:".
	userAt = regexp.MustCompile(`(?:^|[\s:,<>])([^\s@\[\]=:,<>]+|\[unknown\])@([^\s@\[\]=:,<>]+|\[unknown\])(?:[\s:,<>]|$)`)
	// %r: host(port).
	hostPort = regexp.MustCompile(`(\[local\]|[0-9A-Za-z.:%_-]+)\((\d+)\)`)
)

// readPrefix takes what log_line_prefix wrote around the time: "[pid]",
// "[pid-line]", "[line-1]", "user@db", "user=u,db=d,app=a,client=h",
// "host(port)" (%r) and a bare client address (%h).
func readPrefix(ev *timeline.Event, h *head) {
	p := strings.TrimSpace(h.prefix)
	if p == "" {
		return
	}
	ev.Jejak.Data["log_line_prefix"] = p
	before, after := h.prefix[:h.tsStart], h.prefix[h.tsEnd:]
	rest := before + " " + after
	// Each pattern is tried only when its mark is there: this runs for
	// every record.
	if strings.Contains(rest, "[") {
		if bs := bracket.FindAllStringSubmatch(rest, -1); len(bs) > 0 {
			dblog.SetPID(ev, bs[0][1])
			if bs[0][2] != "" {
				ev.Jejak.Data["session_line"] = bs[0][2]
			}
			if len(bs) > 1 {
				ev.Jejak.Data["session_line"] = bs[1][1]
			}
		}
	}
	if strings.Contains(rest, "@") {
		if m := userAt.FindStringSubmatch(rest); m != nil {
			dblog.SetUser(ev, m[1])
			dblog.SetDB(ev, m[2])
		}
	}
	if strings.Contains(rest, "(") {
		if m := hostPort.FindStringSubmatch(rest); m != nil {
			setClient(ev, m[1], m[2])
		}
	}
	var kv map[string]string
	if strings.Contains(rest, "=") {
		kv = dblog.KV(rest)
	}
	dblog.SetUser(ev, kv["user"])
	dblog.SetDB(ev, kv["db"])
	if app := kv["app"]; app != "" && app != "[unknown]" {
		ev.Jejak.Data["application_name"] = app
	}
	for _, k := range []string{"client", "host", "remote"} {
		if c := kv[k]; c != "" {
			host, port, _ := strings.Cut(strings.TrimSuffix(c, ")"), "(")
			setClient(ev, host, port)
		}
	}
	// %h alone: a bare address anywhere, or the one word before the time
	// (a host name when log_hostname is on).
	if ev.Source == nil && ev.Jejak.Data["client.host"] == "" {
		words := strings.Fields(before)
		if strings.Contains(rest, "[local]") {
			// A Unix-socket client (%h, or %r, which then has no port).
			setClient(ev, "[local]", "")
		}
		for _, w := range strings.Fields(rest) {
			if ev.Jejak.Data["client.host"] != "" {
				break
			}
			w = strings.Trim(w, "<>:,;")
			if a, err := netip.ParseAddr(w); err == nil {
				dblog.SetSource(ev, a.String(), "")
				break
			}
		}
		if ev.Source == nil && ev.Jejak.Data["client.host"] == "" && len(words) == 1 {
			w := strings.Trim(words[0], "<>:,;")
			if w != "" && !strings.ContainsAny(w, "[]=@()") {
				ev.Jejak.Data["client.host"] = w
			}
		}
	}
}

// setClient records a client host (an address, "[local]" or a name) and
// port. "%t:%r:" glues colons to an IPv6 address; they are taken off until
// it parses.
func setClient(ev *timeline.Event, host, port string) {
	for strings.HasPrefix(host, ":") {
		if _, err := netip.ParseAddr(host); err == nil {
			break
		}
		host = host[1:]
	}
	if _, err := netip.ParseAddr(host); err == nil || host == "[local]" || host == "localhost" {
		dblog.SetSource(ev, host, port)
		return
	}
	if host != "" {
		ev.Jejak.Data["client.host"] = host
		if port != "" {
			ev.Jejak.Data["client.port"] = port
		}
	}
}
