package ual

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
)

// A minimal read-only reader of ESE (JET Blue) databases: the file
// header, B-tree pages, the catalog (MSysObjects) and table records with
// fixed, variable and tagged columns. It reads what the UAL tables use and
// reports, never guesses, what it does not (see errUnsupported).

const (
	eseMagic      = 0x89abcdef
	catalogFDP    = 4 // MSysObjects' root page
	maxTreeDepth  = 16
	smallPageHead = 40
	largePageHead = 80
)

// Page flags.
const (
	pageRoot      = 0x1
	pageLeaf      = 0x2
	pageSpaceTree = 0x20
	pageLongValue = 0x80
)

// Tag flags (small pages: the top 3 bits of the offset word).
const (
	tagDefunct   = 0x2
	tagCommonKey = 0x4
)

// Column types (JET_coltyp).
const (
	colBit      = 1
	colUint8    = 2
	colInt16    = 3
	colInt32    = 4
	colCurrency = 5
	colFloat    = 6
	colDouble   = 7
	colDateTime = 8
	colBinary   = 9
	colText     = 10
	colLongBin  = 11
	colLongText = 12
	colUint32   = 14
	colInt64    = 15
	colGUID     = 16
	colUint16   = 17
)

var errUnsupported = errors.New("unsupported by this reader")

// fixedSize is the stored size of a fixed column of type t.
func fixedSize(t uint32) int {
	switch t {
	case colBit, colUint8:
		return 1
	case colInt16, colUint16:
		return 2
	case colInt32, colFloat, colUint32:
		return 4
	case colCurrency, colDouble, colDateTime, colInt64:
		return 8
	case colGUID:
		return 16
	}
	return 0
}

type eseDB struct {
	r        io.ReaderAt
	size     int64
	pageSize int
	formatRv uint32
}

func openESE(r io.ReaderAt, size int64) (*eseDB, error) {
	hdr := make([]byte, 240)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("ESE header: %w", err)
	}
	le := binary.LittleEndian
	if le.Uint32(hdr[4:]) != eseMagic {
		return nil, errors.New("no ESE signature 0x89abcdef at offset 4")
	}
	ps := int(le.Uint32(hdr[236:]))
	switch ps {
	case 4096, 8192, 16384, 32768:
	default:
		return nil, fmt.Errorf("ESE page size %d", ps)
	}
	return &eseDB{r: r, size: size, pageSize: ps, formatRv: le.Uint32(hdr[232:])}, nil
}

type page struct {
	num        uint32
	flags      uint32
	prev, next uint32
	fdp        uint32
	tags       []tag
}

type tag struct {
	flags uint8
	value []byte
}

// readPage reads page n (1-based; the two header pages come first).
func (db *eseDB) readPage(n uint32) (*page, error) {
	off := int64(n+1) * int64(db.pageSize)
	if n == 0 || off+int64(db.pageSize) > db.size {
		return nil, fmt.Errorf("page %d outside the file", n)
	}
	b := make([]byte, db.pageSize)
	if _, err := db.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("page %d: %w", n, err)
	}
	le := binary.LittleEndian
	p := &page{num: n, prev: le.Uint32(b[16:]), next: le.Uint32(b[20:]), fdp: le.Uint32(b[24:]), flags: le.Uint32(b[36:])}
	ntags := int(le.Uint16(b[34:]))
	head := smallPageHead
	large := db.pageSize > 8192
	if large {
		head = largePageHead
	}
	if ntags*4 > db.pageSize-head {
		return nil, fmt.Errorf("page %d: %d tags do not fit", n, ntags)
	}
	for i := 0; i < ntags; i++ {
		t := b[db.pageSize-4*(i+1):]
		size, offw := le.Uint16(t), le.Uint16(t[2:])
		var flags uint8
		var vs, vo int
		if large {
			// Large pages use 15 bits for both; the flags are the top
			// 3 bits of the value's first 16-bit word.
			vs, vo = int(size&0x7fff), int(offw&0x7fff)
		} else {
			vs, vo, flags = int(size&0x1fff), int(offw&0x1fff), uint8(offw>>13)
		}
		start := head + vo
		if start+vs > db.pageSize {
			return nil, fmt.Errorf("page %d: tag %d (offset %d, %d bytes) outside the page", n, i, vo, vs)
		}
		v := b[start : start+vs]
		if large && i > 0 && len(v) >= 2 {
			flags = uint8(le.Uint16(v) >> 13)
			v = append([]byte{v[0], v[1] & 0x1f}, v[2:]...)
		}
		p.tags = append(p.tags, tag{flags: flags, value: v})
	}
	return p, nil
}

