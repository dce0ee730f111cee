// Package mysql parses MySQL and MariaDB logs: the general query log (the
// tab-separated form, old records without a time that inherit the last
// one, multi-line statements), the error log (MySQL 5.5 to 8.x and
// MariaDB: every line that starts with a time is a record, [Level] or not;
// other lines continue it), and the slow query log.
// One parser handles all three, telling them apart per record: a server
// can be pointed at one file for several logs.
package mysql

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "mysql"

const maxRecord = 1 << 20

// Parser reads MySQL/MariaDB logs.
type Parser struct{}

var (
	_ parsers.Parser      = (*Parser)(nil)
	_ parsers.LineMatcher = (*Parser)(nil)
)

// New returns the MySQL/MariaDB log parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

const (
	isoTS = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)`
	oldTS = `\d{6} [ \d]\d:\d\d:\d\d`
	mdbTS = `\d{4}-\d\d-\d\d [ \d]\d:\d\d:\d\d`
	cmd   = `(Connect|Quit|Query|Init DB|Field List|Execute|Prepare|Close stmt|Reset stmt|Fetch|Long Data|Statistics|Shutdown|Refresh|Processlist|Kill|Debug|Ping|Change user|Binlog Dump|Table Dump|Connect Out|Register Slave|Set option|Daemon|Time|Sleep|Create DB|Drop DB|Error)`
)

var (
	generalLine   = regexp.MustCompile(`^(` + isoTS + `|` + oldTS + `)?\t\s*(\d+) ` + cmd + `\t?(.*)$`)
	generalNoTime = regexp.MustCompile(`^\t\t\s*(\d+) ` + cmd + `\t?(.*)$`)
	errorLine     = regexp.MustCompile(`^(` + isoTS + `|` + mdbTS + `|` + oldTS + `)\s+(?:(\d+) )?\[(\w+)\] (?:\[(MY-\d+)\] \[(\w+)\] )?(.*)$`)
	// timedLine is any other line that starts with a time the server
	// writes: "2019-01-01T12:00:00.123456Z mysqld_safe Logging to ...",
	// "150817 10:13:51 mysqld_safe Starting ...", and MySQL 5.6 InnoDB
	// lines with a hex thread id, "2014-03-22 19:46:29 7f2f5b5b6740 InnoDB:
	// ...". Each is a record of its own, never a continuation.
	timedLine = regexp.MustCompile(`^(` + isoTS + `|` + mdbTS + `|` + oldTS + `)(?:\s+([0-9a-f]*\d[0-9a-f]*)(?: |$))?\s*(.*)$`)
	// slowHeader is a header line of a slow-log entry (MySQL and MariaDB).
	slowHeader = regexp.MustCompile(`^# (?:Time|User@Host|Schema|Thread_id|Query_time|Bytes_sent|Rows_affected|QC_hit|Full_scan|Filesort|Tmp_tables|Pages_accessed|Stored_routine): `)
	headerLine = regexp.MustCompile(`^(?:\S*(?:mysqld|mariadbd)(?:\.exe)?, Version: .*|Tcp port: .*|Time\s+Id\s+Command\s+Argument\s*)$`)
)

// Match accepts general, error and slow logs when most of the lines it is
// shown are their records. head may be the first bytes of the file or
// lines sampled from anywhere in it, so no single line decides: banner
// lines, comment lines ("# ..." other than slow-log headers) and indented
// lines count for nothing, and at least half of the other lines must be
// records. A time alone is not enough (dpkg.log lines start with one): an
// error-log line must have its [Level], or be mysqld_safe's or InnoDB's.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	if len(head) >= parsers.HeadSize {
		// The last line may be cut.
		if i := lastNewline(head); i > 0 {
			head = head[:i]
		}
	}
	// A first pass without regexps: fit can be no more than the lines
	// that mayFit, and miss no less than the other lines that are not
	// skipped, so when those cannot pass the test below the regexps need
	// not run (most files of an image are no MySQL log and fail here).
	// Lines that may fit are counted first, on their first bytes alone:
	// most heads have none, and skipped (a TrimSpace and a search for a
	// banner) is then never asked.
	maybe, sureMiss := 0, 0
	for rest, more := head, true; more; {
		var l []byte
		l, rest, more = cutLine(rest)
		if mayFit(l) {
			maybe++
		}
	}
	if maybe == 0 {
		return false
	}
	for rest, more := head, true; more && sureMiss <= maybe; {
		var l []byte
		l, rest, more = cutLine(rest)
		if !mayFit(l) && !skipped(l) {
			sureMiss++
		}
	}
	if maybe < sureMiss {
		return false
	}
	fit, miss := 0, 0
	for rest := head; ; {
		l, r, more := cutLine(rest)
		switch {
		case !mayFit(l):
			// No regexp below can match: a miss unless skipped.
			if !skipped(l) {
				miss++
			}
		case slowLine(l):
			fit++
		case skipped(l):
		case recordLine(l):
			fit++
		default:
			miss++
		}
		if !more {
			break
		}
		rest = r
	}
	return fit > 0 && fit >= miss
}

