package weblog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzLooksLikeRecord: the '[' precheck of looksLikeRecord never rejects a
// line one of the three parses accepts.
func FuzzLooksLikeRecord(f *testing.F) {
	for _, s := range []string{
		`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326`,
		`[Wed Oct 11 14:32:52 2000] [error] [client 127.0.0.1] client denied`,
		`2024/01/02 03:04:05 [error] 1#1: *1 open() failed, client: 1.2.3.4`,
		"", "no bracket here", "[", "]",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		b, _ := os.ReadFile(p)
		for _, l := range bytes.Split(b, []byte("\n"))[:min(20, bytes.Count(b, []byte("\n")))] {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, l []byte) {
		want := oldLooksLike(l)
		if got := looksLikeRecord(l); got != want {
			t.Errorf("looksLikeRecord(%q) = %v, the parses say %v", l, got, want)
		}
	})
}

// oldLooksLike is looksLikeRecord without its pre-checks: the parses.
func oldLooksLike(l []byte) bool {
	ev, _ := parseAccess(l)
	_, errA := parseApacheError(l)
	_, errN := parseNginxError(l)
	return ev != nil || errA == nil || errN == nil
}

// TestLooksLikeRecordLines holds looksLikeRecord to the parses over lines
// joined from up to four pieces around the access log's [time]: valid
// and near-miss times (one byte short or long, each separator moved, no
// ']', a second '['), 1 to 5 fields before it, request and status tails,
// Apache and nginx error forms, and text: the [time] shape pre-check must
// not turn away a line a parse takes.
func TestLooksLikeRecordLines(t *testing.T) {
	pre := []string{"", "1.2.3.4 ", "1.2.3.4 - ", "1.2.3.4 - - ", "h 1.2.3.4 - - ", "a b c d e ", "x\t"}
	times := []string{"[10/Oct/2000:13:55:36 -0700]", "[10/Oct/2000:13:55:36 +0000]", "[1/Oct/2000:13:55:36 -0700]",
		"[10/Oct/2000:13:55:36 -07000]", "[10-Oct/2000:13:55:36 -0700]", "[10/Oct-2000:13:55:36 -0700]",
		"[10/Oct/2000 13:55:36 -0700]", "[10/Oct/2000:13 55:36 -0700]", "[10/Oct/2000:13:55 36 -0700]",
		"[10/Oct/2000:13:55:36+-0700]", "[10/Oct/2000:13:55:36 -0700", "[[10/Oct/2000:13:55:36 -0700]",
		"[Wed Oct 11 14:32:52 2000]", "[error]", "[]", "[", "]", ""}
	post := []string{"", ` "GET / HTTP/1.0" 200 2326`, ` "GET / HTTP/1.0" 200 -`, ` "x" 20`, ` [error] [client 127.0.0.1] denied`, " x"}
	lines := []string{"2024/01/02 03:04:05 [error] 1#1: *1 open() failed, client: 1.2.3.4", "[Wed Oct 11 14:32:52 2000] [error] x"}
	for _, a := range pre {
		for _, b := range times {
			for _, c := range post {
				lines = append(lines, a+b+c, a+b+b+c)
			}
		}
	}
	taken := 0
	for _, l := range lines {
		got, want := looksLikeRecord([]byte(l)), oldLooksLike([]byte(l))
		if got != want {
			t.Errorf("looksLikeRecord(%q) = %v, the parses say %v", l, got, want)
		}
		if want {
			taken++
		}
	}
	if len(lines) < 1000 || taken < 20 {
		t.Fatalf("%d lines, %d taken", len(lines), taken)
	}
}

