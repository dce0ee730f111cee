package usnjrnl

import (
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// trimmed is the head of a trimmed journal: Match leaves it to the name.
var trimmed = make([]byte, 64)

func oldName(p string) bool {
	base := strings.ToLower(path.Base(p))
	return strings.Contains(base, "usnjrnl") || base == "$j"
}

func FuzzJournalName(f *testing.F) {
	p := New()
	parsertest.FuzzNameUnchanged(f, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, trimmed) }, oldName,
		"$Extend/$UsnJrnl:$J", "$J", "$j", "C_USNJRNL_J.bin", "$extend/$UsnJrnl")
}

func BenchmarkMatchName(b *testing.B) {
	e := &jfs.Entry{Path: "Users/Alice/AppData/Local/Microsoft/Windows/UsrClass.dat"}
	p := New()
	b.Run("ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = oldName(e.Path)
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Match(e, trimmed)
		}
	})
}

// TestJournalNamesUnchanged holds Match on a trimmed head, where the name
// decides, to the ToLower name test over NameCases.
func TestJournalNamesUnchanged(t *testing.T) {
	p := New()
	parsertest.NamesUnchanged(t, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, trimmed) }, oldName, "usnjrnl", "$j", "$extend")
}
