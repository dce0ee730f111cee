package syslog

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// matchParsingAll is Match as it was before its prechecks: every line
// copied to a string and asked of journalNote, tailHeader and parseLine.
func matchParsingAll(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	complete := len(head) < parsers.HeadSize
	var h header
	strong, records, other, lines := 0, 0, 0, 0
	for len(head) > 0 && lines < matchLines {
		line, rest, found := bytes.Cut(head, []byte("\n"))
		if !found && !complete {
			break
		}
		head = rest
		line = bytes.TrimSuffix(line, []byte("\r"))
		line = bytes.TrimLeft(line, "\x00")
		if len(bytes.TrimSpace(line)) == 0 || line[0] == ' ' || line[0] == '\t' || journalNote(string(line)) || tailHeader(string(line)) {
			continue
		}
		if records == 0 && bytes.IndexByte(line, 0) >= 0 {
			return false
		}
		lines++
		startLike, err := parseLine(string(line), &h)
		switch {
		case startLike && err == nil:
			records++
			if h.closed || h.layout == layout5424 || h.layout == layoutComment {
				strong++
			}
		case records > 0:
			other++
		}
	}
	return (strong >= 2 || strong == 1 && records == 1 && other == 0) &&
		strong*2 > records && records > other
}

// FuzzMatchPrecheck compares Match with matchParsingAll, seeded with the
// heads of the test logs and lines of every layout parseLine knows.
func FuzzMatchPrecheck(f *testing.F) {
	for _, s := range []string{
		"<13>1 2024-01-02T03:04:05Z host app 1 - - msg\n<13>1 2024-01-02T03:04:05Z host app 1 - - msg\n",
		"Jan  2 03:04:05 host sshd[1]: a\nJan  2 03:04:06 host sshd[1]: b\n",
		"2024-01-02T03:04:05+01:00 host app: a\n2024-01-02T03:04:05+01:00 host app: b\n",
		"1700000000.123 host app: a\n1700000000.123 host app: b\n",
		"Tue 2024-01-02 03:04:05 UTC host app[1]: a\nTue 2024-01-02 03:04:05 UTC host app[1]: b\n",
		"-- Logs begin at x, end at y --\n==> a.log <==\nJan  2 03:04:05 host a: b\nJan  2 03:04:05 host a: b\n",
		"# comment\n!x\nJan  2 03:04:05 host a: b\n.y\nJan  2 03:04:05 host a: b\n",
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	if dir, err := parsertest.CorpusDir(); err == nil {
		more, _ := filepath.Glob(filepath.Join(dir, "logs", "*", "*"))
		files = append(files, more...)
	}
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b[:min(len(b), parsers.HeadSize)])
		}
	}
	p := New()
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := p.Match(nil, b), matchParsingAll(b); got != want {
			t.Errorf("Match(%q) = %v, parsing every line %v", b, got, want)
		}
	})
}
