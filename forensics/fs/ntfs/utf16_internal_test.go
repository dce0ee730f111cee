package ntfs

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"
)

// decodeRef is what utf16le replaced: utf16.Decode through []uint16.
func decodeRef(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func units(us ...uint16) []byte {
	b := make([]byte, 2*len(us))
	for i, u := range us {
		binary.LittleEndian.PutUint16(b[2*i:], u)
	}
	return b
}

// TestUTF16LE checks utf16le against utf16.Decode: ASCII, other planes,
// surrogate pairs, unpaired and reversed surrogates (U+FFFD each, the next
// unit kept), an odd trailing byte and a name longer than NTFS allows.
func TestUTF16LE(t *testing.T) {
	long := make([]uint16, 600)
	for i := range long {
		long[i] = 0x4e00 + uint16(i) // 3 UTF-8 bytes each: past the stack buffer
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"ascii", units('$', 'M', 'F', 'T'), "$MFT"},
		{"latin and cjk", units('c', 0xe9, 0x4e2d), "c\u00e9\u4e2d"},
		{"pair", units('a', 0xd83d, 0xde00, 'b'), "a\U0001F600b"},
		{"lone high then ascii", units(0xd83d, 'x'), "\ufffdx"},
		{"lone high at end", units('x', 0xd83d), "x\ufffd"},
		{"lone low", units(0xde00, 'y'), "\ufffdy"},
		{"reversed pair", units(0xde00, 0xd83d), "\ufffd\ufffd"},
		{"high high low", units(0xd83d, 0xd83d, 0xde00), "\ufffd\U0001F600"},
		{"odd byte", append(units('o', 'k'), 0x41), "ok"},
		{"nul and controls", units(0, 0x1b, 0x7f), "\x00\x1b\x7f"},
		{"long", units(long...), decodeRef(units(long...))},
	}
	for _, c := range cases {
		if got := utf16le(c.in); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		if ref := decodeRef(c.in); ref != c.want {
			t.Errorf("%s: utf16.Decode gives %q, the table says %q", c.name, ref, c.want)
		}
	}
}

// FuzzUTF16LE checks utf16le against utf16.Decode on any bytes.
func FuzzUTF16LE(f *testing.F) {
	f.Add(units('a', 0xd83d, 0xde00))
	f.Add(units(0xde00, 0xd83d, 'z'))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := utf16le(b), decodeRef(b); got != want {
			t.Fatalf("utf16le(%x) = %q, utf16.Decode gives %q", b, got, want)
		}
	})
}

// BenchmarkUTF16LE decodes a typical file name.
func BenchmarkUTF16LE(b *testing.B) {
	in := units([]uint16{'f', 'i', 'l', 'e', '_', '0', '0', '1', '2', '3', '4', '.', 't', 'x', 't'}...)
	b.ReportAllocs()
	for b.Loop() {
		utf16le(in)
	}
}

// TestUTF16LEShort checks the all-ASCII path (asciiUnits) against
// utf16.Decode: ASCII names of every length the small buffer takes and
// past it, and each with one unit that is not ASCII, in its low byte, its
// high byte or both, a surrogate, at every place (a word of four units or
// the tail), with and without an odd trailing byte.
func TestUTF16LEShort(t *testing.T) {
	odd := []uint16{0x80, 0xff, 0x100, 0x141, 0x4100, 0x7f00, 0x8041, 0xd83d, 0xde00, 0xffff}
	checked := 0
	for n := 0; n <= 70; n++ {
		name := make([]uint16, n)
		for i := range name {
			name[i] = uint16("az09.$_~\x00\x7fAZ"[i%12])
		}
		for at := -1; at < n; at++ {
			for _, u := range odd {
				in := append([]uint16(nil), name...)
				if at >= 0 {
					in[at] = u
				}
				for _, tail := range [][]byte{nil, {0x41}} {
					b := append(units(in...), tail...)
					if got, want := utf16le(b), decodeRef(b); got != want {
						t.Fatalf("utf16le(%x) = %q, utf16.Decode gives %q", b, got, want)
					}
					checked++
				}
				if at < 0 {
					break
				}
			}
		}
	}
	if checked < 20000 {
		t.Fatalf("only %d names checked", checked)
	}
}
