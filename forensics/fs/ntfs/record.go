package ntfs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Attribute types this package reads.
const (
	AttrStandardInformation = 0x10
	AttrAttributeList       = 0x20
	AttrFileName            = 0x30
	AttrData                = 0x80
	AttrIndexRoot           = 0x90
	AttrIndexAllocation     = 0xA0
	attrEnd                 = 0xFFFFFFFF
)

// Record flags.
const (
	FlagInUse     = 0x1
	FlagDirectory = 0x2
)

// RootEntry is the MFT entry of the root directory.
const RootEntry = 5

// Errors of record decoding; test with errors.Is.
var (
	ErrNotRecord = errors.New("not an MFT record")
	ErrBadRecord = errors.New("corrupt MFT record")
)

// Filetime is a Windows FILETIME: 100 ns ticks since 1601-01-01 UTC. It is
// kept raw so that a value no clock would write survives unchanged.
type Filetime uint64

const (
	ticksPerSecond = 10_000_000
	epochDelta     = 11644473600 // seconds from 1601 to 1970
)

// Time converts f without overflow for every uint64 (time.Unix takes
// seconds; go-ntfs goes through int64 nanoseconds and wraps past 2262).
func (f Filetime) Time() time.Time {
	sec := int64(uint64(f)/ticksPerSecond) - epochDelta
	return time.Unix(sec, int64(uint64(f)%ticksPerSecond)*100).UTC()
}

// Plausible bounds for a file system time: NTFS appeared in 1993; nothing
// legitimate is stamped before 1980 or after 2100.
var (
	minPlausible = Filetime((315532800 + epochDelta) * ticksPerSecond)  // 1980-01-01
	maxPlausible = Filetime((4102444800 + epochDelta) * ticksPerSecond) // 2100-01-01
)

// OutOfRange reports a time no sane clock would write, zero included: a
// zeroed time is not "unset" on NTFS (the kernel always sets all four), it
// is a time that was wiped or never written by the formatter, and as such
// belongs on the timeline, flagged.
func (f Filetime) OutOfRange() bool { return f < minPlausible || f >= maxPlausible }

// MACB holds the four NTFS times in the order the attributes store them.
type MACB struct {
	Created  Filetime // B
	Modified Filetime // M: content written
	Changed  Filetime // C: MFT entry changed
	Accessed Filetime // A
}

// StdInfo is the $STANDARD_INFORMATION attribute.
type StdInfo struct {
	Times  MACB
	Flags  uint32
	Offset int // of the attribute in the record
	// Ext is the extension record the attribute was read from (through
	// the entry's $ATTRIBUTE_LIST), 0 when it is in the base record:
	// Offset is within that record.
	Ext uint64
}

// FileName is one $FILE_NAME attribute.
type FileName struct {
	ParentEntry uint64
	ParentSeq   uint16
	Times       MACB
	AllocSize   int64
	RealSize    int64
	Flags       uint32
	Space       uint8 // 0 POSIX, 1 Win32, 2 DOS, 3 Win32&DOS
	Name        string
	Offset      int    // of the attribute in the record
	Ext         uint64 // extension record holding it, 0: the base (StdInfo.Ext)
}

// IsDOS says the name is only the 8.3 alias of another name.
func (f *FileName) IsDOS() bool { return f.Space == 2 }

// SpaceName names the namespace as Windows documents it.
func (f *FileName) SpaceName() string {
	switch f.Space {
	case 0:
		return "POSIX"
	case 1:
		return "Win32"
	case 2:
		return "DOS"
	case 3:
		return "Win32&DOS"
	}
	return fmt.Sprintf("namespace-%d", f.Space)
}

// Stream is a $DATA attribute (or a named index: $I30 excluded).
type Stream struct {
	Type     uint32
	Name     string
	ID       uint16
	Size     int64 // real size of the stream
	Resident bool
	StartVCN uint64
	Offset   int
	Ext      uint64 // extension record holding it, 0: the base (StdInfo.Ext)
	// Content is a resident $DATA stream's bytes: a slice of the buffer
	// the record was decoded from (valid as long as that buffer is: for
	// Table.Scan, during the callback), so the walker can serve a small
	// file from the record it already read instead of reading the record
	// again through go-ntfs. nil for anything else.
	Content []byte
}

