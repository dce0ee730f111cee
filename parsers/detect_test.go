package parsers_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func corpusFile(t testing.TB, rel string) (*os.File, []byte) {
	t.Helper()
	p := parsertest.Corpus(t, rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, b
}

// lineSet is every line of a file, to check that a sampled line is a whole
// line of it and not a piece cut by a window.
func lineSet(b []byte) map[string]int {
	m := map[string]int{}
	off := 0
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		m[string(bytes.TrimRight(l, "\r\n"))] = off
		off += len(l)
	}
	return m
}

func TestSampleLinesWholeLinesThroughTheFile(t *testing.T) {
	f, b := corpusFile(t, "more/linux/auth/elastic_examples_auth.log")
	lines := lineSet(b)
	size := int64(len(b))
	cases := []struct {
		name     string
		start    []byte
		complete bool
		withAt   bool
		// reach: the sample must hold a line starting at or after this
		// offset (windows spread over what is readable).
		reach int64
	}{
		{"random access", b[:64<<10], false, true, size * 7 / 8},
		{"stream buffer", b[:256<<10], false, false, (256 << 10) * 7 / 8},
		{"whole short file", b[:40<<10], true, false, 39 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s parsers.Sample
			if c.withAt {
				s = parsers.SampleLines(c.start, c.complete, f, size)
			} else {
				s = parsers.SampleLines(c.start, c.complete, nil, -1)
			}
			if len(s.Lines) != parsers.SampleMaxLines {
				t.Errorf("%d lines sampled, want %d", len(s.Lines), parsers.SampleMaxLines)
			}
			last := -1
			for _, l := range s.Lines {
				off, ok := lines[string(l)]
				if !ok {
					t.Fatalf("sampled %q is not a whole line of the file", l)
				}
				last = max(last, off)
			}
			if int64(last) < c.reach-int64(parsers.SampleWindowSize) {
				t.Errorf("last sampled line at %d, want the sample to reach %d", last, c.reach)
			}
		})
	}
}

func TestSampleLinesSkipsLeadingComments(t *testing.T) {
	_, b := corpusFile(t, "logs/syslog/syslog_ssh.log")
	in := append([]byte("\xef\xbb\xbf# exported\n\n; note\n// by hand\n-- end\n"), b...)
	s := parsers.SampleLines(in, true, nil, -1)
	if s.Leading != 5 {
		t.Errorf("Leading = %d, want 5", s.Leading)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(s.Lines) != len(want) || string(s.Lines[0]) != want[0] || string(s.Lines[len(s.Lines)-1]) != want[len(want)-1] {
		t.Errorf("sampled %d lines from %q, want the %d lines of the log", len(s.Lines), s.Lines[0], len(want))
	}
	// Without the file's end, its last line may be cut: not sampled.
	if s := parsers.SampleLines(in[:len(in)-5], false, nil, -1); len(s.Lines) != len(want)-1 {
		t.Errorf("cut buffer: %d lines, want %d", len(s.Lines), len(want)-1)
	}
}

// A format of multi-line records behind comment lines is known by the head
// after them even when too few of its lines look alike: a MySQL slow log's
// statements are most of its lines.
func TestDetectByHeadAfterComments(t *testing.T) {
	_, b := corpusFile(t, "more/db/lnav_logfile_mysql_slow.0")
	in := append([]byte("# slow log of db01\n\n"), b...)
	s := parsers.SampleLines(in, true, nil, -1)
	// The slow log's own "# Time:" and "# User@Host:" lines lead too.
	if s.Leading != 7 || len(s.Heads) != 7 || !bytes.HasPrefix(b, s.Heads[1]) || len(s.Heads[1]) != min(parsers.HeadSize, len(b)) {
		t.Fatalf("Leading %d, %d heads: want 7 and the log's own head second", s.Leading, len(s.Heads))
	}
	// Dilute the sample with other lines (notes pasted in) until the share
	// of slow-log lines is too low to decide: the head still does.
	n := len(s.Lines)
	for i := range 3 * n {
		s.Lines = append(s.Lines, []byte(fmt.Sprintf("note %d: precinct totals checked against the tally sheet", i)))
	}
	reg := all.Registry()
	e := &jfs.Entry{Path: "slow.txt", Size: int64(len(in))}
	if d := reg.Detect(e, s); d.Parser == nil || d.Parser.Name() != "mysql" {
		t.Fatalf("Detect = %+v, want mysql", d)
	}
	s.Heads = nil
	if d := reg.Detect(e, s); d.Parser != nil {
		t.Errorf("without the heads, detected as %s (%d of %d)", d.Parser.Name(), d.Accepted, d.Sampled)
	}
}

func linesOf(t *testing.T, rel string, n int) [][]byte {
	_, b := corpusFile(t, rel)
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) > 0 && len(out) < n {
			out = append(out, bytes.TrimRight(l, "\r"))
		}
	}
	return out
}

