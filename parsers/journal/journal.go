// Package journal parses systemd journal files (system.journal,
// user-1000.journal, archived "system@<seqnum id>-<seqnum>-<realtime>.journal"
// and "…journal~" files journald renamed after finding them dirty) into
// timeline events, one per entry.
//
// No Go module that reads journal files is served to this project, so the
// decoder is written here from systemd's docs/JOURNAL_FILE_FORMAT.md:
//
//   - Entries are found by walking the global entry array chain that the
//     header starts (every entry journald linked, in order), not the data
//     hash tables, which only index data objects. Then every object of the
//     arena is walked once: an ENTRY object that no array links (journald
//     stopped between writing the entry and linking it) is emitted too,
//     tagged "recovered" with jejak.data.journal.recovered_from; journalctl
//     does not show such entries.
//   - DATA objects compressed with XZ, LZ4 or ZSTD (object flags; the
//     header's incompatible flags say which the writer used) are
//     decompressed; KEYED_HASH changes only the hash tables, which are not
//     read; COMPACT files (systemd 252+) keep 32-bit offsets in entry items
//     and entry arrays and a longer DATA object header, and are read as such.
//   - A file journald was still writing (state ONLINE, as every copy of a
//     running system's journal is) is read up to its last valid entry: an
//     array item or object that points outside the file or does not decode
//     is a warning with its offset, and the rest is still read. Sealed
//     (FSS) files are read, but their tags are not verified.
//
// Each entry becomes an event at its realtime timestamp (microseconds, the
// entry header's __REALTIME_TIMESTAMP), built by syslog.Record from
// SYSLOG_IDENTIFIER (else _COMM), _PID (else SYSLOG_PID), _HOSTNAME,
// MESSAGE, PRIORITY and SYSLOG_FACILITY: the message reads
// "ident[pid]: MESSAGE" and sshd, sudo, su, account tools, PAM, logind and
// cron lines get the same event.action, user and source fields as the same
// line in a syslog file, so the hunting analyzers treat both alike.
// event.dataset is "journal". Beside them: process.executable (_EXE),
// process.command_line (_CMDLINE), user.id (_UID, when the normalised line
// names no user; else jejak.data.journal.uid), and jejak.data journal.boot_id,
// journal.seqnum, journal.cursor (journalctl's __CURSOR), journal.transport,
// journal.unit (_SYSTEMD_UNIT), journal.comm (when it differs from the
// identifier).
//
// A MESSAGE that is not printable UTF-8 (journalctl -o json prints such a
// field as an array of byte values: invalid UTF-8, or control characters
// other than tab and newline) is written Go-quoted, losslessly:
// strconv.Unquote of the message after "ident[pid]: " gives the bytes back,
// and jejak.data.journal.message_quoted is "true".
package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/syslog"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the parser name in jejak.provenance.parser.
const Name = "journal"

// TagRecovered marks an entry no entry array links.
const TagRecovered = "recovered"

// timestampDesc: plaso's systemd journal parser calls the entry's realtime
// its written time, which its timeliner shows as this.
const timestampDesc = "Content Modification Time"

const ctxEvery = 256

// Parser reads systemd journal files.
type Parser struct{}

var (
	_ parsers.Parser       = (*Parser)(nil)
	_ parsers.RandomAccess = (*Parser)(nil)
)

// New returns the journal parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// NeedsReaderAt implements parsers.RandomAccess: entries are found through
// offsets.
func (*Parser) NeedsReaderAt() bool { return true }

// Match accepts a head with the journal signature and a header that parses;
// the name is not consulted (archived and renamed journals are common).
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	_, err := parseHeader(head)
	return err == nil
}

// Requires implements parsers.Requirer: the header starts with magic.
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf(string(magic[:1]))}
}

// file is the per-file reading state.
type file struct {
	br      *blockReader
	h       fileHeader
	compact bool
	dec     decompressor
	cache   map[uint64]*field
	items   []uint64
	path    string
	warn    func(off, rec int64, err error)
}

// field is one decoded DATA object.
type field struct {
	name, value string
	binary      bool
	err         error
}

