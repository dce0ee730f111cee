package utmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// LastlogName is the stable name of the lastlog parser.
const LastlogName = "lastlog"

// struct lastlog is indexed by uid: record n belongs to uid n. ll_time is
// 32-bit on x86_64 and i386 (292 bytes) and 64-bit where time_t has no
// 32-bit compatibility (296 bytes, e.g. aarch64).
const (
	lastlogSize32 = 4 + 32 + 256
	lastlogSize64 = 8 + 32 + 256
)

// Lastlog reads /var/log/lastlog.
type Lastlog struct{}

var _ parsers.Parser = (*Lastlog)(nil)

// NewLastlog returns the lastlog parser.
func NewLastlog() *Lastlog { return &Lastlog{} }

// Name implements parsers.Parser.
func (*Lastlog) Name() string { return LastlogName }

// Match accepts files named lastlog (rotated copies too) whose size is a
// whole number of records and whose first record is not text: the format
// has no magic and is mostly zeros, so the name is the main sign, and these
// checks keep out a saved "lastlog" command output.
func (*Lastlog) Match(e *jfs.Entry, head []byte) bool {
	base := strings.ToLower(path.Base(e.Path))
	if !strings.HasPrefix(base, "lastlog") || strings.HasPrefix(base, "lastlog2") || strings.HasSuffix(base, ".db") {
		return false
	}
	if e.Size > 0 && e.Size%lastlogSize32 != 0 && e.Size%lastlogSize64 != 0 {
		return false
	}
	if len(head) >= lastlogSize32 {
		line := head[4:36]
		if !cleanString(line) || bytes.IndexByte(line, 0) < 0 {
			return false
		}
	}
	return true
}

// Parse implements parsers.Parser. Unused uid slots are all zeros (holes in
// a sparse file) and are not records; every other slot is an event.
func (p *Lastlog) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	size, timeLen := lastlogSize32, 4
	if src.Size > 0 && src.Size%lastlogSize64 == 0 && src.Size%lastlogSize32 != 0 {
		size, timeLen = lastlogSize64, 8
	}
	br := bufio.NewReaderSize(src.R, 64<<10)
	buf := make([]byte, size)
	for uid := int64(0); ; uid++ {
		if uid%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		off := uid * int64(size)
		n, err := io.ReadFull(br, buf)
		if err == io.EOF {
			return nil
		}
		if err == io.ErrUnexpectedEOF {
			if !allZero(buf[:n]) {
				src.Warn(&parsers.RecordError{Parser: LastlogName, Path: src.Entry.Path, Offset: off, Record: uid + 1,
					Err: fmt.Errorf("truncated lastlog record: %d of %d bytes", n, size)})
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("lastlog: read at offset %d: %w", off, err)
		}
		if allZero(buf) {
			continue
		}
		var sec int64
		if timeLen == 4 {
			sec = int64(binary.LittleEndian.Uint32(buf))
		} else {
			sec = int64(binary.LittleEndian.Uint64(buf))
		}
		var bad []string
		line := text(cstr(buf[timeLen:timeLen+32]), "ll_line", &bad)
		host := text(cstr(buf[timeLen+32:]), "ll_host", &bad)
		for _, f := range bad {
			src.Warn(&parsers.RecordError{Parser: LastlogName, Path: src.Entry.Path, Offset: off, Record: uid + 1,
				Err: fmt.Errorf("%s is not valid UTF-8", f)})
		}
		ev := &timeline.Event{
			Timestamp:     time.Unix(sec, 0).UTC(),
			TimestampDesc: "Last Login Time",
			User:          &timeline.User{ID: strconv.FormatInt(uid, 10)},
			Message:       fmt.Sprintf("last login of uid %d on %q from %q", uid, line, host),
		}
		ev.Event.Kind = "event"
		ev.Event.Dataset = "linux.lastlog"
		ev.Event.Action = "last_logon"
		ev.Event.Category = []string{"authentication", "session"}
		ev.Event.Type = []string{"start"}
		ev.Event.Outcome = "success"
		ev.Jejak.Provenance.Offset = off
		ev.Jejak.Provenance.Record = uid + 1
		ev.Jejak.Data = map[string]string{"uid": strconv.FormatInt(uid, 10), "line": line, "host": host}
		if sec == 0 {
			ev.TimestampDesc = "Not a time"
			ev.Jejak.Data["time_unset"] = "true"
		}
		if line != "" {
			ev.Process = &timeline.Process{TTY: line}
		}
		if host != "" {
			s := &timeline.Endpoint{Address: host}
			if a, err := netip.ParseAddr(host); err == nil {
				s.IP = a.String()
			} else {
				s.Domain = host
			}
			ev.Source = s
		}
		if err := emit(ev); err != nil {
			return err
		}
	}
}
