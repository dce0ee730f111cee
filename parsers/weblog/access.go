package weblog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TimeDesc is what every web log time means: when the server wrote the line.
const TimeDesc = "Recorded Time"

var (
	errNoTime       = errors.New("no [time] field")
	errNoRequest    = errors.New("no quoted request followed by a status code")
	errUnterminated = errors.New("unterminated quoted field")
)

// parseAccess reads one Apache/nginx access line: common, combined, or
// vhost_combined ("host[:port] " in front), told apart by the number of
// fields before the [time] and after the byte count. A damaged but still
// useful line returns both the event and errUnterminated.
func parseAccess(line []byte) (*timeline.Event, error) {
	lb := bytes.IndexByte(line, '[')
	if lb < 0 {
		return nil, errNoTime
	}
	pre := strings.Fields(string(line[:lb]))
	var vhost, ip, ident, user string
	switch len(pre) {
	case 2: // "ip - [": ident missing, as some nginx formats write it
		ip, user = pre[0], pre[1]
	case 3:
		ip, ident, user = pre[0], pre[1], pre[2]
	case 4:
		vhost, ip, ident, user = pre[0], pre[1], pre[2], pre[3]
	default:
		return nil, fmt.Errorf("%d fields before [time], want 2 to 4", len(pre))
	}
	rb := bytes.IndexByte(line[lb:], ']')
	if rb < 0 {
		return nil, errNoTime
	}
	rb += lb
	ts, err := parseCLFTime(line[lb+1 : rb])
	if err != nil {
		return nil, err
	}
	rest := line[rb+1:]
	if len(rest) < 2 || rest[0] != ' ' || rest[1] != '"' {
		return nil, errNoRequest
	}
	rest = rest[2:]
	// The request may itself hold quotes (attack strings do): it ends at the
	// first quote followed by a three-digit status.
	end := requestEnd(rest)
	if end < 0 {
		return nil, errNoRequest
	}
	request := string(rest[:end])
	rest = rest[end+2:]
	status, _ := strconv.Atoi(string(rest[:3]))
	rest = bytes.TrimLeft(rest[3:], " ")
	var size string
	if sp := bytes.IndexByte(rest, ' '); sp >= 0 {
		size, rest = string(rest[:sp]), bytes.TrimLeft(rest[sp+1:], " ")
	} else {
		size, rest = string(rest), nil
	}
	var body *int64
	if size != "-" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad byte count %q", size)
		}
		body = &n
	}
	var quoted []string
	damaged := false
	for len(rest) > 0 {
		if rest[0] != '"' {
			return nil, fmt.Errorf("unexpected %q after the byte count", abbreviate(rest))
		}
		s, n, err := readQuoted(rest)
		if err != nil {
			// A line cut inside its last quoted field (a crashed writer,
			// a truncated copy) still holds a complete request: keep it and
			// report the damage, where plaso drops the whole line.
			damaged = true
			s, n = string(rest[1:]), len(rest)
		}
		quoted = append(quoted, s)
		rest = bytes.TrimLeft(rest[n:], " ")
	}

	ev := &timeline.Event{
		Timestamp:     ts.UTC(),
		TimestampDesc: TimeDesc,
		Message:       string(line),
		Event: timeline.EventMeta{Kind: "event", Category: []string{"web"}, Type: []string{"access"},
			Dataset: "weblog.access", Outcome: outcome(status)},
		Source: &timeline.Endpoint{IP: ip},
		HTTP: &timeline.HTTP{Request: &timeline.HTTPRequest{},
			Response: &timeline.HTTPResponse{StatusCode: status, Body: &timeline.HTTPBody{Bytes: body}}},
	}
	ev.Jejak.Data = map[string]string{"format": "common"}
	setRequest(ev, request)
	if user != "-" {
		ev.User = &timeline.User{Name: user}
	}
	if ident != "" && ident != "-" {
		ev.Jejak.Data["ident"] = ident
	}
	if vhost != "" {
		ev.Jejak.Data["format"] = "vhost_combined"
		host, port, _ := strings.Cut(vhost, ":")
		ev.Host = &timeline.Host{Name: host}
		if ev.URL != nil {
			ev.URL.Domain = host
		}
		if port != "" {
			ev.Jejak.Data["server_port"] = port
		}
	}
	if len(quoted) >= 2 {
		if vhost == "" {
			ev.Jejak.Data["format"] = "combined"
		}
		if quoted[0] != "-" {
			ev.HTTP.Request.Referrer = quoted[0]
		}
		if quoted[1] != "-" {
			ev.UserAgent = &timeline.UserAgent{Original: quoted[1]}
		}
		if len(quoted) > 2 {
			ev.Jejak.Data["extra"] = strings.Join(quoted[2:], " ")
		}
	} else if len(quoted) == 1 {
		ev.Jejak.Data["extra"] = quoted[0]
	}
	if damaged {
		ev.Jejak.Data["damaged"] = errUnterminated.Error()
		ev.Jejak.Tags = append(ev.Jejak.Tags, "damaged_record")
		return ev, errUnterminated
	}
	return ev, nil
}

