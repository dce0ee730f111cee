package weblog

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// errRecord is one Apache or nginx error-log line. Its time has no zone;
// it is placed in the case zone when the event is built.
type errRecord struct {
	dataset string
	wall    time.Time // wall clock, read as UTC until a zone is given
	level   string
	module  string
	pid     string
	tid     string
	client  string
	port    int
	code    string // Apache AHnnnnn
	msg     string
	data    map[string]string
	method  string
	url     string
	host    string
}

var errNotErrorLog = errors.New("not an error-log line")

// parseApacheError reads Apache 2.2 ("[time] [level] [client ip] msg") and
// 2.4 ("[time] [module:level] [pid n:tid m] [client ip:port] AHnnnnn: msg").
func parseApacheError(line []byte) (*errRecord, error) {
	if len(line) < 26 || line[0] != '[' {
		return nil, errNotErrorLog
	}
	end := bytes.IndexByte(line, ']')
	if end < 0 {
		return nil, errNotErrorLog
	}
	wall, err := time.Parse("Mon Jan _2 15:04:05 2006", string(line[1:end]))
	if err != nil {
		return nil, fmt.Errorf("apache error log time: %w", err)
	}
	r := &errRecord{dataset: "apache.error", wall: wall, data: map[string]string{}}
	rest := bytes.TrimLeft(line[end+1:], " ")
	field := func() (string, bool) {
		if len(rest) == 0 || rest[0] != '[' {
			return "", false
		}
		e := bytes.IndexByte(rest, ']')
		if e < 0 {
			return "", false
		}
		f := string(rest[1:e])
		rest = bytes.TrimLeft(rest[e+1:], " ")
		return f, true
	}
	lv, ok := field()
	if !ok {
		return nil, errors.New("apache error log: no [level]")
	}
	v24 := false
	if mod, level, found := strings.Cut(lv, ":"); found {
		r.module, r.level, v24 = mod, level, true
	} else {
		r.level = lv
	}
	if len(rest) > 5 && bytes.HasPrefix(rest, []byte("[pid ")) {
		f, _ := field()
		pid, tid, _ := strings.Cut(strings.TrimPrefix(f, "pid "), ":tid ")
		r.pid, r.tid, v24 = pid, tid, true
	}
	// The client field may follow an OS error text ("(70014)End of file
	// found: [client ...]"), so it is looked for anywhere.
	msg := string(rest)
	if i := strings.Index(msg, "[client "); i >= 0 {
		if e := strings.IndexByte(msg[i:], ']'); e > 0 {
			r.setClient(msg[i+len("[client "):i+e], v24)
			pre := strings.TrimSpace(msg[:i])
			msg = strings.TrimSpace(msg[i+e+1:])
			if pre != "" {
				r.data["os_error"] = strings.TrimSuffix(pre, ":")
			}
		}
	}
	if len(msg) > 8 && strings.HasPrefix(msg, "AH") && msg[7] == ':' {
		r.code, msg = msg[:7], strings.TrimSpace(msg[8:])
	}
	r.msg = msg
	return r, nil
}

func (r *errRecord) setClient(c string, withPort bool) {
	if a, err := netip.ParseAddr(c); err == nil && !withPort {
		r.client = a.String()
		return
	}
	if i := strings.LastIndexByte(c, ':'); i > 0 {
		if a, err := netip.ParseAddr(c[:i]); err == nil {
			if p, err := strconv.Atoi(c[i+1:]); err == nil {
				r.client, r.port = a.String(), p
				return
			}
		}
	}
	r.client = c
}

// parseNginxError reads "2021/12/01 13:53:33 [error] 31#31: *46 msg,
// client: ip, server: s, request: "GET / HTTP/1.1", host: "h"".
func parseNginxError(line []byte) (*errRecord, error) {
	if len(line) < 22 || line[4] != '/' || line[19] != ' ' || line[20] != '[' {
		return nil, errNotErrorLog
	}
	wall, err := time.Parse("2006/01/02 15:04:05", string(line[:19]))
	if err != nil {
		return nil, fmt.Errorf("nginx error log time: %w", err)
	}
	e := bytes.IndexByte(line[20:], ']')
	if e < 0 {
		return nil, errNotErrorLog
	}
	r := &errRecord{dataset: "nginx.error", wall: wall, level: string(line[21 : 20+e]), data: map[string]string{}}
	rest := string(bytes.TrimLeft(line[21+e:], " "))
	if pt, after, ok := strings.Cut(rest, ": "); ok && strings.Contains(pt, "#") && !strings.Contains(pt, " ") {
		r.pid, r.tid, _ = strings.Cut(pt, "#")
		rest = after
	}
	if strings.HasPrefix(rest, "*") {
		if cid, after, ok := strings.Cut(rest[1:], " "); ok {
			r.data["connection_id"] = cid
			rest = after
		}
	}
	if i := strings.Index(rest, ", client: "); i >= 0 {
		r.msg = rest[:i]
		for _, kv := range splitNginxContext(rest[i+2:]) {
			k, v, _ := strings.Cut(kv, ": ")
			v = strings.Trim(v, `"`)
			switch k {
			case "client":
				r.setClient(v, false)
			case "request":
				parts := strings.Split(v, " ")
				if len(parts) >= 2 {
					r.method, r.url = parts[0], parts[1]
				}
				r.data["request"] = v
			case "host":
				r.host = v
			default:
				r.data[k] = v
			}
		}
	} else {
		r.msg = rest
	}
	return r, nil
}

// splitNginxContext splits `client: a, server: b, request: "x, y"` on the
// commas outside quotes.
func splitNginxContext(s string) []string {
	var out []string
	inq, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inq = !inq
		case ',':
			if !inq && i+1 < len(s) && s[i+1] == ' ' {
				out = append(out, s[start:i])
				start = i + 2
			}
		}
	}
	return append(out, s[start:])
}

func (r *errRecord) event(line []byte, src *parsers.Source) *timeline.Event {
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	w := r.wall
	ts := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), zone)
	ev := &timeline.Event{
		Timestamp:     ts.UTC(),
		TimestampDesc: TimeDesc,
		Message:       string(line),
		Event: timeline.EventMeta{Kind: "event", Category: []string{"web"}, Type: []string{"error"},
			Dataset: r.dataset, Code: r.code, Timezone: zone.String()},
		Log: &timeline.Log{Level: r.level, Logger: r.module},
	}
	ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: zone.String()}
	if r.client != "" {
		ev.Source = &timeline.Endpoint{IP: r.client, Port: r.port}
	}
	if r.pid != "" {
		if pid, err := strconv.ParseInt(r.pid, 10, 64); err == nil {
			ev.Process = &timeline.Process{PID: pid}
		}
	}
	if r.method != "" {
		ev.HTTP = &timeline.HTTP{Request: &timeline.HTTPRequest{Method: r.method}}
		ev.URL = &timeline.URL{Original: r.url, Domain: r.host}
		ev.URL.Path, ev.URL.Query, _ = strings.Cut(r.url, "?")
	}
	data := r.data
	data["error_message"] = r.msg
	if r.tid != "" {
		data["tid"] = r.tid
	}
	if r.host != "" {
		data["host"] = r.host
	}
	ev.Jejak.Data = data
	return ev
}
