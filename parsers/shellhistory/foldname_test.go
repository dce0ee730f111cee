package shellhistory

import (
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// stamped is a head Bash.Match takes when the name does.
var stamped = []byte("#1700000000\nls\n")

// FuzzBashName checks Match, on a head that passes, against the name test
// as it was.
func FuzzBashName(f *testing.F) {
	for _, s := range []string{"NTUSER.DAT", "Windows/System32/winevt/Logs/Security.evtx", "\u212A", "\u0130", "a\xffb", "\xe2\x84", "x\xe2\x84\xaa", "", "/", "a/", "\\", "a\\b\\", ".bash_HISTORY", "HISTORY", "hi\u212Ast", ".zsh_hist\u0130ory"} {
		f.Add(s)
	}
	var p Bash
	f.Fuzz(func(t *testing.T, name string) {
		want := strings.Contains(strings.ToLower(path.Base(name)), "history")
		if got := p.Match(&jfs.Entry{Path: name}, stamped); got != want {
			t.Fatalf("Match(%q) = %v, was %v", name, got, want)
		}
	})
}

func BenchmarkMatchName(b *testing.B) {
	name := "Users/Alice/AppData/Local/Microsoft/Windows/UsrClass.dat"
	e := &jfs.Entry{Path: name}
	var p Bash
	b.Run("ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = strings.Contains(strings.ToLower(path.Base(e.Path)), "history")
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Match(e, stamped)
		}
	})
}
