package dpkg

import (
	"bytes"
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// started is an apt block without a Commandline: Match leaves it to the
// name.
var started = []byte("\nStart-Date: 2024-01-01  10:00:00\nInstall: x\n")

func FuzzAptName(f *testing.F) {
	p := NewAptHistory()
	parsertest.FuzzNameUnchanged(f, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, started) }, func(name string) bool {
		return strings.Contains(strings.ToLower(path.Base(name)), "history")
	}, "var/log/apt/History.log", "HISTORY.LOG.1.gz", "hist\u0130ory")
}

func BenchmarkMatchName(b *testing.B) {
	e := &jfs.Entry{Path: "Users/Alice/AppData/Local/Microsoft/Windows/UsrClass.dat"}
	p := NewAptHistory()
	b.Run("ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// Match as it was: the content test, then the name.
			head := bytes.TrimLeft(started, "\r\n")
			_ = bytes.HasPrefix(head, []byte("Start-Date: ")) &&
				(strings.Contains(strings.ToLower(path.Base(e.Path)), "history") || bytes.Contains(head, []byte("\nCommandline: ")))
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Match(e, started)
		}
	})
}
