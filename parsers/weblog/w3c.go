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

// w3cState is what the directives of a W3C extended log have said so far;
// a later #Fields: replaces the columns (IIS writes one after each restart
// or configuration change).
type w3cState struct {
	fields   []string
	date     string // from #Date:, for logs without a date column
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

// record maps one W3C line through the current #Fields:. W3C extended log
// times are UTC by the format's definition, so no zone is assumed.
func (s *w3cState) record(line []byte) (*timeline.Event, error) {
	vals := strings.Fields(string(line))
	if len(vals) != len(s.fields) {
		return nil, fmt.Errorf("%d values for %d #Fields: columns", len(vals), len(s.fields))
	}
	ev := &timeline.Event{
		TimestampDesc: TimeDesc,
		Message:       string(bytes.TrimSpace(line)),
		Event: timeline.EventMeta{Kind: "event", Category: []string{"web"}, Type: []string{"access"},
			Dataset: "iis.access"},
		HTTP: &timeline.HTTP{Request: &timeline.HTTPRequest{}, Response: &timeline.HTTPResponse{}},
	}
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
		switch strings.ToLower(f) {
		case "date":
			date = v
		case "time":
			clock = v
		case "c-ip":
			endpoint(&ev.Source).IP = v
		case "s-ip":
			endpoint(&ev.Destination).IP = v
		case "s-port":
			if p, err := strconv.Atoi(v); err == nil {
				endpoint(&ev.Destination).Port = p
			}
		case "cs-method":
			ev.HTTP.Request.Method = v
		case "cs-uri-stem":
			stem = v
		case "cs-uri-query":
			query = v
		case "cs-username":
			ev.User = &timeline.User{Name: v}
		case "cs(user-agent)":
			ev.UserAgent = &timeline.UserAgent{Original: v}
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
				ev.HTTP.Response.Body = &timeline.HTTPBody{Bytes: &n}
			}
		case "cs-host":
			ev.Host = &timeline.Host{Name: v}
		case "s-computername":
			data[f] = v
			if ev.Host == nil {
				ev.Host = &timeline.Host{Name: v}
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
	ts, err := time.Parse("2006-01-02 15:04:05", date+" "+clock)
	if err != nil {
		return nil, fmt.Errorf("bad date/time: %w", err)
	}
	ev.Timestamp = ts
	if stem != "" {
		ev.URL = &timeline.URL{Original: stem, Path: stem, Query: query}
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

func endpoint(p **timeline.Endpoint) *timeline.Endpoint {
	if *p == nil {
		*p = &timeline.Endpoint{}
	}
	return *p
}
