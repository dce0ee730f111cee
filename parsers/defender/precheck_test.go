package defender

import (
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/lines"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// oldMatch is Match before parsers.HeadStartsWithDigit: the head always
// decoded.
func oldMatch(p *Parser, e *jfs.Entry, head []byte) bool {
	s, _ := lines.DecodeHead(head)
	first, _, _ := strings.Cut(s, "\n")
	first = strings.TrimRight(first, "\r")
	if p.MatchLine(e, []byte(first)) {
		return true
	}
	if e == nil || !strings.HasPrefix(strings.ToLower(baseName(e.Path)), "mplog-") {
		return false
	}
	m := lineRe.FindStringSubmatch(first)
	return m != nil && validTime(m[1])
}

// FuzzMatchPrecheck compares Match with oldMatch on UTF-8 and UTF-16
// heads, under a plain name and an MPLog- name.
func FuzzMatchPrecheck(f *testing.F) {
	p := New()
	parsertest.FuzzMatchUnchanged(f, p, []string{"2024-01-02T03:04:05.123Z ProcessImageName: a.exe, Pid: 1, TotalTime: 1, Count: 1, MaxTime: 1, MaxTimeFile: x, EstimatedImpact: 1%", "", "x", "1", "\xef\xbb\xbf2", "\xff\xfe", "\xff\xfe1", "\xff\xfe1\x00", "1\x002\x00"}, func(e *jfs.Entry, head []byte) bool { return oldMatch(p, e, head) })
}

// FuzzMatchLinePrecheck: a line timeShaped rejects is one lineRe does not
// match, so MatchLine's answer is the expression's.
func FuzzMatchLinePrecheck(f *testing.F) {
	for _, s := range []string{"2024-01-02T03:04:05.123Z ProcessImageName: a.exe", "2024-01-02T03:04:05 x",
		"2024-01-02T03:04:05", "2024-01-02 03:04:05 x", "x", "", "2024-01-02T03:04:0x y", "٢024-01-02T03:04:05 x"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if !timeShaped(line) && lineRe.Match(line) {
			t.Errorf("timeShaped(%q) false, but lineRe matches", line)
		}
	})
}
