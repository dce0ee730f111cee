package fstest

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestPatched reads every window of a patched buffer and compares it
// with a clone patched by copy, for patches inside, across the end and
// past the end of the base, and empty ones.
func TestPatched(t *testing.T) {
	base := make([]byte, 64)
	for i := range base {
		base[i] = byte(i)
	}
	for _, tc := range []struct {
		name  string
		off   uint32
		patch []byte
	}{
		{"none", 0, nil},
		{"start", 0, []byte{0xa0, 0xa1, 0xa2}},
		{"middle", 30, []byte{0xb0, 0xb1, 0xb2, 0xb3, 0xb4}},
		{"across-end", 62, []byte{0xc0, 0xc1, 0xc2, 0xc3}},
		{"at-end", 64, []byte{0xd0}},
		{"past-end", 1 << 31, []byte{0xe0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := bytes.Clone(base)
			if int(tc.off) < len(want) {
				copy(want[tc.off:], tc.patch)
			}
			wr, got := bytes.NewReader(want), Patched(base, tc.off, tc.patch)
			for off := int64(-1); off <= 66; off++ {
				for size := 0; size <= 70; size += 7 {
					wb, gb := make([]byte, size), make([]byte, size)
					wn, werr := wr.ReadAt(wb, off)
					gn, gerr := got.ReadAt(gb, off)
					if gn != wn || !bytes.Equal(gb[:gn], wb[:wn]) || (werr == nil) != (gerr == nil) || errors.Is(werr, io.EOF) != errors.Is(gerr, io.EOF) {
						t.Fatalf("ReadAt(%d bytes, %d): %d %x %v, bytes.Reader %d %x %v", size, off, gn, gb[:gn], gerr, wn, wb[:wn], werr)
					}
				}
			}
			if !bytes.Equal(base, func() []byte {
				b := make([]byte, 64)
				for i := range b {
					b[i] = byte(i)
				}
				return b
			}()) {
				t.Fatal("Patched wrote into its base")
			}
		})
	}
}
