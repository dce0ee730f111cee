package weblog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/timeline"
)

// TimeDesc is what every web log time means: when the server wrote the line.
const TimeDesc = "Recorded Time"

var (
	errNoTime       = errors.New("no [time] field")
	errNoRequest    = errors.New("no quoted request followed by a status code")
	errUnterminated = errors.New("unterminated quoted field")
)

// accessBlock holds an access event and every struct it points to, so that
// building one is one allocation instead of up to eleven. The pointers in
// ev point into the same block.
type accessBlock struct {
	ev       timeline.Event
	src      timeline.Endpoint
	http     timeline.HTTP
	req      timeline.HTTPRequest
	resp     timeline.HTTPResponse
	body     timeline.HTTPBody
	bytes    int64
	url      timeline.URL
	ua       timeline.UserAgent
	user     timeline.User
	host     timeline.Host
	cat, typ [1]string
}

// parseAccess reads one Apache/nginx access line: common, combined, or
// vhost_combined ("host[:port] " in front), told apart by the number of
// fields before the [time] and after the byte count. A damaged but still
// useful line returns both the event and errUnterminated.
//
// The line is converted to a string once, after its time was read, and
// every field is a substring of it: the event's message is that string
// too (issue 15: a string per field was half of a line's allocations).
func parseAccess(line []byte) (*timeline.Event, error) {
	lb := bytes.IndexByte(line, '[')
	if lb < 0 {
		return nil, errNoTime
	}
	var spans [5][2]int
	npre := fields(line[:lb], &spans)
	if npre < 2 || npre > 4 {
		if npre > len(spans) {
			npre = len(strings.Fields(string(line[:lb])))
		}
		return nil, fmt.Errorf("%d fields before [time], want 2 to 4", npre)
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
	// From here on the line is a record or an error: one string for both.
	msg := string(line)
	var pre [4]string
	for k := range npre {
		pre[k] = msg[spans[k][0]:spans[k][1]]
	}
	var vhost, ip, ident, user string
	switch npre {
	case 2: // "ip - [": ident missing, as some nginx formats write it
		ip, user = pre[0], pre[1]
	case 3:
		ip, ident, user = pre[0], pre[1], pre[2]
	default:
		vhost, ip, ident, user = pre[0], pre[1], pre[2], pre[3]
	}
	rest := msg[rb+1:]
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
	request := rest[:end]
	rest = rest[end+2:]
	status, _ := strconv.Atoi(rest[:3])
	rest = strings.TrimLeft(rest[3:], " ")
	var size string
	if sp := strings.IndexByte(rest, ' '); sp >= 0 {
		size, rest = rest[:sp], strings.TrimLeft(rest[sp+1:], " ")
	} else {
		size, rest = rest, ""
	}
	blk := &accessBlock{}
	var body *int64
	if size != "-" {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad byte count %q", size)
		}
		blk.bytes = n
		body = &blk.bytes
	}
	var quotedBuf [4]string
	quoted := quotedBuf[:0]
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
			s, n = rest[1:], len(rest)
		}
		quoted = append(quoted, s)
		rest = strings.TrimLeft(rest[n:], " ")
	}

	ev := &blk.ev
	ev.Timestamp = ts
	ev.TimestampDesc = TimeDesc
	ev.Message = msg
	blk.cat[0], blk.typ[0] = "web", "access"
	ev.Event = timeline.EventMeta{Kind: "event", Category: blk.cat[:], Type: blk.typ[:],
		Dataset: "weblog.access", Outcome: outcome(status)}
	blk.src.IP = ip
	ev.Source = &blk.src
	blk.body.Bytes = body
	blk.resp = timeline.HTTPResponse{StatusCode: status, Body: &blk.body}
	blk.http = timeline.HTTP{Request: &blk.req, Response: &blk.resp}
	ev.HTTP = &blk.http
	ev.Jejak.Data = map[string]string{"format": "common"}
	setRequest(ev, request, &blk.url)
	if user != "-" {
		blk.user.Name = user
		ev.User = &blk.user
	}
	if ident != "" && ident != "-" {
		ev.Jejak.Data["ident"] = ident
	}
	if vhost != "" {
		ev.Jejak.Data["format"] = "vhost_combined"
		host, port, _ := strings.Cut(vhost, ":")
		blk.host.Name = host
		ev.Host = &blk.host
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
			blk.ua.Original = quoted[1]
			ev.UserAgent = &blk.ua
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

// fields finds what strings.Fields(string(b)) would return, as spans of
// b, without allocating; it returns the number of fields, len(out)+1 when
// there are more than out holds. Blanks are unicode.IsSpace's, as in
// strings.Fields, with a fast test for ASCII.
func fields(b []byte, out *[5][2]int) int {
	n := 0
	start := -1
	for i := 0; i < len(b); {
		c, size := rune(b[i]), 1
		space := false
		if c < utf8.RuneSelf {
			space = asciiSpace(b[i])
		} else {
			c, size = utf8.DecodeRune(b[i:])
			space = unicode.IsSpace(c)
		}
		switch {
		case space && start >= 0:
			if n == len(out) {
				return n + 1
			}
			out[n] = [2]int{start, i}
			n++
			start = -1
		case !space && start < 0:
			start = i
		}
		i += size
	}
	if start >= 0 {
		if n == len(out) {
			return n + 1
		}
		out[n] = [2]int{start, len(b)}
		n++
	}
	return n
}

// asciiSpace is the ASCII part of unicode.IsSpace, as strings.Fields uses.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// setRequest splits "METHOD target HTTP/x.y"; anything else (a "-", a
// garbled probe) is kept whole in url.original. u is where the URL goes.
// The split is by hand (the first and the last blank) rather than
// strings.Split and Join: same fields, no slice or joined copy per line.
func setRequest(ev *timeline.Event, request string, u *timeline.URL) {
	if sp := strings.IndexByte(request, ' '); sp >= 0 && isToken(request[:sp]) {
		ev.HTTP.Request.Method = request[:sp]
		target := request[sp+1:]
		if ls := strings.LastIndexByte(target, ' '); ls >= 0 && strings.HasPrefix(target[ls+1:], "HTTP/") {
			ev.HTTP.Version = target[ls+1+len("HTTP/"):]
			target = target[:ls]
		}
		*u = timeline.URL{Original: target}
		u.Path, u.Query, _ = strings.Cut(target, "?")
		ev.URL = u
		return
	}
	if request != "" && request != "-" {
		*u = timeline.URL{Original: request}
		ev.URL = u
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
func requestEnd(b string) int {
	for i := 0; i < len(b); i++ {
		j := strings.IndexByte(b[i:], '"')
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
func readQuoted(b string) (string, int, error) {
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
			return b[1:i], i + 1, nil
		default:
			if sb != nil {
				sb = append(sb, c)
			}
		}
	}
	return "", 0, errUnterminated
}

func abbreviate(b string) string {
	if len(b) > 40 {
		return b[:40] + "..."
	}
	return b
}

var months = map[string]time.Month{"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6,
	"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}

// parseCLFTime reads "10/Oct/2000:13:55:36 -0700" by hand: time.Parse is a
// third of the cost of a whole line. The time comes back in UTC (the
// offset subtracted), which is all the event keeps: no time.Location is
// made per line for a zone other than UTC.
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
	return time.Date(year, mon, day, hh, mm, ss, 0, time.UTC).Add(-time.Duration(off) * time.Second), nil
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