// ListEntry is one row of an $ATTRIBUTE_LIST.
type ListEntry struct {
	Type     uint32
	ID       uint16
	StartVCN uint64
	Entry    uint64
	Seq      uint16
}

// Record is one decoded MFT entry. Only what the timeline and the walker
// need is decoded; the rest of the attributes are skipped by length.
type Record struct {
	Entry     uint64
	Seq       uint16
	Links     uint16
	Flags     uint16
	LSN       uint64
	BaseEntry uint64 // non-zero for an extension record
	BaseSeq   uint16 // the sequence number of its base reference
	SI        *StdInfo
	Names     []FileName
	Streams   []Stream
	List      []ListEntry
	// ListNonResident says the attribute list lives outside the record,
	// in clusters of the volume that ListRuns (its mapping pairs, a copy)
	// name and ListSize bytes long; ListOffset is the attribute's offset
	// in the record. Table reads it when it has the volume (SetVolume);
	// with only a $MFT at hand it cannot be followed, and the extension
	// records are attributed to this entry where the scan meets them.
	ListNonResident bool
	ListRuns        []byte
	ListSize        int64
	ListOffset      int
	// Extension is non-zero when Table.Scan delivers the attributes of
	// extension record Extension as this entry's (Entry is its base)
	// because the base's $ATTRIBUTE_LIST could not be read or does not
	// name it: they would otherwise be lost.
	Extension uint64
	// listErr is a damaged resident $ATTRIBUTE_LIST: reported once the
	// other attributes are decoded.
	listErr error
	// What SI, Names and Streams point into for a decoded record (one
	// allocation instead of five: a record has one $STANDARD_INFORMATION,
	// one or two names and at most one $DATA on most volumes); more names
	// or streams grow their slice elsewhere as append does.
	si      StdInfo
	names   [2]FileName
	streams [1]Stream
	// decoded: parse got past the header (see parse).
	decoded bool
}

// InUse says the entry is allocated (not deleted).
func (r *Record) InUse() bool { return r.Flags&FlagInUse != 0 }

// IsDir says the entry is a directory.
func (r *Record) IsDir() bool { return r.Flags&FlagDirectory != 0 }

// Inode is the "entry-seq" reference examiners quote.
func (r *Record) Inode() string {
	return string(r.AppendInode(nil))
}

// AppendInode appends the inode (Inode) to b.
func (r *Record) AppendInode(b []byte) []byte {
	b = strconv.AppendUint(b, r.Entry, 10)
	b = append(b, '-')
	return strconv.AppendUint(b, uint64(r.Seq), 10)
}

// LongName is the name a path uses: the first non-DOS name, or the DOS
// name when that is all there is. nil when the entry has no $FILE_NAME.
func (r *Record) LongName() *FileName {
	for i := range r.Names {
		if !r.Names[i].IsDOS() {
			return &r.Names[i]
		}
	}
	if len(r.Names) > 0 {
		return &r.Names[0]
	}
	return nil
}

// Data returns the default (unnamed, first extent) $DATA stream.
func (r *Record) Data() *Stream {
	for i := range r.Streams {
		s := &r.Streams[i]
		if s.Type == AttrData && s.Name == "" && s.StartVCN == 0 {
			return s
		}
	}
	return nil
}

// IsRecord says whether b starts like an MFT record ("FILE", or "BAAD" for
// one that chkdsk marked bad).
func IsRecord(b []byte) bool {
	return len(b) >= 4 && (string(b[:4]) == "FILE" || string(b[:4]) == "BAAD")
}

// RecordSizeOf reads the allocated record size from a record header, or 0
// when it is not a plausible size.
func RecordSizeOf(b []byte) int {
	if len(b) < 32 || string(b[:4]) != "FILE" {
		return 0
	}
	switch n := int(binary.LittleEndian.Uint32(b[28:])); n {
	case 512, 1024, 2048, 4096:
		return n
	}
	return 0
}

