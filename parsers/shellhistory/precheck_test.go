package shellhistory

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzZshMatchPrecheck: Zsh.Match answers as zshEntry on the first line
// without the ": " precheck.
func FuzzZshMatchPrecheck(f *testing.F) {
	for _, s := range []string{": 1700000000:0;ls -la\n", ": 1:2;x\r\n", ":1:0;x", "", "\r\n", "ls\n"} {
		f.Add([]byte(s))
	}
	p := NewZsh()
	f.Fuzz(func(t *testing.T, head []byte) {
		first, _, _ := bytes.Cut(head, []byte("\n"))
		_, _, _, want := zshEntry(strings.TrimRight(string(first), "\r"))
		if got := p.Match(nil, head); got != want {
			t.Errorf("Match(%q) = %v, zshEntry %v", head, got, want)
		}
	})
}
