// Package utmp parses the Linux login accounting files utmp, wtmp and btmp
// (struct utmp records) and lastlog.
//
// The three files share one record format; what a record means depends on
// the file: a USER_PROCESS record in wtmp is a logon, the same record in btmp
// is a failed logon. The parser tells them apart by file name and records
// which it assumed in jejak.data.file_kind.
package utmp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/internal/fold"
	"github.com/jejak-forensics/jejak/internal/zeros"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "utmp"

// Plaso's timeliner maps linux:utmp:event written_time to this description.
const timestampDesc = "Content Modification Time"

// ErrTruncated marks a trailing partial record holding non-zero bytes.
var ErrTruncated = errors.New("truncated trailing utmp record")

// ErrBadType marks a record whose ut_type is outside EMPTY..ACCOUNTING.
var ErrBadType = errors.New("unsupported utmp record type")

// ErrUnknownLayout marks a file whose first records decode in none of the
// known layouts (x86_64, 64-bit time, and both big-endian forms).
var ErrUnknownLayout = errors.New("no known utmp layout (384 or 400 bytes, little- or big-endian) fits the first records")

// Parser reads utmp, wtmp and btmp files.
type Parser struct{}

var _ parsers.Parser = (*Parser)(nil)

// New returns the utmp/wtmp/btmp parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// Match accepts files named like the login accounting files whose first
// record decodes in one of the known layouts; content alone is too weak a
// signal for a binary format without a magic number.
func (*Parser) Match(e *jfs.Entry, head []byte) bool {
	kind := fileKind(e.Path)
	if kind == "" || len(head) < layout384.size {
		return false
	}
	l, _ := detect(head, e.Size)
	return plausible(l, head[:l.size]) >= validScore
}

// Requires implements parsers.Requirer: fileKind's names all hold "tmp",
// whatever the content.
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{Name: "tmp"}
}

// fileKind names the accounting file from its base name. Rotated and
// renamed copies (wtmp.1, btmp-20240101, host1_wtmp) keep the stem; btmp is
// tested first so "btmp" wins over anything else in the name. The three
// share "tmp", which no rune outside ASCII lowers to: a name without it
// in ASCII, in either case, is none of them (fold.ContainsASCII), and
// that one pass is all most names cost.
func fileKind(p string) string {
	base := path.Base(p)
	if !fold.ContainsASCII(base, "tmp") {
		return ""
	}
	for _, k := range []string{"btmp", "wtmp", "utmp"} {
		if fold.Contains(base, k) {
			return k
		}
	}
	return ""
}

// Parse implements parsers.Parser. Records have a fixed size, so the file is
// read as a stream; no random access is needed.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	kind := fileKind(src.Entry.Path)
	if kind == "" {
		kind = "utmp"
	}
	br := bufio.NewReaderSize(src.R, 64<<10)
	head, _ := br.Peek(8 * layout400.size)
	l, ok := detect(head, src.Size)
	warn := func(off, rec int64, err error) {
		src.WarnErr(off, rec, err)
	}
	if !ok {
		warn(0, 0, fmt.Errorf("%w; read as %s", ErrUnknownLayout, l.name))
	}
	buf := make([]byte, l.size)
	var off, rec int64
	for {
		if rec%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		n, err := io.ReadFull(br, buf)
		if err == io.EOF {
			return nil
		}
		rec++
		if err == io.ErrUnexpectedEOF {
			// A record cut short is what a copy taken while login wrote
			// looks like; plaso treats it as the end of the file. All-zero
			// padding carries nothing, anything else is reported.
			if !zeros.All(buf[:n]) {
				warn(off, rec, fmt.Errorf("%w: %d of %d bytes", ErrTruncated, n, l.size))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("utmp: read at offset %d: %w", off, err)
		}
		e := decode(l, buf)
		if e.Type < typeEmpty || e.Type > typeAccounting {
			warn(off, rec, fmt.Errorf("%w %d, record skipped", ErrBadType, e.Type))
		} else {
			ev, bad := toEvent(e, kind, l)
			parsers.At(ev, off, rec)
			for _, f := range bad {
				warn(off, rec, fmt.Errorf("%s is not valid UTF-8", f))
			}
			if err := emit(ev); err != nil {
				return err
			}
		}
		off += int64(l.size)
	}
}

