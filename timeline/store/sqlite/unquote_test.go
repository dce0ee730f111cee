package sqlite

import (
	"math/rand/v2"
	"testing"
)

// unquoteCase is what reading one string gave: the value, whether the
// decoder failed, and where it stopped.
type unquoteCase struct {
	v   string
	bad bool
	i   int
}

// readBoth reads the string at the start of doc with str (strAs, which
// decodes a string with escapes in one pass) and as before, with
// unquoteFrom finding its end and unquote decoding the body.
func readBoth(doc []byte) (got, want unquoteCase) {
	d := decoder{b: doc, in: &interner{}}
	v := d.str()
	got = unquoteCase{v, d.bad, d.i}
	o := decoder{b: doc, in: &interner{}}
	if len(doc) > 0 && doc[0] == '"' {
		v = o.unquoteFrom(1, false)
	} else {
		o.fail()
		v = ""
	}
	want = unquoteCase{v, o.bad, o.i}
	return got, want
}

// TestUnquoteOnePass holds the one-pass reading of strings with escapes
// to the two-pass one: every string of up to 6 bytes over an alphabet of
// the bytes that matter (quote, backslash, escape letters, hex digits,
// surrogate halves, a control byte, UTF-8 lead and continuation bytes),
// and random longer ones, each followed by more document.
func TestUnquoteOnePass(t *testing.T) {
	alpha := []string{`a`, `\`, `"`, `u`, `n`, `/`, `D`, `8`, `0`, `C`, `\uD83D`, `\uDE00`, `\u00e9`, "\x01", "\xc3", "\xa9", "\xff", "é"}
	tails := []string{``, `"`, `,"x":"y"}`, `\u0041"`}
	check := func(body string) {
		for _, tail := range tails {
			doc := []byte(`"a` + body + tail)
			if got, want := readBoth(doc); got != want {
				t.Fatalf("%q: one pass %+v, two passes %+v", doc, got, want)
			}
		}
	}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		check(prefix)
		if n == 0 {
			return
		}
		for _, a := range alpha {
			gen(prefix+a, n-1)
		}
	}
	gen(`\`, 3) // starts with an escape: the one-pass path
	rng := rand.New(rand.NewPCG(15, 2026))
	for range 30_000 {
		var b []byte
		b = append(b, '\\')
		for range rng.IntN(24) {
			b = append(b, alpha[rng.IntN(len(alpha))]...)
		}
		check(string(b))
	}
}

// FuzzUnquoteOnePass holds the one-pass reading to the two-pass one on
// arbitrary bytes after an ASCII start and an escape.
func FuzzUnquoteOnePass(f *testing.F) {
	for _, s := range []string{`n"`, `\\"`, `uD83D\uDE00"`, "u00e9\xff\"", `uD83D"`, `"`, `u00"`, "\x01\"", `/x","b":"c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc := append([]byte(`"a\`), body...)
		if got, want := readBoth(doc); got != want {
			t.Fatalf("%q: one pass %+v, two passes %+v", doc, got, want)
		}
	})
}
