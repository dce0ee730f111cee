package evtx

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unsafe"
)

// appendTime's arithmetic calendar must render every time as
// appendTimeSlow (time.Time's Date and Clock) does: the edges of FILETIME
// and SYSTEMTIME, leap days, times before 1970 and the epoch, and a
// million random FILETIMEs.
func TestAppendTimeMatchesCalendar(t *testing.T) {
	times := []time.Time{
		{}, time.Unix(0, 0).UTC(), time.Unix(-1, 999_999_999).UTC(),
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 2, 29, 23, 59, 59, 1, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 100, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 2, 28, 23, 59, 59, 999_999_999, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_900, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2016, 7, 8, 18, 12, 51, 681_640_800, time.UTC),
		time.Date(2016, 7, 8, 18, 12, 51, 681_640_800, time.FixedZone("x", 3600)),
	}
	fixed := len(times)
	if ft, ok := filetime(math.MaxInt64); ok {
		times = append(times, ft)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		if ft, ok := filetime(r.Uint64N(math.MaxInt64)); ok {
			times = append(times, ft)
		}
	}
	for i, tm := range times {
		digitCounts := []int{3, 7}
		if i < fixed {
			// Every fraction length on the edges (appendTime writes
			// the fraction's digits in pairs).
			digitCounts = []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
		}
		for _, digits := range digitCounts {
			if got, want := string(appendTime(nil, tm, digits)), string(appendTimeSlow(nil, tm, digits)); got != want {
				t.Fatalf("appendTime(%v, %d) = %q, want %q", tm, digits, got, want)
			}
		}
	}
}

// utf16Reference is what utf16String must return: the units up to the
// first NUL, decoded by unicode/utf16.
func utf16Reference(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := uint16(b[i]) | uint16(b[i+1])<<8
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// TestUTF16String puts a NUL, a non-ASCII unit, a unit with only its
// high byte set and an odd trailing byte at every position of strings of
// 0 to 20 units, across the 4-unit steps of the fast path.
func TestUTF16String(t *testing.T) {
	specials := [][2]byte{{0, 0}, {0xe9, 0}, {0x80, 0}, {0x41, 0x01}, {0, 0xd8}, {0x3d, 0xd8}, {0x7f, 0}}
	for n := range 21 {
		base := make([]byte, 2*n)
		for i := range n {
			base[2*i] = byte('a' + i)
		}
		cases := [][]byte{base, append(slices.Clone(base), 'x')}
		for pos := range n {
			for _, sp := range specials {
				b := slices.Clone(base)
				b[2*pos], b[2*pos+1] = sp[0], sp[1]
				cases = append(cases, b)
			}
		}
		for _, b := range cases {
			if got, want := utf16String(b), utf16Reference(b); got != want {
				t.Fatalf("utf16String(% x) = %q, want %q", b, got, want)
			}
		}
	}
}

func FuzzUTF16String(f *testing.F) {
	f.Add([]byte("a\x00b\x00c\x00d\x00e\x00"))
	f.Add([]byte("a\x00\xe9\x00\x3d\xd8\x00\xde\x00\x00z\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := utf16String(b), utf16Reference(b); got != want {
			t.Fatalf("utf16String(% x) = %q, want %q", b, got, want)
		}
	})
}

// TestNeedsFold holds needsFold to strings.ContainsAny on strings of
// every length up to 99 with each folded byte (and a few others) at each
// position.
func TestNeedsFold(t *testing.T) {
	for n := range 100 {
		for _, c := range []byte{'\n', '\r', '\t', ' ', '\v', '\f', 0, 0x8d} {
			for pos := range n {
				b := []byte(strings.Repeat("x", n))
				b[pos] = c
				s := string(b)
				if got, want := needsFold(s), strings.ContainsAny(s, "\r\n\t"); got != want {
					t.Fatalf("needsFold(%q) = %v, want %v", s, got, want)
				}
			}
		}
	}
}

// TestMessageCacheIntern: a repeated line is the slot's string, shared; a
// different line replaces it; and the strings handed out are copies that
// do not change when the builder's buffer is written again.
func TestMessageCacheIntern(t *testing.T) {
	var mc messageCache
	buf := []byte("Microsoft-Windows-Security-Auditing 4672 special privileges assigned to new logon: user=NT AUTHORITY\\SYSTEM")
	a := mc.intern(buf)
	b := mc.intern(buf)
	if a != string(buf) || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("repeated line: %q and %q, shared %v", a, b, unsafe.StringData(a) == unsafe.StringData(b))
	}
	copy(buf, "Provider 1")
	if a != "Microsoft-Windows-Security-Auditing 4672 special privileges assigned to new logon: user=NT AUTHORITY\\SYSTEM" {
		t.Fatalf("interned line changed with the buffer: %q", a)
	}
	if c := mc.intern(buf); c != string(buf) || unsafe.StringData(c) == unsafe.StringData(a) {
		t.Fatalf("changed line: %q", c)
	}
}

