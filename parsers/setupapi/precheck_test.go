package setupapi

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzMatchLinePrecheck compares MatchLine with its checks run on every
// line.
func FuzzMatchLinePrecheck(f *testing.F) {
	for _, s := range []string{
		"[2005/01/02 03:04:05 123.4 Driver Install]", "[2005/01/02 03:04:05 123.4]  ", "[x",
		">>>  [Device Install (Hardware initiated) - x]", ">>>  Section start 2019/01/02 03:04:05.678",
		"<<<  Section end 2019/01/02 03:04:06.000", "", "[",
	} {
		f.Add([]byte(s))
	}
	p := New()
	f.Fuzz(func(t *testing.T, line []byte) {
		want := false
		if m := xpHeaderRe.FindSubmatch(line); m != nil {
			_, err := time.Parse("2006/01/02 15:04:05", string(m[1]))
			want = err == nil
		} else {
			for _, pre := range [][]byte{startPrefix, endPrefix} {
				if bytes.HasPrefix(line, pre) {
					_, err := time.Parse(stampLayout, strings.TrimSpace(string(line[len(pre):])))
					want = err == nil
					break
				}
			}
		}
		if got := p.MatchLine(nil, line); got != want {
			t.Errorf("MatchLine(%q) = %v, without precheck %v", line, got, want)
		}
	})
}

// oldMatch is Match without mayHoldSection: MatchLine on every complete
// line.
func oldMatch(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	if bytes.HasPrefix(head, []byte("[Device Install Log]")) || bytes.HasPrefix(head, []byte("[SetupAPI Log]")) {
		return true
	}
	for len(head) > 0 {
		line, rest, found := bytes.Cut(head, []byte("\n"))
		if !found {
			break
		}
		head = rest
		if New().MatchLine(nil, bytes.TrimSuffix(line, []byte("\r"))) {
			return true
		}
	}
	return false
}

// precheckHeads are real heads: the SetupAPI logs of testdata and the
// corpus, whole and from each of their section lines on (a log cut at
// rotation, which Match must take), and heads of other corpus logs and
// text (which it must not).
func precheckHeads(tb testing.TB) (logs, others [][]byte) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	if dir, err := parsertest.CorpusDir(); err == nil {
		files = append(files, filepath.Join(dir, "windows", "logs", "setupapi.dev.log"))
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		logs = append(logs, b[:min(len(b), parsers.HeadSize)])
		for i := 0; i < len(b) && len(logs) < 200; {
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
			if l := b[i:]; bytes.HasPrefix(l, startPrefix) || bytes.HasPrefix(l, endPrefix) ||
				(len(l) > 1 && l[0] == '[' && '0' <= l[1] && l[1] <= '9') {
				logs = append(logs, append([]byte("     dvi: cut\r\n"), l[:min(len(l), parsers.HeadSize-15)]...))
			}
		}
	}
	others = [][]byte{
		[]byte("Jan  1 00:00:00 host sshd[1]: x\n"), []byte("a[0] = 1\nb[1] = 2\n"), []byte("[section]\nkey=value\n"),
		[]byte(">>>  Section start yesterday\r\n"), []byte("x  Section y\n"), []byte(""), []byte("["), []byte("[1"),
	}
	if dir, err := parsertest.CorpusDir(); err == nil {
		more, _ := filepath.Glob(filepath.Join(dir, "logs", "*", "*"))
		for _, p := range more {
			b, err := os.ReadFile(p)
			if err != nil || strings.Contains(p, "setupapi") {
				continue
			}
			others = append(others, b[:min(len(b), parsers.HeadSize)])
		}
	}
	return logs, others
}

// TestMatchPrecheck: every real SetupAPI head is taken, no other head is,
// and mayHoldSection never changes Match's answer (each head cut at every
// line end too).
func TestMatchPrecheck(t *testing.T) {
	logs, others := precheckHeads(t)
	if len(logs) < 20 || len(others) < 10 {
		t.Fatalf("%d log heads, %d others", len(logs), len(others))
	}
	p := New()
	for _, h := range logs {
		if !p.Match(nil, h) {
			t.Errorf("SetupAPI head not taken: %.80q", h)
		}
	}
	for _, h := range others {
		if p.Match(nil, h) {
			t.Errorf("head taken: %.80q", h)
		}
	}
	for _, h := range append(logs, others...) {
		for i := range h {
			if h[i] != '\n' && i != len(h)-1 {
				continue
			}
			if got, want := p.Match(nil, h[:i+1]), oldMatch(h[:i+1]); got != want {
				t.Fatalf("Match(%.80q) = %v, without precheck %v", h[:i+1], got, want)
			}
		}
	}
}

// FuzzMatchPrecheck compares Match with its loop run without
// mayHoldSection.
func FuzzMatchPrecheck(f *testing.F) {
	logs, others := precheckHeads(f)
	for _, h := range append(logs[:min(len(logs), 20)], others...) {
		f.Add(h)
	}
	p := New()
	f.Fuzz(func(t *testing.T, head []byte) {
		if got, want := p.Match(nil, head), oldMatch(head); got != want {
			t.Errorf("Match(%q) = %v, without precheck %v", head, got, want)
		}
	})
}
