// Package weblog parses web server logs: Apache and nginx access logs
// (common, combined, vhost_combined, detected per line), Apache 2.2/2.4 and
// nginx error logs, and IIS W3C extended logs whose #Fields: directive
// decides the columns and may change mid-file.
package weblog

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "weblog"

// Parser reads web server logs.
type Parser struct{}

var (
	_ parsers.Parser      = (*Parser)(nil)
	_ parsers.LineMatcher = (*Parser)(nil)
)

// New returns the web log parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts a file whose first lines are access, error or W3C records.
// It looks at content only: web logs are rotated and renamed freely. Comment
// lines at the top of an access or error log (written by whoever exported
// it) are passed over: the records after them decide.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	head = bytes.TrimPrefix(head, utf8BOM)
	if bytes.HasPrefix(head, []byte("#")) {
		if isW3CWebHead(head) {
			return true
		}
		head = skipComments(head)
	} else if bytes.IndexByte(head, '[') < 0 {
		// A record line holds a '[' (looksLikeRecord): a head without
		// one, most text of an image, has none, in one pass.
		return false
	}
	// The lines of bytes.Split(head, "\n"), cut one by one instead of
	// allocated as a slice.
	cut := len(head) >= parsers.HeadSize
	seen, ok := 0, 0
	for rest, more, n := head, true, 0; more; n++ {
		var l []byte
		l, rest, more = bytes.Cut(rest, []byte("\n"))
		if !more && n > 0 && cut {
			break // the last one may be cut
		}
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		seen++
		if looksLikeRecord(l) {
			ok++
		}
		if seen == 5 {
			break
		}
	}
	// Most of the first lines must parse; one odd line is allowed.
	return ok > 0 && ok*2 > seen
}

// MatchLine implements parsers.LineMatcher, for detection past the head:
// an access or error record, or a W3C #Fields: directive of a web log.
func (*Parser) MatchLine(_ *jfs.Entry, line []byte) bool {
	if bytes.HasPrefix(line, []byte("#")) {
		return isW3CWebHead(line)
	}
	return looksLikeRecord(line)
}

// skipComments drops the '#' and blank lines at the top of head.
func skipComments(head []byte) []byte {
	for len(head) > 0 {
		line, rest, found := bytes.Cut(head, []byte("\n"))
		t := bytes.TrimSpace(line)
		if !found || (len(t) > 0 && t[0] != '#') {
			return head
		}
		head = rest
	}
	return head
}

func looksLikeRecord(l []byte) bool {
	// Every form has a '[' (access: the [time]; Apache error: a leading
	// [time]; nginx error: the [level] at byte 20), and each parse
	// rejects a line without one: a line of source or configuration text
	// costs one IndexByte instead of three parses, two of which format an
	// error. FuzzLooksLikeRecord compares it with the parses.
	lb := bytes.IndexByte(l, '[')
	if lb < 0 {
		return false
	}
	// parseAccess's own first test, 2 to 4 fields before the first '[',
	// asked here without the error it formats for every other line (an
	// INI section, an error log's leading [time]).
	// It then takes only a [time] of parseCLFTime's layout: a line whose
	// first brackets hold another is not parsed, which spared formatting
	// the "bad time %q" error the parse would make and looksLikeRecord
	// would drop (most of the cost of source and configuration text).
	var spans [5][2]int
	if n := fields(l[:lb], &spans); n >= 2 && n <= 4 && clfTimeShape(l[lb:]) {
		if ev, _ := parseAccess(l); ev != nil {
			return true
		}
	}
	if _, err := parseApacheError(l); err == nil {
		return true
	}
	_, err := parseNginxError(l)
	return err == nil
}

// clfTimeShape reports whether b, which starts with '[', holds up to its
// first ']' a time of the shape parseCLFTime takes: 26 bytes with its
// separators where "10/Oct/2000:13:55:36 -0700" has them. A time that
// parseCLFTime accepts has this shape; the converse needs the parse.
func clfTimeShape(b []byte) bool {
	rb := bytes.IndexByte(b, ']')
	return rb == 27 && b[3] == '/' && b[7] == '/' && b[12] == ':' && b[15] == ':' && b[18] == ':' && b[21] == ' '
}

// isW3CWebHead tells an IIS/W3C web log from other W3C-shaped logs (the
// Windows firewall log has #Fields: too).
//
// The lines of bytes.Split(head, "\n"), cut one by one instead of
// allocated as a slice: every head starting with '#' (a comment block, a
// shell script) asked it, and MatchLine asks it of every sampled '#' line.
func isW3CWebHead(head []byte) bool {
	for rest, more := head, true; more; {
		var l []byte
		l, rest, more = bytes.Cut(rest, []byte("\n"))
		l = bytes.TrimSpace(l)
		if after, ok := bytes.CutPrefix(l, []byte("#Fields:")); ok {
			f := string(after)
			return strings.Contains(f, "cs-method") || strings.Contains(f, "cs-uri-stem") ||
				strings.Contains(f, "sc-status") || strings.Contains(f, "c-ip")
		}
		if len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return false
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	lr := lines.NewReader(src.R)
	var w3c *w3cState
	warn := func(off, num int64, err error) {
		src.WarnErr(off, num, err)
	}
	for {
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return nil
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
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines are not records
		}
		var ev *timeline.Event
		switch {
		case line[0] == '#':
			if !isDirective(line) {
				// A comment someone added (or a damaged directive): not a
				// record, and not silently passed over either.
				warn(off, num, errComment)
				continue
			}
			if w3c == nil {
				w3c = &w3cState{}
			}
			if derr := w3c.directive(line); derr != nil {
				warn(off, num, derr)
			}
			continue
		case w3c != nil && w3c.fields != nil:
			ev, err = w3c.record(line)
		default:
			ev, err = parseLine(line, src)
		}
		if err != nil {
			warn(off, num, err)
			if ev == nil {
				continue
			}
		}
		parsers.At(ev, off, num)
		if err := emit(ev); err != nil {
			return err
		}
	}
}

// parseLine tries the line shapes a non-W3C web log holds, most common first.
func parseLine(line []byte, src *parsers.Source) (*timeline.Event, error) {
	ev, err := parseAccess(line)
	if ev != nil {
		return ev, err
	}
	if len(line) > 0 && line[0] == '[' {
		rec, aerr := parseApacheError(line)
		if aerr != nil {
			return nil, aerr
		}
		return rec.event(line, src), nil
	}
	if rec, nerr := parseNginxError(line); nerr == nil {
		return rec.event(line, src), nil
	}
	return nil, err
}

func outcome(status int) string {
	switch {
	case status == 0:
		return ""
	case status >= 400:
		return "failure"
	default:
		return "success"
	}
}