// ParseRecord decodes the record in buf (exactly one record, modified in
// place by the fixups). entry is its number, from its position in $MFT:
// the header copy is missing on records written before Windows XP.
// A record of zeros gives ErrNotRecord; damage gives ErrBadRecord.
func ParseRecord(buf []byte, entry uint64) (*Record, error) {
	r := new(Record)
	err := r.parse(buf, entry)
	if !r.decoded {
		return nil, err
	}
	return r, err
}

// parse is ParseRecord into r, whatever r held before (Table.ScanRange
// decodes every record of a scan into one Record). r.decoded says whether
// r holds a record, in part when err is not nil too; ParseRecord's nil.
func (r *Record) parse(buf []byte, entry uint64) error {
	*r = Record{}
	if len(buf) < 48 {
		return fmt.Errorf("%w: %d bytes", ErrBadRecord, len(buf))
	}
	switch string(buf[:4]) {
	case "FILE":
	case "BAAD":
		return fmt.Errorf("%w: marked BAAD", ErrBadRecord)
	default:
		return ErrNotRecord
	}
	le := binary.LittleEndian
	if err := fixup(buf); err != nil {
		return err
	}
	// r is zero (above): the header's fields are set one by one, not by
	// a second literal that zeroed and copied the whole Record again (a
	// few hundred bytes, twice a record: the walker's scan and the mft
	// parser's).
	r.decoded, r.Entry = true, entry
	r.LSN, r.Seq, r.Links, r.Flags = le.Uint64(buf[8:]), le.Uint16(buf[16:]), le.Uint16(buf[18:]), le.Uint16(buf[22:])
	r.BaseEntry, r.BaseSeq = le.Uint64(buf[32:])&0xFFFFFFFFFFFF, le.Uint16(buf[38:])
	used := int(le.Uint32(buf[24:]))
	if used > len(buf) || used < 48 {
		used = len(buf)
	}
	off := int(le.Uint16(buf[20:]))
	for n := 0; off+16 <= used && n < 512; n++ {
		typ := le.Uint32(buf[off:])
		if typ == attrEnd {
			return r.listErr
		}
		alen := int(le.Uint32(buf[off+4:]))
		if alen < 16 || off+alen > used || alen%8 != 0 {
			return fmt.Errorf("%w: attribute 0x%x at %d has length %d", ErrBadRecord, typ, off, alen)
		}
		if err := r.attribute(buf[off:off+alen], off); err != nil {
			return err
		}
		off += alen
	}
	return r.listErr
}

// fixup undoes the update sequence: the last two bytes of every 512-byte
// sector were replaced by a check value when the record was written.
func fixup(buf []byte) error {
	le := binary.LittleEndian
	fo, fc := int(le.Uint16(buf[4:])), int(le.Uint16(buf[6:]))
	if fc == 0 {
		return nil
	}
	if fo+2*fc > len(buf) || (fc-1)*512 > len(buf) || fo < 40 {
		return fmt.Errorf("%w: update sequence at %d, %d entries", ErrBadRecord, fo, fc)
	}
	check := buf[fo : fo+2]
	for i := 1; i < fc; i++ {
		end := i*512 - 2
		if buf[end] != check[0] || buf[end+1] != check[1] {
			return fmt.Errorf("%w: fixup mismatch in sector %d (torn write or damage)", ErrBadRecord, i-1)
		}
		buf[end], buf[end+1] = buf[fo+2*i], buf[fo+2*i+1]
	}
	return nil
}

