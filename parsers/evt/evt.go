// Package evt parses legacy Windows Event Log files (.evt: Windows NT 4 to
// XP and Server 2003; AppEvent.Evt, SecEvent.Evt, SysEvent.Evt) into
// timeline events shaped like the evtx parser's, so hunting rules keyed on
// event IDs and providers see both.
//
// No Go module that reads EVT files is served to this project, so the
// decoder is written here from the libevt documentation ("Windows Event Log
// (EVT) format"):
//
//   - The file is a ring buffer: a 48-byte header ("LfLe"), event records
//     (size, "LfLe", …, size again) from the oldest record's offset to the
//     end-of-file record (size 0x28, 0x11111111 0x22222222 0x33333333
//     0x44444444), wrapping from the end of the file to offset 48; a record
//     may be split by the wrap. A file not closed cleanly (header flag
//     dirty, as every copy of a running system's log is) has stale offsets
//     in its header: the end-of-file record, found by its signature, holds
//     the current ones and is used instead.
//   - Records in the space outside the live ring (between the end-of-file
//     record and the oldest record: older records overwritten only in
//     part) are emitted too, tagged "recovered" with
//     jejak.data.recovered_from, as the evtx parser does; libevt's
//     evtexport -m recovered is their oracle. A record carved there that
//     does not decode is a parsers.ErrUnrecovered warning.
//
// Each record is one event at its TimeGenerated ("Creation Time", as the
// evtx parser uses TimeCreated); TimeWritten is jejak.data.written_time.
// winlog.event_id is the low 16 bits of the event identifier, the high 16
// bits are jejak.data.qualifiers (as EVTX's EventID@Qualifiers), winlog.
// provider_name the source name, winlog.computer_name the computer name,
// winlog.event_data the insertion strings as Data1..DataN (and the binary
// data, hex, as Binary), jejak.data.user_sid the user SID. winlog.channel is
// not in the file: it is taken from the file name (SecEvent.Evt →
// Security, SysEvent.Evt → System, AppEvent.Evt → Application, else the
// name without .evt; empty for a file not named *.evt), as libevt's
// evtinfo does. The Windows 2000/XP/2003 Security logon, logoff, account
// and group IDs (528-540, 551, 624-630, 632/636/660, 517) get the event.
// action, user, source and logon fields the evtx parser gives their Vista
// successors, and their strings also the successors' event_data names
// (TargetUserName, IpAddress, MemberName …) beside Data1..N; see
// normalize.go.
package evt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the parser name in jejak.provenance.parser.
const Name = "evt"

// TagRecovered marks a record read outside the live ring.
const TagRecovered = "recovered"

// TimestampDesc: the record's TimeGenerated, as plaso's windows:evt:record
// creation_time.
const TimestampDesc = "Creation Time"

const (
	headerSize    = 48
	eofSize       = 40
	minRecordSize = 56 + 4 // fixed part, size copy
	ctxEvery      = 256
)

var (
	signature = []byte("LfLe")
	eofMagic  = []byte("\x11\x11\x11\x11\x22\x22\x22\x22\x33\x33\x33\x33\x44\x44\x44\x44")
)

// Header flags.
const (
	flagDirty   = 0x1
	flagWrapped = 0x2
)

// Parser reads EVT files.
type Parser struct{}

var (
	_ parsers.Parser       = (*Parser)(nil)
	_ parsers.RandomAccess = (*Parser)(nil)
)

// New returns the EVT parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// NeedsReaderAt implements parsers.RandomAccess.
func (*Parser) NeedsReaderAt() bool { return true }

// Match accepts a head that starts with the EVT file header: size 0x30,
// "LfLe", version 1.1, and the size repeated at its end. The name is not
// consulted.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	// parseHeader's first checks, the header size and the "LfLe"
	// signature, without the error it builds for every other file.
	if len(head) < headerSize || binary.LittleEndian.Uint32(head) != headerSize || !bytes.Equal(head[4:8], signature) {
		return false
	}
	_, err := parseHeader(head)
	return err == nil
}

// Requires implements parsers.Requirer: the header's first field is its
// size, headerSize (Match's first test).
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf(string(rune(headerSize)))}
}

type fileHeader struct {
	first, end        uint32 // oldest record offset, end-of-file record offset
	next, oldest      uint32 // next record number, oldest record number
	maxSize, flags    uint32
	retention         uint32
	eofFound          bool   // the end-of-file record was found and used
	eofOffset         uint32 // where it was found
	headerEndMismatch bool   // the header's offsets differ from the EOF record's
}

