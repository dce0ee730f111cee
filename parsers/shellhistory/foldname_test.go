package shellhistory

import (
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// stamped is a head Bash.Match takes when the name does.
var stamped = []byte("#1700000000\nls\n")

// FuzzBashName checks Match, on a head that passes, against the name test
// as it was.
func FuzzBashName(f *testing.F) {
	var p Bash
	parsertest.FuzzNameUnchanged(f, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, stamped) }, func(name string) bool {
		return strings.Contains(strings.ToLower(path.Base(name)), "history")
	}, ".bash_HISTORY", "HISTORY", "hi\u212Ast", ".zsh_hist\u0130ory")
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

// TestBashNamesUnchanged holds Match, on a head that passes, to the
// ToLower name test over NameCases (history spelled with U+0130 too).
func TestBashNamesUnchanged(t *testing.T) {
	var p Bash
	parsertest.NamesUnchanged(t, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, stamped) }, func(name string) bool {
		return strings.Contains(strings.ToLower(path.Base(name)), "history")
	}, "history", ".bash_")
}
