// Package postgresql parses PostgreSQL server logs: the stderr format
// under any log_line_prefix that holds a time (%t, %m or %n, wherever it
// sits: "%h %m [%p] %u@%d ", "%t [%p]: [%l-1] user=%u,db=%d,...",
// "%t:%r:%u@%d:[%p]:", "< %m >"), reading pid, user, database and client
// from the prefix where it has them, and csvlog.
package postgresql

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/dblog"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "postgresql"

// maxRecord bounds a record with its continuation lines.
const maxRecord = 1 << 20

// Parser reads PostgreSQL logs.
type Parser struct{}

var (
	_ parsers.Parser      = (*Parser)(nil)
	_ parsers.LineMatcher = (*Parser)(nil)
)

// New returns the PostgreSQL log parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// csvStart: a csvlog record starts with its time and a comma.
var csvStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z0-9+:-]{1,6})?,`)

// Match accepts a file when most of its lines are stderr or csvlog records.
// head may be the file's first bytes or lines sampled from anywhere in it,
// so no single line decides: comment lines ("# ...") and continuation
// lines (a tab, or spaces where a tool expanded it) count for nothing,
// and at least half of the other lines must be records.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	// Only a record start counts for a head, and one begins with a digit
	// (csvlog) or holds ":  " (stderr): see isRecordStart. A head with
	// neither, most text that is no PostgreSQL log, is turned away in a
	// pass or two over it, without cutting and trimming each line.
	// The search for ":  " only where a ':' is (one pass, cheaper).
	if !(bytes.IndexByte(head, ':') >= 0 && bytes.Contains(head, []byte(":  "))) && !digitLineStart(head) {
		return false
	}
	if len(head) >= parsers.HeadSize {
		// The last line may be cut.
		if i := bytes.LastIndexByte(head, '\n'); i > 0 {
			head = head[:i]
		}
	}
	fit, miss := 0, 0
	// The lines of bytes.Split(head, "\n"), cut one by one instead of
	// allocated as a slice.
	for rest, more := head, true; more; {
		var l []byte
		l, rest, more = bytes.Cut(rest, []byte("\n"))
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 || l[0] == '#' || l[0] == '\t' || bytes.HasPrefix(l, []byte("  ")) {
			continue
		}
		if isRecordStart(l) {
			fit++
		} else {
			miss++
		}
	}
	return fit > 0 && fit >= miss
}

// digitLineStart reports whether a line of b starts with an ASCII digit.
func digitLineStart(b []byte) bool {
	for i := 0; i < len(b); {
		if '0' <= b[i] && b[i] <= '9' {
			return true
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return false
}

// MatchLine implements parsers.LineMatcher, for detection past the head:
// a stderr record start (an English severity after a prefix with a time)
// or a csvlog record's first line.
func (*Parser) MatchLine(_ *jfs.Entry, line []byte) bool {
	return isRecordStart(line)
}

// isRecordStart is a stderr record start or a csvlog record's first line.
// Before the line is copied to a string for parseHead, a precheck: a
// stderr start has a severity followed by ":  " (findSeverity looks for
// nothing else when not localized) and a csvlog start a leading digit
// (csvStart), so a line with neither is neither. FuzzRecordStartPrecheck
// compares it with the checks alone.
func isRecordStart(l []byte) bool {
	csv := len(l) > 0 && '0' <= l[0] && l[0] <= '9'
	if !csv && !bytes.Contains(l, []byte(":  ")) {
		return false
	}
	if _, ok := parseHead(string(l), false); ok {
		return true
	}
	return csv && csvStart.Match(l) && bytes.Count(l, []byte(",")) >= 12
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	br := bufio.NewReaderSize(src.R, 64<<10)
	head, _ := br.Peek(4096)
	for _, l := range bytes.Split(head, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 || l[0] == '#' {
			continue
		}
		if _, ok := parseHead(string(l), false); !ok && csvStart.Match(l) {
			return parseCSV(ctx, br, src, emit)
		}
		break
	}
	return parseStderr(ctx, br, src, emit)
}

type record struct {
	off, num int64
	head     head
	text     []byte
	cut      bool
}

// parseStderr groups lines into records: a line with a severity and a time
// in its prefix starts one; a line starting with a tab continues it
// (elog.c indents every further line of a message with one). Any other
// line also continues the record before it, except one that starts with
// a time but has no severity: that is reported.
func parseStderr(ctx context.Context, r io.Reader, src *parsers.Source, emit func(*timeline.Event) error) error {
	lr := lines.NewReader(r)
	var cur *record
	flush := func() error {
		if cur == nil {
			return nil
		}
		rec := cur
		cur = nil
		ev, err := stderrEvent(rec, src)
		if err != nil {
			warn(src, rec.off, rec.num, err)
			return nil
		}
		return emit(ev)
	}
	for {
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return flush()
		}
		if num%256 == 1 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, lines.ErrTooLong) {
			warn(src, off, num, err)
			continue
		}
		if err != nil {
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] != '\t' {
			if h, ok := parseHead(string(line), true); ok {
				if err := flush(); err != nil {
					return err
				}
				cur = &record{off: off, num: num, head: h, text: append([]byte(nil), line...)}
				continue
			}
			if startsWithTime(line) {
				if err := flush(); err != nil {
					return err
				}
				warn(src, off, num, errors.New("timestamped line without a severity (LOG:, ERROR:, ...)"))
				continue
			}
		}
		if cur == nil {
			if line[0] == '#' {
				// A note someone put at the top of a copied log.
				warn(src, off, num, errors.New("comment line before the first record"))
			} else {
				warn(src, off, num, errors.New("line before the first timestamped record"))
			}
			continue
		}
		// A continuation (a multi-line statement or DETAIL).
		if len(cur.text)+len(line) < maxRecord {
			cur.text = append(append(cur.text, '\n'), line...)
		} else {
			cur.cut = true
		}
	}
}

func startsWithTime(l []byte) bool {
	return len(l) >= 19 && isWallTime(string(l[:19]))
}

func warn(src *parsers.Source, off, num int64, err error) {
	src.WarnErr(off, num, err)
}

func stderrEvent(rec *record, src *parsers.Source) (*timeline.Event, error) {
	h := &rec.head
	msg := h.msg
	if _, rest, ok := bytes.Cut(rec.text, []byte("\n")); ok {
		msg += "\n" + string(rest)
	}
	ev := newEvent(h.severity, string(rec.text))
	if h.epoch {
		sec, ms, _ := strings.Cut(h.ts, ".")
		s, _ := strconv.ParseInt(sec, 10, 64)
		m, _ := strconv.ParseInt(ms, 10, 64)
		// %n is Unix time: no zone to assume.
		ev.Timestamp = time.Unix(s, m*int64(time.Millisecond)).UTC()
	} else if err := place(ev, h.ts, h.zone, src); err != nil {
		// findTime checked the shape: only an impossible date
		// (2024-02-30) gets here.
		return nil, err
	}
	readPrefix(ev, h)
	classify(ev, h.severity, msg)
	parsers.At(ev, rec.off, rec.num)
	if rec.cut {
		ev.Jejak.Data["truncated"] = "record over 1 MiB"
	}
	return ev, nil
}

func newEvent(severity, original string) *timeline.Event {
	ev := dblog.NewEvent("postgresql.log", original)
	ev.Log = &timeline.Log{Level: strings.ToLower(severity)}
	ev.Jejak.Data["severity"] = severity
	return ev
}

// place reads a wall time in its printed zone, or the case zone.
func place(ev *timeline.Event, ts, zone string, src *parsers.Source) error {
	wall, err := time.Parse("2006-01-02 15:04:05", ts)
	if err != nil {
		return err
	}
	loc, ok := dblog.ResolveZone(zone, wall, src.Zone)
	dblog.Place(ev, wall, loc, !ok)
	if zone != "" {
		ev.Jejak.Data["zone"] = zone
	}
	return nil
}

var (
	quotedUser = regexp.MustCompile(`(?:for user|role) "([^"]*)"`)
	hbaNoEntry = regexp.MustCompile(`no pg_hba\.conf entry for host "([^"]*)", user "([^"]*)", database "([^"]*)"`)
	statement  = regexp.MustCompile(`^(?:duration: [0-9.]+ ms\s+)?(?:statement|(?:execute|bind|parse) [^:]*): `)
)

