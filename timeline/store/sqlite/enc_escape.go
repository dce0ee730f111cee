package sqlite

import "math/bits"

// firstEscapeWords is firstEscape 8 bytes at a time, in Go: the version
// for other architectures, and what the tests hold the assembly to.
// s is at least 8 bytes long.
func firstEscapeWords(s string) int {
	n := len(s)
	i := 0
	for ; i+8 <= n; i += 8 {
		if m := needsEscape(load64(s, i)); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	if i < n {
		// The last word overlaps the one before, whose bytes are plain.
		if m := needsEscape(load64(s, n-8)); m != 0 {
			return n - 8 + bits.TrailingZeros64(m)>>3
		}
	}
	return n
}
