//go:build !purego

package sqlite

// firstEscape returns the index of the first byte of s that appendString
// does not copy as it is (see needsEscape), or len(s) when there is none.
// s must be at least 16 bytes long. It checks 16 bytes at a time with
// SSE2 (part of amd64's baseline): about 1.3 instructions a byte, where
// the word-at-a-time needsEscape loop took 4.5 (its eight 64-bit
// constants are loaded again in every iteration).
//
//go:noescape
func firstEscape(s string) int