// FuzzMatchLines compares Match with its loop over bytes.Split, as it was.
func FuzzMatchLines(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326\nx\n",
		"", "\n", "# c\n[Wed Oct 11 14:32:52 2000] [error] x\n",
	} {
		f.Add([]byte(s))
	}
	p := New()
	f.Fuzz(func(t *testing.T, head []byte) {
		h := bytes.TrimPrefix(head, utf8BOM)
		want := false
		if bytes.HasPrefix(h, []byte("#")) && isW3CWebHead(h) {
			want = true
		} else {
			if bytes.HasPrefix(h, []byte("#")) {
				h = skipComments(h)
			}
			lines := bytes.Split(h, []byte("\n"))
			if len(lines) > 1 && len(h) >= parsers.HeadSize {
				lines = lines[:len(lines)-1]
			}
			seen, ok := 0, 0
			for _, l := range lines {
				l = bytes.TrimRight(l, "\r")
				if len(bytes.TrimSpace(l)) == 0 {
					continue
				}
				seen++
				if looksLikeRecord(l) {
					ok++
				}
				if seen == 5 {
					break
				}
			}
			want = ok > 0 && ok*2 > seen
		}
		if got := p.Match(nil, head); got != want {
			t.Errorf("Match(%q) = %v, split loop %v", head, got, want)
		}
	})
}

// oldIsW3CWebHead is isW3CWebHead as it was, over bytes.Split.
func oldIsW3CWebHead(head []byte) bool {
	for _, l := range bytes.Split(head, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if after, ok := bytes.CutPrefix(l, []byte("#Fields:")); ok {
			f := string(after)
			return strings.Contains(f, "cs-method") || strings.Contains(f, "cs-uri-stem") ||
				strings.Contains(f, "sc-status") || strings.Contains(f, "c-ip")
		}
		if len(l) > 0 && l[0] != '#' {
			return false
		}
	}
	return false
}

// w3cHeads are heads isW3CWebHead is asked about: real IIS and W3C heads
// from testdata and the corpus (which it must take), the firewall's W3C
// head and comment blocks of other files (which it must not).
func w3cHeads(tb testing.TB) [][]byte {
	heads := [][]byte{
		[]byte("#Software: Microsoft Internet Information Services 10.0\r\n#Version: 1.0\r\n#Date: 2024-01-01 00:00:00\r\n#Fields: date time s-ip cs-method cs-uri-stem\r\n"),
		[]byte("#Fields: date time c-ip"),
		[]byte("#Version: 1.0\n#Software: Microsoft Windows Firewall\n#Time Format: Local\n#Fields: date time action protocol src-ip dst-ip\n"),
		[]byte("#!/bin/sh\n# a script\nexit 0\n"),
		[]byte("# comment\n\n#Fields: x-y\n"), []byte("#"), []byte("#\n\n\n"), []byte("#Fields:"), []byte(""),
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	if dir, err := parsertest.CorpusDir(); err == nil {
		more, _ := filepath.Glob(filepath.Join(dir, "logs", "web", "*"))
		files = append(files, more...)
		more, _ = filepath.Glob(filepath.Join(dir, "more", "*", "*"))
		files = append(files, more...)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		b = bytes.TrimPrefix(b, utf8BOM)
		if bytes.HasPrefix(b, []byte("#")) {
			heads = append(heads, b[:min(len(b), parsers.HeadSize)])
		}
	}
	return heads
}

// TestIsW3CWebHeadUnchanged: the line-by-line isW3CWebHead answers as the
// bytes.Split loop did, on real heads (some IIS heads among them) and each
// of their cuts.
func TestIsW3CWebHeadUnchanged(t *testing.T) {
	taken := 0
	for _, h := range w3cHeads(t) {
		for n := range len(h) + 1 {
			if got, want := isW3CWebHead(h[:n]), oldIsW3CWebHead(h[:n]); got != want {
				t.Fatalf("isW3CWebHead(%q) = %v, split loop %v", h[:n], got, want)
			}
		}
		if isW3CWebHead(h) {
			taken++
		}
	}
	if taken < 2 {
		t.Fatalf("only %d W3C web heads taken", taken)
	}
}

// FuzzIsW3CWebHead compares isW3CWebHead with the bytes.Split loop.
func FuzzIsW3CWebHead(f *testing.F) {
	for _, h := range w3cHeads(f) {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		if got, want := isW3CWebHead(head), oldIsW3CWebHead(head); got != want {
			t.Errorf("isW3CWebHead(%q) = %v, split loop %v", head, got, want)
		}
	})
}