func parseHeader(b []byte) (fileHeader, error) {
	var h fileHeader
	if len(b) < headerSize {
		return h, errors.New("shorter than the 48-byte EVT header")
	}
	le := binary.LittleEndian
	if le.Uint32(b) != headerSize || !bytes.Equal(b[4:8], signature) || le.Uint32(b[44:]) != headerSize {
		return h, errors.New("no EVT header (size 0x30, \"LfLe\", size copy)")
	}
	if le.Uint32(b[8:]) != 1 || le.Uint32(b[12:]) != 1 {
		return h, fmt.Errorf("EVT version %d.%d, not 1.1", le.Uint32(b[8:]), le.Uint32(b[12:]))
	}
	h.first, h.end = le.Uint32(b[16:]), le.Uint32(b[20:])
	h.next, h.oldest = le.Uint32(b[24:]), le.Uint32(b[28:])
	h.maxSize, h.flags, h.retention = le.Uint32(b[32:]), le.Uint32(b[36:]), le.Uint32(b[40:])
	return h, nil
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	name := ""
	if src.Entry != nil {
		name = src.Entry.Path
	}
	var data []byte
	if src.ReaderAt != nil && src.Size >= 0 {
		// EVT files are at most a few tens of MB (the configured maximum
		// log size); the ring and the slack scan both want all of it.
		data = make([]byte, src.Size)
		if n, err := src.ReaderAt.ReadAt(data, 0); n < len(data) {
			return fmt.Errorf("evt: %s: read: %w", name, err)
		}
	} else {
		var err error
		if data, err = io.ReadAll(src.R); err != nil {
			return fmt.Errorf("evt: %s: read: %w", name, err)
		}
	}
	warn := src.WarnErr
	h, err := parseHeader(data)
	if err != nil {
		return fmt.Errorf("evt: %s: offset 0: %w", name, err)
	}
	var acct parsers.Accounting
	if src.Account != nil {
		defer func() { src.Account(acct) }()
	}
	f := &file{data: data, channel: channelOf(name)}
	f.findEOF(&h)
	if h.next >= h.oldest {
		acct.Declared = int64(h.next - h.oldest)
	}
	if !h.eofFound {
		warn(int64(h.end), 0, errors.New("no end-of-file record (signature 0x11111111…0x44444444) in the file: the header's offsets are used, and may be stale"))
	} else if h.headerEndMismatch && h.flags&flagDirty == 0 {
		warn(int64(h.eofOffset), 0, errors.New("the header is marked clean but its offsets differ from the end-of-file record's: the end-of-file record's are used"))
	}

	// The live ring.
	live := f.walk(h, func(off int64, rec int64, err error) {
		acct.Unreadable++
		warn(off, rec, err)
	}, warn)
	for i, r := range live {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		acct.Live++
		if err := emit(f.event(r, "")); err != nil {
			return err
		}
	}

	// Records in the space the ring does not use.
	n := 0
	for _, r := range f.carve(h, func(off int64, err error) {
		warn(off, 0, fmt.Errorf("%w: %w", parsers.ErrUnrecovered, err))
	}) {
		if n++; n%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		acct.Recovered++
		if err := emit(f.event(r, "slack outside the live ring")); err != nil {
			return err
		}
	}
	return ctx.Err()
}

type file struct {
	data    []byte
	channel string
	// used marks the bytes of live records and of the end-of-file record,
	// so the slack scan skips them.
	used []span
}

type span struct{ start, end int64 } // [start, end) in the file; may wrap

