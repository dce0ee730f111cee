package remoteaccess

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
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
	TVConnectionsName = "teamviewer_connections"
	TVLogName         = "teamviewer_log"
)

// TVConnections reads TeamViewer's Connections_incoming.txt (remote ID,
// remote name, start, end, local user, activity, session GUID, separated
// by tabs) and Connections.txt (the same without the name, outgoing
// sessions, padded with spaces).
type TVConnections struct{}

var (
	_ parsers.Parser      = (*TVConnections)(nil)
	_ parsers.LineMatcher = (*TVConnections)(nil)
)

// NewTeamViewerConnections returns the TeamViewer connection list parser.
func NewTeamViewerConnections() *TVConnections { return &TVConnections{} }

// Name implements parsers.Parser.
func (*TVConnections) Name() string { return TVConnectionsName }

// Match accepts a head whose first non-blank line is a connection.
func (p *TVConnections) Match(e *jfs.Entry, head []byte) bool {
	return completeLines(head, func(l []byte) bool { return p.MatchLine(e, l) })
}

// Requires implements parsers.Requirer: completeLines' blanks before the
// line mayBeTVConnection takes (a digit after blanks).
func (*TVConnections) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.TextBlanks.Union(parsers.Digits)}
}

// MatchLine implements parsers.LineMatcher.
func (*TVConnections) MatchLine(e *jfs.Entry, line []byte) bool {
	if !mayBeTVConnection(line) {
		return false
	}
	_, err := parseTVConnection(string(line), false)
	return err == nil
}

// mayBeTVConnection is false for a line parseTVConnection rejects, judged
// without splitting it: its first column, with blanks trimmed, must be a
// remote ID of ASCII digits, so the first byte after leading ASCII blanks
// is a digit, or a byte of a multi-byte rune (a Unicode space that
// strings.TrimSpace and strings.Fields would also skip: left to the parse);
// and its last column is a GUID in braces, so the line holds a '{'.
// FuzzTVConnectionPrecheck compares it with the parse.
func mayBeTVConnection(line []byte) bool {
	t := trimLeftBlanks(line, true)
	if len(t) == 0 || !('0' <= t[0] && t[0] <= '9' || t[0] >= 0x80) {
		return false
	}
	return bytes.IndexByte(t, '{') >= 0
}

const tvConnLayout = "02-01-2006 15:04:05"

type tvConn struct {
	id, name, user, activity, guid string
	start, end                     time.Time
	incoming                       bool
}

var (
	tvIDRe   = regexp.MustCompile(`^\d{6,12}$`)
	tvGUIDRe = regexp.MustCompile(`^\{[0-9A-Fa-f-]{36}\}$`)
)

// parseTVConnection reads one line. A tab-separated line of seven columns
// names the remote side (incoming list); six columns, or a line padded with
// spaces, do not (outgoing list). nameIncoming is the file name's say when
// the columns leave the direction open.
func parseTVConnection(line string, nameIncoming bool) (tvConn, error) {
	var c tvConn
	var cols []string
	if strings.Contains(line, "\t") {
		for _, f := range strings.Split(strings.TrimRight(line, "\t "), "\t") {
			cols = append(cols, strings.TrimSpace(f))
		}
		switch len(cols) {
		case 7:
			c.incoming = true
			c.name = cols[1]
			cols = append(cols[:1], cols[2:]...)
		case 6:
			c.incoming = nameIncoming
		default:
			return c, fmt.Errorf("%d tab-separated columns, want 6 or 7", len(cols))
		}
		// cols: id, start, end, user, activity, guid
	} else {
		f := strings.Fields(line)
		if len(f) < 8 {
			return c, fmt.Errorf("%d fields, want at least 8", len(f))
		}
		// id, date, time, date, time, user…, activity, guid: the user
		// name may hold spaces.
		cols = []string{f[0], f[1] + " " + f[2], f[3] + " " + f[4], strings.Join(f[5:len(f)-2], " "), f[len(f)-2], f[len(f)-1]}
		c.incoming = nameIncoming
	}
	if !tvIDRe.MatchString(cols[0]) {
		return c, fmt.Errorf("remote ID %q is not a TeamViewer ID", cols[0])
	}
	var err error
	if c.start, err = time.Parse(tvConnLayout, cols[1]); err != nil {
		return c, fmt.Errorf("bad start time: %w", err)
	}
	if c.end, err = time.Parse(tvConnLayout, cols[2]); err != nil {
		return c, fmt.Errorf("bad end time: %w", err)
	}
	if !tvGUIDRe.MatchString(cols[5]) {
		return c, fmt.Errorf("session %q is not a GUID", cols[5])
	}
	c.id, c.user, c.activity, c.guid = cols[0], cols[3], cols[4], cols[5]
	return c, nil
}