// classify sets event.action and friends from the message.
func classify(ev *timeline.Event, severity, msg string) {
	switch {
	case severity == "STATEMENT":
		dblog.Statement(ev, msg)
		// The statement of the error logged just before: it did not run.
		ev.Event.Action = "db_statement_failed"
		ev.Event.Outcome = "failure"
	case statement.MatchString(msg):
		loc := statement.FindStringIndex(msg)
		dblog.Statement(ev, msg[loc[1]:])
		if d, ok := strings.CutPrefix(msg, "duration: "); ok {
			ev.Jejak.Data["duration"], _, _ = strings.Cut(d, " ")
		}
	case strings.HasPrefix(msg, "connection received: "):
		kv := dblog.KV(msg)
		ev.Event.Action = "db_connection_received"
		ev.Event.Category = append(ev.Event.Category, "network")
		ev.Event.Type = []string{"connection", "start"}
		dblog.SetSource(ev, kv["host"], kv["port"])
		dblog.SetUser(ev, kv["user"])
		dblog.SetDB(ev, kv["database"])
	case strings.HasPrefix(msg, "connection authorized: "):
		kv := dblog.KV(msg)
		dblog.Connected(ev)
		dblog.SetUser(ev, kv["user"])
		dblog.SetDB(ev, kv["database"])
	case strings.HasPrefix(msg, "disconnection: "):
		kv := dblog.KV(msg)
		dblog.Disconnected(ev)
		dblog.SetUser(ev, kv["user"])
		dblog.SetDB(ev, kv["database"])
		dblog.SetSource(ev, kv["host"], kv["port"])
	case strings.Contains(msg, "authentication failed for user"),
		severity == "FATAL" && strings.HasPrefix(msg, "role \"") && strings.HasSuffix(msg, "does not exist"):
		dblog.AuthFailed(ev)
		if m := quotedUser.FindStringSubmatch(msg); m != nil {
			dblog.SetUser(ev, m[1])
		}
	case hbaNoEntry.MatchString(msg):
		m := hbaNoEntry.FindStringSubmatch(msg)
		dblog.AuthFailed(ev)
		dblog.SetSource(ev, m[1], "")
		dblog.SetUser(ev, m[2])
		dblog.SetDB(ev, m[3])
	case strings.HasPrefix(msg, "starting PostgreSQL"):
		dblog.ServerStarted(ev)
	case strings.HasPrefix(msg, "database system is shut down"):
		dblog.ServerStopped(ev)
	default:
		dblog.Message(ev, severity == "ERROR" || severity == "FATAL" || severity == "PANIC")
	}
}
