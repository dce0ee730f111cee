// Package schtask parses the task files of the Windows Task Scheduler
// (Windows\System32\Tasks\…, Vista and later): XML documents, written by
// Windows in UTF-16LE with a BOM (UTF-8 copies are read too). A task's
// RegistrationInfo says when and by whom it was registered; its Actions
// say what it runs. Each file is one event, at the registration date
// (local time without a zone, read in the case zone and recorded as
// assumed; a date with a zone is read in it), with the command and
// arguments, the author, the account it runs as, its triggers and
// whether it is enabled and hidden. A task without a registration date
// (many of Windows' own) is placed at the file's modification time, which
// the event's timestamp_desc then says.
package schtask

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "windows_task_xml"

// Time descriptions.
const (
	RegisteredDesc = "Task Registration Date"
	MtimeDesc      = "Task File Modification Time (no registration date)"
)

// Action is event.action, the one Security 4698 has in parsers/evtx.
const Action = "scheduled-task-created"

// Data keys. Not "task.…": EVTX events carry jejak.data.task (the
// record's task number), and a key may not be a prefix of another.
const (
	KeyURI       = "schtask.uri"
	KeyAuthor    = "schtask.author"
	KeyArguments = "schtask.arguments"
	KeyTriggers  = "schtask.triggers"
	KeyEnabled   = "schtask.enabled"
	KeyHidden    = "schtask.hidden"
	KeyRunLevel  = "schtask.run_level"
	KeyCOM       = "schtask.com_handler"
)

// maxSize bounds a task file read whole: Windows' are a few KiB.
const maxSize = 4 << 20

// Parser reads task XML files.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the task XML parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

const taskNS = "http://schemas.microsoft.com/windows/2004/02/mit/task"

// Match accepts an XML document whose root is the Task Scheduler's Task.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	// Both forms of "<Task " hold a '<' byte: a head without one, most
	// files of an image, is turned away in one pass.
	if bytes.IndexByte(head, '<') < 0 {
		return false
	}
	if !isUTF16(head) {
		// decode only drops a BOM, which neither ASCII literal can
		// overlap: the bytes hold them as the text does, uncopied.
		return bytes.Contains(head, []byte("<Task ")) && bytes.Contains(head, []byte(taskNS))
	}
	// In UTF-16 each ASCII character of the text is one code unit, its
	// byte then a zero, so text holding a literal has the literal's
	// units among its bytes: without them the head is not decoded.
	// FuzzMatchPrecheck compares with decoding every head.
	if !bytes.Contains(head, task16) || !bytes.Contains(head, taskNS16) {
		return false
	}
	s := decode(head)
	return strings.Contains(s, "<Task ") && strings.Contains(s, taskNS)
}

var task16, taskNS16 = le16("<Task "), le16(taskNS)

// le16 is ASCII s in UTF-16LE.
func le16(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for i := range len(s) {
		b = append(b, s[i], 0)
	}
	return b
}

// isUTF16 is the choice decode makes: a UTF-16LE BOM, or '<' as a code
// unit.
func isUTF16(b []byte) bool {
	return len(b) >= 2 && (b[0] == 0xFF && b[1] == 0xFE || b[0] == '<' && b[1] == 0)
}

// decode turns UTF-16LE (with or without BOM) or UTF-8 bytes into a
// string; a cut last code unit is dropped.
func decode(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		b = b[2:]
	case len(b) >= 2 && b[0] == '<' && b[1] == 0:
	default:
		return string(bytes.TrimPrefix(b, []byte{0xEF, 0xBB, 0xBF}))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	var out []byte
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return string(out)
}

type xtask struct {
	XMLName          xml.Name `xml:"Task"`
	RegistrationInfo struct {
		Date        string `xml:"Date"`
		Author      string `xml:"Author"`
		Description string `xml:"Description"`
		URI         string `xml:"URI"`
	} `xml:"RegistrationInfo"`
	Triggers struct {
		Any []struct {
			XMLName       xml.Name
			StartBoundary string `xml:"StartBoundary"`
			UserID        string `xml:"UserId"`
			Enabled       string `xml:"Enabled"`
		} `xml:",any"`
	} `xml:"Triggers"`
	Principals struct {
		Principal []struct {
			UserID    string `xml:"UserId"`
			GroupID   string `xml:"GroupId"`
			LogonType string `xml:"LogonType"`
			RunLevel  string `xml:"RunLevel"`
		} `xml:"Principal"`
	} `xml:"Principals"`
	Settings struct {
		Enabled string `xml:"Enabled"`
		Hidden  string `xml:"Hidden"`
	} `xml:"Settings"`
	Actions struct {
		Exec []struct {
			Command          string `xml:"Command"`
			Arguments        string `xml:"Arguments"`
			WorkingDirectory string `xml:"WorkingDirectory"`
		} `xml:"Exec"`
		ComHandler []struct {
			ClassID string `xml:"ClassId"`
			Data    string `xml:"Data"`
		} `xml:"ComHandler"`
	} `xml:"Actions"`
}

