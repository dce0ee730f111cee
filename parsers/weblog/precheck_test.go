package weblog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
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