// findEOF finds the end-of-file record: where the header says, else by its
// signature anywhere in the ring area. Its offsets and numbers replace the
// header's (they are the current ones when the file is dirty).
func (f *file) findEOF(h *fileHeader) {
	at := func(off int64) bool {
		b := f.data
		return off >= headerSize && off+eofSize <= int64(len(b)) &&
			binary.LittleEndian.Uint32(b[off:]) == eofSize && bytes.Equal(b[off+4:off+20], eofMagic) &&
			binary.LittleEndian.Uint32(b[off+36:]) == eofSize
	}
	off := int64(h.end)
	if !at(off) {
		off = -1
		for i := headerSize; ; {
			j := bytes.Index(f.data[i:], eofMagic)
			if j < 0 {
				break
			}
			if at(int64(i + j - 4)) {
				off = int64(i + j - 4)
				break
			}
			i += j + 1
		}
	}
	if off < 0 {
		return
	}
	le := binary.LittleEndian
	b := f.data[off:]
	first, end, next, oldest := le.Uint32(b[20:]), le.Uint32(b[24:]), le.Uint32(b[28:]), le.Uint32(b[32:])
	h.headerEndMismatch = first != h.first || end != h.end || next != h.next || oldest != h.oldest
	h.first, h.end, h.next, h.oldest = first, end, next, oldest
	h.eofFound, h.eofOffset = true, uint32(off)
	f.used = append(f.used, span{off, off + eofSize})
}

// ring returns n bytes at off, following the wrap from the end of the file
// to offset 48.
func (f *file) ring(off int64, n int) ([]byte, bool) {
	size := int64(len(f.data))
	if off < headerSize || off >= size || n < 0 || int64(n) > size-headerSize {
		return nil, false
	}
	if off+int64(n) <= size {
		return f.data[off : off+int64(n)], true
	}
	out := make([]byte, 0, n)
	out = append(out, f.data[off:]...)
	return append(out, f.data[headerSize:headerSize+int64(n)-(size-off)]...), true
}

func (f *file) advance(off int64, n uint32) int64 {
	size := int64(len(f.data))
	off += int64(n)
	if off >= size {
		off = headerSize + off - size
	}
	return off
}

// record is one decoded event record.
type record struct {
	off                int64
	size               uint32
	number             uint32
	generated, written time.Time
	eventID            uint32
	eventType          uint16
	category           uint16
	source, computer   string
	sid                string
	strings            []string
	binary             []byte
	partial            string // why a carved record is incomplete
}

// walk reads the live records from the oldest to the end-of-file record.
// A record that does not decode ends the walk (its size cannot be
// trusted to find the next) with a warning naming the records left (bad,
// which counts it unreadable); a record read whose number breaks the
// sequence is a warning too (note), and an event.
func (f *file) walk(h fileHeader, bad, note func(off, rec int64, err error)) []*record {
	var out []*record
	off := int64(h.first)
	want := h.oldest
	declared := int64(h.next) - int64(h.oldest)
	ringSize, walked := int64(len(f.data))-headerSize, int64(0)
	for i := int64(0); off != int64(h.end); i++ {
		if declared >= 0 && i > declared {
			bad(off, 0, fmt.Errorf("more records than the %d the end-of-file record declares: the walk stops", declared))
			return out
		}
		if walked >= ringSize {
			bad(off, 0, fmt.Errorf("the records go once round the ring without meeting the end-of-file offset %d: the walk stops", h.end))
			return out
		}
		b, ok := f.ring(off, 8)
		if !ok {
			bad(off, int64(want), fmt.Errorf("record offset outside the ring (file of %d bytes): the walk stops with %d of %d records read", len(f.data), i, declared))
			return out
		}
		size := binary.LittleEndian.Uint32(b)
		raw, ok := f.ring(off, int(size))
		if !ok || size < minRecordSize {
			bad(off, int64(want), fmt.Errorf("record size %d does not fit the ring: the walk stops with %d of %d records read", size, i, declared))
			return out
		}
		r, err := decode(raw, false)
		if err != nil {
			bad(off, int64(want), fmt.Errorf("%w: the walk stops with %d of %d records read", err, i, declared))
			return out
		}
		r.off = off
		if r.number != want {
			// Numbers run on one by one in a ring; a jump is worth
			// telling, but the record is read.
			note(off, int64(r.number), fmt.Errorf("record number %d where %d was due (the record is read)", r.number, want))
		}
		want = r.number + 1
		out = append(out, r)
		f.used = append(f.used, span{off, off + int64(size)})
		walked += int64(size)
		off = f.advance(off, size)
	}
	return out
}

