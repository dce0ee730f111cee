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

// TestPatchedSeed: the seed is picked modulo the seeds, cut to size (no
// more than its length), and the patch is cut at MaxPatch.
func TestPatchedSeed(t *testing.T) {
	seeds := [][]byte{bytes.Repeat([]byte{'a'}, 300), bytes.Repeat([]byte{'b'}, 10)}
	long := bytes.Repeat([]byte{'p'}, MaxPatch+50)
	for _, tc := range []struct {
		which     uint8
		size, off uint32
		patch     []byte
		want      []byte
	}{
		{0, 1000, 0, nil, seeds[0]},
		{3, 1000, 2, []byte("xy"), []byte("bbxybbbbbb")},
		{2, 5, 3, []byte("xyz"), []byte("aaaxy")},
		{0, 300, 100, long, append(append(bytes.Repeat([]byte{'a'}, 100), long[:MaxPatch]...), bytes.Repeat([]byte{'a'}, 300-100-MaxPatch)...)},
	} {
		r, n := PatchedSeed(seeds, tc.which, tc.size, tc.off, tc.patch)
		got := make([]byte, n)
		if _, err := r.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) || !bytes.Equal(got, tc.want) {
			t.Errorf("PatchedSeed(%d, %d, %d, %d bytes): %q (%v), want %q", tc.which, tc.size, tc.off, len(tc.patch), got, err, tc.want)
		}
		if b := PatchedSeedBytes(seeds, tc.which, tc.size, tc.off, tc.patch); !bytes.Equal(b, tc.want) {
			t.Errorf("PatchedSeedBytes(%d, %d, %d, %d bytes): %q, want %q", tc.which, tc.size, tc.off, len(tc.patch), b, tc.want)
		}
	}
	if !bytes.Equal(seeds[0], bytes.Repeat([]byte{'a'}, 300)) || !bytes.Equal(seeds[1], bytes.Repeat([]byte{'b'}, 10)) {
		t.Error("a patch was written into its seed")
	}
}