// Detect on lines of real logs of each text format picks that format; too
// few accepted lines pick none but still name the nearest.
func TestDetect(t *testing.T) {
	reg := all.Registry()
	prose := [][]byte{
		[]byte("Minutes of the county canvass board, 12 November."),
		[]byte("Present: the clerk, two observers and the IT contractor."),
		[]byte("The board reviewed the tabulator logs and found no gaps."),
		[]byte("Next meeting after certification."),
	}
	mix := func(a, b [][]byte) [][]byte { return append(append([][]byte(nil), a...), b...) }
	cases := []struct {
		name    string
		lines   [][]byte
		want    string // chosen parser, "" for none
		nearest string
	}{
		{"auth.log", linesOf(t, "more/linux/auth/elastic_examples_auth.log", 40), "syslog", "syslog"},
		{"apache", linesOf(t, "logs/web/apache_access.log", 40), "weblog", "weblog"},
		{"nginx", linesOf(t, "more/web/nginx/crowdsec_nginx_http-logs.log", 40), "weblog", "weblog"},
		{"auditd", linesOf(t, "logs/linux/audit_enriched.log", 40), "auditd", "auditd"},
		{"postgresql", linesOf(t, "logs/db/postgresql.log", 40), "postgresql", "postgresql"},
		{"mysql general", linesOf(t, "more/db/lnav_logfile_mysql_gen.0", 40)[3:], "mysql", "mysql"},
		{"dpkg", linesOf(t, "logs/linux/dpkg.log", 40), "dpkg", "dpkg"},
		{"a quarter is enough", mix(linesOf(t, "logs/syslog/syslog_ssh.log", 3), mix(prose, mix(prose, prose[:1]))), "syslog", "syslog"},
		{"under a quarter", mix(linesOf(t, "logs/syslog/syslog_ssh.log", 3), mix(prose, mix(prose, prose[:2]))), "", "syslog"},
		{"three needed", mix(linesOf(t, "logs/syslog/syslog_ssh.log", 2), prose[:2]), "", "syslog"},
		{"prose", prose, "", ""},
		{"two lines of a short file", linesOf(t, "logs/syslog/syslog_ssh.log", 2), "syslog", "syslog"},
	}
	e := &jfs.Entry{Path: "evidence/file", Size: -1}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := reg.Detect(e, parsers.Sample{Lines: c.lines})
			got := ""
			if d.Parser != nil {
				got = d.Parser.Name()
			}
			if got != c.want || d.Nearest != c.nearest {
				t.Errorf("Detect = %q (nearest %q, %d of %d), want %q (nearest %q)", got, d.Nearest, d.Accepted, d.Sampled, c.want, c.nearest)
			}
			if d.Tried != len(reg.Parsers()) || d.Scored == 0 || d.Scored >= d.Tried {
				t.Errorf("tried %d, scored %d: binary formats must not be scored by line", d.Tried, d.Scored)
			}
		})
	}
}

// Registry order decides a tie, as it does for Match: two parsers accepting
// the same lines, registered in either order.
func TestDetectTieGoesToRegistryOrder(t *testing.T) {
	a, b := &lineParser{name: "a"}, &lineParser{name: "b"}
	for _, order := range [][]parsers.Parser{{a, b}, {b, a}} {
		reg := parsers.NewRegistry(order...).ScoreLines(order...)
		d := reg.Detect(&jfs.Entry{}, parsers.Sample{Lines: [][]byte{[]byte("x"), []byte("y"), []byte("z")}})
		if d.Parser != order[0] {
			t.Errorf("order %s,%s: chose %v", order[0].Name(), order[1].Name(), d.Parser)
		}
	}
}

func TestScoreLinesPanicsOnUnregistered(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	parsers.NewRegistry(&lineParser{name: "a"}).ScoreLines(&lineParser{name: "b"})
}

// BenchmarkDetect is the cost detection adds to a file whose head no parser
// takes (the normal path, a head that matches, never runs it): eight 8 KiB
// windows of an 800 KB log read at their offsets and scored.
func BenchmarkDetect(b *testing.B) {
	f, content := corpusFile(b, "more/linux/auth/elastic_examples_auth.log")
	reg := all.Registry()
	e := &jfs.Entry{Path: "evidence/auth.txt", Size: int64(len(content))}
	start := content[:64<<10]
	b.SetBytes(int64(parsers.SampleWindows * parsers.SampleWindowSize))
	b.ResetTimer()
	for range b.N {
		if d := reg.Detect(e, parsers.SampleLines(start, false, f, e.Size)); d.Parser == nil {
			b.Fatal("not detected")
		}
	}
}

