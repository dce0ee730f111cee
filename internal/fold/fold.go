// Package fold answers questions about strings.ToLower(s) without building
// it: parsers test the name of every file they are offered against a
// lower-case word, and ToLower allocates a new string for each name that
// holds an upper-case letter ("NTUSER.DAT", "Security.evtx"), which real
// Windows images are full of.
//
// Each function gives exactly the answer of its ToLower form for every s
// and lit, Unicode and invalid UTF-8 included. The lower-cased string is
// read as a sequence of pieces, one per rune of s (one per byte for an
// invalid byte, which ToLower turns into U+FFFD). A piece is either one
// ASCII byte or a run of bytes >= 0x80 (no UTF-8 encoding of a rune >=
// 0x80 holds an ASCII byte), so a literal made of ASCII bytes can match
// only whole ASCII pieces. An ASCII byte of s is its own piece, lowered;
// of the other runes only U+0130 ('İ' -> 'i') and U+212A (Kelvin sign ->
// 'k') lower to ASCII (TestOnlyTwoRunesLowerToASCII), and piece reads
// them that way. A literal holding a byte >= 0x80 or an upper-case ASCII
// letter is answered by the ToLower form itself: no caller passes one.
package fold

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// other stands for a piece of non-ASCII bytes; no literal byte equals it.
const other = 0x80

// piece reads the piece of ToLower(s) that the rune at s[i] becomes: its
// byte when it is ASCII, other when not, and the width of the rune in s.
func piece(s string, i int) (byte, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		return c, 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	// An invalid byte (RuneError, width 1) becomes U+FFFD: not ASCII.
	if l := unicode.ToLower(r); l < utf8.RuneSelf && !(r == utf8.RuneError && n == 1) {
		return byte(l), n
	}
	return other, n
}

// plain says whether lit can be matched piece by piece: ASCII with no
// upper-case letter.
func plain(lit string) bool {
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// matchAt matches lit against the pieces of s from byte i on and returns
// the byte of s just past the match.
func matchAt(s string, i int, lit string) (int, bool) {
	for j := 0; j < len(lit); j++ {
		if i >= len(s) {
			return 0, false
		}
		c, n := piece(s, i)
		if c != lit[j] {
			return 0, false
		}
		i += n
	}
	return i, true
}

// lower maps a byte to its lower case when ASCII and to other when not.
var lower = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		switch {
		case 'A' <= i && i <= 'Z':
			t[i] += 'a' - 'A'
		case i >= utf8.RuneSelf:
			t[i] = other
		}
	}
	return t
}()

// Contains reports strings.Contains(strings.ToLower(s), lit).
func Contains(s, lit string) bool {
	if strings.Contains(s, lit) {
		// Bytes of a plain lit are ASCII pieces left as they are.
		return plain(lit) || strings.Contains(strings.ToLower(s), lit)
	}
	ascii, upper := shape(s)
	switch {
	case ascii && !upper:
		// ToLower(s) is s: the common case costs what it did.
		return false
	case !plain(lit):
		return strings.Contains(strings.ToLower(s), lit)
	case ascii:
		// One byte, one piece: no decoding.
		c0 := lit[0]
	next:
		for i := 0; i+len(lit) <= len(s); i++ {
			if lower[s[i]] != c0 {
				continue
			}
			for j := 1; j < len(lit); j++ {
				if lower[s[i+j]] != lit[j] {
					continue next
				}
			}
			return true
		}
		return false
	}
	for i := 0; i < len(s); {
		if _, ok := matchAt(s, i, lit); ok {
			return true
		}
		_, n := piece(s, i)
		i += n
	}
	return false
}

// shape says whether s is ASCII and whether it holds an upper-case letter.
func shape(s string) (ascii, upper bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return false, upper
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	return true, upper
}

// differs says, for any lit, that ToLower(s) and lit differ in the byte
// where s has the ASCII byte c: an ASCII byte is a piece of its own, so
// it gives the first (or last) byte of ToLower(s) when it is s's first
// (or last).
func differs(c, l byte) bool {
	return c < utf8.RuneSelf && lower[c] != l
}

// HasPrefix reports strings.HasPrefix(strings.ToLower(s), lit).
func HasPrefix(s, lit string) bool {
	if len(s) > 0 && len(lit) > 0 && differs(s[0], lit[0]) {
		return false
	}
	if !plain(lit) {
		return strings.HasPrefix(strings.ToLower(s), lit)
	}
	_, ok := matchAt(s, 0, lit)
	return ok
}

// CutPrefix reports strings.HasPrefix(strings.ToLower(s), lit) and, when
// so, the part of s after the runes that lowered to lit: ToLower of it is
// what follows lit in ToLower(s), as runes are read from the front.
func CutPrefix(s, lit string) (after string, found bool) {
	if !plain(lit) {
		// Where lit ends in s is not known here; no caller needs it.
		panic("fold.CutPrefix: lit must be ASCII without upper-case letters")
	}
	end, ok := matchAt(s, 0, lit)
	if !ok {
		return "", false
	}
	return s[end:], true
}

// Equal reports strings.ToLower(s) == lit.
func Equal(s, lit string) bool {
	if len(s) > 0 && len(lit) > 0 && differs(s[0], lit[0]) {
		return false
	}
	if !plain(lit) {
		return strings.ToLower(s) == lit
	}
	end, ok := matchAt(s, 0, lit)
	return ok && end == len(s)
}

// HasSuffix reports strings.HasSuffix(strings.ToLower(s), lit).
func HasSuffix(s, lit string) bool {
	if len(s) > 0 && len(lit) > 0 && differs(s[len(s)-1], lit[len(lit)-1]) {
		return false
	}
	if !plain(lit) {
		return strings.HasSuffix(strings.ToLower(s), lit)
	}
	// Each ASCII piece takes at least one byte of s.
	if len(s) < len(lit) {
		return false
	}
	// When the last len(lit) bytes of s are ASCII they are the last
	// len(lit) pieces: an ASCII byte is never part of a longer rune.
	tail := s[len(s)-len(lit):]
	ascii := true
	for i := 0; i < len(tail); i++ {
		if tail[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(tail); i++ {
			c := tail[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lit[i] {
				return false
			}
		}
		return true
	}
	// Runes are cut from the front (as ToLower reads them): a backward
	// decode can group invalid bytes differently.
	for i := 0; i < len(s); {
		if end, ok := matchAt(s, i, lit); ok && end == len(s) {
			return true
		}
		_, n := piece(s, i)
		i += n
	}
	return false
}