// cutLine returns the first line of b without its "\n" and "\r"s, the
// rest, and whether a "\n" was found: the lines of
// bytes.Split(b, "\n") one by one, without allocating them.
//
// Written out rather than as bytes.Cut and bytes.TrimRight: Match cuts
// every line of every head it is shown, once or twice, and most are no
// MySQL log's.
func cutLine(b []byte) (line, rest []byte, more bool) {
	line = b
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		line, rest, more = b[:i], b[i+1:], true
	}
	for len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest, more
}

// lastNewline is bytes.LastIndexByte(b, '\n'), whose byte-by-byte loop
// from the end crossed the whole head of a binary file (4 KiB, no line
// end): the last 256 bytes are searched that way, where a text head has
// its last line end, and the rest forward with bytes.IndexByte.
func lastNewline(b []byte) int {
	const tail = 256
	stop := max(0, len(b)-tail)
	for i := len(b) - 1; i >= stop; i-- {
		if b[i] == '\n' {
			return i
		}
	}
	last := -1
	for i := 0; i < stop; {
		j := bytes.IndexByte(b[i:stop], '\n')
		if j < 0 {
			break
		}
		last = i + j
		i = last + 1
	}
	return last
}

// skipped is a line that counts neither way in Match: blank, a comment,
// indented, or a banner line.
func skipped(l []byte) bool {
	return len(bytes.TrimSpace(l)) == 0 || l[0] == '#' || l[0] == ' ' ||
		(mayBeHeader(l) && headerLine.Match(l))
}

// mayBeHeader is false for a line headerLine cannot match: each of its
// three alternatives holds a literal (", Version: ", a leading "Tcp port: "
// or a leading "Time"), so without them the regexp is not run.
func mayBeHeader(l []byte) bool {
	return bytes.HasPrefix(l, []byte("Time")) || bytes.HasPrefix(l, []byte("Tcp port: ")) ||
		bytes.Contains(l, []byte(", Version: "))
}

// mayFit is false for a line no record regexp can match, checked on its
// first bytes only: slowHeader needs a leading "# " and a name (Time,
// User@Host, Schema, ... Stored_routine: one of "TUSQBRFP"), setTS a leading "SET
// timestamp=", errorLine and timedLine (serverTool) a leading time, which
// starts with a digit (\d is ASCII [0-9] in Go's regexp), generalLine a
// leading time or a tab, and generalNoTime two tabs. Where there is a tab
// but no time, both general forms then need blanks and a thread id: after
// the leading \s* (tab, newline, form feed, carriage return or space) a
// digit. FuzzMatchPrecheck compares Match with the regexps run on every
// line.
//
// A leading digit must start one of the three times (isoTS, mdbTS, oldTS),
// whose shapes timeShape checks: a line of another log starting with a
// number (a count, an address, a time of another layout) is then turned
// away before the regexps.
func mayFit(l []byte) bool {
	if len(l) == 0 {
		return false
	}
	switch c := l[0]; {
	case '0' <= c && c <= '9':
		return timeShape(l)
	case c == '\t':
		// bytes.TrimLeft(l, "\t\n\f\r ") then a digit, without the
		// cutset TrimLeft builds on every call.
		for _, c := range l {
			switch c {
			case '\t', '\n', '\f', '\r', ' ':
				continue
			}
			return isDigit(c)
		}
		return false
	case c == '#':
		// "# " and the first letter of one of slowHeader's names: a
		// comment of a script or configuration file is turned away.
		return len(l) > 2 && l[1] == ' ' && strings.IndexByte("TUSQBRFP", l[2]) >= 0
	case c == 'S':
		return bytes.HasPrefix(l, []byte("SET timestamp="))
	}
	return false
}