// TestMemoLongValue: a substitution's memo keeps a value longer than the
// valueCache does (a privilege list), so the same bytes there again give
// the same string without rendering; one past maxMemoValue is rendered
// each time, and a different value is never the remembered one.
func TestMemoLongValue(t *testing.T) {
	utf16le := func(s string) []byte {
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		return b
	}
	var x expander
	var m memo
	list := strings.Repeat("SeAssignPrimaryTokenPrivilege\r\n\t\t\t", 8)
	v := value{typ: vtString, data: utf16le(list)}
	if len(v.data) <= maxCachedValue || len(v.data) > maxMemoValue {
		t.Fatalf("test value of %d bytes", len(v.data))
	}
	a, b := x.renderAt(&m, v.typ, v.data), x.renderAt(&m, vtString, utf16le(list))
	if a != list || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("long value: %q, again shared %v", a, unsafe.StringData(a) == unsafe.StringData(b))
	}
	other := strings.Replace(list, "Token", "Tokem", 1)
	if c := x.renderAt(&m, vtString, utf16le(other)); c != other {
		t.Fatalf("changed value rendered %q", c)
	}
	huge := value{typ: vtString, data: utf16le(strings.Repeat("x", maxMemoValue))}
	if c, d := x.renderAt(&m, huge.typ, huge.data), x.renderAt(&m, huge.typ, huge.data); c != d || unsafe.StringData(c) == unsafe.StringData(d) {
		t.Fatalf("value past maxMemoValue remembered")
	}
}

// BenchmarkAppendTime renders a record's TimeCreated as render does.
func BenchmarkAppendTime(b *testing.B) {
	tm := time.Date(2016, 7, 8, 18, 12, 51, 681640800, time.UTC)
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = appendTime(buf[:0], tm, 7)
	}
}

// TestFreshInts holds valueCache.fresh, which carves integer texts from
// shared blocks, to render for every integer type at its edges and at
// random, with too few bytes, and with more bytes than the type's; every
// text handed out must still read the same after thousands more.
func TestFreshInts(t *testing.T) {
	var vc valueCache
	types := []byte{vtInt8, vtUint8, vtInt16, vtUint16, vtInt32, vtUint32, vtInt64, vtUint64, vtHexInt32, vtHexInt64, vtReal32, vtBool, vtGUID}
	type kept struct {
		s, want string
	}
	var all []kept
	rnd := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < 20000; i++ {
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		var b [17]byte
		switch i % 4 {
		case 0:
			binary.LittleEndian.PutUint64(b[:], rnd)
		case 1:
			binary.LittleEndian.PutUint64(b[:], ^uint64(0)>>(rnd%64))
		case 2:
			binary.LittleEndian.PutUint64(b[:], uint64(1)<<(rnd%64))
		}
		binary.LittleEndian.PutUint64(b[8:], rnd*31)
		typ := types[i%len(types)]
		n := int(rnd>>40) % len(b)
		s := vc.fresh(typ, b[:n])
		want := render(value{typ: typ, data: b[:n]})
		if s != want {
			t.Fatalf("fresh(0x%02x, % x) = %q, want %q", typ, b[:n], s, want)
		}
		all = append(all, kept{s, want})
	}
	for _, k := range all {
		if k.s != k.want {
			t.Fatalf("a text changed: %q, want %q", k.s, k.want)
		}
	}
}

// TestRenderAtVolatile runs one substitution's memo through integers new
// at every record (which it then renders without the caches), the same
// one again and again, and back, each text checked against render.
func TestRenderAtVolatile(t *testing.T) {
	var x expander
	var m memo
	for i := 0; i < 2000; i++ {
		v := uint64(i)
		if i >= 700 && i < 1200 {
			v = 42 // settles: the memo must serve it again
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v*0x10001)
		for _, typ := range []byte{vtUint64, vtHexInt64} {
			if got, want := x.renderAt(&m, typ, b[:]), render(value{typ: typ, data: b[:]}); got != want {
				t.Fatalf("value %d type 0x%02x: %q, want %q", i, typ, got, want)
			}
		}
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], 7)
	for i := 0; i < 300; i++ {
		if got := x.renderAt(&m, vtUint32, b[:]); got != "7" {
			t.Fatalf("%q, want 7", got)
		}
	}
	if !m.set || m.s != "7" {
		t.Errorf("memo %+v does not hold the settled value", m)
	}
}
