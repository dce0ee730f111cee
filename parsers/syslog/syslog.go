// Package syslog parses syslog text files: BSD syslog (RFC 3164, year-less,
// with or without <PRI>), rsyslog's high-precision RFC 3339 file format,
// RFC 5424 (as rsyslog's SyslogProtocol23Format writes it, structured data
// included) and syslogd's own "--- last message repeated N times ---" notes.
// Audit-relevant lines (sshd, sudo, su, account tools, PAM, logind, cron)
// are normalised to ECS event.* and user/source/process fields; see
// actions.go for the table of event.action names.
//
// Choices an examiner should know:
//   - Message is the line from the program tag on ("sshd[42]: Accepted ..."),
//     so a timeline row names its writer; host and time are fields of their
//     own. RFC 5424 records are rendered the same way. process.name and
//     process.pid carry the tag split.
//   - A line that does not start with a timestamp continues the record
//     before it (plaso's rule), joined with "\n", up to 64 KiB; a line that
//     starts like a timestamp but cannot be read, or text before any record,
//     is a warning. Empty lines are no records.
//   - Year-less times get their year from the file mtime and the month
//     rollovers in the file (see yearGuess), never from the clock; times
//     without a zone are read in the case zone. Both are recorded in
//     jejak.time.
//   - provenance.record is the 1-based line number of a record's first line.
package syslog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

const (
	maxMessage = 64 << 10 // continuation lines past this are reported
	ctxEvery   = 256      // records between context checks
)

// Parser reads syslog text files. It holds no state: per-file state lives
// in Parse, so one Parser serves concurrent files.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the syslog parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return "syslog" }

// Match accepts a file whose first non-empty line is a syslog record with a
// program tag (or an RFC 5424 header) and whose first few lines are mostly
// records. The name is not consulted: rotated and renamed logs
// ("auth.log.3", "messages-20240101") are common in evidence, and other logs
// that start with an ISO time lack the "host tag:" shape this asks for.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	complete := len(head) < parsers.HeadSize
	var h header
	seen, good := 0, 0
	for len(head) > 0 && seen < 8 {
		line, rest, found := bytes.Cut(head, []byte("\n"))
		if !found && !complete {
			break
		}
		head = rest
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		startLike, err := parseLine(string(line), &h)
		ok := startLike && err == nil
		if seen == 0 && (!ok || !strongHeader(&h, line)) {
			return false
		}
		seen++
		if ok {
			good++
		}
	}
	return seen > 0 && good*2 > seen
}

// strongHeader asks more of the first line than parsing does: a tag closed
// by ':' (or a 5424 header, or a syslogd note), so a plain "time word word"
// log is not taken for syslog.
func strongHeader(h *header, line []byte) bool {
	switch h.layout {
	case layout5424, layoutComment:
		return true
	}
	i := bytes.Index(line, []byte(h.message))
	if i < 0 {
		return false
	}
	m := line[i:]
	k := len(h.tag)
	if k < len(m) && m[k] == '[' {
		if j := bytes.IndexByte(m, ']'); j > 0 {
			k = j + 1
		}
	}
	return k > 0 && k < len(m) && m[k] == ':'
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	var mtime time.Time
	path := ""
	if src.Entry != nil {
		mtime = src.Entry.Times.Modified
		path = src.Entry.Path
	}
	b := &builder{zone: zone, zoneName: zone.String(), years: newYearGuess(mtime, zone)}
	warn := func(off, rec int64, err error) {
		if src.Warn != nil {
			src.Warn(&parsers.RecordError{Parser: p.Name(), Path: path, Offset: off, Record: rec, Err: err})
		}
	}

	lr := lines.NewReader(src.R)
	var (
		pending  *timeline.Event
		h        header
		nRecords int
	)
	flush := func() error {
		if pending == nil {
			return nil
		}
		ev := pending
		pending = nil
		return emit(ev)
	}
	for {
		line, off, lineNo, err := lr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			if errors.Is(err, lines.ErrTooLong) {
				if ferr := flush(); ferr != nil {
					return ferr
				}
				warn(off, lineNo, errTooLong)
				continue
			}
			if ferr := flush(); ferr != nil {
				return ferr
			}
			return err
		}
		if lineNo == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		nRecords++
		if nRecords%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		s := string(line)
		startLike, perr := parseLine(s, &h)
		switch {
		case startLike && perr == nil:
			if err := flush(); err != nil {
				return err
			}
			pending = b.event(&h, off, lineNo)
		case startLike:
			if err := flush(); err != nil {
				return err
			}
			warn(off, lineNo, perr)
		case pending != nil && len(pending.Message)+1+len(s) <= maxMessage:
			pending.Message += "\n" + s
		case pending != nil:
			warn(off, lineNo, errContinued)
		default:
			warn(off, lineNo, errNotSyslog)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return flush()
}