// timeShape reports whether l starts with the fixed bytes of isoTS or
// mdbTS ("2006-01-02T15:04:05", "2006-01-02 15:04:05", the hour's first
// digit a space in mdbTS) or of oldTS ("060102 15:04:05", the same), each
// digit a digit and each separator in place: what every line starting
// with a digit needs to match a record regexp.
func timeShape(l []byte) bool {
	if len(l) >= 15 && digits(l[:6]) && l[6] == ' ' && (l[7] == ' ' || isDigit(l[7])) && isDigit(l[8]) &&
		l[9] == ':' && digits(l[10:12]) && l[12] == ':' && digits(l[13:15]) {
		return true
	}
	return len(l) >= 19 && digits(l[:4]) && l[4] == '-' && digits(l[5:7]) && l[7] == '-' && digits(l[8:10]) &&
		(l[10] == 'T' || l[10] == ' ') && (l[11] == ' ' || isDigit(l[11])) && isDigit(l[12]) &&
		l[13] == ':' && digits(l[14:16]) && l[16] == ':' && digits(l[17:19])
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(b []byte) bool {
	for _, c := range b {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// slowLine is slowHeader or setTS on a line that mayFit: each regexp is
// run only on a line starting with its first byte ('#' comes with "# "
// and 'S' with "SET timestamp=" once mayFit holds).
func slowLine(l []byte) bool {
	switch l[0] {
	case '#':
		return slowHeader.Match(l)
	case 'S':
		return setTS.Match(l)
	}
	return false
}

// recordLine is the general, error and server-tool regexps on a line that
// mayFit, each run only on a line holding what it cannot match without:
// both general forms a tab, generalNoTime two leading ones; errorLine a
// leading time and a '['; serverTool a leading time and "mysqld_safe " or
// "InnoDB: " (the text timedLine leaves after it, a part of the line).
func recordLine(l []byte) bool {
	if bytes.IndexByte(l, '\t') >= 0 && (generalLine.Match(l) || bytes.HasPrefix(l, []byte("\t\t")) && generalNoTime.Match(l)) {
		return true
	}
	if !isDigit(l[0]) {
		return false
	}
	if bytes.IndexByte(l, '[') >= 0 && errorLine.Match(l) {
		return true
	}
	return (bytes.Contains(l, []byte("mysqld_safe ")) || bytes.Contains(l, []byte("InnoDB: "))) && serverTool(l)
}

// MatchLine implements parsers.LineMatcher, for detection past the head:
// a general, error or slow-log record line, or a slow-log header.
func (*Parser) MatchLine(_ *jfs.Entry, line []byte) bool {
	return mayFit(line) && (slowLine(line) || recordLine(line))
}

// serverTool reports a timed line written by mysqld_safe or InnoDB.
func serverTool(l []byte) bool {
	m := timedLine.FindSubmatch(l)
	return m != nil && (bytes.HasPrefix(m[3], []byte("mysqld_safe ")) || bytes.HasPrefix(m[3], []byte("InnoDB: ")))
}

type kind int

const (
	kGeneral kind = iota
	kError
	kSlow
)

type record struct {
	kind     kind
	off, num int64
	ts       string // "" when inherited
	m        []string
	lines    []string // slow: header and statement lines; others: continuations
	banner   []string // the log's banner lines just before the record
	size     int
	cut      bool
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	lr := lines.NewReader(src.R)
	q := &connectQueue{emit: emit}
	var cur *record
	lastTS := ""
	flush := func() error {
		if cur == nil {
			return nil
		}
		rec := cur
		cur = nil
		if rec.ts == "" && rec.kind == kGeneral {
			rec.ts = lastTS
		}
		ev, err := build(rec, src)
		if err != nil {
			warn(src, rec.off, rec.num, err)
			return nil
		}
		if rec.ts != "" && rec.kind != kSlow {
			lastTS = rec.ts
		}
		parsers.At(ev, rec.off, rec.num)
		if rec.cut {
			ev.Jejak.Data["truncated"] = "record over 1 MiB"
		}
		if len(rec.banner) > 0 {
			ev.Jejak.Data["log_banner"] = strings.Join(rec.banner, "\n")
		}
		return q.push(ev)
	}
	var (
		banner               []string
		bannerOff, bannerNum int64
	)
	start := func(r *record) error {
		err := flush()
		r.banner, banner = banner, nil
		cur = r
		return err
	}
	for {
		line, off, num, err := lr.NextString() // no string per line: see lines.NextString
		if err == io.EOF {
			if err := flush(); err != nil {
				return err
			}
			if len(banner) > 0 {
				warn(src, bannerOff, bannerNum, errors.New("server banner with no record after it"))
			}
			return q.drain(true)
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
		if strings.TrimSpace(line) == "" && (cur == nil || cur.kind != kGeneral) {
			continue
		}
		if headerLine.MatchString(line) {
			// The banner a server writes when it opens the log: no record
			// and no time of its own, so it goes with the record after it.
			if err := flush(); err != nil {
				return err
			}
			if len(banner) == 0 {
				bannerOff, bannerNum = off, num
			}
			banner = append(banner, line)
			continue
		}
		switch {
		case strings.HasPrefix(line, "# Time: "):
			err = start(&record{kind: kSlow, off: off, num: num, ts: strings.TrimSpace(line[8:])})
		case strings.HasPrefix(line, "# User@Host: ") &&
			!(cur != nil && cur.kind == kSlow && !hasPrefix(cur.lines, "# User@Host: ") && !hasStatement(cur.lines)):
			err = start(&record{kind: kSlow, off: off, num: num, lines: []string{line}})
		case cur != nil && cur.kind == kSlow:
			cur.add(line)
		default:
			if m := generalLine.FindStringSubmatch(line); m != nil {
				err = start(&record{kind: kGeneral, off: off, num: num, ts: m[1], m: m})
			} else if m := generalNoTime.FindStringSubmatch(line); m != nil {
				err = start(&record{kind: kGeneral, off: off, num: num, m: append([]string{m[0], ""}, m[1:]...)})
			} else if m := errorLine.FindStringSubmatch(line); m != nil {
				err = start(&record{kind: kError, off: off, num: num, ts: m[1], m: m})
			} else if m := timedLine.FindStringSubmatch(line); m != nil {
				err = start(&record{kind: kError, off: off, num: num, ts: m[1],
					m: []string{m[0], m[1], m[2], "", "", "", m[3]}})
			} else if cur != nil {
				cur.add(line)
			} else if strings.HasPrefix(line, "#") {
				// A note someone put at the top of a copied log.
				warn(src, off, num, errors.New("comment line before the first record"))
			} else {
				warn(src, off, num, errors.New("line is no MySQL general, error or slow log record"))
			}
		}
		if err != nil {
			return err
		}
	}
}

// connectQueue holds a general-log Connect until a later record of the
// same connection shows whether it was refused. MariaDB writes "Connect
// user@host on db" when a client connects, before it checks the password,
// then "Connect Access denied for user ..." on the same connection when it
// fails: read alone, the first line would be a successful logon by the
// password guesser. Events leave in file order; a Connect nothing follows
// within queueWindow records is let go as it is.
type connectQueue struct {
	emit func(*timeline.Event) error
	evs  []*timeline.Event
}

const queueWindow = 64

func (q *connectQueue) push(ev *timeline.Event) error {
	if ev.Event.Dataset == "mysql.general" && ev.Event.Action == "db_auth_failed" {
		for _, p := range q.evs {
			if isConnect(p) && p.Jejak.Data["connection_id"] == ev.Jejak.Data["connection_id"] && p.Jejak.Data["refused"] == "" {
				p.Event.Action = "db_connect_attempt"
				p.Event.Outcome = "unknown"
				p.Jejak.Data["refused"] = "true"
			}
		}
	}
	q.evs = append(q.evs, ev)
	return q.drain(false)
}

// drain emits from the front until a Connect still waits for its
// outcome; all empties the queue.
func (q *connectQueue) drain(all bool) error {
	for len(q.evs) > 0 {
		h := q.evs[0]
		if !all && len(q.evs) <= queueWindow && isConnect(h) && !followed(h, q.evs[1:]) {
			return nil
		}
		q.evs[0] = nil
		q.evs = q.evs[1:]
		if err := q.emit(h); err != nil {
			return err
		}
	}
	return nil
}

func isConnect(ev *timeline.Event) bool {
	return ev.Event.Dataset == "mysql.general" && ev.Event.Action == "db_connect"
}

// followed reports whether a later record is of the same connection.
func followed(ev *timeline.Event, later []*timeline.Event) bool {
	id := ev.Jejak.Data["connection_id"]
	for _, l := range later {
		if l.Jejak.Data["connection_id"] == id {
			return true
		}
	}
	return false
}

func (r *record) add(line string) {
	if r.size+len(line) > maxRecord {
		r.cut = true
		return
	}
	r.size += len(line)
	r.lines = append(r.lines, line)
}

func hasPrefix(lines []string, p string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

func hasStatement(lines []string) bool {
	for _, l := range lines {
		if !strings.HasPrefix(l, "# ") {
			return true
		}
	}
	return false
}

func warn(src *parsers.Source, off, num int64, err error) {
	src.WarnErr(off, num, err)
}
