// Package shellhistory parses shell history files that carry times: bash
// history written with HISTTIMEFORMAT set ("#<epoch>" lines) and zsh
// EXTENDED_HISTORY (": <epoch>:<duration>;<command>").
//
// A history without times says what was typed but not when; like plaso,
// these parsers do not claim such files. A command read before the first
// time line of a bash history (a truncated or "desynchronized" file) is
// kept, as plaso keeps it, with timestamp_desc "Not a time" at the Unix
// epoch and jejak.data.time_unset, never with a made-up time.
package shellhistory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
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
	BashName = "bash_history"
	ZshName  = "zsh_extended_history"
)

// plaso's timeliner maps bash:history:entry written_time and
// shell:zsh:history last_written_time to this description.
const timestampDesc = "Content Modification Time"

var (
	// ErrBadLine marks a zsh line that is neither an extended entry nor
	// the continuation of one.
	ErrBadLine = errors.New("line is not a zsh extended history entry")
	// ErrLineTooLong marks a line longer than 1 MiB: history files are
	// small, so a longer line is not a command anyone typed.
	ErrLineTooLong = errors.New("history line longer than 1 MiB")
)

// Bash reads bash history files with timestamps.
type Bash struct{}

// Zsh reads zsh extended history files.
type Zsh struct{}

var (
	_ parsers.Parser = (*Bash)(nil)
	_ parsers.Parser = (*Zsh)(nil)
)

// New returns the bash history parser.
func New() *Bash { return &Bash{} }

// NewZsh returns the zsh extended history parser.
func NewZsh() *Zsh { return &Zsh{} }

// Name implements parsers.Parser.
func (*Bash) Name() string { return BashName }

// Name implements parsers.Parser.
func (*Zsh) Name() string { return ZshName }

// bashStamp reports whether line is "#<epoch>" as bash writes it: plaso
// requires 9 or 10 digits not starting with 0, which keeps comments such as
// "#1" or "#TODO" out.
func bashStamp(line string) (int64, bool) {
	if len(line) < 10 || len(line) > 11 || line[0] != '#' || line[1] == '0' {
		return 0, false
	}
	var n int64
	for i := 1; i < len(line); i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Match accepts a file named like a bash history whose head holds a time
// line within its first lines (a rotated history may start mid-entry).
func (*Bash) Match(e *jfs.Entry, head []byte) bool {
	// A name holding "history" in any case holds "story" in ASCII ('i'
	// is the letter a rune outside ASCII may lower to): one pass over the
	// name turns most names away before the full test.
	base := path.Base(e.Path)
	if !fold.ContainsASCII(base, "story") || !fold.Contains(base, "history") {
		return false
	}
	lines := bytes.SplitN(head, []byte("\n"), 4)
	for i, l := range lines {
		if i == len(lines)-1 && len(lines) == 4 {
			break
		}
		if _, ok := bashStamp(string(bytes.TrimRight(l, "\r"))); ok {
			return true
		}
	}
	return false
}

// Requires implements parsers.Requirer: a name holding "history",
// whatever the content.
func (*Bash) Requires() parsers.Requirement {
	return parsers.Requirement{Name: "history"}
}

// zshEntry parses ": 1458291931:15;command".
func zshEntry(line string) (sec, dur int64, cmd string, ok bool) {
	rest, found := strings.CutPrefix(line, ": ")
	if !found {
		return 0, 0, "", false
	}
	meta, cmd, found := strings.Cut(rest, ";")
	if !found {
		return 0, 0, "", false
	}
	s, d, found := strings.Cut(meta, ":")
	if !found {
		return 0, 0, "", false
	}
	sec, err1 := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	dur, err2 := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
	if err1 != nil || err2 != nil || sec < 0 {
		return 0, 0, "", false
	}
	return sec, dur, cmd, true
}

// Match accepts a file whose first line is a zsh extended entry.
func (*Zsh) Match(e *jfs.Entry, head []byte) bool {
	// zshEntry takes only a line starting ": ": other heads are neither
	// cut nor copied to a string to ask (FuzzZshMatchPrecheck).
	if !bytes.HasPrefix(head, []byte(": ")) {
		return false
	}
	first, _, _ := bytes.Cut(head, []byte("\n"))
	_, _, _, ok := zshEntry(strings.TrimRight(string(first), "\r"))
	return ok
}

// Requires implements parsers.Requirer: ": " first.
func (*Zsh) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf(":")}
}

