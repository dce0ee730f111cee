package termsafe

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"tab\tkept", "tab\tkept"},
		{"\x1b[2J\x1b[31mred", `\x1b[2J\x1b[31mred`},
		{"\x1b]0;owned\x07", `\x1b]0;owned\x07`},
		{"\x1b]52;c;ZWNobyBoaQ==\x1b\\", `\x1b]52;c;ZWNobyBoaQ==\x1b\`},
		{"line1\nFORGED 2024-02-14 root login", `line1\nFORGED 2024-02-14 root login`},
		{"ok\rfailed", `ok\rfailed`},
		{"bs\b\b\bdel\x7f", `bs\x08\x08\x08del\x7f`},
		{"nul\x00", `nul\x00`},
		{"c1 \u009b2J", `c1 \u009b2J`},
		{"8-bit \x9b2J", `8-bit \x9b2J`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"Jakarta ✓ — ümlaut 日本", "Jakarta ✓ — ümlaut 日本"},
		{"", ""},
	} {
		if got := String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if Safe(tc.in) != (tc.in == tc.want) {
			t.Errorf("Safe(%q) = %v", tc.in, Safe(tc.in))
		}
	}
}

func TestLines(t *testing.T) {
	in := "2 problems:\n  a\x1b[2Jb\n  c\rd\n"
	want := "2 problems:\n  a\\x1b[2Jb\n  c\\rd\n"
	if got := Lines(in); got != want {
		t.Errorf("Lines(%q) = %q, want %q", in, got, want)
	}
}

// FuzzString: whatever the input, the output holds no control character
// but tab, no C1 or bidi character and no invalid UTF-8, and it is the
// input again once the escapes are read back (for inputs without a
// backslash of their own, which would make that ambiguous).
func FuzzString(f *testing.F) {
	for _, s := range []string{"a\x1b[0mb", "\xff\xfe", "\u0085\u2066x", "x\ty\nz", "\xc2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := String(in)
		if !utf8.ValidString(out) {
			t.Fatalf("String(%q) = %q: invalid UTF-8", in, out)
		}
		for _, r := range out {
			if (r < 0x20 && r != '\t') || r == 0x7f || isC1(r) || isBidi(r) {
				t.Fatalf("String(%q) = %q: holds %U", in, out, r)
			}
		}
		if !Safe(out) {
			t.Fatalf("String(%q) = %q, not Safe", in, out)
		}
		if strings.Contains(in, `\`) {
			return
		}
		if back := unescape(t, out); back != in {
			t.Fatalf("String(%q) = %q reads back as %q", in, out, back)
		}
	})
}

// unescape reads the escapes String writes (\n, \r, \xNN, \uNNNN).
func unescape(t *testing.T, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case 'n':
			b.WriteByte('\n')
			i++
		case 'r':
			b.WriteByte('\r')
			i++
		case 'x':
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteByte(byte(v))
			i += 3
		case 'u':
			v, err := strconv.ParseUint(s[i+2:i+6], 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteRune(rune(v))
			i += 5
		default:
			t.Fatalf("unknown escape in %q", s)
		}
	}
	return b.String()
}

// TestWriter: a stream cut into writes at every byte gives what Lines
// gives for the whole, characters split across writes included.
func TestWriter(t *testing.T) {
	in := "a,b\n\x1b[2J=x,\"日本\u202e\"\r\n\tz\xff\n✓"
	want := Lines(in)
	for size := 1; size <= len(in); size++ {
		var b strings.Builder
		w := NewWriter(&b)
		for i := 0; i < len(in); i += size {
			if _, err := w.Write([]byte(in[i:min(i+size, len(in))])); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("writes of %d bytes: %q, want %q", size, b.String(), want)
		}
	}
	// A stream that ends inside a character shows the bytes escaped.
	var b strings.Builder
	w := NewWriter(&b)
	w.Write([]byte("x\xe6\x97"))
	w.Flush()
	if b.String() != `x\xe6\x97` {
		t.Errorf("truncated character: %q", b.String())
	}
}
