// Package auditd parses Linux audit logs (auditd's audit.log, SELinux and
// AppArmor denials, RAW and ENRICHED formats).
//
// The kernel writes one event as several records (SYSCALL, EXECVE, CWD,
// PATH..., PROCTITLE, EOE) that share "msg=audit(time:serial)". The parser
// joins them into one timeline event per time:serial while streaming: open
// events wait in a small bounded set and are emitted on their EOE record,
// when the set is full (oldest first), or at the end of the file.
package auditd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/fold"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "auditd"

// plaso's timeliner gives selinux:line this description.
const timestampDesc = "Content Modification Time"

// maxOpen bounds the events waiting for more records. Records of one event
// are written together by the kernel, interleaved at most with the few other
// events in flight on other CPUs, so a window of 64 events joins them in
// practice while keeping memory flat on any file size.
const maxOpen = 64

// ErrLineTooLong marks a record longer than lines.Max; it is reported and
// skipped.
var ErrLineTooLong = errors.New("audit record longer than 1 MiB")

// Parser reads audit.log files.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the auditd parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts a file whose first non-empty line is an audit record, or an
// audit.log by name that holds "msg=audit(" early on.
func (*Parser) Match(e *jfs.Entry, head []byte) bool {
	// The first non-blank line decides the content test, and a head
	// starting with an ASCII byte that is no space, 'n' or 't' starts
	// with that line, which has neither "node=" nor "type=" first: the
	// loop below would answer no, so it is not run (FuzzMatchLines).
	if len(head) > 0 {
		switch c := head[0]; {
		case c >= utf8.RuneSelf, c == 'n', c == 't', c == ' ', '\t' <= c && c <= '\r':
		default:
			return nameMatch(e, head)
		}
	}
	// The pieces of bytes.SplitN(head, "\n", 8), cut one by one instead
	// of allocated as a slice: seven lines, then the rest of the head.
	for rest, more, n := head, true, 1; more; n++ {
		var line []byte
		if n == 8 {
			line, more = rest, false
		} else {
			line, rest, more = bytes.Cut(rest, []byte("\n"))
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if bytes.HasPrefix(line, []byte("node=")) {
			if i := bytes.IndexByte(line, ' '); i > 0 {
				line = line[i+1:]
			}
		}
		if bytes.HasPrefix(line, []byte("type=")) && bytes.Contains(line, []byte(" msg=audit(")) {
			return true
		}
		break
	}
	return nameMatch(e, head)
}

// Requires implements parsers.Requirer: Match's content test needs its
// first byte among those its switch lets through; else nameMatch, which
// needs a name starting "audit".
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{
		First: parsers.ByteRange(utf8.RuneSelf, 0xff).Union(parsers.BytesOf("nt "), parsers.ByteRange('\t', '\r')),
		Name:  "audit",
	}
}

// nameMatch is Match's second test: an audit.log by name that holds
// "msg=audit(" early on.
func nameMatch(e *jfs.Entry, head []byte) bool {
	// A name that lowers to one starting "audit" starts with 'a' or 'A'
	// (runes outside ASCII lower only to 'i' and 'k'): any other first
	// byte is answered before the case-folding test.
	base := path.Base(e.Path)
	if base[0] != 'a' && base[0] != 'A' {
		return false
	}
	return fold.HasPrefix(base, "audit") && bytes.Contains(head, []byte("msg=audit("))
}

// assembler holds the open events in first-seen order.
type assembler struct {
	open  []*pending
	byKey map[string]*pending
	emit  func(*pending) error
}

type pending struct {
	key     string
	records []*record
}

func (a *assembler) add(r *record) error {
	p := a.byKey[r.Key]
	if p == nil {
		if len(a.open) >= maxOpen {
			if err := a.flush(a.open[0]); err != nil {
				return err
			}
		}
		p = &pending{key: r.Key}
		a.open = append(a.open, p)
		a.byKey[r.Key] = p
	}
	p.records = append(p.records, r)
	if r.Type == "EOE" {
		return a.flush(p)
	}
	return nil
}

func (a *assembler) flush(p *pending) error {
	delete(a.byKey, p.key)
	for i, q := range a.open {
		if q == p {
			a.open = append(a.open[:i], a.open[i+1:]...)
			break
		}
	}
	return a.emit(p)
}

