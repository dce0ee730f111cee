package utmp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path"
	"strconv"
	"time"

	"github.com/jejak-forensics/jejak/internal/fold"
	"github.com/jejak-forensics/jejak/internal/zeros"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// LastlogName is the stable name of the lastlog parser.
const LastlogName = "lastlog"

// struct lastlog is indexed by uid: record n belongs to uid n. ll_time is
// 32-bit on x86_64, ppc64 and the 32-bit ABIs (292 bytes) and 64-bit where
// time_t has no 32-bit compatibility (296 bytes: aarch64, and s390x, whose
// glibc keeps it 64-bit even when 31-bit). Big-endian machines write it
// big-endian.
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
	if !lastlogName(e.Path) {
		return false
	}
	if e.Size > 0 && e.Size%lastlogSize32 != 0 && e.Size%lastlogSize64 != 0 {
		return false
	}
	_, timeLen := lastlogLayout(e.Size)
	if len(head) >= timeLen+32 {
		line := head[timeLen : timeLen+32]
		if !cleanString(line) || bytes.IndexByte(line, 0) < 0 {
			return false
		}
	}
	return true
}

// Requires implements parsers.Requirer: lastlogName, whatever the content.
func (*Lastlog) Requires() parsers.Requirement {
	return parsers.Requirement{Name: "lastlog"}
}

// lastlogName says whether the base name, in any case, starts "lastlog"
// (not lastlog2's database). A lower-case name starting 'l' starts with
// 'l' or 'L' (only 'i' and 'k' come from runes outside ASCII), so any
// other first byte is answered at once.
func lastlogName(p string) bool {
	base := path.Base(p)
	if base[0] != 'l' && base[0] != 'L' {
		return false
	}
	return fold.HasPrefix(base, "lastlog") && !fold.HasPrefix(base, "lastlog2") && !fold.HasSuffix(base, ".db")
}

// lastlogLayout tells the record size from the file size: 296 bytes when
// only that divides it.
func lastlogLayout(size int64) (recSize, timeLen int) {
	if size > 0 && size%lastlogSize64 == 0 && size%lastlogSize32 != 0 {
		return lastlogSize64, 8
	}
	return lastlogSize32, 4
}

// errLastlogOrder marks a lastlog whose times read plausibly in both byte
// orders, with no file time to tell which.
var errLastlogOrder = errors.New("lastlog byte order ambiguous: the times read plausibly both little- and big-endian and no file time bounds them; read as little-endian")

// lastlogOrder picks the byte order of ll_time from the first used
// records (recs, size bytes each): big-endian (s390x, ppc64 and other
// big-endian ABIs) when more of them then fall between 1990 and the file's
// modification time (a login cannot postdate the file it was written to)
// than little-endian. Without a file time the bound is the largest value
// the field holds as a signed time. A 32-bit time read in the wrong order
// still looks like a date about one time in four; when both orders explain
// every record, the one whose latest login is the file's modification
// time (to a day: login writes the file) wins, and failing that the file
// is read little-endian and ambiguous is true.
func lastlogOrder(recs []byte, size, timeLen int, mtime time.Time) (order binary.ByteOrder, ambiguous bool) {
	lo := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := int64(1<<31 - 1)
	if timeLen == 8 {
		hi = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	}
	if !mtime.IsZero() {
		hi = mtime.Add(24 * time.Hour).Unix()
	}
	read := func(o binary.ByteOrder, b []byte) int64 {
		if timeLen == 4 {
			return int64(o.Uint32(b))
		}
		return int64(o.Uint64(b))
	}
	le, be, n, differ := 0, 0, 0, false
	var maxLE, maxBE int64
	for off := 0; off+size <= len(recs); off += size {
		rec := recs[off : off+size]
		n++
		l, b := read(binary.LittleEndian, rec), read(binary.BigEndian, rec)
		if l >= lo && l <= hi {
			le++
			maxLE = max(maxLE, l)
		}
		if b >= lo && b <= hi {
			be++
			maxBE = max(maxBE, b)
		}
		differ = differ || l != b
	}
	switch {
	case be > le:
		return binary.BigEndian, false
	case le > be || !differ || le < n:
		return binary.LittleEndian, false
	}
	if !mtime.IsZero() {
		near := func(t int64) bool { d := mtime.Unix() - t; return d >= -86400 && d <= 86400 }
		switch {
		case near(maxLE) && !near(maxBE):
			return binary.LittleEndian, false
		case near(maxBE) && !near(maxLE):
			return binary.BigEndian, false
		}
	}
	return binary.LittleEndian, true
}

// Parse implements parsers.Parser. Unused uid slots are all zeros (holes in
// a sparse file) and are not records; every other slot is an event.
func (p *Lastlog) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(LastlogName)
	size, timeLen := lastlogLayout(src.Size)
	br := bufio.NewReaderSize(src.R, 64<<10)
	buf := make([]byte, size)
	// The byte order is decided on the first used records, which may lie
	// far into a sparse file (records are indexed by uid): they are held
	// until lastlogSample of them are read or the file ends.
	var (
		order   binary.ByteOrder
		pending [][]byte
		uids    []int64
	)
	decide := func() error {
		order = binary.LittleEndian
		if len(pending) == 0 {
			return nil
		}
		o, ambiguous := lastlogOrder(bytes.Join(pending, nil), size, timeLen, src.Entry.Times.Modified)
		order = o
		if ambiguous {
			src.WarnErr(uids[0]*int64(size), uids[0]+1, errLastlogOrder)
		}
		for i, rec := range pending {
			if err := lastlogRecord(rec, uids[i], size, timeLen, order, src, emit); err != nil {
				return err
			}
		}
		pending, uids = nil, nil
		return nil
	}
	for uid := int64(0); ; uid++ {
		if uid%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		off := uid * int64(size)
		n, err := io.ReadFull(br, buf)
		if err == io.EOF {
			if order == nil {
				return decide()
			}
			return nil
		}
		if err == io.ErrUnexpectedEOF {
			if order == nil {
				if err := decide(); err != nil {
					return err
				}
			}
			if !zeros.All(buf[:n]) {
				src.Warnf(off, uid+1, "truncated lastlog record: %d of %d bytes", n, size)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("lastlog: read at offset %d: %w", off, err)
		}
		if zeros.All(buf) {
			continue
		}
		if order == nil {
			pending, uids = append(pending, bytes.Clone(buf)), append(uids, uid)
			if len(pending) == lastlogSample {
				if err := decide(); err != nil {
					return err
				}
			}
			continue
		}
		if err := lastlogRecord(buf, uid, size, timeLen, order, src, emit); err != nil {
			return err
		}
	}
}

// lastlogSample is how many used records decide the byte order.
const lastlogSample = 8

// lastlogRecord emits the event of one used record (uid's slot).
func lastlogRecord(buf []byte, uid int64, size, timeLen int, order binary.ByteOrder, src *parsers.Source, emit func(*timeline.Event) error) error {
	off := uid * int64(size)
	var sec int64
	if timeLen == 4 {
		sec = int64(order.Uint32(buf))
	} else {
		sec = int64(order.Uint64(buf))
	}
	var bad []string
	line := text(cstr(buf[timeLen:timeLen+32]), "ll_line", &bad)
	host := text(cstr(buf[timeLen+32:]), "ll_host", &bad)
	for _, f := range bad {
		src.Warnf(off, uid+1, "%s is not valid UTF-8", f)
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
	parsers.At(ev, off, uid+1)
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
	return emit(ev)
}