func (r *Record) attribute(a []byte, off int) error {
	le := binary.LittleEndian
	typ := le.Uint32(a)
	nonResident := a[8] != 0
	var name string
	if a[9] != 0 {
		// Named (an ADS, an index's $I30): most attributes are not, and
		// are not a call.
		var err error
		if name, err = attrName(a); err != nil {
			return fmt.Errorf("%w: attribute 0x%x at %d: %v", ErrBadRecord, typ, off, err)
		}
	}
	id := le.Uint16(a[14:])
	var content []byte
	if !nonResident {
		if len(a) < 24 {
			return fmt.Errorf("%w: resident attribute 0x%x at %d too short", ErrBadRecord, typ, off)
		}
		cs, co := int(le.Uint32(a[16:])), int(le.Uint16(a[20:]))
		if co+cs > len(a) {
			return fmt.Errorf("%w: attribute 0x%x at %d: content %d+%d past its end %d", ErrBadRecord, typ, off, co, cs, len(a))
		}
		content = a[co : co+cs]
	} else if len(a) < 64 {
		return fmt.Errorf("%w: non-resident attribute 0x%x at %d too short", ErrBadRecord, typ, off)
	}
	switch typ {
	case AttrStandardInformation:
		if len(content) < 36 {
			return fmt.Errorf("%w: $STANDARD_INFORMATION at %d too short", ErrBadRecord, off)
		}
		r.si = StdInfo{Times: macb(content), Flags: le.Uint32(content[32:]), Offset: off}
		r.SI = &r.si
	case AttrFileName:
		if len(content) < 66 {
			return fmt.Errorf("%w: $FILE_NAME at %d too short", ErrBadRecord, off)
		}
		n := int(content[64])
		if 66+2*n > len(content) {
			return fmt.Errorf("%w: $FILE_NAME at %d: name of %d characters past the attribute", ErrBadRecord, off, n)
		}
		ref := le.Uint64(content)
		if r.Names == nil {
			r.Names = r.names[:0]
		}
		r.Names = append(r.Names, FileName{
			ParentEntry: ref & 0xFFFFFFFFFFFF,
			ParentSeq:   uint16(ref >> 48),
			Times:       macb(content[8:]),
			AllocSize:   int64(le.Uint64(content[40:])),
			RealSize:    int64(le.Uint64(content[48:])),
			Flags:       le.Uint32(content[56:]),
			Space:       content[65],
			Name:        utf16le(content[66 : 66+2*n]),
			Offset:      off,
		})
	case AttrData, AttrIndexRoot, AttrIndexAllocation:
		if typ != AttrData && name == "$I30" {
			return nil // the directory's own index, not a stream
		}
		s := Stream{Type: typ, Name: name, ID: id, Resident: !nonResident, Offset: off}
		if nonResident {
			s.StartVCN = le.Uint64(a[16:])
			s.Size = int64(le.Uint64(a[48:]))
		} else {
			s.Size = int64(len(content))
			if typ == AttrData {
				s.Content = content
			}
		}
		if typ == AttrIndexAllocation {
			// An index's root and its allocation describe one stream; the
			// root is kept, as fls lists it (type 144).
			for _, o := range r.Streams {
				if o.Type == AttrIndexRoot && o.Name == name {
					return nil
				}
			}
		}
		if r.Streams == nil {
			r.Streams = r.streams[:0]
		}
		r.Streams = append(r.Streams, s)
	case AttrAttributeList:
		r.ListOffset = off
		if nonResident {
			ro := int(le.Uint16(a[32:]))
			if ro < 64 || ro > len(a) {
				return fmt.Errorf("%w: non-resident $ATTRIBUTE_LIST at %d: mapping pairs at %d", ErrBadRecord, off, ro)
			}
			r.ListNonResident = true
			r.ListRuns = append([]byte(nil), a[ro:]...)
			r.ListSize = int64(le.Uint64(a[48:]))
			return nil
		}
		var err error
		if r.List, err = ParseList(content); err != nil && r.listErr == nil {
			r.listErr = fmt.Errorf("%w: $ATTRIBUTE_LIST at %d: %v", ErrBadRecord, off, err)
		}
	}
	return nil
}

