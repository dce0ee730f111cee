package fold

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// cases are names where an ASCII-only fold and ToLower disagree (the
// non-ASCII ones), and literals ToLower cannot give.
var cases = []struct{ s, lit string }{
	{"NTUSER.DAT", "ntuser.dat"},
	{"ConsoleHost_history.txt", "history"},
	{"\u212Aeys", "keys"},            // Kelvin sign lowers to 'k'
	{"L\u0130ST", "list"},            // 'İ' lowers to 'i'
	{"l\xc4\xb0st", "l"},             // same, as bytes
	{"a\xffb", "ab"},                 // an invalid byte becomes U+FFFD
	{"\xe2\x84history", "history"},   // a cut rune before ASCII
	{"x\xe2\x84\xaa", "xk"},          // Kelvin sign last
	{"x\xe2\x84", "x"},               // cut rune last
	{"\xf0\x9f\x98\x80.txt", ".txt"}, // emoji
	{"\u212A", "\u212A"},             // a literal ToLower cannot hold
	{"AB", "AB"},                     // an upper-case literal
	{"", ""}, {"a", ""}, {"", "a"},
}

func seed(f *testing.F) {
	for _, c := range cases {
		f.Add(c.s, c.lit)
	}
}

func check(t *testing.T, name string, s, lit string, got, want bool) {
	t.Helper()
	if got != want {
		t.Fatalf("%s(%q, %q) = %v, ToLower gives %v", name, s, lit, got, want)
	}
}

func TestCases(t *testing.T) {
	for _, c := range cases {
		l := strings.ToLower(c.s)
		check(t, "Contains", c.s, c.lit, Contains(c.s, c.lit), strings.Contains(l, c.lit))
		check(t, "HasPrefix", c.s, c.lit, HasPrefix(c.s, c.lit), strings.HasPrefix(l, c.lit))
		check(t, "HasSuffix", c.s, c.lit, HasSuffix(c.s, c.lit), strings.HasSuffix(l, c.lit))
		check(t, "Equal", c.s, c.lit, Equal(c.s, c.lit), l == c.lit)
	}
	// The cases where a byte-wise ASCII fold is wrong must be here.
	if !Equal("\u212Aeys", "keys") || !HasSuffix("x\xe2\x84\xaa", "xk") || Contains("a\xffb", "ab") {
		t.Fatal("Kelvin sign or invalid byte read wrong")
	}
}

func FuzzContains(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, s, lit string) {
		check(t, "Contains", s, lit, Contains(s, lit), strings.Contains(strings.ToLower(s), lit))
	})
}

func FuzzHasPrefix(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, s, lit string) {
		check(t, "HasPrefix", s, lit, HasPrefix(s, lit), strings.HasPrefix(strings.ToLower(s), lit))
	})
}

func FuzzHasSuffix(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, s, lit string) {
		check(t, "HasSuffix", s, lit, HasSuffix(s, lit), strings.HasSuffix(strings.ToLower(s), lit))
	})
}

func FuzzEqual(f *testing.F) {
	seed(f)
	f.Fuzz(func(t *testing.T, s, lit string) {
		check(t, "Equal", s, lit, Equal(s, lit), strings.ToLower(s) == lit)
	})
}

// TestNoAllocs: an ASCII name, whatever its case, costs no allocation.
func TestNoAllocs(t *testing.T) {
	for _, s := range []string{"ConsoleHost_history.txt", "NTUSER.DAT", "ntuser.dat"} {
		var got []bool
		if n := testing.AllocsPerRun(100, func() {
			got = append(got[:0], Contains(s, "history"), HasPrefix(s, "console"), HasSuffix(s, ".txt"), Equal(s, "ntuser.dat"))
		}); n != 0 {
			t.Errorf("%q: %v allocations", s, n)
		}
	}
}

// BenchmarkContains compares with the ToLower form on names with and
// without upper-case letters.
func BenchmarkContains(b *testing.B) {
	for _, s := range []string{"ConsoleHost_history.txt", "consolehost_history.txt", "Microsoft-Windows-PowerShell%4Operational.evtx"} {
		b.Run("ToLower/"+s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = strings.Contains(strings.ToLower(s), "history")
			}
		})
		b.Run("fold/"+s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Contains(s, "history")
			}
		})
	}
}

// TestOnlyTwoRunesLowerToASCII holds the fact ContainsASCII rests on:
// of all runes outside ASCII only U+0130 and U+212A lower to ASCII, and
// strings.ToLower gives an invalid byte as U+FFFD.
func TestOnlyTwoRunesLowerToASCII(t *testing.T) {
	var got []rune
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if unicode.ToLower(r) < utf8.RuneSelf {
			got = append(got, r)
		}
	}
	if len(got) != 2 || got[0] != '\u0130' || got[1] != '\u212A' {
		t.Fatalf("runes lowering to ASCII: %U", got)
	}
	if l := strings.ToLower("A\xffB\xe2\x84"); l != "a\uFFFDb\uFFFD\uFFFD" {
		t.Fatalf("ToLower of invalid bytes: %q", l)
	}
}

// asciiLit says whether ContainsASCII is meant to equal Contains for lit.
func asciiLit(lit string) bool {
	for i := 0; i < len(lit); i++ {
		if c := lit[i]; c >= utf8.RuneSelf || c == 'i' || c == 'k' || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
}

// TestContainsASCII checks ContainsASCII against the ToLower form over
// every name of up to three pieces of an alphabet of ASCII letters of both
// cases (and the bytes either side of them), runes lowering to ASCII,
// invalid and cut UTF-8 and separators, over 100,000 longer names drawn
// from it, and a set of literals.
func TestContainsASCII(t *testing.T) {
	pieces := []string{"t", "T", "m", "M", "p", "P", "h", "S", "y", "/", "\\", ".", "$", "j", "J", "z", "Z", "@", "[", "`", "{",
		"\u0130", "\u212A", "\xff", "\xe2\x84", "\u00e9", "\u00c9", "\u0131", "i", "K"}
	lits := []string{"", "tmp", "btmp", "story", "y", "j", "$j", "p", "mp", "pp", "pmp", "jrnl", ".", "\\", "/t", "z", "@", "`", "[", "{"}
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
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var b strings.Builder
		for range 4 + r.IntN(8) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		names = append(names, b.String())
	}
	for _, s := range names {
		for _, lit := range lits {
			check(t, "ContainsASCII", s, lit, ContainsASCII(s, lit), strings.Contains(strings.ToLower(s), lit))
		}
	}
}

func FuzzContainsASCII(f *testing.F) {
	seed(f)
	f.Add("file0008305.TMP", "tmp")
	f.Add("h\u0130STORY", "story")
	f.Fuzz(func(t *testing.T, s, lit string) {
		if !asciiLit(lit) {
			lit = "tmp"
		}
		check(t, "ContainsASCII", s, lit, ContainsASCII(s, lit), strings.Contains(strings.ToLower(s), lit))
	})
}

// BenchmarkContainsASCII compares with Contains on names that hold the
// literal's last byte and names that do not.
func BenchmarkContainsASCII(b *testing.B) {
	for _, s := range []string{"file0008305.txt", "ConsoleHost_history.txt", "Microsoft-Windows-PowerShell%4Operational.evtx"} {
		b.Run("Contains/"+s, func(b *testing.B) {
			for b.Loop() {
				_ = Contains(s, "story")
			}
		})
		b.Run("ContainsASCII/"+s, func(b *testing.B) {
			for b.Loop() {
				_ = ContainsASCII(s, "story")
			}
		})
	}
}
