package parsertest

import (
	"strings"
	"testing"
	"unicode"
)

// namePieces are the pieces NameCases joins to the words: separators, a
// dot and a digit, a lower-case ASCII rune, the runes lowering to ASCII
// (U+0130 to 'i', the Kelvin sign to 'k'), a lower- and an upper-case
// rune outside ASCII, an invalid byte and a cut rune.
var namePieces = []string{"/", "\\", ".", "1", "x", "\u0130", "\u212A", "\u00e9", "\u00c9", "\xff", "\xe2\x84"}

// wordPieces gives a word as NameCases joins it: as it is, in upper case,
// in alternating case and with a capital first letter, with its 'i' and
// 'k' as the runes lowering to them, and cut short by one byte at either
// end (and its upper-case form cut so too).
func wordPieces(w string) []string {
	up := strings.ToUpper(w)
	alt := []byte(w)
	for i := 0; i < len(alt); i += 2 {
		alt[i] = byte(unicode.ToUpper(rune(alt[i])))
	}
	out := []string{w, up, string(alt), strings.ToUpper(w[:1]) + w[1:],
		strings.NewReplacer("i", "\u0130", "k", "\u212A").Replace(w)}
	if len(w) > 1 {
		out = append(out, w[1:], w[:len(w)-1], up[1:], up[:len(up)-1])
	}
	return out
}

// NameCases returns names for a name test about words (ASCII, lower
// case, as the test's literals): the empty name, then every join of up
// to three pieces, each a form of a word (see wordPieces) or a piece of
// namePieces, and each such name again in a folder, in a folder ending
// with a separator and behind a Windows folder. Names that hold a word,
// nearly hold it, or hold it spelled with runes that only lower to it
// are all there, so a cheap pre-check that says no too often, or a
// fold that is wrong, is caught.
func NameCases(words ...string) []string {
	var pieces []string
	for _, w := range words {
		pieces = append(pieces, wordPieces(w)...)
	}
	pieces = append(pieces, namePieces...)
	names := []string{""}
	for n, from := 0, 0; n < 3; n++ {
		to := len(names)
		for _, s := range names[from:to] {
			for _, p := range pieces {
				names = append(names, s+p)
			}
		}
		from = to
	}
	for _, s := range names[:len(names)/8] {
		names = append(names, "var/log/"+s, s+"/", `Users\Alice\`+s)
	}
	return names
}

// NamesUnchanged checks got against old, the name test it replaced, over
// NameCases(words...), and fails if the words gave fewer than 10,000
// names (a test that checks little should not pass).
func NamesUnchanged[T comparable](t *testing.T, got, old func(name string) T, words ...string) {
	t.Helper()
	names := NameCases(words...)
	if len(names) < 10000 {
		t.Fatalf("only %d names from %q", len(names), words)
	}
	bad := 0
	for _, name := range names {
		if g, w := got(name), old(name); g != w {
			t.Errorf("%q: %v, was %v", name, g, w)
			if bad++; bad == 10 {
				t.FailNow()
			}
		}
	}
}
