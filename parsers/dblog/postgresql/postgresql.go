// Package postgresql parses PostgreSQL server logs: the stderr format with
// the common log_line_prefix variants ("%m [%p] %q%u@%d ", "%t [%p]: [%l-1]
// user=%u,db=%d ...") and csvlog.
package postgresql

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
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

var _ parsers.Parser = (*Parser)(nil)

// New returns the PostgreSQL log parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// stderrLine: time, optional zone, prefix, severity, message.
var stderrLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?)(?: ([A-Za-z]{1,6}|[+-]\d\d(?::?\d\d)?))? ?(.*?)\b(LOG|ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DEBUG[1-5]?|DETAIL|HINT|STATEMENT|CONTEXT|QUERY|LOCATION):  (.*)$`)

// csvStart: a csvlog record starts with its time and a comma.
var csvStart = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [A-Za-z0-9+:-]{1,6})?,`)

// Match accepts a file whose first non-blank line is a stderr or csvlog
// record.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	for _, l := range bytes.Split(head, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		return stderrLine.Match(l) || csvStart.Match(l) && bytes.Count(l, []byte(",")) >= 12
	}
	return false
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	br := bufio.NewReaderSize(src.R, 64<<10)
	head, _ := br.Peek(4096)
	for _, l := range bytes.Split(head, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if csvStart.Match(l) && !stderrLine.Match(l) {
			return parseCSV(ctx, br, src, emit)
		}
		break
	}
	return parseStderr(ctx, br, src, emit)
}

type record struct {
	off, num int64
	text     []byte
	cut      bool
}

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
		if isRecordStart(line) {
			if err := flush(); err != nil {
				return err
			}
			cur = &record{off: off, num: num, text: append([]byte(nil), line...)}
			continue
		}
		if cur == nil {
			warn(src, off, num, errors.New("line before the first timestamped record"))
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

func isRecordStart(l []byte) bool {
	return len(l) >= 19 && l[4] == '-' && l[7] == '-' && l[10] == ' ' && l[13] == ':' &&
		l[0] >= '0' && l[0] <= '9'
}

func warn(src *parsers.Source, off, num int64, err error) {
	src.Warn(&parsers.RecordError{Parser: Name, Path: src.Entry.Path, Offset: off, Record: num, Err: err})
}

func stderrEvent(rec *record, src *parsers.Source) (*timeline.Event, error) {
	first, rest, _ := bytes.Cut(rec.text, []byte("\n"))
	m := stderrLine.FindSubmatch(first)
	if m == nil {
		return nil, errors.New("timestamped line without a severity (LOG:, ERROR:, ...)")
	}
	msg := string(m[5])
	if len(rest) > 0 {
		msg += "\n" + string(rest)
	}
	ev, err := build(src, string(m[1]), string(m[2]), string(m[4]), string(rec.text))
	if err != nil {
		return nil, err
	}
	readPrefix(ev, strings.TrimSpace(string(m[3])))
	classify(ev, string(m[4]), msg)
	ev.Jejak.Provenance.Offset, ev.Jejak.Provenance.Record = rec.off, rec.num
	if rec.cut {
		ev.Jejak.Data["truncated"] = "record over 1 MiB"
	}
	return ev, nil
}

func build(src *parsers.Source, ts, zone, severity, original string) (*timeline.Event, error) {
	wall, err := time.Parse("2006-01-02 15:04:05", ts)
	if err != nil {
		return nil, err
	}
	ev := dblog.NewEvent("postgresql.log", original)
	loc, ok := dblog.ResolveZone(zone, wall, src.Zone)
	dblog.Place(ev, wall, loc, !ok)
	if zone != "" {
		ev.Jejak.Data["zone"] = zone
	}
	ev.Log = &timeline.Log{Level: strings.ToLower(severity)}
	ev.Jejak.Data["severity"] = severity
	return ev, nil
}

var (
	bracket = regexp.MustCompile(`\[(\d+)(?:-(\d+))?\]`)
	userAt  = regexp.MustCompile(`(?:^|\s)([^\s@\[\]=]+|\[unknown\])@([^\s@\[\]=]+|\[unknown\])(?:\s|$)`)
)

// readPrefix takes what log_line_prefix wrote between the time and the
// severity: "[pid]", "[pid-line]", "[line-1]", "user@db", "user=u,db=d,...".
func readPrefix(ev *timeline.Event, prefix string) {
	if prefix == "" {
		return
	}
	ev.Jejak.Data["log_line_prefix"] = prefix
	if bs := bracket.FindAllStringSubmatch(prefix, -1); len(bs) > 0 {
		dblog.SetPID(ev, bs[0][1])
		if bs[0][2] != "" {
			ev.Jejak.Data["session_line"] = bs[0][2]
		}
		if len(bs) > 1 {
			ev.Jejak.Data["session_line"] = bs[1][1]
		}
	}
	if m := userAt.FindStringSubmatch(prefix); m != nil {
		dblog.SetUser(ev, m[1])
		dblog.SetDB(ev, m[2])
	}
	kv := dblog.KV(prefix)
	dblog.SetUser(ev, kv["user"])
	dblog.SetDB(ev, kv["db"])
	if app := kv["app"]; app != "" && app != "[unknown]" {
		ev.Jejak.Data["application_name"] = app
	}
	if c := kv["client"]; c != "" {
		host, port, _ := strings.Cut(strings.TrimSuffix(c, ")"), "(")
		dblog.SetSource(ev, host, port)
	}
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
