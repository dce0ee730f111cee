package usnjrnl

import (
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// trimmed is the head of a trimmed journal: Match leaves it to the name.
var trimmed = make([]byte, 64)

func oldName(p string) bool {
	base := strings.ToLower(path.Base(p))
	return strings.Contains(base, "usnjrnl") || base == "$j"
}

func FuzzJournalName(f *testing.F) {
	for _, s := range []string{"NTUSER.DAT", "Windows/System32/winevt/Logs/Security.evtx", "\u212A", "\u0130", "a\xffb", "\xe2\x84", "x\xe2\x84\xaa", "", "/", "a/", "\\", "a\\b\\", "$Extend/$UsnJrnl:$J", "$J", "$j", "C_USNJRNL_J.bin", "$extend/$UsnJrnl"} {
		f.Add(s)
	}
	p := New()
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := p.Match(&jfs.Entry{Path: name}, trimmed), oldName(name); got != want {
			t.Fatalf("Match(%q) = %v, was %v", name, got, want)
		}
	})
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
