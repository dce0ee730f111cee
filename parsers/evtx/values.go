package evtx

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/jejak-forensics/jejak/internal/civil"
	"github.com/jejak-forensics/jejak/internal/digits"
)

// BinXML value types (MS-EVEN6 2.2.19 / libfwevt's value types). The array
// flag 0x80 marks a packed array of the base type.
const (
	vtNull      = 0x00
	vtString    = 0x01
	vtAnsi      = 0x02
	vtInt8      = 0x03
	vtUint8     = 0x04
	vtInt16     = 0x05
	vtUint16    = 0x06
	vtInt32     = 0x07
	vtUint32    = 0x08
	vtInt64     = 0x09
	vtUint64    = 0x0a
	vtReal32    = 0x0b
	vtReal64    = 0x0c
	vtBool      = 0x0d
	vtBinary    = 0x0e
	vtGUID      = 0x0f
	vtSizeT     = 0x10
	vtFiletime  = 0x11
	vtSystime   = 0x12
	vtSID       = 0x13
	vtHexInt32  = 0x14
	vtHexInt64  = 0x15
	vtEvtHandle = 0x20
	vtBinXML    = 0x21
	vtEvtXML    = 0x23
	vtArray     = 0x80
)

// value is one substitution value to render: its type and its bytes.
type value struct {
	typ  byte
	data []byte
}

// rawValue is one substitution value of a template instance as the
// decoder keeps it: its type and where its bytes are in the chunk
// (chunk.buf[off:off+n]). It holds no pointer: filling ~15 of them a
// record, a value with its bytes as a slice took a write-barrier check,
// the slice's capacity and the registers the barrier's path spilled,
// about 45 instructions each, three times what this takes.
type rawValue struct {
	off uint32
	n   uint16
	typ byte
}

func (v rawValue) empty() bool { return v.typ == vtNull || v.n == 0 }

// utf16String decodes little-endian UTF-16, stopping at the first NUL.
// Event logs are overwhelmingly ASCII: that case is copied 8 code units
// (16 bytes), then 4, at a time into the string's own bytes, in one pass;
// the first unit that is not ASCII sends the whole string to utf16Slow.
func utf16String(b []byte) string {
	n := len(b) / 2
	if n == 0 {
		return ""
	}
	out := make([]byte, n)
	i := 0
	// Two words a step (long values: command lines, privilege lists,
	// paths); a word with a unit >= 0x80 or a NUL leaves the rest to the
	// 4-unit loop, which finds it again.
	for ; i+8 <= n; i += 8 {
		w0 := binary.LittleEndian.Uint64(b[2*i:])
		w1 := binary.LittleEndian.Uint64(b[2*i+8:])
		if (w0|w1)&0xff80ff80ff80ff80 != 0 ||
			((w0-0x0001000100010001)&^w0|(w1-0x0001000100010001)&^w1)&0x8000800080008000 != 0 {
			break
		}
		w0 = (w0 | w0>>8) & 0x0000ffff0000ffff
		w0 = (w0 | w0>>16) & 0xffffffff
		w1 = (w1 | w1>>8) & 0x0000ffff0000ffff
		w1 = (w1 | w1>>16) & 0xffffffff
		binary.LittleEndian.PutUint64(out[i:], w0|w1<<32)
	}
	for ; i+4 <= n; i += 4 {
		w := binary.LittleEndian.Uint64(b[2*i:])
		// A unit >= 0x80 (high byte set or low byte >= 0x80), or a NUL.
		if w&0xff80ff80ff80ff80 != 0 || (w-0x0001000100010001)&^w&0x8000800080008000 != 0 {
			break
		}
		// The low bytes of the four units, packed.
		w &= 0x00ff00ff00ff00ff
		w = (w | w>>8) & 0x0000ffff0000ffff
		w = (w | w>>16) & 0xffffffff
		binary.LittleEndian.PutUint32(out[i:], uint32(w))
	}
	for ; i < n; i++ {
		lo, hi := b[2*i], b[2*i+1]
		if hi != 0 || lo >= 0x80 {
			return utf16Slow(b)
		}
		if lo == 0 {
			break
		}
		out[i] = lo
	}
	if i == 0 {
		return ""
	}
	// out is never written again: the string may share its bytes, as
	// strings.Builder's does.
	return unsafe.String(&out[0], i)
}

// utf16Slow is utf16String for text that is not all ASCII.
func utf16Slow(b []byte) string {
	n := len(b) / 2
	end := n
	for i := 0; i < n; i++ {
		if b[2*i] == 0 && b[2*i+1] == 0 {
			end = i
			break
		}
	}
	u := make([]uint16, end)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// ansiString reads a codepage string. Windows writes these as windows-1252 in
// practice; bytes above 0x7f are kept as the Latin-1 rune of the same value,
// which is exact for all but 27 rarely used code points.
func ansiString(b []byte) string {
	if i := indexByte0(b); i >= 0 {
		b = b[:i]
	}
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(rune(c))
	}
	return sb.String()
}

