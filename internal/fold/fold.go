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
