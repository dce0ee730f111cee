package evtx

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"time"
)

const (
	fileHeaderBlock  = 4096
	chunkSize        = 65536
	chunkHeaderSize  = 512
	recordHeaderSize = 24
	chunkFlagNoCRC   = 0x4 // set by writers that leave the checksums zero
)

var (
	chunkMagic  = []byte("ElfChnk\x00")
	recordMagic = []byte("**\x00\x00")
)

// Record is one decoded event record.
type Record struct {
	Offset  int64 // file offset of the record header
	ID      uint64
	Written time.Time // record header's written time
	Event   *Element  // the <Event> element
	// Recovered is "" for a live record; for a record found outside every
	// live record chain it says where (one of the from* constants).
	Recovered string
	// Partial says what a recovered record lost to newer records written
	// over the names or templates it refers to ("" when it is whole).
	Partial string
}

// Where a recovered record was found. A live record is one inside the
// records area (header to free-space offset) of a chunk with a valid header
// that the file header counts; every other record is recovered.
const (
	fromSlack    = "chunk slack"                              // past the chunk's free-space offset
	fromNoHeader = "chunk without a valid header"             // bad magic or free-space offset: whole chunk scanned
	fromUnused   = "chunk past the file header's chunk count" // not in use per the file header
)

// warning is damage found in a chunk, reported by the caller as a
// parsers.RecordError in file order.
type warning struct {
	off int64
	rec uint64
	err error
}

// chunk holds one 64 KiB chunk and the per-chunk caches: names and template
// definitions are shared by the chunk's records and nothing else, which is
// what lets chunks decode independently and in parallel.
type chunk struct {
	buf       []byte
	fileOff   int64
	names     map[uint32]nameEntry
	templates map[uint32]*template
	// strict is set while carving slack: a slack record's references may
	// point at bytes a newer record has since overwritten, so names must
	// match their stored hash and template references the ID of the
	// definition they point at (see checkName, templateInstance).
	strict bool
	notes  []string // while strict: what the current record lost to overwriting
}

type nameEntry struct {
	s      string
	size   int
	err    error
	hashOK bool // the stored hash matches the name
}

func (c *chunk) name(off uint32) (string, int, error) {
	e := c.nameEntry(off)
	return e.s, e.size, e.err
}

func (c *chunk) nameEntry(off uint32) nameEntry {
	if e, ok := c.names[off]; ok {
		return e
	}
	var e nameEntry
	o := int(off)
	if o < 0 || o+8 > len(c.buf) {
		e.err = fmt.Errorf("name at chunk offset %d outside the chunk", off)
	} else {
		n := int(binary.LittleEndian.Uint16(c.buf[o+6:]))
		e.size = 8 + 2*n + 2
		if o+e.size > len(c.buf) {
			e.err = fmt.Errorf("name at chunk offset %d runs past the chunk", off)
		} else {
			e.s = utf16String(c.buf[o+8 : o+8+2*n])
			e.hashOK = nameHash(c.buf[o+8:o+8+2*n]) == binary.LittleEndian.Uint16(c.buf[o+4:])
		}
	}
	c.names[off] = e
	return e
}

// nameHash is the hash Windows stores with each name: the low 16 bits of
// h = h*65599 + unit over the UTF-16 code units.
func nameHash(b []byte) uint16 {
	var h uint32
	for i := 0; i+1 < len(b); i += 2 {
		h = h*65599 + uint32(binary.LittleEndian.Uint16(b[i:]))
	}
	return uint16(h)
}

var errTemplateLoop = errors.New("template definition refers to itself")

func (c *chunk) template(off uint32) *template {
	if t, ok := c.templates[off]; ok {
		return t
	}
	c.templates[off] = &template{err: errTemplateLoop}
	t := &template{}
	o := int(off)
	if o < chunkHeaderSize || o+24 > len(c.buf) {
		t.err = fmt.Errorf("template definition at chunk offset %d outside the chunk", off)
	} else {
		size := int(binary.LittleEndian.Uint32(c.buf[o+20:]))
		if o+24+size > len(c.buf) {
			t.err = fmt.Errorf("template definition at chunk offset %d runs past the chunk", off)
		} else {
			d := &decoder{c: c, b: c.buf, pos: o + 24, end: o + 24 + size, depID: true}
			mark := len(c.notes)
			t.nodes, t.err = d.fragment()
			if len(c.notes) > mark {
				t.notes = slices.Clone(c.notes[mark:])
				c.notes = c.notes[:mark]
			}
			if t.err == nil && len(t.nodes) == 0 {
				t.err = fmt.Errorf("empty template definition at chunk offset %d", off)
			}
			if t.err != nil {
				t.err = fmt.Errorf("template definition at chunk offset %d: %w", off, t.err)
			}
		}
	}
	c.templates[off] = t
	return t
}

