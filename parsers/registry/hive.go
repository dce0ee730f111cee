package registry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
)

// The regf layout, as msuhanov's "Windows registry file format
// specification" documents it (regparser's profile names the same fields).
const (
	baseBlockSize = 4096 // the base block; hive bins follow it
	hbinMagic     = "hbin"
	regfMagic     = "regf"

	// Base block fields.
	offSeq1      = 4
	offSeq2      = 8
	offWritten   = 12
	offMajor     = 20
	offMinor     = 24
	offFileType  = 28
	offRootCell  = 36
	offBinsSize  = 40
	offFileName  = 48 // 64 bytes of UTF-16LE: the tail of the hive's path
	offChecksum  = 508
	fileNameSize = 64

	// nk flags.
	keyCompName = 0x0020 // name is Latin-1 (else UTF-16LE)
	// vk flags.
	valueCompName = 0x0001

	// Big data ("db") segments hold this many bytes each (hive 1.4+).
	bigDataSegment = 16344
)

// Errors of hive decoding; test with errors.Is.
var (
	ErrNotHive = errors.New("not a registry hive")
	ErrBadCell = errors.New("registry cell damaged")
)

// Header is the hive's base block.
type Header struct {
	Seq1, Seq2   uint32 // primary and secondary sequence numbers: they differ in a dirty hive
	Written      ntfs.Filetime
	Major, Minor uint32
	FileType     uint32 // 0 primary file, 1, 2 or 6 transaction log
	RootCell     uint32
	BinsSize     uint32
	FileName     string // the tail of the hive's own path, as Windows wrote it
	ChecksumOK   bool
}

// Dirty reports a hive whose last write did not complete (or whose changes
// are still in its transaction logs): the sequence numbers differ.
func (h Header) Dirty() bool { return h.Seq1 != h.Seq2 }

// parseHeader reads a base block (at least 512 bytes).
func parseHeader(b []byte) (Header, error) {
	if len(b) < 512 || string(b[:4]) != regfMagic {
		return Header{}, ErrNotHive
	}
	le := binary.LittleEndian
	h := Header{
		Seq1: le.Uint32(b[offSeq1:]), Seq2: le.Uint32(b[offSeq2:]),
		Written: ntfs.Filetime(le.Uint64(b[offWritten:])),
		Major:   le.Uint32(b[offMajor:]), Minor: le.Uint32(b[offMinor:]),
		FileType: le.Uint32(b[offFileType:]), RootCell: le.Uint32(b[offRootCell:]),
		BinsSize: le.Uint32(b[offBinsSize:]),
		FileName: utf16String(b[offFileName : offFileName+fileNameSize]),
	}
	var sum uint32
	for i := 0; i < offChecksum; i += 4 {
		sum ^= le.Uint32(b[i:])
	}
	switch sum {
	case 0:
		sum = 1
	case 0xffffffff:
		sum = 0xfffffffe
	}
	h.ChecksumOK = sum == le.Uint32(b[offChecksum:])
	return h, nil
}

// Hive is a primary hive file held in memory: cells are reached by
// offset from everywhere in the file, so random access is the norm.
type Hive struct {
	Header Header
	data   []byte // the whole file

	free     []*Key // key nodes in free cells (FreeKeys)
	freeDone bool
}

// Open decodes the base block of data, a whole hive file.
func Open(data []byte) (*Hive, error) {
	h, err := parseHeader(data)
	if err != nil {
		return nil, err
	}
	return &Hive{Header: h, data: data}, nil
}

// Key is one key node (nk cell).
type Key struct {
	Offset      int64 // file offset of the cell (its size field)
	Name        string
	Flags       uint16
	Written     ntfs.Filetime
	Parent      uint32
	NumSubkeys  uint32
	subkeyList  uint32
	NumValues   uint32
	valueList   uint32
	classOffset uint32
	classLen    uint16
}

// Value is one value (vk cell).
type Value struct {
	Offset int64 // file offset of the vk cell
	Name   string
	Type   uint32
	Data   []byte
	// Err is set when the data could not be read whole (Data holds what
	// could be).
	Err error
}

// cell returns the payload of the cell at hive offset off (relative to
// the first hive bin), and the file offset of the cell. Allocated cells
// have a negative size; a free cell is returned too, with free set.
func (h *Hive) cell(off uint32) (payload []byte, fileOff int64, free bool, err error) {
	fileOff = baseBlockSize + int64(off)
	if off == 0xffffffff || fileOff+4 > int64(len(h.data)) {
		return nil, fileOff, false, fmt.Errorf("%w: cell offset 0x%x outside the file", ErrBadCell, off)
	}
	size := int32(binary.LittleEndian.Uint32(h.data[fileOff:]))
	if size < 0 {
		size = -size
	} else {
		free = true
	}
	if size < 8 || fileOff+int64(size) > int64(len(h.data)) {
		return nil, fileOff, free, fmt.Errorf("%w: cell at 0x%x has size %d", ErrBadCell, off, size)
	}
	return h.data[fileOff+4 : fileOff+int64(size)], fileOff, free, nil
}

