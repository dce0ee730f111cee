// Package termsafe makes text taken from evidence safe to print as plain
// text, on a terminal or into a file a person reads with cat or less.
//
// Evidence is written by whoever attacked the system. A log line, a user
// name or a file name inside an archive can carry terminal control
// sequences: ESC [ 2 J clears the examiner's screen, ESC ] 0 ; … BEL sets
// the window title, OSC 52 writes the clipboard, CR and BS overwrite what
// was printed, and some terminals still answer queries by typing into the
// shell. A newline forges a row of its own. So every character that is not
// printable text is shown escaped, visibly, instead of written raw:
//
//   - C0 controls except tab, and DEL: \n, \r, or \xNN (ESC is \x1b, so an
//     escape sequence shows as \x1b[2J and does nothing);
//   - C1 controls (U+0080–U+009F; U+009B is an 8-bit CSI to some
//     terminals): \u009b;
//   - bidirectional formatting characters (U+202A–U+202E, U+2066–U+2069,
//     U+200E, U+200F, U+061C), which reorder what is shown ("Trojan
//     Source"): \u202e;
//   - bytes that are not UTF-8 (a lone 0x9b is CSI to an 8-bit terminal):
//     \xNN.
//
// Tab is kept: it is whitespace, not a command. JSON output needs none of
// this: encoding/json escapes every control character and invalid byte
// already, and the exact text is in the store and the JSONL export.
package termsafe

import (
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// String returns s with every character that is not safe on a terminal
// shown escaped. Text that needs no escaping is returned as it is, without
// a copy.
func String(s string) string {
	i := unsafeAt(s)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			writeByte(&b, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 && r != '\t', r == 0x7f:
			writeByte(&b, byte(r))
		case isC1(r) || isBidi(r):
			b.WriteString(`\u`)
			h := strconv.FormatInt(int64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)))
			b.WriteString(h)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Lines is String for text of several lines jejak composed itself (an
// error message that lists problems line by line): the newlines stay, every
// other character is escaped as String does.
func Lines(s string) string {
	if Safe(s) {
		return s
	}
	ls := strings.Split(s, "\n")
	for i, l := range ls {
		ls[i] = String(l)
	}
	return strings.Join(ls, "\n")
}

// Safe reports whether s prints as it is.
func Safe(s string) bool { return unsafeAt(s) < 0 }

// unsafeAt returns the index of the first byte String must escape, or -1.
func unsafeAt(s string) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || isC1(r) || isBidi(r) {
			return i
		}
		i += size
	}
	return -1
}

func writeByte(b *strings.Builder, c byte) {
	const hex = "0123456789abcdef"
	b.WriteString(`\x`)
	b.WriteByte(hex[c>>4])
	b.WriteByte(hex[c&0xf])
}

func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }

func isBidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}

// Writer escapes what passes through it as Lines does: newlines and tabs
// stay, every other unsafe character is shown escaped. It is for a whole
// stream bound for a terminal (an export written to stdout while stdout is
// one); a character split across two writes is held until it is whole.
// Flush writes what is held at the end.
type Writer struct {
	w       io.Writer
	pending []byte
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (t *Writer) Write(p []byte) (int, error) {
	buf := append(t.pending, p...)
	cut := len(buf)
	// Hold back a trailing UTF-8 sequence that is not complete yet.
	for i := len(buf) - 1; i >= 0 && i >= len(buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(buf[i]) {
			if !utf8.FullRune(buf[i:]) {
				cut = i
			}
			break
		}
	}
	out := Lines(string(buf[:cut]))
	t.pending = append(t.pending[:0:0], buf[cut:]...)
	if _, err := io.WriteString(t.w, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a held incomplete character, escaped.
func (t *Writer) Flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	out := String(string(t.pending))
	t.pending = nil
	_, err := io.WriteString(t.w, out)
	return err
}
