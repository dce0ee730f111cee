package parsertest

import (
	"testing"
	"time"
	"unicode/utf16"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
)

// UTF16LE encodes s as UTF-16 little-endian, after a byte-order mark when
// bom is set: the encoding Windows writes its text logs in.
func UTF16LE(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = []byte{0xff, 0xfe}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// FuzzMatchUnchanged fuzzes p.Match against old, the Match a cheap
// precheck replaced, on the seeds as given, followed by more lines, and in
// UTF-16 with and without a byte-order mark; each head is matched with no
// entry and under the names of the Windows text logs that match by name
// as well as by content (MPLog-*, ERRORLOG).
func FuzzMatchUnchanged(f *testing.F, p parsers.Parser, seeds []string, old func(e *jfs.Entry, head []byte) bool) {
	for _, s := range seeds {
		f.Add([]byte(s))
		f.Add([]byte(s + "\r\nmore\n"))
		f.Add(UTF16LE(s, true))
		f.Add(UTF16LE(s, false))
	}
	mt := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range []*jfs.Entry{nil, BytesEntry("MPLog-20240101.log", b, mt), BytesEntry("ERRORLOG", b, mt)} {
			if got, want := p.Match(e, b), old(e, b); got != want {
				t.Errorf("Match(%q) = %v, decoding always %v", b, got, want)
			}
		}
	})
}

// foldSeeds are names where lower-casing is not byte by byte: the Kelvin
// sign and U+0130 lower to ASCII, invalid and cut UTF-8, both separators.
var foldSeeds = []string{"NTUSER.DAT", "Windows/System32/winevt/Logs/Security.evtx", "\u212A", "\u0130", "a\xffb", "\xe2\x84", "x\xe2\x84\xaa", "", "/", "a/", "\\", "a\\b\\"}

// FuzzNameUnchanged fuzzes a name test (a Match on a head that leaves the
// decision to the name) against old, the strings.ToLower form it
// replaced, seeded with foldSeeds and more.
func FuzzNameUnchanged[T comparable](f *testing.F, got, old func(name string) T, more ...string) {
	for _, s := range append(append([]string(nil), foldSeeds...), more...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if g, w := got(name), old(name); g != w {
			t.Fatalf("%q: %v, was %v", name, g, w)
		}
	})
}
