package postgresql

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
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

// FuzzMatchLines compares Match with its loop over bytes.Split, as it was.
func FuzzMatchLines(f *testing.F) {
	for _, s := range []string{
		"2024-01-02 03:04:05.123 UTC [42] LOG:  a\n\tcont\n2024-01-02 03:04:05.123 UTC [42] LOG:  b\n",
		"", "\n", "x\n# c\n  y\n", "2024-01-02 03:04:05 UTC [1] ERROR:  x\r\nnot\r\n",
	} {
		f.Add([]byte(s))
	}
	p := New()
	f.Fuzz(func(t *testing.T, head []byte) {
		h := head
		if len(h) >= parsers.HeadSize {
			if i := bytes.LastIndexByte(h, '\n'); i > 0 {
				h = h[:i]
			}
		}
		fit, miss := 0, 0
		for _, l := range bytes.Split(h, []byte("\n")) {
			l = bytes.TrimRight(l, "\r")
			if len(bytes.TrimSpace(l)) == 0 || l[0] == '#' || l[0] == '\t' || bytes.HasPrefix(l, []byte("  ")) {
				continue
			}
			if isRecordStart(l) {
				fit++
			} else {
				miss++
			}
		}
		if got, want := p.Match(nil, head), fit > 0 && fit >= miss; got != want {
			t.Errorf("Match(%q) = %v, split loop %v", head, got, want)
		}
	})
}
