// Package powershell parses what PowerShell leaves on disk about the
// commands typed into it: transcripts (Start-Transcript, or the
// "Turn on PowerShell Transcription" policy: PowerShell_transcript.*.txt)
// and PSReadLine's command history (ConsoleHost_history.txt).
//
// A transcript's header gives the session's start time (local time, no
// zone: read in the case zone, recorded as assumed), the user, the run-as
// user, the machine and the host process; each "PS path> command" line is
// a command event, timed by the "Command start time:" header PowerShell
// writes before it when invocation headers are on, else by the session
// start, which the event's timestamp_desc then says. The output lines of a
// command are kept in its message. Header field names are translated in
// other locales ("Startzeit", "Befehlsstartzeit"): the blocks are told
// apart by their shape (a title and many fields, a title and the end time,
// a time alone) and the times by their 14 digits.
//
// ConsoleHost_history.txt holds one command per line and no time at all:
// every command becomes an event at the file's modification time (the time
// the last command was added), with a timestamp_desc saying so; the line
// number keeps the order the commands were typed in.
package powershell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/fold"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Parser names.
const (
	TranscriptName = "powershell_transcript"
	HistoryName    = "powershell_history"
)

// Event actions.
const (
	ActionStart   = "powershell-transcript-start"
	ActionEnd     = "powershell-transcript-end"
	ActionCommand = "powershell-command"
)

// Time descriptions.
const (
	StartDesc        = "Transcript Start Time"
	EndDesc          = "Transcript End Time"
	CommandDesc      = "Command Start Time"
	CommandAtStart   = "Transcript Start Time (command time not recorded)"
	HistoryMtimeDesc = "History File Modification Time (command time not recorded)"
)

// Data keys.
const (
	KeyRunAs      = "powershell.runas_user"
	KeyVersion    = "powershell.version"
	KeyEdition    = "powershell.edition"
	KeyOutput     = "powershell.output"
	KeyTranscript = "powershell.transcript_start"
)

const stampLayout = "20060102150405"

var (
	separator = "**********************"
	promptRe  = regexp.MustCompile(`^PS ([^>]*)> ?(.*)$`)
)

// Transcript reads PowerShell transcripts.
type Transcript struct{}

var _ parsers.Parser = (*Transcript)(nil)

// NewTranscript returns the transcript parser.
func NewTranscript() *Transcript { return &Transcript{} }

// Name implements parsers.Parser.
func (*Transcript) Name() string { return TranscriptName }

// Match accepts the header every transcript starts with: the separator,
// then a field holding a 14-digit time ("Start time:", or its translation:
// "Startzeit:").
func (*Transcript) Match(_ *jfs.Entry, head []byte) bool {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	if !bytes.HasPrefix(head, []byte(separator)) {
		return false
	}
	return startTimeRe.Match(head)
}

// Requires implements parsers.Requirer: separator first, after a BOM.
func (*Transcript) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf("\xef" + separator[:1])}
}

var (
	startTimeRe = regexp.MustCompile(`(?m)^[^:\r\n]{1,40}: ?\d{14}\r?$`)
	fieldRe     = regexp.MustCompile(`^([^:]{1,40}): ?(.*)$`)
	stampRe     = regexp.MustCompile(`^\d{14}$`)
)

// aliases gives the English name of the header fields PowerShell writes
// translated (German here; add others as they turn up). The times are
// found by their 14 digits whatever the language.
var aliases = map[string]string{
	"Benutzername":   "Username",
	"RunAs-Benutzer": "RunAs User",
	"Computer":       "Machine",
	"Hostanwendung":  "Host Application",
	"Prozess-ID":     "Process ID",
}

// header is one block between separators.
type header struct {
	fields map[string]string
	stamp  string // the first 14-digit value
	intro  int    // lines that are no field ("Windows PowerShell transcript end")
	n      int    // fields
}

