package dpkg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// AptTermName is the parser name of apt's /var/log/apt/term.log.
const AptTermName = "apt_term"

// term.log is what dpkg printed to the terminal during each apt run,
// between "Log started: <time>" and "Log ended: <time>" lines apt writes
// around it (apt-pkg/deb/dpkgpm.cc, in local time, two spaces between date
// and time as in history.log). Only those two lines carry a time; the lines
// between are dpkg's and the maintainer scripts' output.
//
// Each run gives two events, at its start and at its end. The start event
// summarises the run as an examiner asks about it: which packages were
// newly selected, unpacked, set up, removed or purged, which triggers ran,
// and whether dpkg reported an error; the other output (services enabled,
// alternatives chosen, debconf complaints) is kept verbatim with it. Every
// line of the block is thus in an event. dpkg's "(Reading database ..."
// progress line is counted, not kept.
const (
	termStarted = "Log started: "
	termEnded   = "Log ended: "
	// maxTermBlock bounds what one run keeps (package lists and output);
	// a real run keeps a few KiB, a full dist-upgrade a few hundred.
	maxTermBlock = 4 << 20
	// termMessageList is how many packages the message names.
	termMessageList = 10
)

var (
	// ErrOutsideTermBlock marks a line before any "Log started".
	ErrOutsideTermBlock = errors.New("line outside a \"Log started\" block")
	// ErrTermBlockTooLong marks a line past the 4 MiB a run keeps.
	ErrTermBlockTooLong = errors.New("apt term.log block longer than 4 MiB")
	// ErrBadTermTime marks a "Log started" or "Log ended" line whose time
	// cannot be read.
	ErrBadTermTime = errors.New("unreadable apt term.log time")
	// ErrUntimedRun marks a line of a run whose "Log started" time could
	// not be read: nothing places it in time.
	ErrUntimedRun = errors.New("line of an apt run whose \"Log started\" time is unreadable")
)

// AptTerm reads apt's term.log.
type AptTerm struct{}

var _ parsers.Parser = (*AptTerm)(nil)

// NewAptTerm returns the apt term.log parser.
func NewAptTerm() *AptTerm { return &AptTerm{} }

// Name implements parsers.Parser.
func (*AptTerm) Name() string { return AptTermName }

// Match accepts a file whose first non-blank line is a "Log started" line
// with a time (apt starts the file with an empty line).
func (*AptTerm) Match(e *jfs.Entry, head []byte) bool {
	head = trimLineEnds(head)
	// The first line has the prefix when the head has it (it holds no
	// '\n'): other heads are neither cut nor copied to a string.
	if !bytes.HasPrefix(head, []byte(termStarted)) {
		return false
	}
	first, _, _ := bytes.Cut(head, []byte("\n"))
	s, ok := strings.CutPrefix(strings.TrimRight(string(first), "\r"), termStarted)
	if !ok {
		return false
	}
	_, err := time.Parse(aptLayout, strings.TrimSpace(s))
	return err == nil
}

// Requires implements parsers.Requirer: termStarted after line ends.
func (*AptTerm) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf("\r\n" + termStarted[:1])}
}

// termBlock is one apt run being read.
type termBlock struct {
	off, line int64
	start     time.Time
	// lists by dpkg action, in the order of termActions.
	lists    map[string][]string
	output   []string
	progress int // "(Reading database ..." lines
	prepared int // "Preparing to unpack" lines
	errors   int // "dpkg: error processing" lines
	size     int // bytes kept
}

// termActions are dpkg's progress lines in English and the list each goes
// to; label names the count in the message ("" leaves it out). dpkg
// translates these lines, and apt runs it in the user's locale: a run under
// another language keeps them all as output, where they are still read.
var termActions = []struct{ prefix, list, label string }{
	{"Selecting previously unselected package ", "selected", "new"},
	{"Unpacking ", "unpacked", "unpacked"},
	{"Setting up ", "configured", "set up"},
	{"Removing ", "removed", "removed"},
	{"Purging configuration files for ", "purged", "purged"},
	{"Processing triggers for ", "triggers", ""},
}

