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

	"github.com/jejak-forensics/jejak/internal/zeros"
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
	// Anomaly says what is odd about a live record that the oracles still
	// read as live (an ID outside its chunk header's range, a damaged size
	// copy); "" for most.
	Anomaly string
	// ft is the first FILETIME value of the body and fts its rendered
	// text ("" when there was none; see expander.ft).
	ft  uint64
	fts string
}

// Where a recovered record was found. A live record is one in the record
// chain of a chunk with a valid header that the file header counts (or
// that follows them in a dirty file or in one whose file header is
// damaged, see Parser.ParseStats): the chain starts right after the chunk
// header and ends at the free-space offset, at the record the header
// names last (its offset for libevtx, its ID for the evtx crate), or at
// the first record header that is not valid, whichever comes first. Both oracles stop there; every record found after that
// point is recovered, as evtxexport -m recovered lists it.
const (
	fromSlack     = "chunk slack"                                  // past the chunk's free-space offset
	fromNoHeader  = "chunk without a valid header"                 // bad magic or free-space offset: whole chunk scanned
	fromUnused    = "chunk past the file header's chunk count"     // clean file header that does not count the chunk
	fromBroken    = "chunk records after a broken record"          // the chain stopped at an invalid record header
	fromPastChain = "chunk records after the header's last record" // before the free-space offset, after the last record the chunk header names
)

// warning is damage found in a chunk, reported by the caller as a
// parsers.RecordError in file order.
type warning struct {
	off int64
	rec uint64
	err error
	// copyOf is set for a slack record that could not be decoded: if a
	// live record has the same ID and written time, the slack bytes are a
	// stale copy of it and the warning is dropped (see Parser.Parse).
	copyOf recKey
}

// recKey identifies a record across chunks: its header's ID and written
// time (FILETIME). A slack record with the key of a live record is a
// copy of it that Windows left behind, not a deleted record.
type recKey struct {
	id      uint64
	written int64
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
	sc     *scratch // shared by the chunk's decoders (see element)
	// namesUsed lists the names template definitions resolved, for
	// sharedTemplates to check that another chunk resolves them alike.
	namesUsed []nameUse
	// recent are templates found in templates lately, by offset: most
	// records of a chunk use a few definitions, each record two (its
	// own and its EventData's), and an offset compared here costs a
	// tenth of the map lookup (see template).
	recent [recentTemplates]recentTemplate
}

// recentTemplate is a definition of chunk.templates and its offset.
type recentTemplate struct {
	off uint32
	t   *template
}

const recentTemplates = 8

// nameUse is a name reference a template definition resolved: the chunk
// offset of the reference, the name's offset and the name.
type nameUse struct {
	field, off uint32
	s          string
}

