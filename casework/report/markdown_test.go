package report

import (
	"strings"
	"testing"
)

// TestMarkdownControlCharacters: evidence text in the Markdown report
// shows control characters escaped (rendered as \x1b), never raw; line
// breaks still become spaces.
func TestMarkdownControlCharacters(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a\x1b[2Jb", `a\\x1b\[2Jb`},
		{"one\r\ntwo\nthree", "one two three"},
		{"ok\rforged", `ok\\rforged`},
		{"\u202egnp.exe", `\\u202egnp.exe`},
	} {
		if got := md(tc.in); got != tc.want {
			t.Errorf("md(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if got := code(tc.in); strings.ContainsAny(got, "\x1b\r\u202e") {
			t.Errorf("code(%q) = %q holds a control character", tc.in, got)
		}
	}
}
