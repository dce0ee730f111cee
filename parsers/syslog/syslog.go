// Package syslog parses syslog text files: BSD syslog (RFC 3164, year-less,
// with or without <PRI>; rsyslog's TraditionalFileFormat, macOS syslogd's
// system.log with ASL "<Level>" and tab-indented continuation lines),
// rsyslog's high-precision RFC 3339 file format, RFC 5424 (as rsyslog's
// SyslogProtocol23Format writes it, structured data included), journalctl's
// text exports (-o short, short-precise, short-iso, short-iso-precise,
// short-unix, and short-full when its zone abbreviation is the case zone's;
// not short-monotonic, which has no wall time) and syslogd's own notes ("---
// last message repeated N time(s) ---" with or without host, "host -- MARK
// --"). Audit-relevant lines (sshd, sudo, su, account tools, PAM, logind,
// cron, and the logon lines MySQL, MariaDB and PostgreSQL send to syslog)
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
//     starts like a timestamp but cannot be read, text before any record, a
//     comment line (leading '#'), journalctl's "-- Boot ... --" notes,
//     head/tail's "==> file <==" headers and a line of NUL bytes only are
//     warnings, and parsing goes on. NUL bytes before a record on its line
//     (a crash's unwritten blocks) are noted on that record as
//     jejak.data.nul_bytes_before. Empty lines are no records.
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
	"strconv"
	"strings"
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

var (
	_ parsers.Parser    = (*Parser)(nil)
	_ timeline.Recycler = (*Parser)(nil)
)

// New returns the syslog parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return "syslog" }

// Match judges a head by the share of its lines that are syslog records,
// not by its first line: exported logs start with a comment header, and a
// rotated file may start with a "-- MARK --" or a tag-less line. It asks
// for at least two records with a program tag closed by ':' (or an RFC 5424
// header, or a syslogd note) — one when the head holds a single record —
// so a plain "time word word" log is not taken for syslog; for most record
// starts to have that shape; and for records to outnumber the other lines
// that follow the first record. Lines before the first record (a comment
// header) do not count against the file, unless they hold binary (NUL
// bytes inside a line), and indented lines are continuations, which count
// for nothing. The name is not consulted:
// rotated and renamed logs ("auth.log.3", "messages-20240101") are common
// in evidence.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	complete := len(head) < parsers.HeadSize
	var h header
	strong, records, other, lines := 0, 0, 0, 0
	for len(head) > 0 && lines < matchLines {
		line, rest, found := bytes.Cut(head, []byte("\n"))
		if !found && !complete {
			break // a cut line says nothing
		}
		head = rest
		line = bytes.TrimSuffix(line, []byte("\r"))
		line = bytes.TrimLeft(line, "\x00")
		// The notes start with "-- " and "==> ": other lines are not
		// copied to a string to ask.
		if len(bytes.TrimSpace(line)) == 0 || line[0] == ' ' || line[0] == '\t' ||
			line[0] == '-' && journalNote(string(line)) || line[0] == '=' && tailHeader(string(line)) {
			continue
		}
		if records == 0 && bytes.IndexByte(line, 0) >= 0 {
			// Binary before any record (a tar header, a database page):
			// text inside a binary file is not a syslog file. NULs leading
			// a line are a crash's unwritten blocks and were trimmed above.
			return false
		}
		lines++
		// parseLine finds a record start only after a '<' (a priority)
		// or where a time begins: RFC 3339 and Unix seconds with a
		// digit; RFC 3164 (looks3164) with three word bytes and a space,
		// the full form (looksFull) with three letters and a space. So a
		// line starting otherwise than with '<' or a digit needs a word
		// byte first and a space fourth. Any other line is no start, and
		// is not copied to a string to learn so. FuzzMatchPrecheck
		// compares Match with parseLine on every line.
		startLike, err := false, error(nil)
		if line[0] == '<' || isDigit(line[0]) || isWord(line[0]) && len(line) > 3 && line[3] == ' ' {
			startLike, err = parseLine(string(line), &h)
		}
		switch {
		case startLike && err == nil:
			records++
			if h.closed || h.layout == layout5424 || h.layout == layoutComment {
				strong++
			}
		case records > 0:
			other++
		}
	}
	return (strong >= 2 || strong == 1 && records == 1 && other == 0) &&
		strong*2 > records && records > other
}