// Parse implements parsers.Parser.
func (*TVConnections) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(TVConnectionsName)
	nameIncoming := strings.Contains(strings.ToLower(path.Base(src.Entry.Path)), "incoming")
	return lineLoop(src, ctx.Err, src.R, func(line []byte, off, num int64) error {
		s := string(line)
		if strings.TrimSpace(s) == "" {
			return nil
		}
		c, err := parseTVConnection(s, nameIncoming)
		if err != nil {
			src.WarnErr(off, num, err)
			return nil
		}
		dir := "outgoing"
		if c.incoming {
			dir = "incoming"
		}
		for _, ph := range []struct {
			ts           time.Time
			desc, action string
		}{{c.start, StartDesc, ActionStart}, {c.end, EndDesc, ActionEnd}} {
			data := map[string]string{KeyID: c.id, KeyDirection: dir, KeyActivity: c.activity, KeySession: c.guid}
			if c.name != "" {
				data[KeyName] = c.name
			}
			ev := sessionEvent(ph.ts, ph.desc, ph.action, TeamViewer, data)
			ev.Event.Dataset = "teamviewer.connections"
			if c.user != "" {
				ev.User = &timeline.User{Name: c.user}
			}
			peer := c.id
			if c.name != "" {
				peer += " (" + c.name + ")"
			}
			verb := "from"
			if !c.incoming {
				verb = "to"
			}
			what := "started"
			if ph.action == ActionEnd {
				what = "ended"
			}
			ev.Message = fmt.Sprintf("TeamViewer %s %s session %s %s, local user %s: %s", dir, c.activity, verb, peer, c.user, what)
			parsers.At(ev, off, num)
			if err := emit(ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// TVLog reads TeamViewer's application log (TeamViewer15_Logfile.log and
// the older TeamViewerNN_Logfile.log): "2024/02/16 06:05:19.349  2136
// 3688  0   text", a line with no time continuing the record before it
// (the "Start:" header block each process start writes). Every record is
// an event; the ones that mark an incoming connection, a session's start
// and its end are normalised.
type TVLog struct{}

var (
	_ parsers.Parser      = (*TVLog)(nil)
	_ parsers.LineMatcher = (*TVLog)(nil)
)

// NewTeamViewerLog returns the TeamViewer application log parser.
func NewTeamViewerLog() *TVLog { return &TVLog{} }

// Name implements parsers.Parser.
func (*TVLog) Name() string { return TVLogName }

var tvLineRe = regexp.MustCompile(`^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3})\s+(\d+)\s+(\d+)\s+([A-Za-z0-9!]+)\s+(.*)$`)

// Match accepts a head whose first non-blank line is a log line.
func (p *TVLog) Match(e *jfs.Entry, head []byte) bool {
	return completeLines(head, func(l []byte) bool { return p.MatchLine(e, l) })
}

// Requires implements parsers.Requirer: completeLines' blanks before a
// line starting with a digit.
func (*TVLog) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.TextBlanks.Union(parsers.Digits)}
}

// MatchLine implements parsers.LineMatcher.
func (*TVLog) MatchLine(_ *jfs.Entry, line []byte) bool {
	// tvLineRe starts with four digits and a '/': other lines are not
	// given to it (FuzzRemotePrechecks).
	if len(line) < 5 || line[0] < '0' || line[0] > '9' || line[4] != '/' {
		return false
	}
	m := tvLineRe.FindSubmatch(line)
	if m == nil {
		return false
	}
	_, err := time.Parse("2006/01/02 15:04:05.000", string(m[1]))
	return err == nil
}

var (
	tvStartHdrRe   = regexp.MustCompile(`^Start:\s+\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{3} \(UTC([+-])(\d{1,2}):(\d\d)\)`)
	tvIDHdrRe      = regexp.MustCompile(`^ID:\s+(\d+)\s*$`)
	tvIncomingRe   = regexp.MustCompile(`incoming session via (\S+?),? protocol (\S+)`)
	tvParticipant  = regexp.MustCompile(`CPersistentParticipantManager::AddParticipant: \[(\d+),(\d+)\] type=(\d+) name=(.*)$`)
	tvSessionEnded = regexp.MustCompile(`Session to (\d+) ended`)
	tvAuthOK       = regexp.MustCompile(`authentication using (.+) was successful`)
)

// utcOffsetIn finds the zone a "Start: … (UTC-8:00)" header states in the
// buffered head of the file, so the lines before the first header are read
// in it too.
func utcOffsetIn(b []byte) *time.Location {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte("\n"))
		if loc := headerZone(string(bytes.TrimRight(line, "\r"))); loc != nil {
			return loc
		}
	}
	return nil
}