func (h *header) add(line string) {
	if m := fieldRe.FindStringSubmatch(line); m != nil {
		name, v := strings.TrimSpace(m[1]), strings.TrimSpace(m[2])
		if a, ok := aliases[name]; ok {
			name = a
		}
		h.fields[name] = v
		h.n++
		if h.stamp == "" && stampRe.MatchString(v) {
			h.stamp = v
		}
		return
	}
	if strings.TrimSpace(line) != "" {
		h.intro++
	}
}

var ()

// session is the transcript being read.
type session struct {
	start   time.Time
	hasTime bool
	fields  map[string]string
}

// Parse implements parsers.Parser.
func (*Transcript) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(TranscriptName)
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	warn := func(off, num int64, err error) {
		src.WarnErr(off, num, err)
	}
	var (
		sess     *session
		inHeader bool // between the separators of a header block
		hdrOff   int64
		hdrNum   int64
		cmdTime  time.Time // from "Command start time:"
		pending  *timeline.Event
		output   []string
	)
	flush := func() error {
		if pending == nil {
			return nil
		}
		ev := pending
		pending = nil
		// Blank lines PowerShell prints around a table end the output:
		// they are not kept.
		if out := strings.TrimRight(strings.TrimLeft(strings.Join(output, "\n"), "\n"), "\n\t "); out != "" {
			ev.Message += "\n" + out
			ev.Jejak.Data[KeyOutput] = out
		}
		output = nil
		return emit(ev)
	}
	base := func(t time.Time, desc string, off, num int64) *timeline.Event {
		ev := &timeline.Event{Timestamp: t.UTC(), TimestampDesc: desc,
			Event: timeline.EventMeta{Kind: "event", Category: []string{"process"}, Dataset: "powershell.transcript", Provider: "PowerShell"}}
		ev.Event.Timezone = zone.String()
		ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: zone.String()}
		parsers.At(ev, off, num)
		ev.Jejak.Data = map[string]string{}
		if sess != nil {
			f := sess.fields
			if u := f["Username"]; u != "" {
				ev.User = userOf(u)
			}
			if m := f["Machine"]; m != "" {
				name, _, _ := strings.Cut(m, " (")
				ev.Host = &timeline.Host{Name: name}
			}
			p := &timeline.Process{Executable: f["Host Application"]}
			if pid, err := strconv.ParseInt(f["Process ID"], 10, 64); err == nil {
				p.PID = pid
			}
			if p.Executable != "" || p.PID != 0 {
				ev.Process = p
			}
			for k, key := range map[string]string{"RunAs User": KeyRunAs, "PSVersion": KeyVersion, "PSEdition": KeyEdition} {
				if v := f[k]; v != "" {
					ev.Jejak.Data[key] = v
				}
			}
			if sess.hasTime {
				ev.Jejak.Data[KeyTranscript] = sess.start.UTC().Format(time.RFC3339)
			}
		}
		return ev
	}
	// closeHeader ends a block between separators: a transcript start
	// (a title and many fields), its end (a title and the end time) or a
	// command's invocation header (the time alone). The field names may
	// be translated; the time is the first 14-digit value.
	closeHeader := func(h *header) error {
		fields := h.fields
		switch {
		case h.stamp == "":
			warn(hdrOff, hdrNum, errors.New("transcript header block without a time"))
			return nil
		case h.n >= 3:
			t, err := time.ParseInLocation(stampLayout, h.stamp, zone)
			if err != nil {
				warn(hdrOff, hdrNum, fmt.Errorf("bad transcript start time: %w", err))
				sess = &session{fields: fields}
				return nil
			}
			sess = &session{start: t, hasTime: true, fields: fields}
			ev := base(t, StartDesc, hdrOff, hdrNum)
			ev.Event.Action = ActionStart
			ev.Event.Type = []string{"start"}
			ev.Message = fmt.Sprintf("PowerShell transcript start: %s as %s on %s (%s, PID %s)", fields["Host Application"], fields["Username"], fields["Machine"], fields["PSVersion"], fields["Process ID"])
			// Held: the lines before the first command ("Transcript
			// started, output file is …") are kept in its message.
			pending = ev
			return nil
		case h.intro > 0:
			t, err := time.ParseInLocation(stampLayout, h.stamp, zone)
			if err != nil {
				warn(hdrOff, hdrNum, fmt.Errorf("bad transcript end time: %w", err))
				return nil
			}
			ev := base(t, EndDesc, hdrOff, hdrNum)
			ev.Event.Action = ActionEnd
			ev.Event.Type = []string{"end"}
			ev.Message = "PowerShell transcript end"
			return emit(ev)
		default:
			t, err := time.ParseInLocation(stampLayout, h.stamp, zone)
			if err != nil {
				warn(hdrOff, hdrNum, fmt.Errorf("bad command start time: %w", err))
				return nil
			}
			cmdTime = t
		}
		return nil
	}
	var hdr *header
	lr := lines.NewReader(src.R)
	for {
		raw, off, num, err := lr.Next()
		if err == io.EOF {
			if inHeader {
				if err := closeHeader(hdr); err != nil {
					return err
				}
			}
			return flush()
		}
		if num%256 == 1 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, lines.ErrTooLong) {
			warn(off, num, err)
			continue
		}
		if err != nil {
			return err
		}
		if num == 1 {
			raw = bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
		}
		line := string(raw)
		if strings.TrimSpace(line) == separator {
			if inHeader {
				// A block closes when the next separator follows its
				// fields; two separators in a row open nothing.
				if hdr.n > 0 || hdr.intro > 0 {
					inHeader = false
					if err := closeHeader(hdr); err != nil {
						return err
					}
				}
				continue
			}
			if err := flush(); err != nil {
				return err
			}
			inHeader, hdrOff, hdrNum, hdr = true, off, num, &header{fields: map[string]string{}}
			continue
		}
		if inHeader {
			hdr.add(line)
			continue
		}
		if m := promptRe.FindStringSubmatch(line); m != nil {
			if err := flush(); err != nil {
				return err
			}
			if sess == nil || !sess.hasTime {
				warn(off, num, errors.New("command before any transcript start time"))
				continue
			}
			t, desc := sess.start, CommandAtStart
			if !cmdTime.IsZero() {
				t, desc = cmdTime, CommandDesc
				cmdTime = time.Time{}
			}
			ev := base(t, desc, off, num)
			ev.Event.Action = ActionCommand
			ev.Event.Type = []string{"start"}
			ev.Process = withCommand(ev.Process, m[2], m[1])
			ev.Message = line
			pending = ev
			continue
		}
		// Output of the command before, or text before any command (the
		// "Transcript started, output file is …" line).
		switch {
		case pending != nil:
			output = append(output, line)
		case strings.TrimSpace(line) != "":
			warn(off, num, errors.New("text outside a transcript's header and commands"))
		}
	}
}

