package mysql

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
)

// regexpMatch is Match as it was before its prechecks: every regexp run on
// every line. The prechecks must never change its answer.
func regexpMatch(head []byte) bool {
	if len(head) >= parsers.HeadSize {
		if i := bytes.LastIndexByte(head, '\n'); i > 0 {
			head = head[:i]
		}
	}
	fit, miss := 0, 0
	for _, l := range bytes.Split(head, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		switch {
		case slowHeader.Match(l) || setTS.Match(l):
			fit++
		case len(bytes.TrimSpace(l)) == 0 || l[0] == '#' || l[0] == ' ' || headerLine.Match(l):
		case generalLine.Match(l) || generalNoTime.Match(l) || errorLine.Match(l) || serverTool(l):
			fit++
		default:
			miss++
		}
	}
	return fit > 0 && fit >= miss
}

// regexpMatchLine is MatchLine before its precheck.
func regexpMatchLine(line []byte) bool {
	return slowHeader.Match(line) || setTS.Match(line) || generalLine.Match(line) ||
		generalNoTime.Match(line) || errorLine.Match(line) || serverTool(line)
}

// FuzzMatchPrecheck compares Match and MatchLine with the regexps alone,
// seeded with every line of the test logs and lines built to sit on the
// edges of each precheck (a tab then blanks then no digit, "#" without a
// space, "SET" without "timestamp=", banner lines).
func FuzzMatchPrecheck(f *testing.F) {
	seeds := []string{
		"", "\n", "\t\t  12 Query\tselect 1", "\t \f\r7 Connect\troot@localhost on",
		"\tx 1 Query", "#Time: 1", "# Time: 2024", "SET timestamp=1700000000;",
		"SET timestamp=;", "mysqld, Version: 8.0", "Tcp port: 3306  Unix socket: x",
		"Time                 Id Command    Argument", "Time\tId\tCommand\tArgument",
		"2024-01-02T03:04:05.123456Z 8 [Note] [MY-010000] [Server] x",
		"150817 10:13:51 mysqld_safe Starting", "2014-03-22 19:46:29 7f2f5b5b6740 InnoDB: x",
		"240102  3:04:05\t    5 Query\tselect", "\xef\xbb\xbf2024-01-02 03:04:05 0 [Note] x",
		"１2024-01-02 03:04:05 0 [Note] x", " 2024-01-02 03:04:05 0 [Note] x",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
		f.Add([]byte(s + "\r\nnot a record\n" + s + "\n"))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		f.Add(b[:min(len(b), parsers.HeadSize)])
		for _, l := range bytes.Split(b, []byte("\n"))[:min(40, bytes.Count(b, []byte("\n")))] {
			f.Add(l)
		}
	}
	p := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := p.Match(nil, b), regexpMatch(b); got != want {
			t.Errorf("Match(%q) = %v, regexps alone %v", b, got, want)
		}
		l := bytes.TrimRight(b, "\r")
		if got, want := p.MatchLine(nil, l), regexpMatchLine(l); got != want {
			t.Errorf("MatchLine(%q) = %v, regexps alone %v", l, got, want)
		}
	})
}
