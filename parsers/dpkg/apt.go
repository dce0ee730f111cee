package dpkg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/fold"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// apt writes two spaces between date and time.
const aptLayout = "2006-01-02  15:04:05"

// maxBlockLines bounds one apt run; a real block has under ten lines.
const maxBlockLines = 256

var (
	// ErrOutsideBlock marks a line before any Start-Date.
	ErrOutsideBlock = errors.New("line outside a Start-Date block")
	// ErrBadField marks a block line that is not "Key: value".
	ErrBadField = errors.New("not a \"Key: value\" line")
	// ErrBadStart marks a block whose Start-Date cannot be read; the block
	// is skipped.
	ErrBadStart = errors.New("unreadable Start-Date, block skipped")
	// ErrBlockTooLong marks a block of more than 256 lines.
	ErrBlockTooLong = errors.New("apt history block longer than 256 lines")
)

// AptHistory reads apt's history.log.
type AptHistory struct{}

var _ parsers.Parser = (*AptHistory)(nil)

// NewAptHistory returns the apt history.log parser.
func NewAptHistory() *AptHistory { return &AptHistory{} }

// Name implements parsers.Parser.
func (*AptHistory) Name() string { return AptName }

// Match accepts a file whose first non-blank line is a Start-Date.
func (*AptHistory) Match(e *jfs.Entry, head []byte) bool {
	head = trimLineEnds(head)
	if !bytes.HasPrefix(head, []byte("Start-Date: ")) {
		return false
	}
	return fold.Contains(path.Base(e.Path), "history") || bytes.Contains(head, []byte("\nCommandline: "))
}

// Requires implements parsers.Requirer: the prefix after line ends.
func (*AptHistory) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf("\r\nS")}
}

type aptField struct{ key, value string }

type aptBlock struct {
	off, line int64
	fields    []aptField
}

// Parse implements parsers.Parser.
func (p *AptHistory) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(AptName)
	var blk *aptBlock
	flush := func() error {
		if blk == nil {
			return nil
		}
		b := blk
		blk = nil
		ev, err := aptEvent(b, src)
		if err != nil {
			src.WarnErr(b.off, b.line, err)
			return nil
		}
		return emit(ev)
	}
	err := eachLine(ctx, src.R, func(line string, off, n int64, tooLong bool) error {
		if tooLong {
			src.WarnErr(off, n, ErrLineTooLong)
			return nil
		}
		if strings.TrimSpace(line) == "" {
			return flush()
		}
		key, value, ok := strings.Cut(line, ": ")
		if !ok {
			// "Install:" with nothing after the colon still is a field.
			if k, found := strings.CutSuffix(line, ":"); found && !strings.Contains(k, " ") {
				key, value, ok = k, "", true
			}
		}
		if ok && key == "Start-Date" {
			if err := flush(); err != nil {
				return err
			}
			blk = &aptBlock{off: off, line: n}
		}
		switch {
		case blk == nil:
			src.WarnErr(off, n, ErrOutsideBlock)
		case !ok || strings.Contains(key, " "):
			src.WarnErr(off, n, ErrBadField)
		case len(blk.fields) >= maxBlockLines:
			src.WarnErr(off, n, ErrBlockTooLong)
		default:
			blk.fields = append(blk.fields, aptField{key, value})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// packageCount counts the entries of "name:arch (ver), name2:arch (old, new)".
func packageCount(list string) int {
	if strings.TrimSpace(list) == "" {
		return 0
	}
	n, depth := 1, 0
	for _, c := range list {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				n++
			}
		}
	}
	return n
}

func aptEvent(b *aptBlock, src *parsers.Source) (*timeline.Event, error) {
	ev := &timeline.Event{TimestampDesc: "Start Time"} // plaso: linux:apt_history_log:entry start_time
	ev.Event.Kind = "event"
	ev.Event.Dataset = "apt.history"
	ev.Event.Category = []string{"package"}
	ev.Event.Action = "apt_run"
	parsers.At(ev, b.off, b.line)
	data := map[string]string{}
	ev.Jejak.Data = data
	var actions []string
	for _, f := range b.fields {
		k := strings.ToLower(f.key)
		if _, dup := data[k]; dup {
			data[k] += "\n" + f.value
		} else {
			data[k] = f.value
		}
		switch f.key {
		case "Start-Date":
			t, err := localTime(strings.TrimSpace(f.value), aptLayout, src.Zone)
			if err != nil {
				return nil, fmt.Errorf("%w: %q", ErrBadStart, f.value)
			}
			ev.Timestamp = t
		case "Commandline":
			ev.Process = &timeline.Process{CommandLine: f.value}
		case "Requested-By":
			// "alice (1000)"
			name, id, _ := strings.Cut(f.value, " (")
			ev.User = &timeline.User{Name: name, ID: strings.TrimSuffix(id, ")")}
		case "Install", "Upgrade", "Downgrade", "Reinstall", "Remove", "Purge":
			n := packageCount(f.value)
			data[k+"_count"] = strconv.Itoa(n)
			actions = append(actions, fmt.Sprintf("%s %d", k, n))
			typ := map[string]string{"install": "installation", "remove": "deletion", "purge": "deletion"}[k]
			if typ == "" {
				typ = "change"
			}
			if !slices.Contains(ev.Event.Type, typ) {
				ev.Event.Type = append(ev.Event.Type, typ)
			}
		case "Error":
			ev.Event.Outcome = "failure"
		}
	}
	if ev.Timestamp.IsZero() {
		return nil, ErrBadStart
	}
	noteZone(ev, src.Zone)
	if ev.Event.Outcome == "" && data["end-date"] != "" {
		ev.Event.Outcome = "success"
	}
	ev.Message = "apt: " + data["commandline"]
	if data["commandline"] == "" {
		ev.Message = "apt run"
	}
	if len(actions) > 0 {
		ev.Message += " (" + strings.Join(actions, ", ") + ")"
	}
	if data["requested-by"] != "" {
		ev.Message += " requested by " + data["requested-by"]
	}
	return ev, nil
}