func indexByte0(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

const hexUpper = "0123456789ABCDEF"

func hexString(b []byte) string {
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i] = hexUpper[c>>4]
		out[2*i+1] = hexUpper[c&15]
	}
	return string(out)
}

func guidString(b []byte) string {
	if len(b) < 16 {
		return hexString(b)
	}
	var out [38]byte
	out[0] = '{'
	pos := 1
	put := func(c byte) {
		out[pos] = hexUpper[c>>4]
		out[pos+1] = hexUpper[c&15]
		pos += 2
	}
	for _, i := range []int{3, 2, 1, 0} {
		put(b[i])
	}
	out[pos] = '-'
	pos++
	put(b[5])
	put(b[4])
	out[pos] = '-'
	pos++
	put(b[7])
	put(b[6])
	out[pos] = '-'
	pos++
	put(b[8])
	put(b[9])
	out[pos] = '-'
	pos++
	for i := 10; i < 16; i++ {
		put(b[i])
	}
	out[pos] = '}'
	return string(out[:])
}

func sidString(b []byte) string {
	if len(b) < 8 {
		return hexString(b)
	}
	n := int(b[1])
	if len(b) < 8+4*n {
		return hexString(b)
	}
	var auth uint64
	for _, c := range b[2:8] {
		auth = auth<<8 | uint64(c)
	}
	out := make([]byte, 0, 16+11*n)
	out = append(out, "S-"...)
	out = strconv.AppendUint(out, uint64(b[0]), 10)
	out = append(out, '-')
	out = strconv.AppendUint(out, auth, 10)
	for i := 0; i < n; i++ {
		out = append(out, '-')
		out = strconv.AppendUint(out, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return string(out)
}

// filetimeEpochDelta is 1601-01-01 to 1970-01-01 in 100 ns ticks.
const filetimeEpochDelta = 116444736000000000

// filetime converts a FILETIME; ok is false for 0 (never set).
func filetime(ft uint64) (time.Time, bool) {
	if ft == 0 {
		return time.Time{}, false
	}
	d := int64(ft) - filetimeEpochDelta
	if ft > math.MaxInt64 {
		return time.Time{}, false
	}
	return time.Unix(d/1e7, (d%1e7)*100).UTC(), true
}

// appendTime renders a time the way Windows renders SystemTime attributes
// (RFC 3339, UTC, 7 fraction digits for FILETIME precision). Every record
// renders two (its TimeCreated and its written time), so a UTC time of
// years 0-9999 is rendered from its Unix seconds by integer arithmetic
// (internal/civil) rather than by time.Time's Date and Clock; any other
// time the general way (appendTimeSlow).
func appendTime(out []byte, t time.Time, places int) []byte {
	if t.Location() != time.UTC || places < 1 || places > 9 {
		return appendTimeSlow(out, t, places)
	}
	y, m, d, sod := civil.Split(t.Unix())
	if y < 0 || y > 9999 {
		return appendTimeSlow(out, t, places)
	}
	// Written into place in one array, in unsigned arithmetic, two
	// digits at a time from a table, and appended once (once for every
	// record; see BenchmarkAppendTime).
	var b [30]byte
	two := func(i int, v uint64) {
		b[i], b[i+1] = digits.Pairs[2*v], digits.Pairs[2*v+1]
	}
	uy, usod := uint64(y), uint64(sod)
	two(0, uy/100)
	two(2, uy%100)
	b[4] = '-'
	two(5, uint64(m))
	b[7] = '-'
	two(8, uint64(d))
	b[10] = 'T'
	two(11, usod/3600)
	b[13] = ':'
	two(14, usod/60%60)
	b[16] = ':'
	two(17, usod%60)
	b[19] = '.'
	frac := uint64(t.Nanosecond())
	for i := 9; i > places; i-- {
		frac /= 10
	}
	i := 19 + places // the last digit
	for ; i > 20; i -= 2 {
		two(i-1, frac%100)
		frac /= 100
	}
	if i == 20 {
		b[20] = byte('0' + frac)
	}
	b[20+places] = 'Z'
	return append(out, b[:21+places]...)
}

// appendTimeSlow is appendTime by time.Time's calendar.
func appendTimeSlow(out []byte, t time.Time, digits int) []byte {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	out = appendPad(out, y, 4)
	out = append(out, '-')
	out = appendPad(out, int(mo), 2)
	out = append(out, '-')
	out = appendPad(out, d, 2)
	out = append(out, 'T')
	out = appendPad(out, h, 2)
	out = append(out, ':')
	out = appendPad(out, mi, 2)
	out = append(out, ':')
	out = appendPad(out, s, 2)
	out = append(out, '.')
	frac := t.Nanosecond()
	for i := 9; i > digits; i-- {
		frac /= 10
	}
	out = appendPad(out, frac, digits)
	return append(out, 'Z')
}

func appendPad(out []byte, v, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendInt(tmp[:0], int64(v), 10)
	for i := len(s); i < width; i++ {
		out = append(out, '0')
	}
	return append(out, s...)
}

func systemtime(b []byte) (time.Time, bool) {
	if len(b) < 16 {
		return time.Time{}, false
	}
	u := func(i int) int { return int(binary.LittleEndian.Uint16(b[2*i:])) }
	y, mo, d := u(0), u(1), u(3)
	if y == 0 && mo == 0 && d == 0 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, u(4), u(5), u(6), u(7)*1e6, time.UTC), true
}

// fixedSize is the size of one element of a fixed-size type, 0 otherwise.
func fixedSize(t byte) int {
	switch t {
	case vtInt8, vtUint8:
		return 1
	case vtInt16, vtUint16:
		return 2
	case vtInt32, vtUint32, vtReal32, vtBool, vtHexInt32:
		return 4
	case vtInt64, vtUint64, vtReal64, vtFiletime, vtHexInt64:
		return 8
	case vtGUID, vtSystime:
		return 16
	}
	return 0
}

// render turns a substitution value into the text Windows' own XML
// rendering shows for it.
func render(v value) string {
	b := v.data
	if v.typ&vtArray != 0 {
		return renderArray(v)
	}
	switch v.typ {
	case vtNull:
		return ""
	case vtString:
		return utf16String(b)
	case vtAnsi:
		return ansiString(b)
	case vtBinary, vtEvtHandle, vtEvtXML:
		return hexString(b)
	case vtGUID:
		return guidString(b)
	case vtSID:
		return sidString(b)
	case vtSizeT:
		switch len(b) {
		case 4:
			return "0x" + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(b)), 16)
		case 8:
			return "0x" + strconv.FormatUint(binary.LittleEndian.Uint64(b), 16)
		}
		return hexString(b)
	}
	if fs := fixedSize(v.typ); fs == 0 || len(b) < fs {
		return hexString(b)
	}
	var nb [maxIntText]byte
	if out, ok := appendInt(nb[:0], v.typ, b); ok {
		return string(out)
	}
	switch v.typ {
	case vtReal32:
		return strconv.FormatFloat(float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 'g', -1, 32)
	case vtReal64:
		return strconv.FormatFloat(math.Float64frombits(binary.LittleEndian.Uint64(b)), 'g', -1, 64)
	case vtBool:
		if binary.LittleEndian.Uint32(b) != 0 {
			return "true"
		}
		return "false"
	case vtFiletime:
		t, ok := filetime(binary.LittleEndian.Uint64(b))
		if !ok {
			return ""
		}
		return string(appendTime(make([]byte, 0, 28), t, 7))
	case vtSystime:
		t, ok := systemtime(b)
		if !ok {
			return ""
		}
		return string(appendTime(make([]byte, 0, 28), t, 3))
	}
	return hexString(b)
}

