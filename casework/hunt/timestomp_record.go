package hunt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/jejak-forensics/jejak/timeline"
)

// The record the timestomp check keeps of one $SI or $FN event, written to
// its spillSorter. The key is the MFT entry: the $MFT file it is in (an
// index in recTables.files), the inode, the entry number and the sequence,
// as the check keyed its entries when it held them all. The rest is what
// the check and a finding's row need:
//
//	flags   byte     bit 4: $SI (else $FN); bits 0-3: the MACB slots
//	state   byte     bit i: stateTags[i] is among the event's tags
//	at      varint   the time, Unix nanoseconds
//	offset  varint   provenance offset
//	record  varint   provenance record
//	prov    uvarint  the provenance less offset and record (recTables.provs)
//	desc    uvarint  timestamp_desc (recTables.descs)
//	id, path, message: uvarint length and bytes; the message already cut
//	                 to what a row shows (maxRefMessage)
//
// Some 150 bytes an event, on disk rather than in memory. The tables hold
// what repeats (a case has a handful of $MFT files and timestamp_descs).

// recTables are the values records name by index.
type recTables struct {
	files   map[string]uint32 // fileKey → index
	provIdx map[string]uint32 // fileKey, evidence name, parser → index in provs
	provs   []timeline.Provenance
	descIdx map[string]uint32
	descs   []string
	// The last event's file, for the runs of rows from one $MFT.
	lastKey              string
	lastName, lastParser string
	lastFile, lastProv   uint32
	haveLast             bool
}

func newRecTables() recTables {
	return recTables{files: map[string]uint32{}, provIdx: map[string]uint32{}, descIdx: map[string]uint32{}}
}

// encode appends ev's record to b and returns it with its key's length.
func (t *recTables) encode(h *hunter, b []byte, ev *timeline.Event, si bool, set uint8) ([]byte, int) {
	p := &ev.Jejak.Provenance
	fk := h.fileKeyOf(*p)
	if !t.haveLast || fk != t.lastKey || p.EvidenceName != t.lastName || p.Parser != t.lastParser {
		f, ok := t.files[fk]
		if !ok {
			f = uint32(len(t.files))
			t.files[fk] = f
		}
		pk := fk + "\x00" + p.EvidenceName + "\x00" + p.Parser
		pi, ok := t.provIdx[pk]
		if !ok {
			q := h.internProv(*p)
			q.Offset, q.Record = 0, 0
			pi = uint32(len(t.provs))
			t.provs = append(t.provs, q)
			t.provIdx[pk] = pi
		}
		t.lastKey, t.lastName, t.lastParser, t.lastFile, t.lastProv, t.haveLast = fk, p.EvidenceName, p.Parser, f, pi, true
	}
	d := ev.Jejak.Data
	b = binary.AppendUvarint(b, uint64(t.lastFile))
	b = append(append(append(append(append(b, ev.File.Inode...), 0), d["mft_entry"]...), 0), d["sequence"]...)
	klen := len(b)

	flags := set
	if si {
		flags |= 1 << 4
	}
	var state uint8
	for i, tag := range stateTags {
		if slices.Contains(ev.Jejak.Tags, tag) {
			state |= 1 << i
		}
	}
	b = append(b, flags, state)
	b = binary.AppendVarint(b, ev.Timestamp.UnixNano())
	b = binary.AppendVarint(b, p.Offset)
	b = binary.AppendVarint(b, p.Record)
	b = binary.AppendUvarint(b, uint64(t.lastProv))
	di, ok := t.descIdx[ev.TimestampDesc]
	if !ok {
		di = uint32(len(t.descs))
		t.descs = append(t.descs, ev.TimestampDesc)
		t.descIdx[ev.TimestampDesc] = di
	}
	b = binary.AppendUvarint(b, uint64(di))
	b = appendBytes(b, ev.Jejak.ID)
	b = appendBytes(b, ev.File.Path)
	b = appendBytes(b, clipRefMessage(ev.Message))
	return b, klen
}

func appendBytes(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// clipRefMessage cuts a message to what a finding's row shows, as ref
// does: at most maxRefMessage bytes, at a character boundary, and "…".
func clipRefMessage(msg string) string {
	if len(msg) <= maxRefMessage {
		return msg
	}
	cut := maxRefMessage
	for cut > 0 && !utf8Start(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// mftEvent is one record of the entry being judged; id, path and msg point
// into the entry's records.
type mftEvent struct {
	span          [2]int // the record in timestomp.group
	klen          int    // its key's length
	si            bool
	set, state    uint8
	at            int64
	off, record   int64
	prov, desc    uint32
	id, path, msg []byte
}

var errShortRecord = errors.New("short record")

// decode reads the event's record from group (the key is skipped: the
// entry is known).
func (e *mftEvent) decode(group []byte) (err error) {
	b := group[e.span[0]:e.span[1]]
	fail := func(what string) error {
		return fmt.Errorf("timestomp: spilled record of %d bytes: %s: %w", len(b), what, errShortRecord)
	}
	if e.klen > len(b) {
		return fail("key")
	}
	b = b[e.klen:]
	if len(b) < 2 {
		return fail("flags")
	}
	e.si, e.set, e.state = b[0]&(1<<4) != 0, b[0]&0xF, b[1]
	b = b[2:]
	var vals [3]int64
	for i := range vals {
		v, n := binary.Varint(b)
		if n <= 0 {
			return fail("times")
		}
		vals[i], b = v, b[n:]
	}
	e.at, e.off, e.record = vals[0], vals[1], vals[2]
	var idx [2]uint64
	for i := range idx {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<32-1 {
			return fail("indexes")
		}
		idx[i], b = v, b[n:]
	}
	e.prov, e.desc = uint32(idx[0]), uint32(idx[1])
	for _, dst := range []*[]byte{&e.id, &e.path, &e.msg} {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return fail("strings")
		}
		*dst, b = b[n:n+int(l)], b[n+int(l):]
	}
	return nil
}
