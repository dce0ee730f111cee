// Package sqlserver parses the Microsoft SQL Server error log (ERRORLOG,
// ERRORLOG.1 …), which SQL Server writes in UTF-16LE with a BOM (a copy
// may have been saved as UTF-8; both are read):
//
//	2024-02-14 19:03:11.52 Logon       Error: 18456, Severity: 14, State: 8.
//	2024-02-14 19:03:11.52 Logon       Login failed for user 'sa'. Reason: Password did not match that for the login provided. [CLIENT: 10.0.0.5]
//
// Every line with a time is an event; a line without one continues the
// record before it (the version banner at startup). An "Error: N,
// Severity: S, State: X." line and the message line after it (same time,
// same source) are one event with event.code N. Failed logons
// (event.action logon-failed, 18456 and the other login failures) carry
// user.name, source.ip, the reason and the state; successful logons
// (logged when the server audits them), startup and shutdown,
// configuration changes and database backups (with the file written) are
// normalised too.
//
// Times: ERRORLOG is written in the server's local time without a zone.
// At startup SQL Server states its offset ("UTC adjustment: -5:00"): when
// the case zone has that offset at that time it is used (it knows daylight
// saving changes); otherwise the stated offset is, and the event says so in
// event.timezone. A log with no such line (a later part of a long log) is
// read in the case zone, recorded as assumed.
package sqlserver

import (
	"bufio"
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
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "mssql_errorlog"

// Dataset is event.dataset of every event: the hunting analyzer of SQL
// Server logon bursts (JEJAK-AUTH-11) reads it.
const Dataset = "mssql.errorlog"

// TimeDesc is the time of a log entry.
const TimeDesc = "Log Entry Time"

// Event actions.
const (
	ActionFailed    = "logon-failed"
	ActionSucceeded = "logon-success"
	ActionConfig    = "configuration-changed"
	ActionStarting  = "service-starting"
	ActionStopping  = "service-stopping"
	ActionBackup    = "database-backup"
)

// Data keys.
const (
	KeySource   = "sqlserver.source"
	KeyReason   = "sqlserver.reason"
	KeyState    = "sqlserver.state"
	KeySeverity = "sqlserver.severity"
	KeyOption   = "sqlserver.option"
	KeyOld      = "sqlserver.old_value"
	KeyNew      = "sqlserver.new_value"
	KeyDatabase = "sqlserver.database"
)

const stampLayout = "2006-01-02 15:04:05.00"

var (
	lineRe   = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d) ([A-Za-z][\w$]*)\s+(.*)$`)
	errRe    = regexp.MustCompile(`^Error: (\d+), Severity: (\d+), State: (\d+)\.?\s*$`)
	failRe   = regexp.MustCompile(`^Login failed(?: for user '(.*?)')?\.\s*(.*?)\s*$`)
	okRe     = regexp.MustCompile(`^Login succeeded for user '(.*?)'\.\s*(.*?)\s*$`)
	clientRe = regexp.MustCompile(`\[CLIENT:\s*([^\]]*?)\s*\]`)
	configRe = regexp.MustCompile(`^Configuration option '(.+?)' changed from (\S+) to (\S+)\.`)
	utcAdjRe = regexp.MustCompile(`^UTC adjustment: ([+-]?)(\d{1,2}):(\d\d)`)
	// "Database backed up. Database: X, creation date(time): …, device
	// information: (FILE=1, TYPE=DISK: {'C:\…\x.bak'}). …"
	backupRe = regexp.MustCompile(`^Database backed up\. Database: ([^,]+),.*?device information: \(FILE=\d+, TYPE=(\w+): \{'([^']*)'`)
)

// Parser reads ERRORLOG files.
type Parser struct{}

var (
	_ parsers.Parser      = (*Parser)(nil)
	_ parsers.LineMatcher = (*Parser)(nil)
)

// New returns the SQL Server error log parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts a head, UTF-16 or UTF-8, whose first line is an error
// log line.
func (p *Parser) Match(e *jfs.Entry, head []byte) bool {
	// lineRe starts with a time, so with a digit: other heads are not
	// decoded (FuzzMatchPrecheck).
	if !parsers.HeadStartsWithDigit(head) {
		return false
	}
	s, _ := lines.DecodeHead(head)
	first, _, _ := strings.Cut(s, "\n")
	return p.MatchLine(e, []byte(strings.TrimRight(first, "\r")))
}

// Requires implements parsers.Requirer: the first bytes
// HeadStartsWithDigit may be true of (a UTF-16 BOM, a UTF-8 BOM, a digit).
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.Digits.Union(parsers.BytesOf("\xff\xef"))}
}

