package jumplist

import (
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// FuzzAutomaticName checks Match on a compound file head without a
// DestList entry, where the name decides.
func FuzzAutomaticName(f *testing.F) {
	for _, s := range []string{"NTUSER.DAT", "Windows/System32/winevt/Logs/Security.evtx", "\u212A", "\u0130", "a\xffb", "\xe2\x84", "x\xe2\x84\xaa", "", "/", "a/", "\\", "a\\b\\", "Recent/AutomaticDestinations/5F7B5F1E01B83767.AutomaticDestinations-ms", "x.automaticdestinations-ms", "x.AUTOMATICDESTINATIONS-MS", "x.automaticdestinations-m\u0130", "x.automaticdestinations-ms\xff"} {
		f.Add(s)
	}
	var p Automatic
	f.Fuzz(func(t *testing.T, name string) {
		want := strings.HasSuffix(strings.ToLower(name), ".automaticdestinations-ms")
		if got := p.Match(&jfs.Entry{Path: name}, oleMagic); got != want {
			t.Fatalf("Match(%q) = %v, was %v", name, got, want)
		}
	})
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
