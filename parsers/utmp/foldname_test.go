package utmp

import (
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// oldFileKind is fileKind as it was, lower-casing the name.
func oldFileKind(p string) string {
	base := strings.ToLower(path.Base(p))
	for _, k := range []string{"btmp", "wtmp", "utmp"} {
		if strings.Contains(base, k) {
			return k
		}
	}
	return ""
}

// oldLastlogName is Lastlog.Match's name test as it was.
func oldLastlogName(p string) bool {
	base := strings.ToLower(path.Base(p))
	return !(!strings.HasPrefix(base, "lastlog") || strings.HasPrefix(base, "lastlog2") || strings.HasSuffix(base, ".db"))
}

var nameSeeds = []string{
	"var/log/WTMP.1", "host1_BTmp", "u\u212Atmp", "var/log/LastLog", "LASTLOG2.DB", "lastlog.db", "Lastlog.1", "lastlog\xff.db", "lastlog2"}

func FuzzFileKind(f *testing.F) {
	parsertest.FuzzNameUnchanged(f, fileKind, oldFileKind, nameSeeds...)
}

// FuzzLastlogName checks Match on an empty file, where only the name
// decides.
func FuzzLastlogName(f *testing.F) {
	l := NewLastlog()
	parsertest.FuzzNameUnchanged(f, func(p string) bool { return l.Match(&jfs.Entry{Path: p}, nil) }, oldLastlogName, nameSeeds...)
}

// BenchmarkMatchName measures the name tests on a Windows name, the old
// way and the new.
func BenchmarkMatchName(b *testing.B) {
	p := "Users/Alice/AppData/Local/Microsoft/Windows/UsrClass.dat"
	l := NewLastlog()
	e := &jfs.Entry{Path: p}
	b.Run("ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = oldFileKind(p), oldLastlogName(p)
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = fileKind(p), l.Match(e, nil)
		}
	})
}

// TestNamesUnchanged holds fileKind and Lastlog.Match's name test to the
// ToLower forms over NameCases: their pre-checks ("tmp" in ASCII, a first
// 'l') must never say no where the old test said yes.
func TestNamesUnchanged(t *testing.T) {
	parsertest.NamesUnchanged(t, fileKind, oldFileKind, "btmp", "wtmp", "utmp")
	l := NewLastlog()
	parsertest.NamesUnchanged(t, func(p string) bool { return l.Match(&jfs.Entry{Path: p}, nil) }, oldLastlogName, "lastlog", "lastlog2", ".db")
}