// MatchLine implements parsers.LineMatcher (UTF-8 copies; a UTF-16 file
// is known by its head).
func (*Parser) MatchLine(_ *jfs.Entry, line []byte) bool {
	// lineRe starts with four digits and a '-': other lines are not
	// given to it (FuzzMatchLinePrecheck).
	if len(line) < 5 || line[0] < '0' || line[0] > '9' || line[4] != '-' {
		return false
	}
	m := lineRe.FindSubmatch(line)
	if m == nil {
		return false
	}
	_, err := time.Parse(stampLayout, string(m[1]))
	return err == nil
}

// clock places the log's local times on the UTC line.
type clock struct {
	caseZone *time.Location
	stated   *time.Location // from "UTC adjustment", nil when none seen
	use      *time.Location
	assumed  bool
}

// adjust takes the offset a "UTC adjustment" line states at time t.
func (c *clock) adjust(sign, h, m string, t time.Time) {
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	secs := hh*3600 + mm*60
	if sign == "-" {
		secs = -secs
	}
	c.stated = time.FixedZone(fmt.Sprintf("UTC%s%02d:%s", map[bool]string{true: "-", false: "+"}[sign == "-"], hh, m), secs)
	// The case zone, when it agrees at that moment, also knows the
	// daylight-saving changes that follow.
	local := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, c.caseZone)
	if _, off := local.Zone(); off == secs {
		c.use, c.assumed = c.caseZone, false
		return
	}
	c.use, c.assumed = c.stated, false
}

func (c *clock) place(ev *timeline.Event, t time.Time) {
	ev.Timestamp = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), c.use).UTC()
	ev.Event.Timezone = c.use.String()
	if c.assumed {
		ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: c.use.String()}
	} else {
		ev.Jejak.Time = nil
	}
}

// record is an event being built: its message may continue on the next
// lines.
type record struct {
	ev    *timeline.Event
	t     time.Time
	stamp string
	src   string
	body  []string
	isErr bool
	code  string
	sev   string
	state string
	// errLine is the "Error: N, Severity: S, State: X." line announcing
	// this record's message, when there was one.
	errLine string
}

// Parse implements parsers.Parser.
func (*Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	caseZone := src.Zone
	if caseZone == nil {
		caseZone = time.UTC
	}
	c := &clock{caseZone: caseZone, use: caseZone, assumed: true}
	br := bufio.NewReaderSize(src.R, 64<<10)
	head, _ := br.Peek(64 << 10)
	text, isUTF16 := lines.DecodeHead(head)
	// The offset stated at startup applies to the lines before it too.
	for _, l := range strings.Split(text, "\n") {
		m := lineRe.FindStringSubmatch(strings.TrimRight(l, "\r"))
		if m == nil {
			continue
		}
		if a := utcAdjRe.FindStringSubmatch(m[3]); a != nil {
			if t, err := time.Parse(stampLayout, m[1]); err == nil {
				c.adjust(a[1], a[2], a[3], t)
			}
			break
		}
	}
	warn := func(off, num int64, err error) {
		src.WarnErr(off, num, err)
	}
	var pend *record
	flush := func() error {
		if pend == nil {
			return nil
		}
		r := pend
		pend = nil
		finish(r)
		return emit(r.ev)
	}
	lr := lines.NewTextReader(br, isUTF16)
	err := lr.Each(ctx, func(line string, off, num int64) error {
		m := lineRe.FindStringSubmatch(line)
		if m == nil {
			if strings.TrimSpace(line) == "" {
				return nil
			}
			if pend == nil {
				warn(off, num, errors.New("line without a time before any log record"))
				return nil
			}
			pend.body = append(pend.body, strings.TrimSpace(line))
			return nil
		}
		t, perr := time.Parse(stampLayout, m[1])
		if perr != nil {
			warn(off, num, fmt.Errorf("bad time: %w", perr))
			return nil
		}
		msg := strings.TrimSpace(m[3])
		if a := utcAdjRe.FindStringSubmatch(msg); a != nil {
			c.adjust(a[1], a[2], a[3], t)
		}
		r := &record{t: t, stamp: m[1], src: m[2], body: []string{msg}}
		r.ev = &timeline.Event{TimestampDesc: TimeDesc,
			Event: timeline.EventMeta{Kind: "event", Dataset: Dataset, Provider: "MSSQLSERVER"}}
		parsers.At(r.ev, off, num)
		c.place(r.ev, t)
		if e := errRe.FindStringSubmatch(msg); e != nil {
			r.isErr, r.code, r.sev, r.state = true, e[1], e[2], e[3]
		}
		// The message an "Error:" line announces: one record, placed at
		// the "Error:" line where it starts.
		if pend != nil && pend.isErr && !r.isErr && pend.stamp == r.stamp && pend.src == r.src {
			r.code, r.sev, r.state = pend.code, pend.sev, pend.state
			r.ev.Jejak.Provenance = pend.ev.Jejak.Provenance
			r.errLine = pend.body[0]
			pend = nil
		}
		if err := flush(); err != nil {
			return err
		}
		pend = r
		return nil
	}, warn)
	if err != nil {
		return err
	}
	return flush()
}

