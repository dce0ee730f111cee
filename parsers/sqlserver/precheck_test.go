package sqlserver

import (
	"strings"
	"testing"
	"time"

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

// FuzzMatchPrecheck compares Match with oldMatch on UTF-8 and UTF-16
// heads, under a plain name and an MPLog- name.
func FuzzMatchPrecheck(f *testing.F) {
	p := New()
	parsertest.FuzzMatchUnchanged(f, p, []string{"2024-01-02 03:04:05.12 Server      Microsoft SQL Server 2019", "", "x", "1", "\xef\xbb\xbf2", "\xff\xfe", "\xff\xfe1", "\xff\xfe1\x00", "1\x002\x00"}, func(e *jfs.Entry, head []byte) bool { return oldMatch(p, e, head) })
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
