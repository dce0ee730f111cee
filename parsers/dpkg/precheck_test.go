package dpkg

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
)

// FuzzFirstLinePrechecks: the dpkg, apt term and alternatives Match answer
// as their first-line checks without the byte prechecks before them.
func FuzzFirstLinePrechecks(f *testing.F) {
	for _, s := range []string{
		"2024-01-02 03:04:05 install foo:amd64 <none> 1.0\n", "2024-01-02 03:04:05 status installed x 1\r\n",
		"\r\nLog started: 2024-01-02  03:04:05\n", "Log started: x\n",
		"update-alternatives 2024-01-02 03:04:05: run with --install\n", "update-alternatives x\n", "", "\r",
	} {
		f.Add([]byte(s))
	}
	d, term, alt, hist := New(), NewAptTerm(), NewAlternatives(), NewAptHistory()
	f.Fuzz(func(t *testing.T, head []byte) {
		if got, want := trimLineEnds(head), bytes.TrimLeft(head, "\r\n"); !bytes.Equal(got, want) {
			t.Errorf("trimLineEnds(%q) = %q, TrimLeft %q", head, got, want)
		}
		h := bytes.TrimLeft(head, "\r\n")
		histWant := bytes.HasPrefix(h, []byte("Start-Date: ")) && bytes.Contains(h, []byte("\nCommandline: "))
		if got := hist.Match(&jfs.Entry{Path: "x.log"}, head); got != histWant {
			t.Errorf("AptHistory.Match(%q) = %v, want %v", head, got, histWant)
		}
		first, _, _ := bytes.Cut(head, []byte("\n"))
		line := strings.TrimRight(string(first), "\r")
		_, rest, ok := splitStamp(line)
		action, _, _ := strings.Cut(rest, " ")
		if got, want := d.Match(nil, head), ok && dpkgActions[action]; got != want {
			t.Errorf("Dpkg.Match(%q) = %v, splitStamp says %v", head, got, want)
		}
		_, _, want := altLine(line)
		if got := alt.Match(nil, head); got != want {
			t.Errorf("Alternatives.Match(%q) = %v, altLine says %v", head, got, want)
		}
		tf, _, _ := bytes.Cut(bytes.TrimLeft(head, "\r\n"), []byte("\n"))
		s, ok := strings.CutPrefix(strings.TrimRight(string(tf), "\r"), termStarted)
		if ok {
			_, err := time.Parse(aptLayout, strings.TrimSpace(s))
			ok = err == nil
		}
		if got := term.Match(nil, head); got != ok {
			t.Errorf("AptTerm.Match(%q) = %v, without precheck %v", head, got, ok)
		}
	})
}

// TestFirstLinePrecheckHeads: each testdata log is taken by its own parser
// and by no other, whole and from each of its lines on (a log cut at any
// line: the parser's answer is then its first-line test's, which the
// fuzz test holds the prechecks to), and other heads by none.
func TestFirstLinePrecheckHeads(t *testing.T) {
	ps := map[string]parsers.Parser{"dpkg.log": New(), "term.log": NewAptTerm(), "alternatives.log": NewAlternatives(), "history.log": NewAptHistory()}
	taken := 0
	for file, own := range ps {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		e := &jfs.Entry{Path: "var/log/" + file}
		if !own.Match(e, b[:min(len(b), parsers.HeadSize)]) {
			t.Errorf("%s: head not taken by %s", file, own.Name())
		}
		for i := 0; i < len(b); {
			h := b[i:min(len(b), i+parsers.HeadSize)]
			for f, p := range ps {
				if f != file && p.Match(e, h) {
					t.Errorf("%s from offset %d taken by %s", file, i, p.Name())
				}
			}
			if own.Match(e, h) {
				taken++
			}
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
		}
	}
	if taken < 20 {
		t.Errorf("%d heads taken", taken)
	}
	for _, h := range []string{"", "\r\n\r\n", "x", "2024-01-02", "2024/01/02 03:04:05 install x 1\n", ": 1:0;ls\n", "Log started", "update-alternatives"} {
		for _, p := range ps {
			if p.Match(&jfs.Entry{Path: "x"}, []byte(h)) {
				t.Errorf("%q taken by %s", h, p.Name())
			}
		}
	}
}