// add files one output line of the block; it reports false when the block
// is full.
func (b *termBlock) add(line string) bool {
	if strings.HasPrefix(line, "(Reading database ...") {
		b.progress++
		return true
	}
	if strings.HasPrefix(line, "Preparing to unpack ") {
		// The package follows on the Unpacking line.
		b.prepared++
		return true
	}
	if b.size+len(line) > maxTermBlock {
		return false
	}
	b.size += len(line)
	if strings.HasPrefix(line, "dpkg: error processing ") {
		b.errors++
	}
	for _, a := range termActions {
		if rest, ok := strings.CutPrefix(line, a.prefix); ok {
			if pkg, ok := termPackage(a.list, rest); ok {
				b.lists[a.list] = append(b.lists[a.list], pkg)
				return true
			}
			break
		}
	}
	b.output = append(b.output, line)
	return true
}

// termPkgLine is the rest of a dpkg progress line after its verb:
// "libudev1:amd64 (252.38-1~deb12u1) over (252.36-1~deb12u1) ..." or
// "perl (5.36.0-7+deb12u2) ...". Maintainer scripts print lines that start
// with the same verbs ("Removing obsolete dictionary files:"); those stay
// output.
var termPkgLine = regexp.MustCompile(`^(\S+) \(([^()\s]+)\)(?: over \(([^()\s]+)\))? \.\.\.$`)

// termPackage reads a progress line's package in history.log's form:
// "libudev1:amd64 (252.38-1~deb12u1)", or for an upgrade "libudev1:amd64
// (252.36-1~deb12u1, 252.38-1~deb12u1)"; and the "Selecting previously
// unselected package perl-modules-5.36." line's name. ok is false when the
// line is not dpkg's.
func termPackage(list, rest string) (string, bool) {
	if list == "selected" {
		name, ok := strings.CutSuffix(rest, ".")
		return name, ok && name != "" && !strings.ContainsAny(name, " \t")
	}
	m := termPkgLine.FindStringSubmatch(rest)
	if m == nil {
		return "", false
	}
	if m[3] != "" {
		return fmt.Sprintf("%s (%s, %s)", m[1], m[3], m[2]), true
	}
	return fmt.Sprintf("%s (%s)", m[1], m[2]), true
}

