// Package remoteaccess parses the logs of the remote-access tools found on
// servers: TeamViewer's connection lists (Connections_incoming.txt,
// Connections.txt) and application log (TeamViewer15_Logfile.log), and
// AnyDesk's connection_trace.txt and trace files (ad.trace, ad_svc.trace).
//
// Every session these logs record becomes events with event.category
// ["session"] and event.action remote-access-session-start or
// remote-access-session-end, and jejak.data remote.tool, remote.id and
// remote.name: the contract the remote-access hunting analyzer reads
// (casework/hunt/remoteaccess.go).
//
// Times: TeamViewer's connection lists are in UTC (plaso's teamviewer
// plugins read them so; the sample's sessions fall at the UTC times its
// application log, written at UTC-8, shows them at). The application log is
// in local time: the offset its "Start:" header states is used when the
// file has one, otherwise the case zone, recorded as assumed. AnyDesk writes
// its trace files and connection_trace.txt in UTC.
package remoteaccess

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Event actions: the contract of the hunting analyzer.
const (
	ActionStart    = "remote-access-session-start"
	ActionEnd      = "remote-access-session-end"
	ActionRejected = "remote-access-session-rejected"
	ActionIncoming = "remote-access-incoming-request"
	ActionAuth     = "remote-access-authenticated"
	ActionRelay    = "remote-access-relay-login"
)

// Data keys.
const (
	KeyTool      = "remote.tool"
	KeyID        = "remote.id"
	KeyName      = "remote.name"
	KeyDirection = "remote.direction"
	KeyActivity  = "remote.activity"
	KeySession   = "remote.session_id"
	KeyAuth      = "remote.auth"
	KeyOS        = "remote.os"
	KeyRelay     = "remote.relay"
)

// Tool names in remote.tool.
const (
	TeamViewer = "teamviewer"
	AnyDesk    = "anydesk"
)

// Time descriptions.
const (
	StartDesc   = "Session Start Time"
	EndDesc     = "Session End Time"
	WrittenDesc = "Log Entry Time"
)

// sessionEvent is a session start or end.
func sessionEvent(ts time.Time, desc, action, tool string, data map[string]string) *timeline.Event {
	ev := &timeline.Event{
		Timestamp:     ts.UTC(),
		TimestampDesc: desc,
		Event:         timeline.EventMeta{Kind: "event", Category: []string{"session"}, Action: action, Provider: tool},
	}
	switch action {
	case ActionStart:
		ev.Event.Type = []string{"start"}
	case ActionEnd:
		ev.Event.Type = []string{"end"}
	default:
		ev.Event.Type = []string{"info"}
	}
	data[KeyTool] = tool
	ev.Jejak.Data = data
	return ev
}

// assume records that a time was read in the case zone.
func assume(ev *timeline.Event, zone *time.Location) {
	ev.Event.Timezone = zone.String()
	ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: zone.String()}
}

// lineLoop reads src line by line, checking ctx every 256 lines and
// warning over-long lines, and calls fn for each other line (BOM removed
// from the first).
func lineLoop(src *parsers.Source, ctxErr func() error, r io.Reader, fn func(line []byte, off, num int64) error) error {
	lr := lines.NewReader(r)
	for {
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return nil
		}
		if num%256 == 1 {
			if cerr := ctxErr(); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, lines.ErrTooLong) {
			src.WarnErr(off, num, err)
			continue
		}
		if err != nil {
			return err
		}
		if num == 1 {
			line = bytes.TrimPrefix(line, []byte{0xEF, 0xBB, 0xBF})
		}
		if err := fn(line, off, num); err != nil {
			return err
		}
	}
}

// completeLines judges the first non-blank line of a head. A line cut by
// the head's end is judged too: the short files these parsers read (a
// connection list of one line without a newline) fit whole in a head, and
// every format here anchors its line's end (a GUID, a message).
func completeLines(head []byte, fn func([]byte) bool) bool {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	for len(head) > 0 {
		line, rest, _ := bytes.Cut(head, []byte("\n"))
		head = rest
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		return fn(line)
	}
	return false
}

// trimLeftBlanks is bytes.TrimLeft(b, "\t\n\f\r "), with '\v' in the
// cutset too when vt is set, without the cutset TrimLeft builds on every
// call: detection asks it of every sampled line of every file no parser
// takes by its head.
func trimLeftBlanks(b []byte, vt bool) []byte {
	for len(b) > 0 {
		switch c := b[0]; {
		case c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ' || (vt && c == '\v'):
			b = b[1:]
		default:
			return b
		}
	}
	return b
}
