package powershell

import (
	"path"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// oldHistoryPath is History.Match's name test as it was.
func oldHistoryPath(name string) bool {
	p := strings.ToLower(strings.ReplaceAll(name, `\`, "/"))
	b := path.Base(p)
	return !(b != "consolehost_history.txt" && !(strings.Contains(p, "/psreadline/") && strings.HasSuffix(b, "_history.txt")))
}

var text = []byte("Get-Process\n")

func FuzzHistoryName(f *testing.F) {
	var p History
	parsertest.FuzzNameUnchanged(f, func(name string) bool { return p.Match(&jfs.Entry{Path: name}, text) }, oldHistoryPath,
		"Users/Alice/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
		`C:\Users\Bob\AppData\Roaming\Microsoft\Windows\PowerShell\PSReadline\Visual Studio Code Host_history.txt`,
		"x/PSREADL\u0130NE/h_history.txt", "x\\psreadline/h_HISTORY.TXT\\", "psreadline/h_history.txt", "/psreadline/_history.txt",
		"consolehost_history.txt/", "a/ConsoleHost_History.Txt\\\\", "x/psreadline\xff/h_history.txt")
}

func BenchmarkMatchName(b *testing.B) {
	e := &jfs.Entry{Path: "Users/Alice/AppData/Local/Microsoft/Windows/UsrClass.dat"}
	var p History
	b.Run("ToLower", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = oldHistoryPath(e.Path)
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = p.Match(e, text)
		}
	})
}
