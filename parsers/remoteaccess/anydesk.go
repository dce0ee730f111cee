package remoteaccess

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Parser names.
const (
	ADConnName  = "anydesk_connection_trace"
	ADTraceName = "anydesk_trace"
)

// ADConnections reads AnyDesk's connection_trace.txt, one accepted or
// rejected connection a line, as AnyDesk documents it:
//
//	Incoming    2014-11-26, 03:46    User      user1@ad    654321
//
// direction, date and time to the minute, how the connection was allowed
// (User: accepted at the console; Passwd: password; Token: saved login;
// REJECTED), the remote alias or ID and the remote ID.
type ADConnections struct{}

var (
	_ parsers.Parser      = (*ADConnections)(nil)
	_ parsers.LineMatcher = (*ADConnections)(nil)
)

// NewAnyDeskConnections returns the connection_trace.txt parser.
func NewAnyDeskConnections() *ADConnections { return &ADConnections{} }

// Name implements parsers.Parser.
func (*ADConnections) Name() string { return ADConnName }

var adConnRe = regexp.MustCompile(`^(Incoming|Outgoing)\s+(\d{4}-\d\d-\d\d), (\d\d:\d\d)\s+(\S+)\s+(.*?)\s*$`)

// Match accepts a head whose first non-blank line is a connection.
func (p *ADConnections) Match(e *jfs.Entry, head []byte) bool {
	return completeLines(head, func(l []byte) bool { return p.MatchLine(e, l) })
}

// Requires implements parsers.Requirer: completeLines' blanks before a
// line starting "Incoming" or "Outgoing".
func (*ADConnections) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.TextBlanks.Union(parsers.BytesOf("IO"))}
}

// MatchLine implements parsers.LineMatcher.
func (*ADConnections) MatchLine(_ *jfs.Entry, line []byte) bool {
	// adConnRe starts with one of the two words: other lines are not
	// given to it (FuzzRemotePrechecks).
	if !bytes.HasPrefix(line, []byte("Incoming")) && !bytes.HasPrefix(line, []byte("Outgoing")) {
		return false
	}
	m := adConnRe.FindSubmatch(line)
	if m == nil {
		return false
	}
	_, err := time.Parse("2006-01-02 15:04", string(m[2])+" "+string(m[3]))
	return err == nil
}

// Parse implements parsers.Parser.
func (*ADConnections) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(ADConnName)
	return lineLoop(src, ctx.Err, src.R, func(line []byte, off, num int64) error {
		s := string(line)
		if strings.TrimSpace(s) == "" {
			return nil
		}
		warn := func(err error) {
			src.WarnErr(off, num, err)
		}
		m := adConnRe.FindStringSubmatch(s)
		if m == nil {
			warn(errors.New("not a connection_trace.txt line (direction, date, time, method, remote)"))
			return nil
		}
		t, err := time.Parse("2006-01-02 15:04", m[2]+" "+m[3])
		if err != nil {
			warn(fmt.Errorf("bad time: %w", err))
			return nil
		}
		remote := strings.Fields(m[5])
		if len(remote) == 0 {
			warn(errors.New("no remote AnyDesk ID"))
			return nil
		}
		dir := strings.ToLower(m[1])
		data := map[string]string{KeyID: remote[len(remote)-1], KeyDirection: dir, KeyAuth: m[4]}
		if name := strings.Join(remote[:len(remote)-1], " "); name != "" && name != data[KeyID] {
			data[KeyName] = name
		}
		action := ActionStart
		if strings.EqualFold(m[4], "REJECTED") {
			action = ActionRejected
		}
		ev := sessionEvent(t, StartDesc, action, AnyDesk, data)
		ev.Event.Dataset = "anydesk.connection_trace"
		if action == ActionRejected {
			ev.Event.Outcome = "failure"
		} else {
			ev.Event.Outcome = "success"
		}
		ev.Message = fmt.Sprintf("AnyDesk %s connection from %s, allowed by %s", dir, m[5], m[4])
		if action == ActionRejected {
			ev.Message = fmt.Sprintf("AnyDesk %s connection from %s rejected", dir, m[5])
		}
		parsers.At(ev, off, num)
		return emit(ev)
	})
}

// ADTrace reads AnyDesk's trace files (ad.trace, ad_svc.trace):
//
//	info 2023-01-01 10:00:01.123       back   4536   3952                   app.backend_session - Incoming session request: …
//
// level, date and time, process role, PID, thread ID, an optional column,
// the logging component and the message. Every line is an event; incoming
// session requests, the remote OS, relay logins with the address, the
// authentication that accepts a session and the session's end are
// normalised.
type ADTrace struct{}

var (
	_ parsers.Parser      = (*ADTrace)(nil)
	_ parsers.LineMatcher = (*ADTrace)(nil)
)

// NewAnyDeskTrace returns the ad.trace parser.
func NewAnyDeskTrace() *ADTrace { return &ADTrace{} }

// Name implements parsers.Parser.
func (*ADTrace) Name() string { return ADTraceName }

var adTraceRe = regexp.MustCompile(`^\s*(info|warning|error|debug|trace|fatal|notice)\s+(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\s+(\S+)\s+(\d+)\s+(\d+)\s+(?:\S+\s+)*?([A-Za-z_][\w.]*) - (.*)$`)