type nameEntry struct {
	s      string
	size   int
	err    error
	hashOK bool // the stored hash matches the name
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

// loopTemplate stands for a definition while it is being compiled: one
// that refers to itself finds it (it is never changed).
var loopTemplate = &template{err: errTemplateLoop}

func (c *chunk) template(off uint32) *template {
	r := &c.recent[(off^off>>4)%recentTemplates]
	if r.t != nil && r.off == off {
		return r.t
	}
	if t, ok := c.templates[off]; ok {
		if t != loopTemplate {
			*r = recentTemplate{off, t}
		}
		return t
	}
	o := int(off)
	if o >= chunkHeaderSize && o+24 <= len(c.buf) && !c.strict {
		// A definition an earlier chunk compiled: nothing to allocate.
		size := int(binary.LittleEndian.Uint32(c.buf[o+20:]))
		if o+24+size <= len(c.buf) {
			if st := c.scratch().shared.lookup(c, o, size); st != nil {
				c.templates[off] = st
				return st
			}
		}
	}
	c.templates[off] = loopTemplate
	t := &template{}
	if o < chunkHeaderSize || o+24 > len(c.buf) {
		t.err = fmt.Errorf("template definition at chunk offset %d outside the chunk", off)
	} else {
		size := int(binary.LittleEndian.Uint32(c.buf[o+20:]))
		if o+24+size > len(c.buf) {
			t.err = fmt.Errorf("template definition at chunk offset %d runs past the chunk", off)
		} else {
			var sh *sharedTemplates
			if !c.strict {
				sh = &c.scratch().shared
			}
			d := &decoder{c: c, b: c.buf, pos: o + 24, end: o + 24 + size, depID: true}
			mark := len(c.notes)
			nameMark := len(c.namesUsed)
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
			if sh != nil && t.err == nil && !c.strict {
				if st := sh.store(c, o, size, t, c.namesUsed[nameMark:]); st != nil {
					t = st
				}
			}
		}
	}
	c.templates[off] = t
	return t
}

// chunkHeader is the part of the 512-byte chunk header the decoder uses.
type chunkHeader struct {
	firstNum, lastNum uint64 // record numbers: how many records the header declares
	firstID, lastID   uint64
	lastRecOff        uint32 // chunk offset of the last record
	freeOff           uint32
	dataCRC           uint32
	flags             uint32
	headerCRC         uint32
}

func readChunkHeader(b []byte) chunkHeader {
	return chunkHeader{
		firstNum:   binary.LittleEndian.Uint64(b[8:]),
		lastNum:    binary.LittleEndian.Uint64(b[16:]),
		lastRecOff: binary.LittleEndian.Uint32(b[44:]),
		firstID:    binary.LittleEndian.Uint64(b[24:]),
		lastID:     binary.LittleEndian.Uint64(b[32:]),
		freeOff:    binary.LittleEndian.Uint32(b[48:]),
		dataCRC:    binary.LittleEndian.Uint32(b[52:]),
		flags:      binary.LittleEndian.Uint32(b[120:]),
		headerCRC:  binary.LittleEndian.Uint32(b[124:]),
	}
}

// headerCRC covers bytes 0-119 and 128-511 (the flags and the checksum
// itself are left out).
func headerCRC(b []byte) uint32 {
	h := crc32.Update(0, crc32.IEEETable, b[:120])
	return crc32.Update(h, crc32.IEEETable, b[128:chunkHeaderSize])
}

// chunkResult is what decoding one chunk yields.
type chunkResult struct {
	records    int // records emitted, live and recovered
	declared   int // records the chunk header declares (record numbers first to last)
	unreadable int // records found but not decoded, each also a warning
	// chainUnreadable is the part of unreadable in record chains (not
	// carved): a record the chunk holds as live and that is lost.
	chainUnreadable int
	warns           []warning
	empty           bool // all zero: an unused chunk, not damage
}

// chainRecord ends the reading of a record of a chunk's record chain: the
// decoded record goes to fn; one whose body did not decode is counted lost
// and warned at its offset.
func (res *chunkResult) chainRecord(r *Record, pos int, ev *Element, err error, warn func(int, uint64, string, ...any), fn func(*Record)) {
	if err != nil {
		res.unreadable++
		res.chainUnreadable++
		warn(pos, r.ID, "record %d: %w", r.ID, err)
		return
	}
	r.Event = ev
	res.records++
	fn(r)
}

// decodeChunk decodes every record of one chunk. Damage never stops it: a
// bad magic or checksum is reported and the records are still read. The
// live records are the chunk's record chain (see the from* constants);
// the rest of the chunk, from where the chain stops to the chunk end, is
// then carved for records (carve), which are tagged recovered with where
// they were found: records the chain did not reach (after a broken record,
// after the header's last record) and older records in the slack.
// inUse is false for a chunk a clean file header does not count: all its
// records are recovered ones.
//
// Each record goes to fn; the Record and its Elements are reused after fn
// returns, so fn copies what it keeps. x is the calling worker's expander,
// kept from chunk to chunk (nil: a fresh one).
func decodeChunk(x *expander, buf []byte, fileOff int64, inUse bool, stop func() bool, fn func(*Record)) chunkResult {
	var res chunkResult
	warn := func(off int, rec uint64, format string, args ...any) {
		res.warns = append(res.warns, warning{off: fileOff + int64(off), rec: rec, err: fmt.Errorf(format, args...)})
	}
	if zeros.All(buf) { // an unused chunk: logs are preallocated
		res.empty = true
		return res
	}
	tag := ""
	if !inUse {
		tag = fromUnused
	}
	if len(buf) < chunkHeaderSize {
		warn(0, 0, "chunk truncated to %d bytes, shorter than its header", len(buf))
		return res
	}
	if x == nil {
		x = new(expander)
	}
	c := x.newChunk(buf, fileOff)
	x.reuse(c)
	defer x.reuse(nil)
	if !bytes.Equal(buf[:8], chunkMagic) {
		warn(0, 0, "bad chunk magic %q: header ignored, scanning the chunk for records", buf[:8])
		scanChunk(c, x, len(buf), cmp.Or(tag, fromNoHeader), stop, &res, fn)
		return res
	}
	h := readChunkHeader(buf)
	if h.lastNum >= h.firstNum && h.lastNum-h.firstNum < chunkSize {
		res.declared = int(h.lastNum-h.firstNum) + 1
	}
	checkCRC := h.flags&chunkFlagNoCRC == 0
	if checkCRC && headerCRC(buf) != h.headerCRC {
		warn(0, 0, "chunk header checksum mismatch (stored 0x%08x, computed 0x%08x)", h.headerCRC, headerCRC(buf))
	}
	switch {
	case h.freeOff < chunkHeaderSize || h.freeOff > chunkSize:
		warn(0, 0, "chunk free-space offset %d is invalid: scanning the chunk for records", h.freeOff)
		scanChunk(c, x, len(buf), cmp.Or(tag, fromNoHeader), stop, &res, fn)
		return res
	case int(h.freeOff) > len(buf):
		// A file cut short: the records before the cut are the chain's,
		// read as live (the truncation is the warning).
		warn(0, 0, "chunk truncated: %d of %d bytes of records present", len(buf)-chunkHeaderSize, int(h.freeOff)-chunkHeaderSize)
		scanChunk(c, x, len(buf), tag, stop, &res, fn)
		return res
	}
	end := int(h.freeOff)
	if cs := crc32.ChecksumIEEE(buf[chunkHeaderSize:end]); checkCRC && cs != h.dataCRC {
		warn(0, 0, "chunk records checksum mismatch (stored 0x%08x, computed 0x%08x): records decoded anyway", h.dataCRC, cs)
	}
	// The chain. libevtx reads records while their offset is at most the
	// header's last-record offset; the evtx crate stops after the record
	// whose ID is the header's last; both stop at the free-space offset
	// and at the first record header that does not hold (bad signature,
	// a size of 0 or one running past the records, a size copy that
	// differs). Neither checks IDs against the header's range, so a
	// record out of range inside the chain is live, with a warning.
	lastOff := int(h.lastRecOff)
	if lastOff < chunkHeaderSize || lastOff >= end {
		lastOff = end // not usable: the free-space offset bounds the chain
	}
	pos := chunkHeaderSize
	after := "" // why the chain stopped before the free-space offset
	// Records with IDs out of the header's range are warned once per
	// chunk, from the first; each event says so in jejak.data.
	outRange, outFirst, outPos := 0, uint64(0), 0
	// One Record for the whole chain: fn copies what it keeps, and a
	// Record per record was an allocation per record.
	var r Record
	flushRange := func() {
		if outRange > 0 {
			warn(outPos, outFirst, "%d records of the chunk's record chain, the first record %d at chunk offset %d, have IDs outside the chunk header's range %d-%d (a stale or reused chunk header); read as live, as evtxexport and the evtx crate read them, each with jejak.data.record_anomaly",
				outRange, outFirst, outPos, h.firstID, h.lastID)
		}
	}
	for pos+recordHeaderSize <= end {
		if res.records%256 == 255 && stop() {
			return res
		}
		if pos > lastOff {
			after = fromPastChain
			warn(pos, 0, "%d bytes between the chunk's last record (chunk offset %d, per its header) and its free-space offset %d: records there are carved and tagged recovered", end-pos, lastOff, end)
			break
		}
		size, ok := recordAt(buf, pos, end)
		copyBad := false
		if !ok {
			// The evtx crate does not check the size copy at a record's
			// end; libevtx does. A record whose tail is damaged but whose
			// body decodes is read as live (the crate reads it, and the
			// chain goes on at its end), with a warning.
			size, copyBad = sizedRecordAt(buf, pos, end)
		}
		if (!ok && !copyBad) || size == 0 {
			// The chain expected a record here: it is lost, and the
			// warning gives its offset.
			res.unreadable++
			res.chainUnreadable++
			after = fromBroken
			warn(pos, 0, "invalid record header at chunk offset %d (signature %x, size %d): the chunk's record chain ends here, as it does for evtxexport and the evtx crate; the %d bytes after it are carved and their records tagged recovered",
				pos, buf[pos:pos+4], binary.LittleEndian.Uint32(buf[pos+4:]), end-pos)
			break
		}
		id := binary.LittleEndian.Uint64(buf[pos+8:])
		r = Record{Offset: fileOff + int64(pos), ID: id, Recovered: tag}
		r.Written, _ = filetime(binary.LittleEndian.Uint64(buf[pos+16:]))
		if id < h.firstID || id > h.lastID {
			r.Anomaly = fmt.Sprintf("record ID outside the chunk header's range %d-%d", h.firstID, h.lastID)
			if outRange == 0 {
				outFirst, outPos = id, pos
			}
			outRange++
		}
		ev, err := decodeRecordBody(c, x, pos+recordHeaderSize, pos+size-4)
		r.ft, r.fts = x.ft, x.fts
		if copyBad {
			if err != nil {
				res.unreadable++
				res.chainUnreadable++
				after = fromBroken
				warn(pos, id, "record %d at chunk offset %d: size copy differs from its size %d and its body does not decode (%v): the chunk's record chain ends here, as it does for evtxexport; the %d bytes after it are carved and their records tagged recovered",
					id, pos, size, err, end-pos)
				break
			}
			warn(pos, id, "record %d at chunk offset %d: size copy at its end differs from its size %d (damaged tail); its body decodes and is read as live, as the evtx crate reads it (evtxexport stops the chunk here)", id, pos, size)
			r.Anomaly = "size copy at the record's end differs from its size (damaged tail)"
		}
		res.chainRecord(&r, pos, ev, err, warn, fn)
		pos += size
		if id == h.lastID && pos < end {
			after = fromPastChain
			warn(pos, 0, "%d bytes between record %d, the last the chunk header names, and the free-space offset %d: records there are carved and tagged recovered", end-pos, id, end)
			break
		}
	}
	flushRange()
	from := end
	if after != "" {
		from = pos
	}
	if !stop() {
		res.records += carve(c, x, from, end, after, stop, func(off int, rec uint64, written time.Time, err error) {
			res.unreadable++
			w := warning{off: fileOff + int64(off), rec: rec, err: err}
			if off >= end && !written.IsZero() {
				w.copyOf = recKey{rec, written.UnixNano()}
			}
			res.warns = append(res.warns, w)
		}, fn)
	}
	return res
}

// scanChunk reads the records of a chunk whose header cannot bound them
// (bad magic, bad free-space offset, or cut short by the end of the file):
// it walks from the header to end, and where no record header holds it
// moves on 8 bytes (records are 8-byte aligned) to the next one.
func scanChunk(c *chunk, x *expander, end int, tag string, stop func() bool, res *chunkResult, fn func(*Record)) {
	buf := c.buf
	warn := func(off int, rec uint64, format string, args ...any) {
		res.warns = append(res.warns, warning{off: c.fileOff + int64(off), rec: rec, err: fmt.Errorf(format, args...)})
	}
	for pos := chunkHeaderSize; pos+recordHeaderSize <= end; {
		if res.records%256 == 255 && stop() {
			return
		}
		size, ok := recordAt(buf, pos, end)
		if !ok {
			pos += 8
			continue
		}
		id := binary.LittleEndian.Uint64(buf[pos+8:])
		if size == 0 { // header present, body cut off by the end of the data
			res.unreadable++
			res.chainUnreadable++
			warn(pos, id, "record %d truncated by the end of the file", id)
			return
		}
		r := Record{Offset: c.fileOff + int64(pos), ID: id, Recovered: tag}
		r.Written, _ = filetime(binary.LittleEndian.Uint64(buf[pos+16:]))
		ev, err := decodeRecordBody(c, x, pos+recordHeaderSize, pos+size-4)
		r.ft, r.fts = x.ft, x.fts
		res.chainRecord(&r, pos, ev, err, warn, fn)
		pos += size
	}
}

// sizedRecordAt is recordAt without the size copy: the signature and a
// size that fits the records area (the evtx crate's check). bad is true
// when such a header is there.
func sizedRecordAt(buf []byte, pos, end int) (size int, bad bool) {
	if !bytes.Equal(buf[pos:pos+4], recordMagic) {
		return 0, false
	}
	size = int(binary.LittleEndian.Uint32(buf[pos+4:]))
	if size < recordHeaderSize+4 || pos+size > end {
		return 0, false
	}
	return size, true
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
	x.ft, x.fts, x.ftSet = 0, "", false
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