// decode reads one record from raw, which holds exactly size bytes. A
// record carved from slack (partial allowed) whose size is not repeated at
// its end was overwritten in part by a newer record: it is decoded as far
// as its strings hold, and says so in partial.
func decode(raw []byte, partialOK bool) (*record, error) {
	le := binary.LittleEndian
	size := le.Uint32(raw)
	if !bytes.Equal(raw[4:8], signature) {
		return nil, errors.New("no \"LfLe\" record signature")
	}
	partial := ""
	if le.Uint32(raw[size-4:]) != size {
		if !partialOK {
			return nil, fmt.Errorf("record size %d not repeated at its end (%d)", size, le.Uint32(raw[size-4:]))
		}
		partial = fmt.Sprintf("record size %d not repeated at its end: overwritten in part by a newer record, values past the overwrite are not trustworthy", size)
	}
	r := &record{
		size:      size,
		number:    le.Uint32(raw[8:]),
		generated: time.Unix(int64(le.Uint32(raw[12:])), 0).UTC(),
		written:   time.Unix(int64(le.Uint32(raw[16:])), 0).UTC(),
		eventID:   le.Uint32(raw[20:]),
		eventType: le.Uint16(raw[24:]),
		category:  le.Uint16(raw[28:]),
		partial:   partial,
	}
	nStrings := int(le.Uint16(raw[26:]))
	strOff := le.Uint32(raw[36:])
	sidSize, sidOff := le.Uint32(raw[40:]), le.Uint32(raw[44:])
	dataSize, dataOff := le.Uint32(raw[48:]), le.Uint32(raw[52:])
	body := raw[:size-4]
	var n int
	r.source, n = utf16z(body[56:])
	if n < 0 {
		return nil, errors.New("source name not terminated")
	}
	var m int
	r.computer, m = utf16z(body[56+n:])
	if m < 0 {
		return nil, errors.New("computer name not terminated")
	}
	if sidSize > 0 {
		if uint64(sidOff)+uint64(sidSize) > uint64(len(body)) || sidOff < 56 {
			return nil, fmt.Errorf("user SID (offset %d, %d bytes) outside the record", sidOff, sidSize)
		}
		sid, err := sidString(body[sidOff : sidOff+sidSize])
		if err != nil {
			return nil, err
		}
		r.sid = sid
	}
	if nStrings > 0 {
		if strOff < 56 || strOff > uint32(len(body)) {
			return nil, fmt.Errorf("strings offset %d outside the record", strOff)
		}
		end := len(body)
		if dataSize > 0 && dataOff > strOff && dataOff <= uint32(len(body)) {
			end = int(dataOff)
		}
		s := body[strOff:end]
		for i := 0; i < nStrings; i++ {
			v, n := utf16z(s)
			if n < 0 {
				return nil, fmt.Errorf("string %d of %d not terminated", i+1, nStrings)
			}
			r.strings = append(r.strings, v)
			s = s[n:]
		}
	}
	if dataSize > 0 {
		if dataOff < 56 || uint64(dataOff)+uint64(dataSize) > uint64(len(body)) {
			return nil, fmt.Errorf("data (offset %d, %d bytes) outside the record", dataOff, dataSize)
		}
		r.binary = body[dataOff : dataOff+dataSize]
	}
	return r, nil
}

// utf16z decodes a NUL-terminated UTF-16LE string; n is the bytes used
// including the terminator, -1 when there is none.
func utf16z(b []byte) (string, int) {
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			u := make([]uint16, i/2)
			for j := range u {
				u[j] = binary.LittleEndian.Uint16(b[2*j:])
			}
			return string(utf16.Decode(u)), i + 2
		}
	}
	return "", -1
}

// sidString writes a binary SID as S-1-5-21-….
func sidString(b []byte) (string, error) {
	if len(b) < 8 || int(b[1])*4+8 > len(b) {
		return "", fmt.Errorf("user SID of %d bytes is malformed", len(b))
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	var sb strings.Builder
	sb.WriteString("S-")
	sb.WriteString(strconv.Itoa(int(b[0])))
	sb.WriteString("-")
	sb.WriteString(strconv.FormatUint(auth, 10))
	for i := 0; i < int(b[1]); i++ {
		sb.WriteString("-")
		sb.WriteString(strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10))
	}
	return sb.String(), nil
}

// inUsed reports whether [start, end) overlaps a live record or the
// end-of-file record (spans may wrap past the end of the file).
func (f *file) inUsed(start, end int64) bool {
	size := int64(len(f.data))
	for _, s := range f.used {
		e := s.end
		if e > size {
			// Wrapped: [start, size) and [48, 48+e-size).
			if start < size && end > s.start || start < headerSize+e-size && end > headerSize {
				return true
			}
			continue
		}
		if start < e && end > s.start {
			return true
		}
	}
	return false
}