func (a *assembler) flushAll() error {
	for len(a.open) > 0 {
		if err := a.flush(a.open[0]); err != nil {
			return err
		}
	}
	return nil
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	warn := func(off, line int64, err error) {
		src.WarnErr(off, line, err)
	}
	asm := &assembler{byKey: map[string]*pending{}, emit: func(pe *pending) error {
		return emit(buildEvent(pe))
	}}
	lr := lines.NewReader(src.R)
	var lineNo int64
	for {
		if lineNo%512 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, start, n, err := lr.NextString() // no string per line: see lines.NextString
		if err == io.EOF {
			break
		}
		lineNo = n
		if errors.Is(err, lines.ErrTooLong) {
			warn(start, lineNo, ErrLineTooLong)
			continue
		}
		if err != nil {
			return fmt.Errorf("auditd: read at offset %d: %w", start, err)
		}
		// The reader strips one "\r\n"; TrimRight also drops any "\r" left
		// before it, as this parser always did.
		text := strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(text) == "" {
			continue
		}
		r, perr := parseRecord(text)
		if perr != nil {
			warn(start, lineNo, perr)
			continue
		}
		r.Offset, r.Line = start, lineNo
		if aerr := asm.add(r); aerr != nil {
			return aerr
		}
	}
	return asm.flushAll()
}

// get returns the first value of key in the records, looking at the types
// in order ("" = any record).
func get(recs []*record, key string, types ...string) string {
	if len(types) == 0 {
		types = []string{""}
	}
	for _, t := range types {
		for _, r := range recs {
			if t != "" && r.Type != t {
				continue
			}
			for _, f := range r.Fields {
				if f.Key == key {
					return f.Value
				}
			}
		}
	}
	return ""
}

func has(recs []*record, typ string) *record {
	for _, r := range recs {
		if r.Type == typ {
			return r
		}
	}
	return nil
}

// auxiliary records describe the syscall an event is about; the event is
// named after the first record that is not one of them.
var auxiliary = map[string]bool{
	"SYSCALL": true, "EXECVE": true, "CWD": true, "PATH": true, "PROCTITLE": true,
	"EOE": true, "SOCKADDR": true, "SOCKETCALL": true, "FD_PAIR": true, "MMAP": true,
	"BPRM_FCAPS": true, "CAPSET": true, "OBJ_PID": true, "IPC": true, "MQ_OPEN": true,
	"KERN_MODULE": true,
}

func primary(recs []*record) *record {
	for _, r := range recs {
		if !auxiliary[r.Type] {
			return r
		}
	}
	if r := has(recs, "EXECVE"); r != nil {
		return r
	}
	if r := has(recs, "SYSCALL"); r != nil {
		return r
	}
	return recs[0]
}

func buildEvent(pe *pending) *timeline.Event {
	recs := pe.records
	first, main := recs[0], primary(recs)
	ev := &timeline.Event{Timestamp: first.Time, TimestampDesc: timestampDesc}
	parsers.At(ev, first.Offset, first.Line)

	types := make([]string, len(recs))
	raws := make([]string, len(recs))
	count := map[string]int{}
	nfields := 5
	for i, r := range recs {
		types[i] = r.Type
		raws[i] = r.Raw
		count[r.Type]++
		nfields += len(r.Fields) + 1
	}
	data := make(map[string]string, nfields)
	data["audit.sequence"] = strconv.FormatUint(first.Serial, 10)
	data["audit.id"] = pe.key
	data["audit.record_types"] = strings.Join(types, ",")
	data["audit.records"] = strconv.Itoa(len(recs))
	// Fields are kept per record type so nothing collides: "syscall.pid",
	// "path[1].name" when a type occurs more than once.
	seen := map[string]int{}
	for _, r := range recs {
		prefix := strings.ToLower(r.Type)
		if count[r.Type] > 1 {
			prefix = fmt.Sprintf("%s[%d]", prefix, seen[r.Type])
		}
		seen[r.Type]++
		for _, f := range r.Fields {
			k := prefix + "." + f.Key
			if _, dup := data[k]; dup {
				for n := 2; ; n++ {
					if _, dup := data[k+"#"+strconv.Itoa(n)]; !dup {
						k += "#" + strconv.Itoa(n)
						break
					}
				}
			}
			data[k] = f.Value
		}
		if len(r.Words) > 0 {
			data[prefix+".text"] = strings.Join(r.Words, " ")
		}
		if r.Node != "" {
			ev.Host = &timeline.Host{Name: r.Node}
		}
	}
	ev.Jejak.Data = data
	ev.Event.Original = strings.Join(raws, "\n")
	ev.Event.Kind = "event"
	ev.Event.Dataset = "auditd.log"
	ev.Event.Code = main.Type
	normalize(ev, recs, main)

	body := strings.ReplaceAll(main.Body, "\x1d", " ")
	if len(recs) > 1 {
		ev.Message = fmt.Sprintf("%s [%s] %s", main.Type, strings.Join(types, ","), body)
	} else {
		ev.Message = main.Type + " " + body
	}
	return ev
}
