// Package fold answers questions about strings.ToLower(s) without building
// it: parsers test the name of every file they are offered against a
// lower-case word, and ToLower allocates a new string for each name that
// holds an upper-case letter ("NTUSER.DAT", "Security.evtx"), which real
// Windows images are full of.
//
// Each function gives exactly the answer of its ToLower form, for every s
// and lit. An ASCII s lowers byte by byte to ASCII, and is answered so,
// without allocating. Any other s is answered by the ToLower form itself:
// runes outside ASCII may lower to ASCII (U+0130 to 'i', the Kelvin sign
// to 'k'), to other widths, and invalid bytes to U+FFFD, and such names
// are rare enough that their allocation does not matter.
package fold

import (
	"strings"
	"unicode/utf8"
)

// IsASCII says whether every byte of s is ASCII.
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerIs says whether the ASCII s lowers to lit. An upper-case or
// non-ASCII byte of lit never matches, as in ToLower(s).
func lowerIs(s, lit string) bool {
	if len(s) != len(lit) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lit[i] {
			return false
		}
	}
	return true
}

// Equal reports strings.ToLower(s) == lit.
func Equal(s, lit string) bool {
	if !IsASCII(s) {
		return strings.ToLower(s) == lit
	}
	return lowerIs(s, lit)
}

// HasPrefix reports strings.HasPrefix(strings.ToLower(s), lit).
func HasPrefix(s, lit string) bool {
	if !IsASCII(s) {
		return strings.HasPrefix(strings.ToLower(s), lit)
	}
	return len(s) >= len(lit) && lowerIs(s[:len(lit)], lit)
}

// HasSuffix reports strings.HasSuffix(strings.ToLower(s), lit).
func HasSuffix(s, lit string) bool {
	if !IsASCII(s) {
		return strings.HasSuffix(strings.ToLower(s), lit)
	}
	return len(s) >= len(lit) && lowerIs(s[len(s)-len(lit):], lit)
}

// Contains reports strings.Contains(strings.ToLower(s), lit).
func Contains(s, lit string) bool {
	if !IsASCII(s) {
		return strings.Contains(strings.ToLower(s), lit)
	}
	for i := 0; i+len(lit) <= len(s); i++ {
		if lowerIs(s[i:i+len(lit)], lit) {
			return true
		}
	}
	return false
}

// ContainsASCII reports whether s holds lit byte by byte, an ASCII
// upper-case letter of s standing for its lower-case form: for any s, and
// without the ToLower form even when s is not ASCII, it is
// Contains(s, lit) for every lit that holds no upper-case ASCII letter
// and none of 'i', 'k' or a byte outside ASCII.
//
// Why: strings.ToLower keeps an ASCII byte an ASCII byte, lowered, and
// turns every rune outside ASCII, and every invalid byte (U+FFFD), into
// bytes outside ASCII, but for two runes: U+0130 lowers to 'i' and the
// Kelvin sign U+212A to 'k' (TestOnlyTwoRunesLowerToASCII). So a lit of
// other ASCII bytes is found in ToLower(s) exactly where it is found in
// the ASCII bytes of s, folded. A name test can ask it first for a part
// of its word without 'i' or 'k' ("story" of "history"): a false answer
// is the answer of Contains for the whole word, at the cost of one pass
// over s with no ASCII check.
func ContainsASCII(s, lit string) bool {
	n := len(lit)
	if n == 0 {
		return true
	}
	// A place lit may end in s is a byte that is lit's last, or its
	// upper-case form: for a letter, setting bit 0x20 (mask) turns 'P'
	// into 'p' and no other byte into 'p'. Most names hold no such byte:
	// eight bytes at a time say so (hasByte) before any is looked at.
	last, mask := lit[n-1], byte(0)
	if 'a' <= last && last <= 'z' {
		mask = 'a' - 'A'
	}
	if len(s) >= 8 && !hasByte(s, last, mask) {
		return false
	}
	for i := n - 1; i < len(s); i++ {
		if s[i]|mask == last && lowerIs(s[i-n+1:i], lit[:n-1]) {
			return true
		}
	}
	return false
}

// hasByte reports whether a byte of s, with mask set, is c; s must hold
// at least eight bytes. It reads s eight bytes to a word, the last word
// ending at the end of s (overlapping the one before it), and finds a
// byte equal to c as a zero byte of the word xor c in every byte: the
// high bit of (x - 0x01...) &^ x is set in some byte exactly when x has a
// zero byte.
func hasByte(s string, c, mask byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	m, want := uint64(mask)*ones, uint64(c)*ones
	for i := 0; ; i += 8 {
		if i > len(s)-8 {
			i = len(s) - 8
		}
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if x := (w | m) ^ want; (x-ones)&^x&highs != 0 {
			return true
		}
		if i == len(s)-8 {
			return false
		}
	}
}