// Root returns the root key.
func (h *Hive) Root() (*Key, error) { return h.Key(h.Header.RootCell) }

// Key decodes the key node at hive offset off.
func (h *Hive) Key(off uint32) (*Key, error) {
	p, fo, _, err := h.cell(off)
	if err != nil {
		return nil, err
	}
	return parseKey(p, fo)
}

func parseKey(p []byte, fileOff int64) (*Key, error) {
	if len(p) < 76 || p[0] != 'n' || p[1] != 'k' {
		return nil, fmt.Errorf("%w: no key node (nk) at file offset %d", ErrBadCell, fileOff)
	}
	le := binary.LittleEndian
	k := &Key{
		Offset: fileOff, Flags: le.Uint16(p[2:]), Written: ntfs.Filetime(le.Uint64(p[4:])),
		Parent: le.Uint32(p[16:]), NumSubkeys: le.Uint32(p[20:]), subkeyList: le.Uint32(p[28:]),
		NumValues: le.Uint32(p[36:]), valueList: le.Uint32(p[40:]),
		classOffset: le.Uint32(p[48:]), classLen: le.Uint16(p[74:]),
	}
	n := int(le.Uint16(p[72:]))
	if 76+n > len(p) {
		return k, fmt.Errorf("%w: key name of %d bytes past its cell at file offset %d", ErrBadCell, n, fileOff)
	}
	k.Name = decodeName(p[76:76+n], k.Flags&keyCompName != 0)
	return k, nil
}