func withCommand(p *timeline.Process, cmd, dir string) *timeline.Process {
	q := timeline.Process{}
	if p != nil {
		q = *p
	}
	q.CommandLine = cmd
	q.WorkingDir = dir
	return &q
}

// userOf reads "DOMAIN\user".
func userOf(s string) *timeline.User {
	if d, u, ok := strings.Cut(s, `\`); ok && d != "" && u != "" {
		return &timeline.User{Name: u, Domain: d}
	}
	return &timeline.User{Name: s}
}

// History reads PSReadLine's ConsoleHost_history.txt.
type History struct{}

var _ parsers.Parser = (*History)(nil)

// NewHistory returns the PSReadLine history parser.
func NewHistory() *History { return &History{} }

// Name implements parsers.Parser.
func (*History) Name() string { return HistoryName }

// Match accepts PSReadLine's history by name: the file has no structure
// to know it by (one command a line). PSReadLine names it
// <host>_history.txt, ConsoleHost_history.txt for the console.
func (*History) Match(e *jfs.Entry, head []byte) bool {
	if e == nil {
		return false
	}
	if !historyPath(e.Path) {
		return false
	}
	// Text, not a binary file of that name.
	return !bytes.ContainsRune(head, 0)
}

// Requires implements parsers.Requirer: historyPath's names end
// "_history.txt", whatever the content.
func (*History) Requires() parsers.Requirement {
	return parsers.Requirement{Name: "_history.txt"}
}

// historyPath says whether p, in any case and with either separator, names
// ConsoleHost_history.txt or a <host>_history.txt in a PSReadLine folder.
func historyPath(p string) bool {
	b := slashBase(p)
	return fold.Equal(b, "consolehost_history.txt") || fold.HasSuffix(b, "_history.txt") && inPSReadLine(p)
}

// slashBase is path.Base(strings.ReplaceAll(p, `\`, "/")) read in p
// itself: a base holds no separator, so it is the same bytes.
func slashBase(p string) string {
	if p == "" {
		return "."
	}
	for len(p) > 0 && isSep(p[len(p)-1]) {
		p = p[:len(p)-1]
	}
	i := len(p) - 1
	for i >= 0 && !isSep(p[i]) {
		i--
	}
	if p = p[i+1:]; p == "" {
		return "/"
	}
	return p
}

func isSep(c byte) bool { return c == '/' || c == '\\' }

// inPSReadLine says whether p has a folder named PSReadLine, in any case,
// followed by a separator: what strings.Contains(strings.ToLower(
// strings.ReplaceAll(p, `\`, "/")), "/psreadline/") says, which a name
// outside ASCII is still asked (see internal/fold).
func inPSReadLine(p string) bool {
	if !fold.IsASCII(p) {
		return strings.Contains(strings.ToLower(strings.ReplaceAll(p, `\`, "/")), "/psreadline/")
	}
	const dir = "psreadline"
	for i := 0; i+len(dir)+1 < len(p); i++ {
		if isSep(p[i]) && isSep(p[i+len(dir)+1]) && fold.Equal(p[i+1:i+len(dir)+1], dir) {
			return true
		}
	}
	return false
}

// Parse implements parsers.Parser.
func (*History) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(HistoryName)
	mtime := src.Entry.Times.Modified
	warn := func(off, num int64, err error) {
		src.WarnErr(off, num, err)
	}
	var cmd []string
	var cmdOff, cmdNum int64
	flush := func() error {
		if len(cmd) == 0 {
			return nil
		}
		c := strings.Join(cmd, "\n")
		cmd = nil
		if mtime.IsZero() {
			warn(cmdOff, cmdNum, errors.New("command not placed on the timeline: the history has no times and the file's modification time is unknown"))
			return nil
		}
		ev := &timeline.Event{Timestamp: mtime.UTC(), TimestampDesc: HistoryMtimeDesc, Message: c,
			Event: timeline.EventMeta{Kind: "event", Category: []string{"process"}, Type: []string{"start"},
				Action: ActionCommand, Dataset: "powershell.history", Provider: "PSReadLine"},
			Process: &timeline.Process{CommandLine: c}}
		parsers.At(ev, cmdOff, cmdNum)
		return emit(ev)
	}
	lr := lines.NewReader(src.R)
	for {
		raw, off, num, err := lr.Next()
		if err == io.EOF {
			return flush()
		}
		if num%256 == 1 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, lines.ErrTooLong) {
			warn(off, num, err)
			continue
		}
		if err != nil {
			return err
		}
		if num == 1 {
			raw = bytes.TrimPrefix(raw, []byte{0xEF, 0xBB, 0xBF})
		}
		line := string(raw)
		if len(cmd) == 0 {
			if strings.TrimSpace(line) == "" {
				continue
			}
			cmdOff, cmdNum = off, num
		}
		cmd = append(cmd, line)
		// PSReadLine saves a multi-line command with a backtick ending
		// each line but the last.
		if strings.HasSuffix(line, "`") {
			continue
		}
		if err := flush(); err != nil {
			return err
		}
	}
}
