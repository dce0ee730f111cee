package weblog

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/internal/civil"
	"github.com/jejak-forensics/jejak/timeline"
)

// w3cState is what the directives of a W3C extended log have said so far;
// a later #Fields: replaces the columns (IIS writes one after each restart
// or configuration change).
type w3cState struct {
	fields   []string
	lower    []string // fields in lower case, made once per #Fields:
	date     string   // from #Date:, for logs without a date column
	software string
}

// errComment reports a '#' line that is no W3C directive.
var errComment = errors.New("comment line, not a log record or W3C directive")

// w3cDirectives are the directives of the W3C extended log format (and
// IIS's Date), lower case.
var w3cDirectives = map[string]bool{
	"version": true, "fields": true, "software": true, "start-date": true,
	"end-date": true, "date": true, "remark": true,
}

// isDirective reports whether a '#' line is a W3C directive ("#Fields: …").
func isDirective(line []byte) bool {
	name, _, ok := strings.Cut(string(line[1:]), ":")
	return ok && w3cDirectives[strings.ToLower(strings.TrimSpace(name))]
}

func (s *w3cState) directive(line []byte) error {
	name, value, _ := strings.Cut(string(line[1:]), ":")
	value = strings.TrimSpace(value)
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "fields":
		f := strings.Fields(value)
		if len(f) == 0 {
			return errors.New("empty #Fields: directive")
		}
		s.fields = f
		s.lower = make([]string, len(f))
		for i, name := range f {
			s.lower[i] = strings.ToLower(name)
		}
	case "date":
		if d, _, ok := strings.Cut(value, " "); ok {
			s.date = d
		} else {
			s.date = value
		}
	case "software":
		s.software = value
	}
	return nil
}

// w3cBlock holds a W3C event and every struct it may point to: one
// allocation per line instead of up to ten.
type w3cBlock struct {
	ev       timeline.Event
	http     timeline.HTTP
	req      timeline.HTTPRequest
	resp     timeline.HTTPResponse
	body     timeline.HTTPBody
	bytes    int64
	src, dst timeline.Endpoint
	user     timeline.User
	ua       timeline.UserAgent
	host     timeline.Host
	url      timeline.URL
	cat, typ [1]string
}

// record maps one W3C line through the current #Fields:. W3C extended log
// times are UTC by the format's definition, so no zone is assumed.
//
// The line is copied to a string once: the message and every value are
// substrings of it.
func (s *w3cState) record(line []byte) (*timeline.Event, error) {
	msg := string(bytes.TrimSpace(line))
	vals := strings.Fields(msg)
	if len(vals) != len(s.fields) {
		return nil, fmt.Errorf("%d values for %d #Fields: columns", len(vals), len(s.fields))
	}
	blk := &w3cBlock{}
	ev := &blk.ev
	ev.TimestampDesc = TimeDesc
	ev.Message = msg
	blk.cat[0], blk.typ[0] = "web", "access"
	ev.Event = timeline.EventMeta{Kind: "event", Category: blk.cat[:], Type: blk.typ[:], Dataset: "iis.access"}
	blk.http = timeline.HTTP{Request: &blk.req, Response: &blk.resp}
	ev.HTTP = &blk.http
	data := map[string]string{"format": "w3c"}
	if s.software != "" {
		data["software"] = s.software
	}
	var date, clock, stem, query string
	for i, f := range s.fields {
		v := vals[i]
		if v == "-" {
			continue
		}
		switch s.lower[i] {
		case "date":
			date = v
		case "time":
			clock = v
		case "c-ip":
			blk.src.IP = v
			ev.Source = &blk.src
		case "s-ip":
			blk.dst.IP = v
			ev.Destination = &blk.dst
		case "s-port":
			if p, err := strconv.Atoi(v); err == nil {
				blk.dst.Port = p
				ev.Destination = &blk.dst
			}
		case "cs-method":
			ev.HTTP.Request.Method = v
		case "cs-uri-stem":
			stem = v
		case "cs-uri-query":
			query = v
		case "cs-username":
			blk.user = timeline.User{Name: v}
			ev.User = &blk.user
		case "cs(user-agent)":
			blk.ua = timeline.UserAgent{Original: v}
			ev.UserAgent = &blk.ua
		case "cs(referer)":
			ev.HTTP.Request.Referrer = v
		case "cs-version":
			ev.HTTP.Version = strings.TrimPrefix(v, "HTTP/")
		case "sc-status":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("bad sc-status %q", v)
			}
			ev.HTTP.Response.StatusCode = n
		case "sc-bytes":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				blk.bytes = n
				blk.body = timeline.HTTPBody{Bytes: &blk.bytes}
				ev.HTTP.Response.Body = &blk.body
			}
		case "cs-host":
			blk.host = timeline.Host{Name: v}
			ev.Host = &blk.host
		case "s-computername":
			data[f] = v
			if ev.Host == nil {
				blk.host = timeline.Host{Name: v}
				ev.Host = &blk.host
			}
		default:
			data[f] = v
		}
	}
	if date == "" {
		date = s.date
	}
	if date == "" || clock == "" {
		return nil, errors.New("no date or time column and no #Date: directive")
	}
	ts, err := w3cTime(date, clock)
	if err != nil {
		return nil, fmt.Errorf("bad date/time: %w", err)
	}
	ev.Timestamp = ts
	if stem != "" {
		blk.url = timeline.URL{Original: stem, Path: stem, Query: query}
		ev.URL = &blk.url
		if query != "" {
			ev.URL.Original = stem + "?" + query
		}
	}
	if ev.Host != nil && ev.URL != nil {
		ev.URL.Domain = ev.Host.Name
	}
	ev.Event.Outcome = outcome(ev.HTTP.Response.StatusCode)
	ev.Jejak.Data = data
	return ev, nil
}

// w3cLayout is how W3C extended logs write date and time, in UTC.
const w3cLayout = "2006-01-02 15:04:05"

// w3cTime is time.Parse(w3cLayout, date+" "+clock), written by hand for
// the shape every IIS line has ("2024-02-14" and "13:55:36", in range):
// time.Parse and the joined string were a quarter of a line's cost.
// Anything else (fractional seconds, a value out of range, a stray
// character) goes to time.Parse itself, so its answer and its error text
// stay time.Parse's (FuzzW3CTime checks both paths against it).
func w3cTime(date, clock string) (time.Time, error) {
	if len(date) == 10 && len(clock) == 8 && date[4] == '-' && date[7] == '-' && clock[2] == ':' && clock[5] == ':' {
		year, ok1 := atoiString(date[0:4])
		month, ok2 := atoiString(date[5:7])
		day, ok3 := atoiString(date[8:10])
		hh, ok4 := atoiString(clock[0:2])
		mm, ok5 := atoiString(clock[3:5])
		ss, ok6 := atoiString(clock[6:8])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && month >= 1 && month <= 12 && day >= 1 &&
			day <= civil.DaysIn(month, year) && hh < 24 && mm < 60 && ss < 60 {
			return time.Date(year, time.Month(month), day, hh, mm, ss, 0, time.UTC), nil
		}
	}
	return time.Parse(w3cLayout, date+" "+clock)
}

// atoiString reads unsigned decimal digits only (no sign, as time.Parse
// wants in these fields).
func atoiString(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}
