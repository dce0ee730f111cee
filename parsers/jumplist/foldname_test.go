package jumplist

import (
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzAutomaticName checks Match on a compound file head without a
// DestList entry, where the name decides.
func FuzzAutomaticName(f *testing.F) {
	var p Automatic
	parsertest.FuzzNameUnchanged(f, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, oleMagic) }, func(name string) bool {
		return strings.HasSuffix(strings.ToLower(name), ".automaticdestinations-ms")
	}, "Recent/AutomaticDestinations/5F7B5F1E01B83767.AutomaticDestinations-ms", "x.automaticdestinations-ms", "x.AUTOMATICDESTINATIONS-MS", "x.automaticdestinations-m\u0130", "x.automaticdestinations-ms\xff")
}

func BenchmarkMatchName(b *testing.B) {
	e := &jfs.Entry{Path: "Users/Alice/AppData/Roaming/Microsoft/Windows/Recent/AutomaticDestinations/5F7B5F1E01B83767.AutomaticDestinations-ms"}
	var p Automatic
	b.Run("ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = strings.HasSuffix(strings.ToLower(e.Path), ".automaticdestinations-ms")
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Match(e, oleMagic)
		}
	})
}
