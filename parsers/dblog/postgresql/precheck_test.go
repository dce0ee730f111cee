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
		if got, want := p.Match(nil, head), oldMatch(head); got != want {
			t.Errorf("Match(%q) = %v, split loop %v", head, got, want)
		}
	})
}

// oldMatch is Match as it was: its loop over bytes.Split, no pre-check.
func oldMatch(head []byte) bool {
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
	return fit > 0 && fit >= miss
}

// TestMatchHeadsUnchanged holds Match to oldMatch over every head of up
// to three lines from a set of record starts (stderr, csvlog, cut ones),
// lines starting with a digit or holding ":  " that are none, blank,
// comment and continuation lines, with LF and CRLF ends, with and without
// a last newline, and each again after 4,090 bytes of text (past
// HeadSize, where the cut last line is dropped): the pre-check must never
// turn away a head the loop took.
func TestMatchHeadsUnchanged(t *testing.T) {
	lines := []string{
		"2024-01-02 03:04:05.123 UTC [42] LOG:  connection received: host=[local]",
		"2024-01-02 03:04:05.123 UTC,\"u\",\"d\",1,\"h\",a,1,\"\",2024-01-02 03:04:05 UTC,1/1,0,LOG,00000,\"x\"",
		"0999-01-02 03:04:05 UTC,\"u\",\"d\",1,\"h\",a,1,\"\",2024-01-02 03:04:05 UTC,1/1,0,LOG,00000,\"x\"",
		"< 2024-01-02 03:04:05 UTC >ERROR:  syntax error",
		"2024-01-02 03:04:05.123 UTC [42] LOG", "1 apple", "key:  value", "x", "", "# c", "\tcont", "  y", " :  ",
	}
	pad := bytes.Repeat([]byte("abcdefghi\n"), 409)
	p := New()
	checked, taken := 0, 0
	var join func(head []byte, n int)
	join = func(head []byte, n int) {
		for _, pre := range [][]byte{nil, pad} {
			for _, end := range []string{"", "\n", "\r\n"} {
				h := append(append(append([]byte(nil), pre...), head...), end...)
				got, want := p.Match(nil, h), oldMatch(h)
				if got != want {
					t.Fatalf("Match(%q) = %v, was %v", h, got, want)
				}
				checked++
				if want {
					taken++
				}
			}
		}
		if n == 3 {
			return
		}
		for _, l := range lines {
			for _, sep := range []string{"\n", "\r\n"} {
				next := append(append([]byte(nil), head...), l...)
				if len(head) > 0 {
					next = append(append(append([]byte(nil), head...), sep...), l...)
				}
				join(next, n+1)
			}
		}
	}
	join(nil, 0)
	if checked < 10000 || taken < 1000 {
		t.Fatalf("only %d heads checked, %d taken", checked, taken)
	}
}