// carve scans the file for record signatures outside the live records and
// decodes the records found there. A signature whose record does not
// decode is reported through bad.
func (f *file) carve(h fileHeader, bad func(off int64, err error)) []*record {
	var out []*record
	b := f.data
	for i := headerSize + 4; i < len(b); {
		j := bytes.Index(b[i:], signature)
		if j < 0 {
			return out
		}
		sig := int64(i + j)
		i = int(sig) + 1
		off := sig - 4
		size := binary.LittleEndian.Uint32(b[off:])
		if size < minRecordSize || int64(size) > int64(len(b))-headerSize {
			continue // not a record header, or one too damaged to place
		}
		if f.inUsed(off, off+int64(size)) {
			continue
		}
		raw, ok := f.ring(off, int(size))
		if !ok {
			continue
		}
		r, err := decode(raw, true)
		if err != nil {
			bad(off, err)
			continue
		}
		r.off = off
		out = append(out, r)
		// The next record starts after this one.
		i = int(off) + int(size)
	}
	return out
}

// channelOf names the log from the file name, as evtinfo's log type.
func channelOf(p string) string {
	base := path.Base(strings.ReplaceAll(p, "\\", "/"))
	i := strings.LastIndexByte(base, '.')
	if i <= 0 || !strings.EqualFold(base[i:], ".evt") {
		// A renamed copy ("evidence.bin") says nothing about its log.
		return ""
	}
	stem := base[:i]
	switch strings.ToLower(stem) {
	case "secevent", "security":
		return "Security"
	case "sysevent", "system":
		return "System"
	case "appevent", "application":
		return "Application"
	}
	return stem
}

var eventTypes = map[uint16]string{0: "success", 1: "error", 2: "warning", 4: "information", 8: "audit_success", 16: "audit_failure"}

func (f *file) event(r *record, recovered string) *timeline.Event {
	id := int(r.eventID & 0xffff)
	ev := &timeline.Event{Timestamp: r.generated, TimestampDesc: TimestampDesc}
	ev.Event.Kind = "event"
	ev.Event.Code = strconv.Itoa(id)
	ev.Event.Provider = r.source
	ed := make(map[string]string, len(r.strings)+1)
	for i, s := range r.strings {
		ed["Data"+strconv.Itoa(i+1)] = s
	}
	if len(r.binary) > 0 {
		ed["Binary"] = strings.ToUpper(hex.EncodeToString(r.binary))
	}
	ev.Winlog = &timeline.Winlog{Channel: f.channel, EventID: id, RecordID: uint64(r.number),
		ComputerName: r.computer, ProviderName: r.source, EventData: ed}
	if r.computer != "" {
		ev.Host = &timeline.Host{Name: r.computer}
	}
	data := map[string]string{
		"written_time":   r.written.Format(time.RFC3339),
		"qualifiers":     strconv.Itoa(int(r.eventID >> 16)),
		"event_type":     strconv.Itoa(int(r.eventType)),
		"event_category": strconv.Itoa(int(r.category)),
	}
	if r.sid != "" {
		data["user_sid"] = r.sid
	}
	if t, ok := eventTypes[r.eventType]; ok {
		switch r.eventType {
		case 8:
			ev.Event.Outcome = "success"
		case 16:
			ev.Event.Outcome = "failure"
		default:
			ev.Log = &timeline.Log{Level: t}
		}
	}
	if r.partial != "" {
		data["recovered_partial"] = r.partial
	}
	if recovered != "" {
		data["recovered_from"] = recovered
		ev.Jejak.Tags = append(ev.Jejak.Tags, TagRecovered)
	}
	ev.Jejak.Data = data
	parsers.At(ev, r.off, int64(r.number))
	normalize(ev, r)
	ev.Message = message(r, id)
	return ev
}

// message: "Source ID: string1 | string2 …", cut to a readable length.
func message(r *record, id int) string {
	var sb strings.Builder
	sb.WriteString(r.source)
	sb.WriteString(" ")
	sb.WriteString(strconv.Itoa(id))
	for i, s := range r.strings {
		if i == 0 {
			sb.WriteString(": ")
		} else {
			sb.WriteString(" | ")
		}
		sb.WriteString(strings.Join(strings.Fields(s), " "))
		if sb.Len() > 300 {
			break
		}
	}
	return sb.String()
}