// Parse implements parsers.Parser.
func (p *AptTerm) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(AptTermName)
	var blk *termBlock
	// badBlock is set while the lines of a block whose start time is
	// unreadable are read: each is a warning.
	badBlock := false
	flush := func(end *termEnd) error {
		b := blk
		blk = nil
		if b == nil {
			return nil
		}
		if err := emit(termStartEvent(b, end, src.Zone)); err != nil {
			return err
		}
		if end != nil {
			return emit(termEndEvent(b, end, src.Zone))
		}
		return nil
	}
	err := eachLine(ctx, src.R, func(line string, off, n int64, tooLong bool) error {
		if tooLong {
			src.WarnErr(off, n, ErrLineTooLong)
			return nil
		}
		if strings.TrimSpace(line) == "" {
			return nil
		}
		if s, ok := strings.CutPrefix(line, termStarted); ok {
			// A start inside a run: the run before it never ended.
			if err := flush(nil); err != nil {
				return err
			}
			t, err := localTime(strings.TrimSpace(s), aptLayout, src.Zone)
			if err != nil {
				src.WarnErr(off, n, fmt.Errorf("%w: %q", ErrBadTermTime, s))
				badBlock = true
				return nil
			}
			badBlock = false
			blk = &termBlock{off: off, line: n, start: t, lists: map[string][]string{}}
			return nil
		}
		if s, ok := strings.CutPrefix(line, termEnded); ok {
			t, err := localTime(strings.TrimSpace(s), aptLayout, src.Zone)
			if err != nil {
				src.WarnErr(off, n, fmt.Errorf("%w: %q", ErrBadTermTime, s))
				// The run's summary still goes out, without its end.
				badBlock = false
				return flush(nil)
			}
			badBlock = false
			if blk == nil {
				// The end of a run whose start is not in this file (a
				// copy cut at the top): its time is still a record.
				return emit(termEndEvent(&termBlock{}, &termEnd{t, off, n}, src.Zone))
			}
			return flush(&termEnd{t, off, n})
		}
		switch {
		case blk == nil && badBlock:
			src.WarnErr(off, n, ErrUntimedRun)
		case blk == nil:
			src.WarnErr(off, n, ErrOutsideTermBlock)
		case !blk.add(line):
			src.WarnErr(off, n, ErrTermBlockTooLong)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A run still open at the end of the file: apt was killed, the
	// machine went down, or the run was going on when the copy was made.
	return flush(nil)
}

type termEnd struct {
	t         time.Time
	off, line int64
}

func termBase(zone *time.Location) *timeline.Event {
	ev := &timeline.Event{}
	ev.Event.Kind = "event"
	ev.Event.Dataset = "apt.term"
	// An apt run is a process as well: ECS allows "end" for it, not for
	// package alone.
	ev.Event.Category = []string{"package", "process"}
	ev.Jejak.Data = map[string]string{}
	noteZone(ev, zone)
	return ev
}

func termStartEvent(b *termBlock, end *termEnd, zone *time.Location) *timeline.Event {
	ev := termBase(zone)
	ev.Timestamp = b.start
	ev.TimestampDesc = "Start Time"
	ev.Event.Action = "apt_run_started"
	ev.Event.Type = []string{"start"}
	parsers.At(ev, b.off, b.line)
	data := ev.Jejak.Data
	var counts []string
	for _, a := range termActions {
		l := b.lists[a.list]
		if len(l) == 0 {
			continue
		}
		data[a.list] = strings.Join(l, ", ")
		data[a.list+"_count"] = strconv.Itoa(len(l))
		if a.label != "" {
			counts = append(counts, fmt.Sprintf("%s %d", a.label, len(l)))
		}
	}
	if len(b.output) > 0 {
		data["output"] = strings.Join(b.output, "\n")
		data["output_lines"] = strconv.Itoa(len(b.output))
	}
	if b.progress > 0 {
		data["progress_lines"] = strconv.Itoa(b.progress)
	}
	if b.prepared > 0 {
		data["prepared_count"] = strconv.Itoa(b.prepared)
	}
	if b.errors > 0 {
		data["dpkg_errors"] = strconv.Itoa(b.errors)
		ev.Event.Outcome = "failure"
	}
	ev.Message = "apt run started (term.log)"
	if len(counts) > 0 {
		ev.Message += ": " + strings.Join(counts, ", ")
	}
	// The packages the run changed, as an examiner reads them first.
	var pkgs []string
	for _, l := range []string{"unpacked", "removed", "purged"} {
		pkgs = append(pkgs, b.lists[l]...)
	}
	if len(pkgs) == 0 {
		pkgs = b.lists["configured"]
	}
	if len(pkgs) > 0 {
		names := make([]string, 0, termMessageList)
		for _, s := range pkgs[:min(len(pkgs), termMessageList)] {
			name, _, _ := strings.Cut(s, " ")
			names = append(names, name)
		}
		ev.Message += " (" + strings.Join(names, ", ")
		if len(pkgs) > termMessageList {
			ev.Message += fmt.Sprintf(" and %d more", len(pkgs)-termMessageList)
		}
		ev.Message += ")"
	}
	if b.errors > 0 {
		ev.Message += fmt.Sprintf("; dpkg reported %d error(s)", b.errors)
	}
	if end == nil {
		data["log_ended"] = "missing"
		ev.Message += "; no \"Log ended\" line (apt interrupted, or the log was cut)"
	} else {
		data["end"] = end.t.Format(time.RFC3339)
	}
	return ev
}

func termEndEvent(b *termBlock, end *termEnd, zone *time.Location) *timeline.Event {
	ev := termBase(zone)
	ev.Timestamp = end.t
	ev.TimestampDesc = "End Time"
	ev.Event.Action = "apt_run_ended"
	ev.Event.Type = []string{"end"}
	parsers.At(ev, end.off, end.line)
	ev.Message = "apt run ended (term.log)"
	if !b.start.IsZero() {
		ev.Jejak.Data["start"] = b.start.Format(time.RFC3339)
		ev.Message += fmt.Sprintf(", started %s", b.start.Format(time.RFC3339))
	} else {
		ev.Message += "; its \"Log started\" line is not in this file"
		ev.Jejak.Data["log_started"] = "missing"
	}
	return ev
}
