package postgresql

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRecordStartPrecheck: isRecordStart answers as parseHead and csvStart
// without its precheck.
func FuzzRecordStartPrecheck(f *testing.F) {
	for _, s := range []string{
		"2024-01-02 03:04:05.123 UTC [42] LOG:  connection received: host=[local]",
		"2024-01-02 03:04:05.123 UTC,\"u\",\"d\",1,\"h\",a,1,\"\",2024-01-02 03:04:05 UTC,1/1,0,LOG,00000,\"x\"",
		"< 2024-01-02 03:04:05 UTC >ERROR:  syntax error", "LOG:  no time", "", ":  ", "1",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, l := range bytes.Split(b, []byte("\n"))[:min(30, bytes.Count(b, []byte("\n")))] {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, l []byte) {
		_, ok := parseHead(string(l), false)
		want := ok || csvStart.Match(l) && bytes.Count(l, []byte(",")) >= 12
		if got := isRecordStart(l); got != want {
			t.Errorf("isRecordStart(%q) = %v, without precheck %v", l, got, want)
		}
	})
}