// walkTree calls fn with the data of every leaf entry of the B-tree rooted
// at page root, in key order. A page that cannot be read is reported with
// bad and its subtree skipped.
func (db *eseDB) walkTree(root uint32, fn func(pg uint32, data []byte) error, bad func(pg uint32, err error)) error {
	seen := map[uint32]bool{}
	var walk func(n uint32, depth int) error
	walk = func(n uint32, depth int) error {
		if depth > maxTreeDepth || seen[n] {
			bad(n, fmt.Errorf("page %d met twice or below depth %d: the tree loops", n, maxTreeDepth))
			return nil
		}
		seen[n] = true
		p, err := db.readPage(n)
		if err != nil {
			bad(n, err)
			return nil
		}
		if p.flags&pageSpaceTree != 0 {
			return nil
		}
		for i, t := range p.tags {
			if i == 0 || t.flags&tagDefunct != 0 {
				continue // tag 0 is the page's own header
			}
			v := t.value
			if t.flags&tagCommonKey != 0 {
				if len(v) < 2 {
					bad(n, fmt.Errorf("page %d tag %d: no common key size", n, i))
					continue
				}
				v = v[2:]
			}
			if len(v) < 2 {
				bad(n, fmt.Errorf("page %d tag %d: no key size", n, i))
				continue
			}
			k := int(binary.LittleEndian.Uint16(v))
			if 2+k > len(v) {
				bad(n, fmt.Errorf("page %d tag %d: key of %d bytes overruns the value", n, i, k))
				continue
			}
			data := v[2+k:]
			if p.flags&pageLeaf != 0 {
				if err := fn(n, data); err != nil {
					return err
				}
				continue
			}
			if len(data) < 4 {
				bad(n, fmt.Errorf("page %d tag %d: branch entry without a child page", n, i))
				continue
			}
			if err := walk(binary.LittleEndian.Uint32(data), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root, 0)
}

// column is one catalog column.
type column struct {
	id       uint32
	name     string
	typ      uint32
	codepage uint32
}

type table struct {
	name    string
	objid   uint32
	fdp     uint32
	columns []column // in catalog order
}

// catalogColumns are MSysObjects' own columns, which the catalog describes
// only inside itself.
var catalogColumns = []column{
	{1, "ObjidTable", colInt32, 0}, {2, "Type", colInt16, 0}, {3, "Id", colInt32, 0},
	{4, "ColtypOrPgnoFDP", colInt32, 0}, {5, "SpaceUsage", colInt32, 0}, {6, "Flags", colInt32, 0},
	{7, "PagesOrLocale", colInt32, 0}, {8, "RootFlag", colBit, 0}, {9, "RecordOffset", colInt16, 0},
	{10, "LCMapFlags", colInt32, 0}, {11, "KeyMost", colUint16, 0}, {12, "LVChunkMax", colInt32, 0},
	{128, "Name", colText, 1252},
}

// catalog reads MSysObjects: every table with its columns.
func (db *eseDB) catalog(bad func(pg uint32, err error)) (map[string]*table, error) {
	byObj := map[uint32]*table{}
	var order []*table
	var pending []struct {
		obj uint32
		c   column
	}
	err := db.walkTree(catalogFDP, func(pg uint32, data []byte) error {
		rec, err := decodeRecord(data, catalogColumns)
		if err != nil {
			bad(pg, fmt.Errorf("catalog record: %w", err))
			return nil
		}
		le := binary.LittleEndian
		u32 := func(id uint32) uint32 {
			if v, ok := rec[id]; ok && len(v.raw) >= 4 {
				return le.Uint32(v.raw)
			}
			return 0
		}
		typ := uint16(0)
		if v, ok := rec[2]; ok && len(v.raw) >= 2 {
			typ = le.Uint16(v.raw)
		}
		name := ""
		if v, ok := rec[128]; ok {
			name = string(v.raw)
		}
		switch typ {
		case 1: // table
			t := &table{name: name, objid: u32(1), fdp: u32(4)}
			byObj[t.objid] = t
			order = append(order, t)
		case 2: // column
			pending = append(pending, struct {
				obj uint32
				c   column
			}{u32(1), column{id: u32(3), name: name, typ: u32(4), codepage: u32(7)}})
		}
		return nil
	}, bad)
	if err != nil {
		return nil, err
	}
	for _, p := range pending {
		if t := byObj[p.obj]; t != nil {
			t.columns = append(t.columns, p.c)
		}
	}
	out := make(map[string]*table, len(order))
	for _, t := range order {
		out[t.name] = t
	}
	return out, nil
}

// value is one column's stored bytes.
type value struct {
	raw []byte
	// separated says the bytes are a long-value ID, the data being in
	// the table's long-value tree; compressed that they are compressed.
	separated, compressed bool
}

// decodeRecord splits a record into its columns' values, by column ID.
// Fixed columns (IDs 1-127) come first in ID order with a null bitmap
// after them; variable columns (128-255) as a table of end offsets (bit
// 15 set for null) then their data; tagged columns (256 and up) as a
// table of (ID, offset) then their data. In the layout ESE writes since
// Windows Vista (as in the UAL databases), a tagged offset with bit 14 set
// has a flags byte before its data.
func decodeRecord(b []byte, cols []column) (map[uint32]value, error) {
	if len(b) < 4 {
		return nil, errors.New("record shorter than its 4-byte header")
	}
	le := binary.LittleEndian
	lastFixed, lastVar := uint32(b[0]), uint32(b[1])
	varOff := int(le.Uint16(b[2:]))
	if varOff > len(b) || varOff < 4 {
		return nil, fmt.Errorf("variable data offset %d outside the %d-byte record", varOff, len(b))
	}
	out := make(map[uint32]value, len(cols))
	typeOf := make(map[uint32]uint32, len(cols))
	for _, c := range cols {
		typeOf[c.id] = c.typ
	}
	// Fixed columns.
	pos := 4
	if varOff-int((lastFixed+7)/8) < 4 {
		return nil, fmt.Errorf("fixed columns 1-%d do not fit before offset %d", lastFixed, varOff)
	}
	nullBitmap := b[varOff-int((lastFixed+7)/8) : varOff]
	for id := uint32(1); id <= lastFixed; id++ {
		t, ok := typeOf[id]
		if !ok {
			return nil, fmt.Errorf("fixed column %d is not in the catalog", id)
		}
		n := fixedSize(t)
		if n == 0 || pos+n > varOff {
			return nil, fmt.Errorf("fixed column %d (type %d) does not fit", id, t)
		}
		if nullBitmap[(id-1)/8]&(1<<((id-1)%8)) == 0 {
			out[id] = value{raw: b[pos : pos+n]}
		}
		pos += n
	}
	// Variable columns.
	nVar := 0
	if lastVar >= 128 {
		nVar = int(lastVar - 127)
	}
	dataStart := varOff + 2*nVar
	if dataStart > len(b) {
		return nil, fmt.Errorf("%d variable column offsets do not fit", nVar)
	}
	prev := 0
	for i := 0; i < nVar; i++ {
		w := le.Uint16(b[varOff+2*i:])
		end := int(w & 0x7fff)
		if dataStart+end > len(b) || end < prev {
			return nil, fmt.Errorf("variable column %d ends at %d, outside the record", 128+i, end)
		}
		if w&0x8000 == 0 {
			out[uint32(128+i)] = value{raw: b[dataStart+prev : dataStart+end]}
		}
		prev = end
	}
	// Tagged columns.
	tagged := b[dataStart+prev:]
	if len(tagged) == 0 {
		return out, nil
	}
	if len(tagged) < 4 {
		return nil, errors.New("tagged column table shorter than one entry")
	}
	first := int(le.Uint16(tagged[2:]) & 0x3fff)
	if first%4 != 0 || first > len(tagged) || first == 0 {
		return nil, fmt.Errorf("tagged column table of %d bytes", first)
	}
	n := first / 4
	for i := 0; i < n; i++ {
		id := uint32(le.Uint16(tagged[4*i:]))
		w := le.Uint16(tagged[4*i+2:])
		start := int(w & 0x3fff)
		end := len(tagged)
		if i+1 < n {
			end = int(le.Uint16(tagged[4*i+6:]) & 0x3fff)
		}
		if start > end || end > len(tagged) {
			return nil, fmt.Errorf("tagged column %d: offsets %d-%d outside the record", id, start, end)
		}
		v := value{raw: tagged[start:end]}
		if w&0x4000 != 0 && len(v.raw) > 0 {
			flags := v.raw[0]
			v.raw = v.raw[1:]
			v.compressed = flags&0x02 != 0
			v.separated = flags&0x04 != 0
			if flags&0x08 != 0 {
				return nil, fmt.Errorf("tagged column %d: multi-valued: %w", id, errUnsupported)
			}
		}
		out[id] = v
	}
	return out, nil
}

// text decodes a text column by its code page (1200: UTF-16LE; else
// single-byte, read as Latin-1, which ASCII is a part of).
func text(raw []byte, codepage uint32) string {
	if codepage == 1200 {
		u := make([]uint16, len(raw)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
		for len(u) > 0 && u[len(u)-1] == 0 {
			u = u[:len(u)-1]
		}
		return string(utf16.Decode(u))
	}
	r := make([]rune, 0, len(raw))
	for _, c := range raw {
		if c == 0 {
			break
		}
		r = append(r, rune(c))
	}
	return string(r)
}