// ParseList decodes the rows of an $ATTRIBUTE_LIST's content. A row whose
// length runs past the content or is shorter than a row ends the decoding
// with an error; the rows before it are returned.
func ParseList(b []byte) ([]ListEntry, error) {
	le := binary.LittleEndian
	var out []ListEntry
	at := 0
	for len(b) > 0 {
		if len(b) < 26 {
			return out, fmt.Errorf("row at %d: %d bytes left, a row is at least 26", at, len(b))
		}
		n := int(le.Uint16(b[4:]))
		if n < 26 || n > len(b) {
			return out, fmt.Errorf("row at %d has length %d (%d bytes left)", at, n, len(b))
		}
		ref := le.Uint64(b[16:])
		out = append(out, ListEntry{Type: le.Uint32(b), StartVCN: le.Uint64(b[8:]),
			Entry: ref & 0xFFFFFFFFFFFF, Seq: uint16(ref >> 48), ID: le.Uint16(b[24:])})
		b = b[n:]
		at += n
	}
	return out, nil
}

func attrName(a []byte) (string, error) {
	n, o := int(a[9]), int(binary.LittleEndian.Uint16(a[10:]))
	if n == 0 {
		return "", nil
	}
	if o+2*n > len(a) {
		return "", fmt.Errorf("name of %d characters at %d past the attribute", n, o)
	}
	return utf16le(a[o : o+2*n]), nil
}

func macb(b []byte) MACB {
	le := binary.LittleEndian
	return MACB{Created: Filetime(le.Uint64(b)), Modified: Filetime(le.Uint64(b[8:])),
		Changed: Filetime(le.Uint64(b[16:])), Accessed: Filetime(le.Uint64(b[24:]))}
}

// utf16le decodes a name as utf16.Decode would (an unpaired surrogate
// becomes U+FFFD) straight into UTF-8: the string is its one allocation.
// Going through []uint16 and []rune made three per name, two names per
// file on most volumes, for the walker and again for the mft parser.
// NTFS names are at most 255 units, 765 bytes of UTF-8: the buffer holds
// them on the stack (a longer input, from a damaged attribute name, grows
// it on the heap).
//
// Most names are short and all ASCII: those are packed four units at a
// time into a small buffer (asciiUnits), which spares zeroing the large
// one and the unit-by-unit loop; any other name is decoded from its start
// by that loop.
func utf16le(b []byte) string {
	if n := len(b) / 2; n <= 64 {
		var small [64]byte
		if asciiUnits(small[:n], b) {
			return string(small[:n])
		}
	}
	var stack [768]byte
	out := stack[:0]
	n := len(b) / 2
	for i := 0; i < n; i++ {
		c := rune(binary.LittleEndian.Uint16(b[2*i:]))
		switch {
		case c < utf8.RuneSelf:
			out = append(out, byte(c))
			continue
		case utf16.IsSurrogate(c):
			if i+1 < n {
				if r := utf16.DecodeRune(c, rune(binary.LittleEndian.Uint16(b[2*i+2:]))); r != utf8.RuneError {
					out = utf8.AppendRune(out, r)
					i++
					continue
				}
			}
			c = utf8.RuneError
		}
		out = utf8.AppendRune(out, c)
	}
	return string(out)
}

// asciiUnits writes the len(dst) UTF-16LE units of b to dst as bytes and
// reports true if every one is below U+0080; else it reports false, having
// written some of them. b must hold at least 2*len(dst) bytes. Four units
// are read as one word: a bit of 0xFF80 set in any unit is a unit outside
// ASCII, and the four low bytes are gathered into a 32-bit word.
func asciiUnits(dst, b []byte) bool {
	le := binary.LittleEndian
	i := 0
	for ; i+4 <= len(dst); i += 4 {
		v := le.Uint64(b[2*i:])
		if v&0xff80ff80ff80ff80 != 0 {
			return false
		}
		v = (v | v>>8) & 0x0000ffff0000ffff
		v = v | v>>16
		le.PutUint32(dst[i:], uint32(v))
	}
	for ; i < len(dst); i++ {
		if b[2*i] >= utf8.RuneSelf || b[2*i+1] != 0 {
			return false
		}
		dst[i] = b[2*i]
	}
	return true
}
