package mysql

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
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
		// On the edges of timeShape and of the '#' test.
		"# Tx", "# Z: 1", "# ", "#  Time: 1", "2024-01-02 03:04:0", "2024-01-02 3:04:05 0 [Note] x",
		"150817  3:04:05 mysqld_safe x", "15081 10:13:51 mysqld_safe x", "2024-01-02T03:04:05Z\t 5 Query\tx",
		"2024-01-02T 3:04:05Z 1 [Note] x", "2024-01-02x03:04:05 1 [Note] x", "2024-01-02 03:04:05 InnoDB: x",
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

// TestMatchPrecheckHeads: the MySQL and MariaDB logs of testdata and the
// corpus are taken, whole and from each of their first lines on; heads of
// other corpus logs (PostgreSQL, dpkg, syslog, web, shell history) and
// commented text are not; and Match answers as the regexps alone on every
// one of them.
func TestMatchPrecheckHeads(t *testing.T) {
	var logs, others [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", "*.log"))
	if dir, err := parsertest.CorpusDir(); err == nil {
		more, _ := filepath.Glob(filepath.Join(dir, "more", "db", "*mysql*"))
		files = append(files, more...)
		more, _ = filepath.Glob(filepath.Join(dir, "logs", "*", "*"))
		for _, p := range append(more, filepath.Join(dir, "more", "db", "lnav_logfile_postgres.0")) {
			if b, err := os.ReadFile(p); err == nil {
				others = append(others, b[:min(len(b), parsers.HeadSize)])
			}
		}
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := 0, 0; i < len(b) && n < 20; n++ {
			logs = append(logs, b[i:min(len(b), i+parsers.HeadSize)])
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
		}
	}
	others = append(others, []byte("# a comment\n# another\nkey = 1\n"), []byte("#!/bin/sh\n# Time to go\nexit 0\n"),
		[]byte("2024-01-02 03:04:05 status installed x:amd64 1.0\n"), []byte("12 apples\n13 pears\n"))
	if len(logs) < 40 || len(others) < 10 {
		t.Fatalf("%d log heads, %d others", len(logs), len(others))
	}
	p := New()
	taken := 0
	for _, h := range logs {
		if p.Match(nil, h) {
			taken++
		}
		if got, want := p.Match(nil, h), regexpMatch(h); got != want {
			t.Errorf("Match(%.80q) = %v, regexps alone %v", h, got, want)
		}
	}
	// A head from a line in the middle of a slow-log entry may be mostly
	// statements; the regexps decide those, and most heads are taken.
	if taken*10 < len(logs)*8 {
		t.Errorf("%d of %d MySQL heads taken", taken, len(logs))
	}
	for _, h := range others {
		if p.Match(nil, h) {
			t.Errorf("head taken: %.80q", h)
		}
		for _, l := range append(bytes.Split(h, []byte("\n")), h) {
			l = bytes.TrimRight(l, "\r")
			if got, want := p.MatchLine(nil, l), regexpMatchLine(l); got != want {
				t.Errorf("MatchLine(%.80q) = %v, regexps alone %v", l, got, want)
			}
		}
	}
}

// FuzzCutLine holds cutLine to bytes.Cut and bytes.TrimRight, and
// lastNewline to bytes.LastIndexByte, on every suffix of the input.
func FuzzCutLine(f *testing.F) {
	for _, s := range []string{"", "\n", "\r\n", "a\r\r\nb", "\r", "x\ny\n", strings.Repeat("y", 300) + "\n" + strings.Repeat("z", 300)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := range len(b) + 1 {
			s := b[i:]
			l, r, more := cutLine(s)
			wl, wr, wmore := bytes.Cut(s, []byte("\n"))
			wl = bytes.TrimRight(wl, "\r")
			if !bytes.Equal(l, wl) || !bytes.Equal(r, wr) || more != wmore || (r == nil) != (wr == nil) {
				t.Fatalf("cutLine(%q) = %q %q %v, want %q %q %v", s, l, r, more, wl, wr, wmore)
			}
			if got, want := lastNewline(s), bytes.LastIndexByte(s, '\n'); got != want {
				t.Fatalf("lastNewline(%q) = %d, want %d", s, got, want)
			}
		}
	})
}

// TestLastNewlineLong: heads of a binary file (no line end, or one far
// from the end) and of text, at HeadSize.
func TestLastNewlineLong(t *testing.T) {
	for _, at := range []int{-1, 0, 1, 100, 3000, 3839, 3840, 3841, 4000, 4095} {
		b := bytes.Repeat([]byte{0x90}, parsers.HeadSize)
		if at >= 0 {
			b[at] = '\n'
			if at > 10 {
				b[at/2] = '\n'
			}
		}
		if got, want := lastNewline(b), bytes.LastIndexByte(b, '\n'); got != want {
			t.Errorf("newline at %d: lastNewline %d, want %d", at, got, want)
		}
	}
}
