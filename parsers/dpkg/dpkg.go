// Package dpkg parses the Debian package logs: dpkg's /var/log/dpkg.log
// (one action per line), apt's /var/log/apt/history.log (one block per
// apt run, with the command line and the user who asked for it), apt's
// /var/log/apt/term.log (what dpkg printed during each run) and
// update-alternatives' /var/log/alternatives.log.
//
// All write local time without a zone; it is read in the case zone and
// the event records that the zone was assumed.
package dpkg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Parser names.
const (
	DpkgName = "dpkg"
	AptName  = "apt_history"
)

var (
	// ErrBadLine marks a dpkg.log line that does not start with a time
	// and an action.
	ErrBadLine = errors.New("not a dpkg.log line")
	// ErrLineTooLong marks a line longer than 1 MiB.
	ErrLineTooLong = errors.New("line longer than 1 MiB")
)

// Dpkg reads dpkg.log.
type Dpkg struct{}

var _ parsers.Parser = (*Dpkg)(nil)

// New returns the dpkg.log parser.
func New() *Dpkg { return &Dpkg{} }

// Name implements parsers.Parser.
func (*Dpkg) Name() string { return DpkgName }

const stampLayout = "2006-01-02 15:04:05"

// splitStamp cuts "2009-02-25 11:45:23 rest" into its time and the rest.
func splitStamp(line string) (string, string, bool) {
	if len(line) < len(stampLayout)+2 || line[len(stampLayout)] != ' ' {
		return "", "", false
	}
	s := line[:len(stampLayout)]
	if s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return "", "", false
	}
	return s, line[len(stampLayout)+1:], true
}

var dpkgActions = map[string]bool{
	"startup": true, "status": true, "install": true, "upgrade": true, "configure": true,
	"trigproc": true, "remove": true, "purge": true, "conffile": true,
}

// Match accepts a file whose first line is a dpkg.log line.
func (*Dpkg) Match(e *jfs.Entry, head []byte) bool {
	// splitStamp's first checks, on the head's bytes before its first
	// line is cut (a line end before byte 21 fails the length test
	// below): a head that fails them is neither cut nor copied.
	if len(head) < len(stampLayout)+2 || head[4] != '-' || head[7] != '-' {
		return false
	}
	first, _, _ := bytes.Cut(head, []byte("\n"))
	// splitStamp's first checks, on the bytes: a line that fails them is
	// not copied to a string (dropping a trailing "\r" only shortens it).
	if len(first) < len(stampLayout)+2 || first[4] != '-' || first[7] != '-' {
		return false
	}
	_, rest, ok := splitStamp(strings.TrimRight(string(first), "\r"))
	if !ok {
		return false
	}
	action, _, _ := strings.Cut(rest, " ")
	return dpkgActions[action]
}

// localTime reads a zone-less time in the case zone.
func localTime(s, layout string, zone *time.Location) (time.Time, error) {
	if zone == nil {
		zone = time.UTC
	}
	t, err := time.ParseInLocation(layout, s, zone)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func noteZone(ev *timeline.Event, zone *time.Location) {
	name := "UTC"
	if zone != nil {
		name = zone.String()
	}
	ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: name}
	ev.Event.Timezone = name
}

// eachLine calls fn with each line, its offset and 1-based number. The
// reader strips one "\r\n"; TrimRight also drops any "\r" left before it,
// as this parser always did.
func eachLine(ctx context.Context, r io.Reader, fn func(line string, off, n int64, tooLong bool) error) error {
	lr := lines.NewReader(r)
	var n int64
	for {
		if n%512 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return nil
		}
		n = num
		tooLong := errors.Is(err, lines.ErrTooLong)
		if err != nil && !tooLong {
			return fmt.Errorf("read at offset %d: %w", off, err)
		}
		if ferr := fn(strings.TrimRight(string(line), "\r\n"), off, n, tooLong); ferr != nil {
			return ferr
		}
	}
}

// Parse implements parsers.Parser.
func (p *Dpkg) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	// plaso: linux:dpkg_log:entry added_time
	return parseStamped(ctx, src, emit, DpkgName, "Added Time", ErrBadLine, splitStamp, dpkgEvent)
}

// parseStamped reads a log of one record a line, each starting with a
// zone-less local time: split cuts the time from the rest, build makes the
// event of the rest. Blank lines are passed over; every other line is an
// event or a warning.
func parseStamped(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error,
	name, desc string, errBad error, split func(string) (stamp, body string, ok bool), build func(string) *timeline.Event) error {
	src = src.As(name)
	return eachLine(ctx, src.R, func(line string, off, n int64, tooLong bool) error {
		if tooLong {
			src.WarnErr(off, n, ErrLineTooLong)
			return nil
		}
		if strings.TrimSpace(line) == "" {
			return nil
		}
		stamp, body, ok := split(line)
		if !ok {
			src.WarnErr(off, n, errBad)
			return nil
		}
		t, err := localTime(stamp, stampLayout, src.Zone)
		if err != nil {
			src.WarnErr(off, n, fmt.Errorf("%w: %v", errBad, err))
			return nil
		}
		ev := build(body)
		ev.Timestamp = t
		ev.TimestampDesc = desc
		parsers.At(ev, off, n)
		noteZone(ev, src.Zone)
		return emit(ev)
	})
}

func dpkgEvent(body string) *timeline.Event {
	f := strings.Fields(body)
	ev := &timeline.Event{Message: body}
	ev.Event.Kind = "event"
	ev.Event.Dataset = "dpkg.log"
	ev.Event.Category = []string{"package"}
	data := map[string]string{"body": body}
	ev.Jejak.Data = data
	action := ""
	if len(f) > 0 {
		action = f[0]
	}
	ev.Event.Action = action
	pkg := func(i int) {
		if i < len(f) {
			name, arch, _ := strings.Cut(f[i], ":")
			data["package"] = name
			if arch != "" {
				data["architecture"] = arch
			}
		}
	}
	switch action {
	case "install", "upgrade", "remove", "purge", "configure", "trigproc":
		// "<action> <pkg>[:arch] <installed-version> <available-version>"
		pkg(1)
		if len(f) > 2 && f[2] != "<none>" {
			data["version_old"] = f[2]
		}
		if len(f) > 3 && f[3] != "<none>" {
			data["version_new"] = f[3]
		}
		ev.Event.Type = map[string][]string{
			"install": {"installation"}, "upgrade": {"installation", "change"},
			"remove": {"deletion"}, "purge": {"deletion"},
			"configure": {"change"}, "trigproc": {"change"},
		}[action]
	case "status":
		// "status <state> <pkg>[:arch] <version>"
		if len(f) > 1 {
			data["status"] = f[1]
		}
		pkg(2)
		if len(f) > 3 && f[3] != "<none>" {
			data["version"] = f[3]
		}
		ev.Event.Type = []string{"info"}
	case "conffile":
		// "conffile <path> <keep|install>"
		if len(f) > 1 {
			ev.File = &timeline.File{Path: f[1]}
		}
		if len(f) > 2 {
			data["decision"] = f[2]
		}
		ev.Event.Category = []string{"package", "configuration"}
		ev.Event.Type = []string{"change"}
	case "startup":
		// "startup archives|packages <command>"
		if len(f) > 2 {
			data["scope"], data["command"] = f[1], f[2]
		}
		ev.Event.Type = []string{"start"}
	}
	return ev
}