// journalNote reports whether line is one of journalctl's notes in a text
// export: "-- Logs begin at ..., end at ... --", "-- Journal begins at ...
// --", "-- Boot 8f3c... --", "-- Reboot --", "-- No entries --".
func journalNote(line string) bool {
	line = strings.TrimRight(line, " \r")
	return len(line) > 6 && strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --")
}

// tailHeader reports whether line is the header head(1) and tail(1) print
// before each file when given several: "==> NAME <==".
func tailHeader(line string) bool {
	line = strings.TrimRight(line, " \r")
	return len(line) > 8 && strings.HasPrefix(line, "==> ") && strings.HasSuffix(line, " <==")
}

// matchLines is how many non-continuation lines Match reads at most; the
// head's 4 KiB rarely holds more.
const matchLines = 64

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(p.Name())
	zone := src.Zone
	if zone == nil {
		zone = time.UTC
	}
	var mtime time.Time
	if src.Entry != nil {
		mtime = src.Entry.Times.Modified
	}
	b := &builder{zone: zone, zoneName: zone.String(), years: newYearGuess(mtime, zone)}
	b.blocks = blockPool.Source()
	defer b.blocks.Close()
	warn := src.WarnErr

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
		// Lines come as strings cut from one string per buffer fill
		// (lines.NextString): events keep substrings of them, and a
		// conversion per line was a third of the parser's allocations.
		line, off, lineNo, err := lr.NextString()
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
			line = strings.TrimPrefix(line, "\xef\xbb\xbf")
		}
		if blank(line) {
			continue
		}
		// A run of NUL bytes is file space allocated but never written, as
		// a crash leaves it; the next record often follows on the same line.
		nuls := 0
		if line[0] == 0 {
			t := strings.TrimLeft(line, "\x00")
			nuls = len(line) - len(t)
			if blank(t) {
				if err := flush(); err != nil {
					return err
				}
				warn(off, lineNo, errNUL)
				continue
			}
			line, off = t, off+int64(nuls)
		}
		nRecords++
		if nRecords%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		s := line
		startLike, perr := parseLine(s, &h)
		if perr == nil && h.ts.zoneAbbr != "" {
			perr = b.zoneByAbbr(&h.ts)
		}
		switch {
		case startLike && perr == nil:
			if err := flush(); err != nil {
				return err
			}
			pending = b.event(&h, off, lineNo)
			if nuls > 0 {
				// Said on the record rather than as a warning of its own:
				// the line is one record, the NULs are no record at all.
				setData(pending, "nul_bytes_before", strconv.Itoa(nuls))
			}
		case line[0] == '#':
			// A comment ("# exported by ...") is no record and continues
			// none: rsyslog escapes '#' only inside a line (#011), and
			// syslogd's continuation lines are indented.
			if err := flush(); err != nil {
				return err
			}
			warn(off, lineNo, errComment)
		case journalNote(line):
			// journalctl's own lines in an export ("-- Boot <id> --"): they
			// carry no time, and must not be folded into a message.
			if err := flush(); err != nil {
				return err
			}
			warn(off, lineNo, errJournalNote)
		case tailHeader(line):
			// "==> /var/log/auth.log <==": head or tail run on several
			// files. The records after it come from another file, so the
			// line is reported, never folded into a message.
			if err := flush(); err != nil {
				return err
			}
			warn(off, lineNo, errTailHeader)
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

// blank reports whether line is empty or white space only, as
// strings.TrimSpace(line) == "" does, without TrimSpace's scan from both
// ends on the common line that starts with a letter or digit.
func blank(line string) bool {
	if len(line) > 0 && line[0] > ' ' && line[0] < 0x80 {
		return false
	}
	return strings.TrimSpace(line) == ""
}
