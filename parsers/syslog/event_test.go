package syslog

import (
	"strconv"
	"testing"
	"unsafe"
)

func TestParsePID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int64
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"4242", 4242, true},
		{"007", 7, true},
		{"123456789012345678", 123456789012345678, true},
		{"9223372036854775807", 9223372036854775807, true}, // 19 digits: strconv's
		{"9223372036854775808", 9223372036854775807, false},
		{"+12", 12, true},
		{"-12", -12, true},
		{"12a", 0, false},
		{" 12", 0, false},
		{"sshd", 0, false},
	} {
		got, ok := parsePID(tc.s)
		ref, err := strconv.ParseInt(tc.s, 10, 64)
		if got != tc.want || ok != tc.ok || got != ref || ok != (err == nil) {
			t.Errorf("parsePID(%q) = %d, %v; want %d, %v (strconv %d, %v)", tc.s, got, ok, tc.want, tc.ok, ref, err)
		}
	}
}

func FuzzParsePID(f *testing.F) {
	for _, s := range []string{"", "1", "4242", "+1", "-0", "99999999999999999999", "12 ", "١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parsePID(s)
		ref, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil) || ok && got != ref {
			t.Errorf("parsePID(%q) = %d, %v; strconv %d, %v", s, got, ok, ref, err)
		}
	})
}

// TestSlabFitsSizeClass: a slab of blocks is the most that stays in the
// allocator's largest small size class (see slabBlocks), so a change of
// the event model that grows a block is noticed here.
func TestSlabFitsSizeClass(t *testing.T) {
	const largestSmall = 32 << 10
	size := unsafe.Sizeof(block{})
	if n := size * slabBlocks; n > largestSmall {
		t.Errorf("%d blocks of %d bytes are %d bytes, past the small size classes (%d)", slabBlocks, size, n, largestSmall)
	}
	if n := size * (slabBlocks + 1); n <= largestSmall {
		t.Errorf("%d blocks of %d bytes would still fit %d bytes: slabBlocks can be %d", slabBlocks+1, size, largestSmall, largestSmall/size)
	}
}