func headerZone(line string) *time.Location {
	m := tvStartHdrRe.FindStringSubmatch(line)
	if m == nil {
		return nil
	}
	h, _ := strconv.Atoi(m[2])
	mi, _ := strconv.Atoi(m[3])
	secs := h*3600 + mi*60
	if m[1] == "-" {
		secs = -secs
	}
	return time.FixedZone(fmt.Sprintf("UTC%s%s:%s", m[1], m[2], m[3]), secs)
}

// Parse implements parsers.Parser.
func (*TVLog) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(TVLogName)
	caseZone := src.Zone
	if caseZone == nil {
		caseZone = time.UTC
	}
	br := bufio.NewReaderSize(src.R, 256<<10)
	head, _ := br.Peek(256 << 10)
	stated := utcOffsetIn(head)
	localID := ""
	seen := map[string]bool{} // participant and session already started
	var pending *timeline.Event
	var naive time.Time
	var body []string
	place := func(ev *timeline.Event, t time.Time) {
		if stated != nil {
			ev.Timestamp = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), stated).UTC()
			ev.Event.Timezone = stated.String()
			ev.Jejak.Time = nil
			return
		}
		ev.Timestamp = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), caseZone).UTC()
		assume(ev, caseZone)
	}
	flush := func() error {
		if pending == nil {
			return nil
		}
		ev := pending
		pending = nil
		// The header block starts on the line after an empty record
		// and ends with a blank line: plaso strips both, as here.
		ev.Message = strings.TrimSpace(strings.Join(body, "\n"))
		if ev.Message == "" {
			ev.Message = "(empty TeamViewer log line)"
		}
		return emit(ev)
	}
	err := lineLoop(src, ctx.Err, br, func(line []byte, off, num int64) error {
		s := string(line)
		m := tvLineRe.FindStringSubmatch(s)
		if m == nil {
			if pending == nil {
				if strings.TrimSpace(s) != "" {
					src.WarnErr(off, num, errors.New("line without a time before any log record"))
				}
				return nil
			}
			// A continuation: the header block of a process start.
			if loc := headerZone(s); loc != nil {
				stated = loc
				place(pending, naive)
			}
			if mm := tvIDHdrRe.FindStringSubmatch(s); mm != nil && mm[1] != "0" {
				localID = mm[1]
			}
			body = append(body, strings.TrimRight(s, " "))
			return nil
		}
		if err := flush(); err != nil {
			return err
		}
		t, err := time.Parse("2006/01/02 15:04:05.000", m[1])
		if err != nil {
			src.Warnf(off, num, "bad time: %w", err)
			return nil
		}
		msg := strings.TrimSpace(m[5])
		ev := &timeline.Event{TimestampDesc: WrittenDesc,
			Event: timeline.EventMeta{Kind: "event", Dataset: "teamviewer.log", Provider: TeamViewer}}
		if pid, err := strconv.ParseInt(m[2], 10, 64); err == nil {
			ev.Process = &timeline.Process{PID: pid}
		}
		normaliseTV(ev, msg, localID, seen)
		place(ev, t)
		parsers.At(ev, off, num)
		pending, naive, body = ev, t, []string{msg}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// normaliseTV sets the session fields of the lines that mark one.
func normaliseTV(ev *timeline.Event, msg, localID string, seen map[string]bool) {
	set := func(action string, typ []string, data map[string]string) {
		ev.Event.Action = action
		ev.Event.Category = []string{"session"}
		ev.Event.Type = typ
		data[KeyTool] = TeamViewer
		ev.Jejak.Data = data
	}
	if m := tvIncomingRe.FindStringSubmatch(msg); m != nil {
		set(ActionIncoming, []string{"connection", "start"}, map[string]string{KeyDirection: "incoming", KeyRelay: m[1]})
		ev.Event.Category = []string{"session", "network"}
		return
	}
	if m := tvParticipant.FindStringSubmatch(msg); m != nil {
		id, sess, typ, name := m[1], m[2], m[3], strings.TrimSpace(m[4])
		// The local machine is a participant too: it is the ID the
		// header states, or, before any header, participant type 3.
		local := id == localID || (localID == "" && typ == "3")
		if local || seen[id+","+sess] {
			return
		}
		seen[id+","+sess] = true
		set(ActionStart, []string{"start"}, map[string]string{KeyID: id, KeyName: name, KeySession: sess})
		return
	}
	if m := tvSessionEnded.FindStringSubmatch(msg); m != nil {
		set(ActionEnd, []string{"end"}, map[string]string{KeyID: m[1]})
		return
	}
	if m := tvAuthOK.FindStringSubmatch(msg); m != nil {
		set(ActionAuth, []string{"info"}, map[string]string{KeyAuth: m[1]})
		ev.Event.Category = []string{"session", "authentication"}
		ev.Event.Outcome = "success"
	}
}