// FuzzSampleLines: any bytes, with or without random access, give lines
// that are whole lines of the input (never a piece cut by a window), within
// the caps, and heads that are suffixes of the input.
func FuzzSampleLines(f *testing.F) {
	for _, rel := range []string{"logs/syslog/syslog_ssh.log", "more/db/lnav_logfile_mysql_slow.0", "logs/web/iis6.log"} {
		_, b := corpusFile(f, rel)
		f.Add(b, true, false)
		f.Add(append([]byte("# c\n\n"), b...), false, true)
	}
	f.Add([]byte("\x00\x00\n\r\n#\n"), true, true)
	f.Fuzz(func(t *testing.T, b []byte, complete, withAt bool) {
		var s parsers.Sample
		if withAt {
			// The buffered start is shorter than the file, as in ingest.
			s = parsers.SampleLines(b[:len(b)/2], false, bytes.NewReader(b), int64(len(b)))
		} else {
			s = parsers.SampleLines(b, complete, nil, -1)
		}
		if len(s.Lines) > parsers.SampleMaxLines || len(s.Heads) > 16 {
			t.Fatalf("%d lines, %d heads", len(s.Lines), len(s.Heads))
		}
		whole := append([]byte("\n"), b...)
		whole = append(whole, '\n')
		for _, l := range s.Lines {
			if !bytes.Contains(whole, append(append([]byte("\n"), l...), '\n')) &&
				!bytes.Contains(whole, append(append([]byte("\n"), l...), '\r', '\n')) &&
				!bytes.Contains(whole, append(append([]byte("\n\xef\xbb\xbf"), l...), '\n')) {
				t.Fatalf("sampled %q is not a whole line", l)
			}
		}
		for _, h := range s.Heads {
			if !bytes.Contains(b, h) || len(h) > parsers.HeadSize {
				t.Fatalf("head %q is not from the input", h)
			}
		}
	})
}

// TestDetectionString pins the skip message's wording, which stored
// warnings of earlier cases hold: written without fmt, it must read as the
// Sprintf it replaced did.
func TestDetectionString(t *testing.T) {
	for _, tc := range []struct {
		d    parsers.Detection
		want string
	}{
		{parsers.Detection{Tried: 31}, "tried 31 formats; no complete text line to sample"},
		{parsers.Detection{Tried: 31, Sampled: 1}, "tried 31 formats; none accepted any of 1 sampled lines"},
		{parsers.Detection{Tried: 7, Sampled: 64, Nearest: "syslog", Accepted: 3}, "tried 7 formats; nearest: syslog, 3 of 64 sampled lines"},
		{parsers.Detection{Tried: 0, Sampled: 12, Nearest: "apache-access", Accepted: 0}, "tried 0 formats; nearest: apache-access, 0 of 12 sampled lines"},
	} {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.d, got, tc.want)
		}
		if got := string(tc.d.AppendText([]byte("x ("))); got != "x ("+tc.want {
			t.Errorf("%+v: AppendText gives %q", tc.d, got)
		}
	}
}

// headRecorder is a text parser scored by Match that keeps a copy of every
// head it is shown and accepts the lines starting with "ok".
type headRecorder struct {
	lineParser
	heads []string
}

func (p *headRecorder) Match(_ *jfs.Entry, head []byte) bool {
	p.heads = append(p.heads, string(head))
	return bytes.HasPrefix(head, []byte("ok"))
}

// TestDetectScoresOneLineHeads: a parser scored by Match is shown each
// sampled line and a '\n', nothing more, whether the line ended with "\n",
// "\r\n" or the file (no copy is made for the first; the bytes after it
// must not show), and the Scored count and the choice are those of the
// registry's text parsers alone.
func TestDetectScoresOneLineHeads(t *testing.T) {
	content := []byte("ok 1\nok 2\r\nno 3\nok 4\n\nok 5\r\nok 6")
	rec := &headRecorder{lineParser: lineParser{name: "rec"}}
	rec2 := &headRecorder{lineParser: lineParser{name: "rec2"}} // shown the heads rec was
	bin := &lineParser{name: "binary"}                          // registered, not scored
	reg := parsers.NewRegistry(bin, rec, rec2).ScoreLines(rec, rec2)
	for range 2 { // the second time with the pooled heads of the first
		rec.heads, rec2.heads = nil, nil
		d := reg.Detect(&jfs.Entry{Path: "x.txt", Size: int64(len(content))}, parsers.SampleLines(content, true, nil, -1))
		want := []string{"ok 1\n", "ok 2\n", "no 3\n", "ok 4\n", "ok 5\n", "ok 6\n"}
		if !slices.Equal(rec.heads, want) {
			t.Errorf("heads %q, want %q", rec.heads, want)
		}
		if d.Parser != rec || d.Tried != 3 || d.Scored != 2 || d.Accepted != 5 || d.Sampled != 6 {
			t.Errorf("detection %+v", d)
		}
		// rec2 stops once it cannot pass rec's 5: after its first miss.
		if !slices.Equal(rec2.heads, want[:3]) {
			t.Errorf("rec2 heads %q", rec2.heads)
		}
	}
}