// Match accepts a head whose first non-blank line is a trace line.
func (p *ADTrace) Match(e *jfs.Entry, head []byte) bool {
	return completeLines(head, func(l []byte) bool { return p.MatchLine(e, l) })
}

// Requires implements parsers.Requirer: completeLines' blanks before a
// line starting with a level word's first letter (after blanks).
func (*ADTrace) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.TextBlanks.Union(parsers.BytesOf("iwedtfn"))}
}

// MatchLine implements parsers.LineMatcher.
func (*ADTrace) MatchLine(_ *jfs.Entry, line []byte) bool {
	// adTraceRe needs a level word first (after \s*, ASCII blanks) and
	// " - " before the message: other lines are not given to it
	// (FuzzRemotePrechecks).
	t := trimLeftBlanks(line, false)
	if len(t) == 0 || !strings.ContainsRune("iwedtfn", rune(t[0])) || !bytes.Contains(t, []byte(" - ")) {
		return false
	}
	m := adTraceRe.FindSubmatch(line)
	if m == nil {
		return false
	}
	_, err := time.Parse("2006-01-02 15:04:05.000", string(m[2]))
	return err == nil
}

var (
	adIncomingRe = regexp.MustCompile(`Incoming session request: (.*?)\s*\((\d+)\)\s*$`)
	adOSRe       = regexp.MustCompile(`^Remote OS: ([^,]+)`)
	adRelayRe    = regexp.MustCompile(`Logged in from (\S+) on relay ([0-9a-fA-F]+)`)
	adAuthRe     = regexp.MustCompile(`^Authenticated (by|with) (.+?)\.?\s*$`)
	adEndRe      = regexp.MustCompile(`(?i)^Session (stopped|closed|ended|terminated)`)
)

// Parse implements parsers.Parser.
func (*ADTrace) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(ADTraceName)
	// The last incoming request names the remote side of the session
	// its authentication then starts.
	var lastID, lastName string
	var pending *timeline.Event
	flush := func() error {
		if pending == nil {
			return nil
		}
		ev := pending
		pending = nil
		return emit(ev)
	}
	err := lineLoop(src, ctx.Err, src.R, func(line []byte, off, num int64) error {
		s := string(line)
		if strings.TrimSpace(s) == "" {
			return nil
		}
		m := adTraceRe.FindStringSubmatch(s)
		if m == nil {
			// A message spanning lines continues the record before it.
			if pending != nil {
				pending.Message += "\n" + strings.TrimRight(s, " ")
				return nil
			}
			src.WarnErr(off, num, errors.New("not an AnyDesk trace line (level, time, process, PID, TID, component - message)"))
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		t, err := time.Parse("2006-01-02 15:04:05.000", m[2])
		if err != nil {
			src.Warnf(off, num, "bad time: %w", err)
			return nil
		}
		msg := strings.TrimSpace(m[7])
		ev := &timeline.Event{Timestamp: t, TimestampDesc: WrittenDesc,
			Event: timeline.EventMeta{Kind: "event", Dataset: "anydesk.trace", Provider: AnyDesk},
			Log:   &timeline.Log{Level: m[1], Logger: m[6]}}
		if pid, err := strconv.ParseInt(m[4], 10, 64); err == nil {
			ev.Process = &timeline.Process{PID: pid}
		}
		ev.Message = msg
		set := func(action string, typ []string, data map[string]string) {
			ev.Event.Action = action
			ev.Event.Category = []string{"session"}
			ev.Event.Type = typ
			data[KeyTool] = AnyDesk
			ev.Jejak.Data = data
		}
		switch {
		case adIncomingRe.MatchString(msg):
			mm := adIncomingRe.FindStringSubmatch(msg)
			lastName, lastID = mm[1], mm[2]
			set(ActionIncoming, []string{"connection", "start"}, map[string]string{KeyID: lastID, KeyName: lastName, KeyDirection: "incoming"})
		case adOSRe.MatchString(msg):
			set("remote-access-remote-os", []string{"info"}, map[string]string{KeyOS: strings.TrimSpace(adOSRe.FindStringSubmatch(msg)[1])})
			if lastID != "" {
				ev.Jejak.Data[KeyID] = lastID
			}
		case adRelayRe.MatchString(msg):
			mm := adRelayRe.FindStringSubmatch(msg)
			set(ActionRelay, []string{"connection"}, map[string]string{KeyRelay: mm[2]})
			ev.Event.Category = []string{"session", "network"}
			if host, port, err := net.SplitHostPort(mm[1]); err == nil && net.ParseIP(host) != nil {
				ev.Source = &timeline.Endpoint{IP: host}
				ev.Source.Port, _ = strconv.Atoi(port)
			} else if net.ParseIP(mm[1]) != nil {
				ev.Source = &timeline.Endpoint{IP: mm[1]}
			}
		case adAuthRe.MatchString(msg):
			data := map[string]string{KeyAuth: adAuthRe.FindStringSubmatch(msg)[2], KeyDirection: "incoming"}
			if lastID != "" {
				data[KeyID] = lastID
			}
			if lastName != "" {
				data[KeyName] = lastName
			}
			set(ActionStart, []string{"start"}, data)
			ev.Event.Outcome = "success"
		case adEndRe.MatchString(msg) && strings.Contains(m[6], "session"):
			data := map[string]string{}
			if lastID != "" {
				data[KeyID] = lastID
			}
			set(ActionEnd, []string{"end"}, data)
		}
		parsers.At(ev, off, num)
		pending = ev
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}