// setRequest splits "METHOD target HTTP/x.y"; anything else (a "-", a
// garbled probe) is kept whole in url.original.
func setRequest(ev *timeline.Event, request string) {
	parts := strings.Split(request, " ")
	if len(parts) >= 2 && isToken(parts[0]) {
		ev.HTTP.Request.Method = parts[0]
		target := strings.Join(parts[1:], " ")
		if last := parts[len(parts)-1]; len(parts) >= 3 && strings.HasPrefix(last, "HTTP/") {
			ev.HTTP.Version = strings.TrimPrefix(last, "HTTP/")
			target = strings.Join(parts[1:len(parts)-1], " ")
		}
		ev.URL = &timeline.URL{Original: target}
		ev.URL.Path, ev.URL.Query, _ = strings.Cut(target, "?")
		return
	}
	if request != "" && request != "-" {
		ev.URL = &timeline.URL{Original: request}
		ev.Jejak.Data["request"] = request
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// requestEnd finds `" NNN` with NNN a status code ending the field.
func requestEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		if i+5 <= len(b) && b[i+1] == ' ' && isDigit(b[i+2]) && isDigit(b[i+3]) && isDigit(b[i+4]) &&
			(i+5 == len(b) || b[i+5] == ' ') {
			return i
		}
	}
	return -1
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// readQuoted reads a "..." field with Apache's \" and \\ escapes; it returns
// the unescaped text and the bytes consumed.
func readQuoted(b []byte) (string, int, error) {
	var sb []byte
	esc := false
	for i := 1; i < len(b); i++ {
		c := b[i]
		switch {
		case esc:
			esc = false
			sb = append(sb, c)
		case c == '\\':
			esc = true
			if sb == nil {
				sb = append([]byte{}, b[1:i]...)
			}
		case c == '"':
			if sb != nil {
				return string(sb), i + 1, nil
			}
			return string(b[1:i]), i + 1, nil
		default:
			if sb != nil {
				sb = append(sb, c)
			}
		}
	}
	return "", 0, errUnterminated
}

func abbreviate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

// parseCLFTime reads "10/Oct/2000:13:55:36 -0700" by hand: time.Parse is a
// third of the cost of a whole line.
func parseCLFTime(b []byte) (time.Time, error) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return time.Time{}, fmt.Errorf("bad time %q", b)
	}
	mon, ok := months[string(b[3:6])]
	day, ok1 := atoi(b[0:2])
	year, ok2 := atoi(b[7:11])
	hh, ok3 := atoi(b[12:14])
	mm, ok4 := atoi(b[15:17])
	ss, ok5 := atoi(b[18:20])
	zh, ok6 := atoi(b[22:24])
	zm, ok7 := atoi(b[24:26])
	if !(ok && ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || (b[21] != '+' && b[21] != '-') ||
		day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, fmt.Errorf("bad time %q", b)
	}
	off := zh*3600 + zm*60
	if b[21] == '-' {
		off = -off
	}
	return time.Date(year, mon, day, hh, mm, ss, 0, fixedZone(off)), nil
}

func atoi(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// fixedZone avoids allocating a zone per line for the common UTC case.
func fixedZone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	return time.FixedZone("", off)
}