// decodeName decodes a key or value name: Latin-1 when the compressed-name
// flag is set (Windows stores names of code points below 256 so), UTF-16LE
// otherwise.
func decodeName(b []byte, comp bool) string {
	if !comp {
		return utf16String(b)
	}
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// utf16String decodes UTF-16LE up to the first NUL.
func utf16String(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// Subkeys returns the key's subkeys in the order of its subkey list
// (sorted by name, as Windows keeps it). A damaged list or subkey is an
// error in errs; the subkeys that could be read are returned.
func (h *Hive) Subkeys(k *Key) (subs []*Key, errs []error) {
	if k.NumSubkeys == 0 {
		return nil, nil
	}
	offs, errs := h.subkeyOffsets(k.subkeyList, 0)
	for _, o := range offs {
		sk, err := h.Key(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		subs = append(subs, sk)
	}
	return subs, errs
}

// subkeyOffsets reads a subkey list (li, lf, lh, or ri of those).
func (h *Hive) subkeyOffsets(off uint32, depth int) ([]uint32, []error) {
	p, fo, _, err := h.cell(off)
	if err != nil {
		return nil, []error{fmt.Errorf("subkey list: %w", err)}
	}
	if len(p) < 4 {
		return nil, []error{fmt.Errorf("%w: subkey list at file offset %d too short", ErrBadCell, fo)}
	}
	le := binary.LittleEndian
	sig, n := string(p[:2]), int(le.Uint16(p[2:]))
	var step int
	switch sig {
	case "li", "ri":
		step = 4
	case "lf", "lh":
		step = 8
	default:
		return nil, []error{fmt.Errorf("%w: subkey list at file offset %d has signature %q", ErrBadCell, fo, p[:2])}
	}
	var errs []error
	if 4+n*step > len(p) {
		errs = append(errs, fmt.Errorf("%w: subkey list at file offset %d counts %d entries, its cell holds %d", ErrBadCell, fo, n, (len(p)-4)/step))
		n = (len(p) - 4) / step
	}
	out := make([]uint32, 0, n)
	for i := range n {
		o := le.Uint32(p[4+i*step:])
		if sig != "ri" {
			out = append(out, o)
			continue
		}
		// An index root points to lists; it is never nested in practice,
		// and the bound keeps a crafted loop finite.
		if depth > 2 {
			errs = append(errs, fmt.Errorf("%w: index root nested too deep at file offset %d", ErrBadCell, fo))
			break
		}
		sub, e := h.subkeyOffsets(o, depth+1)
		out = append(out, sub...)
		errs = append(errs, e...)
	}
	return out, errs
}

// Values returns the key's values in list order. Damaged entries are
// errors in errs.
func (h *Hive) Values(k *Key) (vals []*Value, errs []error) {
	if k.NumValues == 0 {
		return nil, nil
	}
	p, fo, _, err := h.cell(k.valueList)
	if err != nil {
		return nil, []error{fmt.Errorf("value list of key at file offset %d: %w", k.Offset, err)}
	}
	n := int(k.NumValues)
	if n*4 > len(p) {
		errs = append(errs, fmt.Errorf("%w: value list at file offset %d: key counts %d values, the list holds %d", ErrBadCell, fo, n, len(p)/4))
		n = len(p) / 4
	}
	for i := range n {
		v, err := h.Value(binary.LittleEndian.Uint32(p[i*4:]))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		vals = append(vals, v)
	}
	return vals, errs
}

// Value decodes the value at hive offset off with its data.
func (h *Hive) Value(off uint32) (*Value, error) {
	p, fo, _, err := h.cell(off)
	if err != nil {
		return nil, err
	}
	if len(p) < 20 || p[0] != 'v' || p[1] != 'k' {
		return nil, fmt.Errorf("%w: no value (vk) at file offset %d", ErrBadCell, fo)
	}
	le := binary.LittleEndian
	nameLen := int(le.Uint16(p[2:]))
	size, dataOff := le.Uint32(p[4:]), le.Uint32(p[8:])
	v := &Value{Offset: fo, Type: le.Uint32(p[12:])}
	flags := le.Uint16(p[16:])
	if 20+nameLen > len(p) {
		return nil, fmt.Errorf("%w: value name of %d bytes past its cell at file offset %d", ErrBadCell, nameLen, fo)
	}
	v.Name = decodeName(p[20:20+nameLen], flags&valueCompName != 0)
	v.Data, v.Err = h.valueData(size, dataOff, p[8:12])
	if v.Err != nil {
		v.Err = fmt.Errorf("value %q at file offset %d: %w", v.Name, fo, v.Err)
	}
	return v, nil
}

// valueData reads a value's data: inline in the offset field when the top
// bit of the size is set, in big-data segments when larger than one
// segment in a hive of version 1.4 or later, or in one cell.
func (h *Hive) valueData(size, off uint32, inline []byte) ([]byte, error) {
	if size&0x80000000 != 0 {
		n := size &^ 0x80000000
		if n > 4 {
			// Windows writes 0x80000000 | n with n <= 4 only; keep what fits.
			return inline, fmt.Errorf("%w: inline data of %d bytes", ErrBadCell, n)
		}
		return inline[:n], nil
	}
	if size == 0 {
		return nil, nil
	}
	p, fo, _, err := h.cell(off)
	if err != nil {
		return nil, err
	}
	if size > bigDataSegment && h.Header.Minor >= 4 && len(p) >= 8 && p[0] == 'd' && p[1] == 'b' {
		le := binary.LittleEndian
		n, list := int(le.Uint16(p[2:])), le.Uint32(p[4:])
		lp, lfo, _, err := h.cell(list)
		if err != nil {
			return nil, fmt.Errorf("big data segment list: %w", err)
		}
		if n*4 > len(lp) {
			return nil, fmt.Errorf("%w: big data segment list at file offset %d counts %d segments, holds %d", ErrBadCell, lfo, n, len(lp)/4)
		}
		out := make([]byte, 0, size)
		for i := 0; i < n && uint32(len(out)) < size; i++ {
			sp, _, _, err := h.cell(le.Uint32(lp[i*4:]))
			if err != nil {
				return out, fmt.Errorf("big data segment %d: %w", i, err)
			}
			take := min(len(sp), int(size)-len(out), bigDataSegment)
			out = append(out, sp[:take]...)
		}
		if uint32(len(out)) < size {
			return out, fmt.Errorf("%w: big data holds %d of %d bytes", ErrBadCell, len(out), size)
		}
		return out, nil
	}
	if int(size) > len(p) {
		return p, fmt.Errorf("%w: data of %d bytes in a cell of %d at file offset %d", ErrBadCell, size, len(p), fo)
	}
	return p[:size], nil
}

// Class returns the key's class name ("" when none).
func (h *Hive) Class(k *Key) string {
	if k.classLen == 0 || k.classOffset == 0xffffffff {
		return ""
	}
	p, _, _, err := h.cell(k.classOffset)
	if err != nil || int(k.classLen) > len(p) {
		return ""
	}
	return utf16String(p[:k.classLen])
}

// Lookup follows path (backslash separated, case-insensitive, relative to
// from) and returns the key, or nil when a component is missing.
func (h *Hive) Lookup(from *Key, path string) *Key {
	k := from
	for _, c := range strings.Split(strings.Trim(path, `\`), `\`) {
		if c == "" {
			continue
		}
		subs, _ := h.Subkeys(k)
		var next *Key
		for _, s := range subs {
			if strings.EqualFold(s.Name, c) {
				next = s
				break
			}
		}
		if next == nil {
			return nil
		}
		k = next
	}
	return k
}

// ValueMap returns the key's values by lower-cased name.
func (h *Hive) ValueMap(k *Key) map[string]*Value {
	vals, _ := h.Values(k)
	m := make(map[string]*Value, len(vals))
	for _, v := range vals {
		m[strings.ToLower(v.Name)] = v
	}
	return m
}