// maxIntText is the longest text appendInt gives: "-9223372036854775808".
const maxIntText = 24

// appendInt appends the text render gives an integer value (types vtInt8
// to vtUint64, vtHexInt32 and vtHexInt64) to dst; ok is false for any
// other type, or too few bytes for the type (dst is then as it was).
func appendInt(dst []byte, typ byte, b []byte) (_ []byte, ok bool) {
	if fs := fixedSize(typ); fs == 0 || len(b) < fs {
		return dst, false
	}
	switch typ {
	case vtInt8:
		return strconv.AppendInt(dst, int64(int8(b[0])), 10), true
	case vtUint8:
		return strconv.AppendUint(dst, uint64(b[0]), 10), true
	case vtInt16:
		return strconv.AppendInt(dst, int64(int16(binary.LittleEndian.Uint16(b))), 10), true
	case vtUint16:
		return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint16(b)), 10), true
	case vtInt32:
		return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(b))), 10), true
	case vtUint32:
		return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10), true
	case vtInt64:
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(b)), 10), true
	case vtUint64:
		return strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10), true
	case vtHexInt32:
		return strconv.AppendUint(append(dst, "0x"...), uint64(binary.LittleEndian.Uint32(b)), 16), true
	case vtHexInt64:
		return strconv.AppendUint(append(dst, "0x"...), binary.LittleEndian.Uint64(b), 16), true
	}
	return dst, false
}

// renderArray joins the elements of an array value with ", ", which keeps a
// flat event_data map readable; string arrays are NUL separated UTF-16.
func renderArray(v value) string {
	base := v.typ &^ vtArray
	var parts []string
	switch base {
	case vtString:
		s := v.data
		for len(s) >= 2 {
			i := 0
			for i+1 < len(s) && (s[i] != 0 || s[i+1] != 0) {
				i += 2
			}
			parts = append(parts, utf16String(s[:i]))
			s = s[min(i+2, len(s)):]
		}
	case vtAnsi:
		for _, p := range strings.Split(string(v.data), "\x00") {
			if p != "" {
				parts = append(parts, ansiString([]byte(p)))
			}
		}
	default:
		fs := fixedSize(base)
		if fs == 0 {
			return hexString(v.data)
		}
		for i := 0; i+fs <= len(v.data); i += fs {
			parts = append(parts, render(value{typ: base, data: v.data[i : i+fs]}))
		}
	}
	return strings.Join(parts, ", ")
}
