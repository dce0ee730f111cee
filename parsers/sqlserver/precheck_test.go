package sqlserver

import (
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// oldMatch is Match before parsers.HeadStartsWithDigit: the head always
// decoded.
func oldMatch(p *Parser, e *jfs.Entry, head []byte) bool {
	s, _ := lines.DecodeHead(head)
	first, _, _ := strings.Cut(s, "\n")
	return p.MatchLine(e, []byte(strings.TrimRight(first, "\r")))
}

func utf16le(s string, bom bool) []byte {
	var b []byte
	if bom {
		b = []byte{0xff, 0xfe}
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// FuzzMatchPrecheck compares Match with oldMatch on UTF-8 and UTF-16
// heads, under a plain name and an MPLog- name.
func FuzzMatchPrecheck(f *testing.F) {
	for _, s := range []string{"2024-01-02 03:04:05.12 Server      Microsoft SQL Server 2019", "", "x", "1", "\xef\xbb\xbf2", "\xff\xfe", "\xff\xfe1", "\xff\xfe1\x00", "1\x002\x00"} {
		f.Add([]byte(s))
		f.Add([]byte(s + "\r\nmore\n"))
		f.Add(utf16le(s, true))
		f.Add(utf16le(s, false))
	}
	p := New()
	mt := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, e := range []*jfs.Entry{nil, parsertest.BytesEntry("MPLog-20240101.log", b, mt), parsertest.BytesEntry("ERRORLOG", b, mt)} {
			if got, want := p.Match(e, b), oldMatch(p, e, b); got != want {
				t.Errorf("Match(%q) = %v, decoding always %v", b, got, want)
			}
		}
	})
}

// FuzzMatchLinePrecheck: MatchLine answers as lineRe and the time parse
// alone.
func FuzzMatchLinePrecheck(f *testing.F) {
	for _, s := range []string{"2024-01-02 03:04:05.12 Server      Microsoft SQL Server", "2024-", "", "x"} {
		f.Add([]byte(s))
	}
	p := New()
	f.Fuzz(func(t *testing.T, line []byte) {
		want := false
		if m := lineRe.FindSubmatch(line); m != nil {
			_, err := time.Parse(stampLayout, string(m[1]))
			want = err == nil
		}
		if got := p.MatchLine(nil, line); got != want {
			t.Errorf("MatchLine(%q) = %v, regexp %v", line, got, want)
		}
	})
}