// text decodes a C string field; invalid UTF-8 is kept with replacement
// characters and reported by the caller.
func text(b []byte, field string, bad *[]string) string {
	if !utf8.Valid(b) {
		*bad = append(*bad, field)
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

// address renders ut_addr_v6: IPv4 sits in the first word with the rest
// zero, as glibc and plaso read it.
func address(a [16]byte) (netip.Addr, bool) {
	zero := true
	for _, c := range a[4:] {
		if c != 0 {
			zero = false
			break
		}
	}
	if zero {
		v4 := netip.AddrFrom4([4]byte(a[:4]))
		return v4, !v4.IsUnspecified()
	}
	return netip.AddrFrom16(a), true
}

func toEvent(e entry, kind string, l layout) (*timeline.Event, []string) {
	var bad []string
	user := text(e.User, "ut_user", &bad)
	line := text(e.Line, "ut_line", &bad)
	host := text(e.Host, "ut_host", &bad)
	id := text(e.ID, "ut_id", &bad)
	typeName := typeNames[e.Type]

	ev := &timeline.Event{
		Timestamp:     time.Unix(e.Sec, e.Usec*1000).UTC(),
		TimestampDesc: timestampDesc,
	}
	ev.Event.Kind = "event"
	ev.Event.Dataset = "linux." + kind
	ev.Event.Code = typeName
	data := map[string]string{
		"file_kind":           kind,
		"layout":              l.name,
		"type":                strconv.Itoa(int(e.Type)),
		"type_name":           typeName,
		"pid":                 strconv.Itoa(int(e.PID)),
		"line":                line,
		"id":                  id,
		"terminal_identifier": strconv.FormatUint(uint64(e.IDRaw), 10),
		"user":                user,
		"host":                host,
		"exit_term":           strconv.Itoa(int(e.ExitTerm)),
		"exit_status":         strconv.Itoa(int(e.ExitStatus)),
		"session":             strconv.FormatInt(e.Session, 10),
	}
	ip, hasIP := address(e.Addr)
	if hasIP {
		data["addr"] = ip.String()
	}
	ev.Jejak.Data = data
	if e.Sec == 0 && e.Usec == 0 {
		// Cleared slots keep a zero time; plaso emits them at the epoch,
		// we too (same counts) but say it is no time.
		data["time_unset"] = "true"
		ev.TimestampDesc = "Not a time"
	}

	if e.PID != 0 || line != "" {
		ev.Process = &timeline.Process{PID: int64(e.PID), TTY: line}
	}
	remote := func() {
		if host == "" && !hasIP {
			return
		}
		src := &timeline.Endpoint{Address: host}
		if hasIP {
			src.IP = ip.String()
		} else if a, err := netip.ParseAddr(host); err == nil {
			src.IP = a.String()
		} else if host != "" && !strings.HasPrefix(host, ":") {
			src.Domain = host
		}
		ev.Source = src
	}

	switch {
	case kind == "btmp":
		// lastb reads every btmp record as a failed attempt, whatever
		// ut_type login or sshd wrote.
		ev.Event.Action = "failed_logon"
		ev.Event.Category = []string{"authentication"}
		ev.Event.Type = []string{"start"}
		ev.Event.Outcome = "failure"
		if user != "" {
			ev.User = &timeline.User{Name: user}
		}
		remote()
	case e.Type == typeUserProcess:
		ev.Event.Action = "logon"
		ev.Event.Category = []string{"authentication", "session"}
		ev.Event.Type = []string{"start"}
		ev.Event.Outcome = "success"
		if user != "" {
			ev.User = &timeline.User{Name: user}
		}
		remote()
	case e.Type == typeDeadProcess:
		ev.Event.Action = "logoff"
		ev.Event.Category = []string{"session"}
		ev.Event.Type = []string{"end"}
		if user != "" {
			ev.User = &timeline.User{Name: user}
		}
	case e.Type == typeBootTime:
		ev.Event.Action = "boot"
		ev.Event.Category = []string{"host"}
		ev.Event.Type = []string{"start"}
		// For boot records ut_host holds the kernel release.
		if host != "" {
			data["kernel"] = host
		}
	case e.Type == typeRunLevel:
		ev.Event.Action = "runlevel_change"
		if user == "shutdown" {
			ev.Event.Action = "shutdown"
			ev.Event.Type = []string{"end"}
		}
		ev.Event.Category = []string{"host"}
	case e.Type == typeNewTime || e.Type == typeOldTime:
		ev.Event.Action = "clock_change"
		ev.Event.Category = []string{"host"}
		ev.Event.Type = []string{"change"}
	case e.Type == typeLoginProcess:
		ev.Event.Action = "login_prompt"
		ev.Event.Category = []string{"process"}
	case e.Type == typeInitProcess:
		ev.Event.Action = "init_process"
		ev.Event.Category = []string{"process"}
	case e.Type == typeAccounting:
		ev.Event.Action = "accounting"
	default:
		ev.Event.Action = "empty"
	}

	shown := host
	if shown == "" || shown == ":0" {
		shown = "localhost"
	}
	addr := "0.0.0.0"
	if hasIP {
		addr = ip.String()
	}
	term := line
	if term == "~" {
		term = "system boot"
	}
	ev.Message = fmt.Sprintf("%s: User: %s Hostname: %s Terminal: %s PID: %d Terminal identifier: %s Status: %s IP Address: %s Exit status: %d",
		ev.Event.Action, user, shown, term, e.PID, id, typeName, addr, e.ExitStatus)
	return ev, bad
}