// Parse implements parsers.Parser.
func (*Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	if err := ctx.Err(); err != nil {
		return err
	}
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	warn := func(off int64, err error) {
		src.WarnErr(off, 1, err)
	}
	raw, err := io.ReadAll(io.LimitReader(src.R, maxSize+1))
	if err != nil {
		return err
	}
	if len(raw) > maxSize {
		warn(0, fmt.Errorf("task file larger than %d bytes: not read", maxSize))
		return nil
	}
	text := decode(raw)
	dec := xml.NewDecoder(strings.NewReader(text))
	// The text is UTF-8 now, whatever the declaration says.
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var t xtask
	if err := dec.Decode(&t); err != nil {
		warn(0, fmt.Errorf("task XML: %w", err))
		return nil
	}
	if t.XMLName.Space != taskNS {
		warn(0, errors.New("root element is not a Task Scheduler task"))
		return nil
	}
	ev := &timeline.Event{
		Event: timeline.EventMeta{Kind: "event", Category: []string{"configuration", "process"}, Type: []string{"creation"},
			Action: Action, Dataset: "windows.task", Provider: "Task Scheduler"},
	}
	ri := t.RegistrationInfo
	if d := strings.TrimSpace(ri.Date); d != "" {
		ts, zoned, err := parseDate(d, zone)
		if err != nil {
			warn(0, fmt.Errorf("registration date %q: %w", d, err))
			return nil
		}
		ev.Timestamp, ev.TimestampDesc = ts.UTC(), RegisteredDesc
		if !zoned {
			ev.Event.Timezone = zone.String()
			ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: zone.String()}
		}
	} else {
		mt := src.Entry.Times.Modified
		if mt.IsZero() {
			warn(0, errors.New("task has no registration date and the file no modification time: not placed on the timeline"))
			return nil
		}
		ev.Timestamp, ev.TimestampDesc = mt.UTC(), MtimeDesc
	}
	data := map[string]string{}
	set := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			data[k] = v
		}
	}
	uri := ri.URI
	if uri == "" {
		uri = `\` + baseName(src.Entry.Path)
	}
	set(KeyURI, uri)
	set(KeyAuthor, ri.Author)
	enabled := "true"
	if strings.EqualFold(strings.TrimSpace(t.Settings.Enabled), "false") {
		enabled = "false"
	}
	data[KeyEnabled] = enabled
	if strings.EqualFold(strings.TrimSpace(t.Settings.Hidden), "true") {
		data[KeyHidden] = "true"
	}
	var trig []string
	for _, tr := range t.Triggers.Any {
		s := tr.XMLName.Local
		if tr.StartBoundary != "" {
			s += " from " + strings.TrimSpace(tr.StartBoundary)
		}
		if tr.UserID != "" {
			s += " for " + strings.TrimSpace(tr.UserID)
		}
		trig = append(trig, s)
	}
	set(KeyTriggers, strings.Join(trig, "; "))
	if len(t.Principals.Principal) > 0 {
		p := t.Principals.Principal[0]
		if u := strings.TrimSpace(p.UserID); u != "" {
			ev.User = userOf(u)
		} else if g := strings.TrimSpace(p.GroupID); g != "" {
			ev.Group = &timeline.Group{Name: g}
		}
		set(KeyRunLevel, p.RunLevel)
	}
	var what string
	if len(t.Actions.Exec) > 0 {
		x := t.Actions.Exec[0]
		cmd := strings.TrimSpace(x.Command)
		args := strings.TrimSpace(x.Arguments)
		ev.Process = &timeline.Process{Executable: cmd, CommandLine: strings.TrimSpace(cmd + " " + args), WorkingDir: strings.TrimSpace(x.WorkingDirectory)}
		set(KeyArguments, args)
		what = "runs " + ev.Process.CommandLine
		if n := len(t.Actions.Exec); n > 1 {
			what += fmt.Sprintf(" (and %d more actions)", n-1)
		}
	} else if len(t.Actions.ComHandler) > 0 {
		set(KeyCOM, t.Actions.ComHandler[0].ClassID)
		what = "runs COM handler " + strings.TrimSpace(t.Actions.ComHandler[0].ClassID)
	} else {
		what = "has no Exec or COM action"
	}
	ev.Jejak.Data = data
	ev.Message = fmt.Sprintf("Scheduled task %s %s", uri, what)
	if a := data[KeyAuthor]; a != "" {
		ev.Message += ", author " + a
	}
	if len(trig) > 0 {
		ev.Message += ", triggers: " + data[KeyTriggers]
	}
	if enabled == "false" {
		ev.Message += " (disabled)"
	}
	return emit(ev)
}

// parseDate reads the ISO times Task Scheduler writes: local
// "2024-02-14T19:25:11" (fractions of up to 7 digits), or with a zone.
func parseDate(s string, zone *time.Location) (time.Time, bool, error) {
	for _, l := range []string{"2006-01-02T15:04:05.9999999Z07:00", "2006-01-02T15:04:05Z07:00"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, true, nil
		}
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05.9999999", s, zone)
	return t, false, err
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// userOf reads "DOMAIN\user", a SID or a bare name.
func userOf(s string) *timeline.User {
	if strings.HasPrefix(strings.ToUpper(s), "S-1-") {
		return &timeline.User{ID: s}
	}
	if d, u, ok := strings.Cut(s, `\`); ok && d != "" && u != "" {
		return &timeline.User{Name: u, Domain: d}
	}
	return &timeline.User{Name: s}
}