// historyLines reads a history file's lines as strings for both parsers:
// it checks ctx every 512 lines and reports over-long lines itself, so a
// parser sees only lines to parse, io.EOF, or the error that ends the file.
// The reader strips one "\r\n"; TrimRight also drops any "\r" left before
// it, as these parsers always did.
type historyLines struct {
	lr   *lines.Reader
	what string // names the file in a read error
	warn func(off, n int64, err error)
	n    int64 // number of the last line read
}

func (r *historyLines) next(ctx context.Context) (line string, off, n int64, err error) {
	for {
		if r.n%512 == 0 {
			if err := ctx.Err(); err != nil {
				return "", 0, 0, err
			}
		}
		b, off, n, err := r.lr.Next()
		r.n = n
		switch {
		case err == io.EOF:
			return "", off, n, err
		case errors.Is(err, lines.ErrTooLong):
			r.warn(off, n, ErrLineTooLong)
			continue
		case err != nil:
			return "", off, n, fmt.Errorf("%s: read at offset %d: %w", r.what, off, err)
		}
		return strings.TrimRight(string(b), "\r\n"), off, n, nil
	}
}

func newEvent(sec int64, cmd string, off, n int64, shell string) *timeline.Event {
	ev := &timeline.Event{
		Timestamp:     time.Unix(sec, 0).UTC(),
		TimestampDesc: timestampDesc,
		Message:       cmd,
		Process:       &timeline.Process{CommandLine: cmd},
	}
	if cmd == "" {
		ev.Message = "(empty command)"
	}
	ev.Event.Kind = "event"
	ev.Event.Category = []string{"process"}
	ev.Event.Type = []string{"start"}
	ev.Event.Action = "command_entered"
	ev.Event.Dataset = shell + ".history"
	parsers.At(ev, off, n)
	ev.Jejak.Data = map[string]string{"command": cmd}
	return ev
}

// Parse implements parsers.Parser. A time line applies to every following
// line up to the next time line: bash writes a command with embedded
// newlines (a quoted multi-line argument, lithist) as several lines after
// one time line, so they form one command.
func (p *Bash) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(BashName)
	warn := func(off, n int64, err error) {
		src.WarnErr(off, n, err)
	}
	lr := &historyLines{lr: lines.NewReader(src.R), what: "bash_history", warn: warn}
	var cmdLines []string
	var stamp int64
	var stampOff, stampLine int64
	haveStamp := false
	flush := func() error {
		if !haveStamp || len(cmdLines) == 0 {
			return nil
		}
		cmd := strings.Join(cmdLines, "\n")
		ev := newEvent(stamp, cmd, stampOff, stampLine, "bash")
		if len(cmdLines) > 1 {
			ev.Jejak.Data["lines"] = strconv.Itoa(len(cmdLines))
		}
		cmdLines = cmdLines[:0]
		return emit(ev)
	}
	for {
		line, off, n, err := lr.next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if sec, ok := bashStamp(line); ok {
			if err := flush(); err != nil {
				return err
			}
			stamp, stampOff, stampLine, haveStamp = sec, off, n, true
			continue
		}
		if !haveStamp {
			ev := newEvent(0, line, off, n, "bash")
			ev.TimestampDesc = "Not a time"
			ev.Jejak.Data["time_unset"] = "true"
			if err := emit(ev); err != nil {
				return err
			}
			continue
		}
		cmdLines = append(cmdLines, line)
	}
	return flush()
}

// Parse implements parsers.Parser. zsh writes a command with embedded
// newlines as lines ending in a backslash; they are joined to one entry.
func (p *Zsh) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(ZshName)
	warn := func(off, n int64, err error) {
		src.WarnErr(off, n, err)
	}
	lr := &historyLines{lr: lines.NewReader(src.R), what: "zsh history", warn: warn}
	var cur *timeline.Event
	continued := false
	for {
		line, off, n, err := lr.next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if continued && cur != nil {
			cmd := strings.TrimSuffix(cur.Process.CommandLine, "\\") + "\n" + line
			cur.Process.CommandLine, cur.Message, cur.Jejak.Data["command"] = cmd, cmd, cmd
			continued = strings.HasSuffix(line, "\\")
			continue
		}
		if cur != nil {
			if err := emit(cur); err != nil {
				return err
			}
			cur = nil
		}
		sec, dur, cmd, ok := zshEntry(line)
		if !ok {
			if strings.TrimSpace(line) != "" {
				warn(off, n, ErrBadLine)
			}
			continue
		}
		cur = newEvent(sec, cmd, off, n, "zsh")
		cur.Jejak.Data["duration_seconds"] = strconv.FormatInt(dur, 10)
		continued = strings.HasSuffix(cmd, "\\")
	}
	if cur != nil {
		return emit(cur)
	}
	return nil
}