const maxCache = 1 << 16

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	path := ""
	if src.Entry != nil {
		path = src.Entry.Path
	}
	ra, size := src.ReaderAt, src.Size
	if ra == nil || size < 0 {
		b, err := io.ReadAll(src.R)
		if err != nil {
			return fmt.Errorf("journal: %s: %w", path, err)
		}
		ra, size = bytes.NewReader(b), int64(len(b))
	}
	f := &file{br: newBlockReader(ra, size), cache: make(map[uint64]*field, 1024), path: path}
	defer f.dec.close()
	var acct parsers.Accounting
	f.warn = src.WarnErr
	hb, err := f.br.at(0, int(min(size, 512)))
	if err != nil {
		return fmt.Errorf("journal: %s: header: %w", path, err)
	}
	f.h, err = parseHeader(hb)
	if err != nil {
		return fmt.Errorf("journal: %s: offset 0: %w", path, err)
	}
	f.compact = f.h.compact()
	acct.Declared = int64(f.h.nEntries)
	if unknown := f.h.incompatible &^ incompatKnown; unknown != 0 {
		// systemd refuses such a file; the objects are still tried, and
		// any that do not decode are reported one by one.
		f.warn(12, 0, fmt.Errorf("incompatible header flags %#x unknown to this reader (file state %s): entries read as far as they decode", unknown, stateName(f.h.state)))
	}
	if src.Account != nil {
		defer func() { src.Account(acct) }()
	}

	chain := f.walkArrays()
	// Entries linked past the end of a file cut short are one warning
	// with their count, not one each.
	var past []uint64
	for i, off := range chain {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		ev, err := f.entryEvent(off, int64(i+1))
		if err != nil {
			acct.Unreadable++
			if off+objHeaderSize > uint64(size) {
				past = append(past, off)
				continue
			}
			f.warn(int64(off), int64(i+1), fmt.Errorf("entry (file state %s): %w", stateName(f.h.state), err))
			continue
		}
		acct.Live++
		if err := emit(ev); err != nil {
			return err
		}
	}

	if len(past) > 0 {
		f.warn(int64(past[0]), 0, fmt.Errorf("%d entries linked at offsets %d to %d lie past the end of the file (%d bytes, file state %s): the copy is cut short",
			len(past), past[0], past[len(past)-1], size, stateName(f.h.state)))
	}

	// Entries no array links.
	found := f.scanEntries()
	linked := slices.Clone(chain)
	slices.Sort(linked)
	for i, off := range found {
		if i%ctxEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if _, ok := slices.BinarySearch(linked, off); ok {
			continue
		}
		ev, err := f.entryEvent(off, 0)
		if err != nil {
			acct.Unreadable++
			f.warn(int64(off), 0, fmt.Errorf("%w: entry object no entry array links: %w", parsers.ErrUnrecovered, err))
			continue
		}
		acct.Recovered++
		ev.Jejak.Data["journal.recovered_from"] = "entry object no entry array links"
		ev.Jejak.Tags = append(ev.Jejak.Tags, TagRecovered)
		if err := emit(ev); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// objectHeader reads and checks the header of the object at off: its type
// must be want, its size at least minSize and inside the file.
func (f *file) objectHeader(off uint64, want uint8, minSize uint64) (flags uint8, size uint64, err error) {
	if off%8 != 0 || off < f.h.headerSize {
		return 0, 0, fmt.Errorf("object offset %d is not an aligned offset past the header", off)
	}
	b, err := f.br.at(int64(off), objHeaderSize)
	if err != nil {
		return 0, 0, fmt.Errorf("object at offset %d %w", off, err)
	}
	typ, flags := b[0], b[1]
	size = binary.LittleEndian.Uint64(b[8:])
	if typ != want {
		return 0, 0, fmt.Errorf("object at offset %d has type %d, want %d", off, typ, want)
	}
	if size < minSize || size > uint64(f.br.size) || off+size > uint64(f.br.size) {
		return 0, 0, fmt.Errorf("object at offset %d: size %d outside the file (%d bytes) or below %d", off, size, f.br.size, minSize)
	}
	return flags, size, nil
}

// walkArrays follows the entry array chain from the header and returns the
// entry offsets in it. A broken array ends the walk with a warning: what
// was read before it stands.
func (f *file) walkArrays() []uint64 {
	itemSize := uint64(8)
	if f.compact {
		itemSize = 4
	}
	var out []uint64
	prev := uint64(0)
	for off := f.h.entryArray; off != 0; {
		if off <= prev {
			f.warn(int64(off), 0, fmt.Errorf("entry array chain loops back (offset %d after %d): walk stopped after %d entries", off, prev, len(out)))
			return out
		}
		_, size, err := f.objectHeader(off, objEntryArray, arrayFixedSize)
		if err != nil {
			f.warn(int64(off), 0, fmt.Errorf("entry array (file state %s): %w; walk stopped after %d entries", stateName(f.h.state), err, len(out)))
			return out
		}
		b, err := f.br.at(int64(off), int(size))
		if err != nil {
			f.warn(int64(off), 0, fmt.Errorf("entry array: %w", err))
			return out
		}
		next := binary.LittleEndian.Uint64(b[16:])
		n := (size - arrayFixedSize) / itemSize
		for i := uint64(0); i < n; i++ {
			p := b[arrayFixedSize+i*itemSize:]
			var item uint64
			if f.compact {
				item = uint64(binary.LittleEndian.Uint32(p))
			} else {
				item = binary.LittleEndian.Uint64(p)
			}
			if item == 0 {
				// Arrays are allocated ahead; the first zero ends the
				// used part.
				break
			}
			out = append(out, item)
		}
		prev, off = off, next
	}
	return out
}

// scanEntries walks every object of the arena in file order and returns
// the offsets of its ENTRY objects. A damaged object ends the walk with a
// warning unless it is past the header's last object (an unfinished append).
func (f *file) scanEntries() []uint64 {
	var out []uint64
	end := min(uint64(f.br.size), f.h.headerSize+f.h.arenaSize)
	for off := f.h.headerSize; off+objHeaderSize <= end; {
		b, err := f.br.at(int64(off), objHeaderSize)
		if err != nil {
			break
		}
		typ := b[0]
		size := binary.LittleEndian.Uint64(b[8:])
		if typ == 0 && size == 0 {
			// Space allocated but never written: the end of the arena of
			// a file journald was still writing.
			if off <= f.h.tailObject {
				f.warn(int64(off), 0, fmt.Errorf("zeroed object before the header's last object (offset %d): the object walk stops here", f.h.tailObject))
			}
			break
		}
		if typ > objTypeMax || size < objHeaderSize || off+size > end {
			if off <= f.h.tailObject {
				f.warn(int64(off), 0, fmt.Errorf("object of type %d and size %d does not fit the arena (file state %s): the object walk stops here", typ, size, stateName(f.h.state)))
			}
			break
		}
		if typ == objEntry {
			out = append(out, off)
		}
		off += (size + 7) &^ 7
	}
	return out
}

// entry is one ENTRY object's fixed part.
type entry struct {
	seqnum, realtime, monotonic, xor uint64
	boot                             [16]byte
}

// readEntry reads the entry at off and its item offsets into f.items.
func (f *file) readEntry(off uint64) (entry, error) {
	var e entry
	_, size, err := f.objectHeader(off, objEntry, entryFixedSize)
	if err != nil {
		return e, err
	}
	b, err := f.br.at(int64(off), int(size))
	if err != nil {
		return e, err
	}
	le := binary.LittleEndian
	e.seqnum = le.Uint64(b[16:])
	e.realtime = le.Uint64(b[24:])
	e.monotonic = le.Uint64(b[32:])
	copy(e.boot[:], b[40:56])
	e.xor = le.Uint64(b[56:])
	itemSize := uint64(16)
	if f.compact {
		itemSize = 4
	}
	n := (size - entryFixedSize) / itemSize
	f.items = f.items[:0]
	for i := uint64(0); i < n; i++ {
		p := b[entryFixedSize+i*itemSize:]
		if f.compact {
			f.items = append(f.items, uint64(le.Uint32(p)))
		} else {
			f.items = append(f.items, le.Uint64(p))
		}
	}
	return e, nil
}

// data returns the field of the DATA object at off, decoded once per file
// (objects are shared by every entry that has the same field and value).
func (f *file) data(off uint64) *field {
	if fd, ok := f.cache[off]; ok {
		return fd
	}
	fd := f.decodeData(off)
	if len(f.cache) >= maxCache {
		clear(f.cache)
	}
	f.cache[off] = fd
	return fd
}

func (f *file) decodeData(off uint64) *field {
	head := uint64(dataRegularSize)
	if f.compact {
		head = dataCompactSize
	}
	flags, size, err := f.objectHeader(off, objData, head)
	if err != nil {
		return &field{err: err}
	}
	b, err := f.br.at(int64(off+head), int(size-head))
	if err != nil {
		return &field{err: fmt.Errorf("data object at offset %d: %w", off, err)}
	}
	payload, err := f.dec.decode(flags, b)
	if err != nil {
		return &field{err: fmt.Errorf("data object at offset %d: %w", off, err)}
	}
	i := bytes.IndexByte(payload, '=')
	if i <= 0 {
		return &field{err: fmt.Errorf("data object at offset %d holds no FIELD=value", off)}
	}
	v := payload[i+1:]
	return &field{name: string(payload[:i]), value: string(v), binary: !printable(v)}
}

// printable is journalctl's test for a field it prints as a JSON string
// rather than an array of bytes (utf8_is_printable_newline): valid UTF-8
// without control characters other than tab and newline.
func printable(b []byte) bool {
	for len(b) > 0 {
		c := b[0]
		if c < utf8.RuneSelf {
			if c < ' ' && c != '\t' && c != '\n' || c == 0x7f {
				return false
			}
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 || r >= 0x80 && r <= 0x9f {
			return false
		}
		b = b[n:]
	}
	return true
}

// entryEvent reads the entry at off and builds its event. A field that
// cannot be decoded is a warning; the entry is still an event with the
// fields that could.
func (f *file) entryEvent(off uint64, rec int64) (*timeline.Event, error) {
	e, err := f.readEntry(off)
	if err != nil {
		return nil, err
	}
	var (
		msg, host, ident, comm, pid, spid, uid string
		prio, fac, exe, cmdline, transport     string
		unit                                   string
		hasMsg, msgBinary                      bool
	)
	for _, item := range f.items {
		fd := f.data(item)
		if fd.err != nil {
			f.warn(int64(off), rec, fmt.Errorf("entry seqnum %d: field: %w", e.seqnum, fd.err))
			continue
		}
		if fd.binary && fd.name != "MESSAGE" {
			continue
		}
		// The first of repeated fields wins, as journalctl's short output
		// takes it.
		set := func(dst *string) {
			if *dst == "" {
				*dst = fd.value
			}
		}
		switch fd.name {
		case "MESSAGE":
			if !hasMsg {
				hasMsg, msg, msgBinary = true, fd.value, fd.binary
			}
		case "_HOSTNAME":
			set(&host)
		case "SYSLOG_IDENTIFIER":
			set(&ident)
		case "_COMM":
			set(&comm)
		case "_PID":
			set(&pid)
		case "SYSLOG_PID":
			set(&spid)
		case "_UID":
			set(&uid)
		case "PRIORITY":
			set(&prio)
		case "SYSLOG_FACILITY":
			set(&fac)
		case "_EXE":
			set(&exe)
		case "_CMDLINE":
			set(&cmdline)
		case "_TRANSPORT":
			set(&transport)
		case "_SYSTEMD_UNIT":
			set(&unit)
		}
	}
	if ident == "" {
		ident = comm
	}
	if pid == "" {
		pid = spid
	}
	body := msg
	switch {
	case msgBinary:
		body = strconv.Quote(msg)
	case !hasMsg:
		body = "(no MESSAGE field)"
	}
	t := time.UnixMicro(int64(e.realtime)).UTC()
	ev := syslog.Record(ident, pid, body, host, atoiOr(fac, -1), atoiOr(prio, -1), t)
	ev.TimestampDesc = timestampDesc
	ev.Event.Dataset = "journal"
	parsers.At(ev, int64(off), rec)
	if exe != "" || cmdline != "" {
		if ev.Process == nil {
			ev.Process = &timeline.Process{}
		}
		ev.Process.Executable = exe
		ev.Process.CommandLine = cmdline
	}
	d := ev.Jejak.Data
	if d == nil {
		d = make(map[string]string, 8)
		ev.Jejak.Data = d
	}
	boot := hex.EncodeToString(e.boot[:])
	d["journal.boot_id"] = boot
	d["journal.seqnum"] = strconv.FormatUint(e.seqnum, 10)
	d["journal.cursor"] = fmt.Sprintf("s=%s;i=%x;b=%s;m=%x;t=%x;x=%x",
		hex.EncodeToString(f.h.seqnumID[:]), e.seqnum, boot, e.monotonic, e.realtime, e.xor)
	if transport != "" {
		d["journal.transport"] = transport
	}
	if unit != "" {
		d["journal.unit"] = unit
	}
	if comm != "" && comm != ident {
		d["journal.comm"] = comm
	}
	if msgBinary {
		d["journal.message_quoted"] = "true"
	}
	if uid != "" {
		if ev.User == nil {
			ev.User = &timeline.User{ID: uid}
		} else if ev.User.Name == "" && ev.User.ID == "" {
			ev.User.ID = uid
		} else {
			d["journal.uid"] = uid
		}
	}
	return ev, nil
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}