// chunkHeader is the part of the 512-byte chunk header the decoder uses.
type chunkHeader struct {
	firstID, lastID uint64
	freeOff         uint32
	dataCRC         uint32
	flags           uint32
	headerCRC       uint32
}

func readChunkHeader(b []byte) chunkHeader {
	return chunkHeader{
		firstID:   binary.LittleEndian.Uint64(b[24:]),
		lastID:    binary.LittleEndian.Uint64(b[32:]),
		freeOff:   binary.LittleEndian.Uint32(b[48:]),
		dataCRC:   binary.LittleEndian.Uint32(b[52:]),
		flags:     binary.LittleEndian.Uint32(b[120:]),
		headerCRC: binary.LittleEndian.Uint32(b[124:]),
	}
}

// headerCRC covers bytes 0-119 and 128-511 (the flags and the checksum
// itself are left out).
func headerCRC(b []byte) uint32 {
	h := crc32.Update(0, crc32.IEEETable, b[:120])
	return crc32.Update(h, crc32.IEEETable, b[128:chunkHeaderSize])
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// chunkResult is what decoding one chunk yields.
type chunkResult struct {
	records int
	warns   []warning
	empty   bool // all zero: an unused chunk, not damage
}

// decodeChunk decodes every record of one chunk. Damage never stops it: a
// bad magic or checksum is reported and the records are still read; after
// a broken record it scans on for the next record signature. Then the
// slack after the free-space offset is carved for older records (carve).
// inUse is false for a chunk past the file header's chunk count: all its
// records are recovered ones.
//
// Each record goes to fn; the Record and its Elements are reused after fn
// returns, so fn copies what it keeps.
func decodeChunk(buf []byte, fileOff int64, inUse bool, stop func() bool, fn func(*Record)) chunkResult {
	var res chunkResult
	warn := func(off int, rec uint64, format string, args ...any) {
		res.warns = append(res.warns, warning{off: fileOff + int64(off), rec: rec, err: fmt.Errorf(format, args...)})
	}
	if allZero(buf) {
		res.empty = true
		return res
	}
	end := len(buf)
	scan := true
	tag := ""
	if !inUse {
		tag = fromUnused
	}
	slack := -1 // where the slack starts, when the free-space offset is valid
	if len(buf) < chunkHeaderSize {
		warn(0, 0, "chunk truncated to %d bytes, shorter than its header", len(buf))
		return res
	}
	if !bytes.Equal(buf[:8], chunkMagic) {
		warn(0, 0, "bad chunk magic %q: header ignored, scanning the chunk for records", buf[:8])
		tag = cmp.Or(tag, fromNoHeader)
	} else {
		h := readChunkHeader(buf)
		checkCRC := h.flags&chunkFlagNoCRC == 0
		if checkCRC && headerCRC(buf) != h.headerCRC {
			warn(0, 0, "chunk header checksum mismatch (stored 0x%08x, computed 0x%08x)", h.headerCRC, headerCRC(buf))
		}
		switch {
		case h.freeOff < chunkHeaderSize || h.freeOff > chunkSize:
			warn(0, 0, "chunk free-space offset %d is invalid: scanning the chunk for records", h.freeOff)
			tag = cmp.Or(tag, fromNoHeader)
		case int(h.freeOff) > len(buf):
			warn(0, 0, "chunk truncated: %d of %d bytes of records present", len(buf)-chunkHeaderSize, int(h.freeOff)-chunkHeaderSize)
		default:
			end = int(h.freeOff)
			slack = end
			scan = false
			if c := crc32.ChecksumIEEE(buf[chunkHeaderSize:end]); checkCRC && c != h.dataCRC {
				warn(0, 0, "chunk records checksum mismatch (stored 0x%08x, computed 0x%08x): records decoded anyway", h.dataCRC, c)
			}
		}
	}
	c := &chunk{buf: buf, fileOff: fileOff, names: make(map[uint32]nameEntry, 64), templates: make(map[uint32]*template, 16)}
	x := &expander{c: c}
	lost := -1 // start of a damaged stretch being skipped
	for pos := chunkHeaderSize; pos+recordHeaderSize <= end; {
		if res.records%256 == 255 && stop() {
			return res
		}
		size, ok := recordAt(buf, pos, end)
		if !ok {
			if lost < 0 && !scan {
				lost = pos
			}
			pos += 8
			continue
		}
		if lost >= 0 {
			warn(lost, 0, "%d bytes of damaged record data skipped before the record at chunk offset %d", pos-lost, pos)
			lost = -1
		}
		if size == 0 { // header present, body cut off by the end of the data
			id := binary.LittleEndian.Uint64(buf[pos+8:])
			warn(pos, id, "record %d truncated by the end of the file", id)
			slack = -1
			break
		}
		id := binary.LittleEndian.Uint64(buf[pos+8:])
		r := Record{Offset: fileOff + int64(pos), ID: id, Recovered: tag}
		r.Written, _ = filetime(binary.LittleEndian.Uint64(buf[pos+16:]))
		ev, err := decodeRecordBody(c, x, pos+recordHeaderSize, pos+size-4)
		if err != nil {
			warn(pos, id, "record %d: %w", id, err)
		} else {
			r.Event = ev
			res.records++
			fn(&r)
		}
		pos += size
	}
	if lost >= 0 {
		warn(lost, 0, "%d bytes of damaged record data at the end of the chunk", end-lost)
	}
	if slack >= 0 && !stop() {
		res.records += carve(c, x, slack, stop, func(off int, rec uint64, err error) {
			res.warns = append(res.warns, warning{off: fileOff + int64(off), rec: rec, err: err})
		}, fn)
	}
	return res
}

// recordAt checks for a record header at pos. It returns the record size,
// or 0 with ok when the header is there but the record runs past the
// buffer (a truncated file).
func recordAt(buf []byte, pos, end int) (size int, ok bool) {
	if !bytes.Equal(buf[pos:pos+4], recordMagic) {
		return 0, false
	}
	size = int(binary.LittleEndian.Uint32(buf[pos+4:]))
	if size < recordHeaderSize+4 || size > chunkSize-chunkHeaderSize {
		return 0, false
	}
	if pos+size > len(buf) {
		return 0, len(buf) < chunkSize
	}
	if pos+size > end && end < len(buf) {
		return 0, false
	}
	if int(binary.LittleEndian.Uint32(buf[pos+size-4:])) != size {
		return 0, false
	}
	return size, true
}

// decodeRecordBody decodes a record's binary XML. Windows writes a template
// instance here; other writers (the ID1149 sample) write the elements
// directly, without the dependency IDs that only template definitions carry.
// If the first reading fails the other one is tried.
func decodeRecordBody(c *chunk, x *expander, start, end int) (*Element, error) {
	ev, err := decodeBody(c, x, start, end, false)
	if err == nil {
		return ev, nil
	}
	if ev2, err2 := decodeBody(c, x, start, end, true); err2 == nil {
		return ev2, nil
	}
	return nil, err
}

func decodeBody(c *chunk, x *expander, start, end int, depID bool) (*Element, error) {
	c.notes = c.notes[:0]
	x.a.reset()
	x.work = 0
	d := decoder{c: c, b: c.buf, pos: start, end: end, depID: depID, a: &x.a}
	nodes, err := d.fragment()
	if err != nil {
		return nil, err
	}
	root := x.a.elem()
	if err := x.expand(nodes, nil, root); err != nil {
		return nil, err
	}
	if ev := root.Child("Event"); ev != nil {
		return ev, nil
	}
	if root.first == nil {
		return nil, errors.New("record holds no XML element")
	}
	return nil, fmt.Errorf("record root element is %q, not Event", root.first.Name)
}