// finish normalises a complete record.
func finish(r *record) {
	ev := r.ev
	msg := r.body[0]
	data := map[string]string{KeySource: r.src}
	ev.Event.Code = r.code
	if r.sev != "" {
		data[KeySeverity] = r.sev
		data[KeyState] = r.state
	}
	if n, err := strconv.Atoi(r.sev); err == nil && n >= 17 {
		ev.Log = &timeline.Log{Level: "error"}
	}
	client := func(s string) {
		if m := clientRe.FindStringSubmatch(s); m != nil && m[1] != "" {
			ev.Source = &timeline.Endpoint{Address: m[1]}
			if ip := strings.Trim(m[1], "[]"); looksIP(ip) {
				ev.Source.IP = ip
			}
		}
	}
	switch {
	case failRe.MatchString(msg):
		m := failRe.FindStringSubmatch(msg)
		ev.Event.Action = ActionFailed
		ev.Event.Category = []string{"authentication"}
		ev.Event.Type = []string{"start"}
		ev.Event.Outcome = "failure"
		if m[1] != "" {
			ev.User = userOf(m[1])
		}
		reason := clientRe.ReplaceAllString(m[2], "")
		reason = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(reason), "Reason:"))
		if reason != "" {
			data[KeyReason] = reason
		}
		client(msg)
	case okRe.MatchString(msg):
		m := okRe.FindStringSubmatch(msg)
		ev.Event.Action = ActionSucceeded
		ev.Event.Category = []string{"authentication"}
		ev.Event.Type = []string{"start"}
		ev.Event.Outcome = "success"
		ev.User = userOf(m[1])
		// The message numbers SQL Server gives successful logins.
		switch {
		case ev.Event.Code != "":
		case strings.Contains(msg, "using Windows authentication"):
			ev.Event.Code = "18453"
		case strings.Contains(msg, "using SQL Server authentication"):
			ev.Event.Code = "18454"
		default:
			ev.Event.Code = "18455"
		}
		client(msg)
	case configRe.MatchString(msg):
		m := configRe.FindStringSubmatch(msg)
		ev.Event.Action = ActionConfig
		ev.Event.Category = []string{"configuration", "database"}
		ev.Event.Type = []string{"change"}
		data[KeyOption], data[KeyOld], data[KeyNew] = m[1], m[2], m[3]
	case backupRe.MatchString(msg):
		m := backupRe.FindStringSubmatch(msg)
		ev.Event.Action = ActionBackup
		ev.Event.Category = []string{"database", "file"}
		ev.Event.Type = []string{"creation"}
		data[KeyDatabase] = m[1]
		if m[2] == "DISK" && m[3] != "" {
			ev.File = &timeline.File{Path: m[3]}
		}
	case strings.HasPrefix(msg, "SQL Server is starting"):
		ev.Event.Action = ActionStarting
		ev.Event.Category = []string{"database", "process"}
		ev.Event.Type = []string{"start"}
	case strings.HasPrefix(msg, "SQL Server is terminating"), strings.HasPrefix(msg, "SQL Server shutdown"):
		ev.Event.Action = ActionStopping
		ev.Event.Category = []string{"database", "process"}
		ev.Event.Type = []string{"end"}
	}
	ev.Jejak.Data = data
	ev.Message = strings.Join(r.body, "\n")
	if r.errLine != "" {
		ev.Message = r.errLine + " " + ev.Message
	}
	if ev.Message == "" {
		ev.Message = "(empty ERRORLOG line)"
	}
}

// userOf reads "sa" or "DOMAIN\user".
func userOf(s string) *timeline.User {
	if d, u, ok := strings.Cut(s, `\`); ok && d != "" && u != "" {
		return &timeline.User{Name: u, Domain: d}
	}
	return &timeline.User{Name: s}
}

func looksIP(s string) bool { return net.ParseIP(s) != nil }
