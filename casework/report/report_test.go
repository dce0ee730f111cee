package report

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// hostile is text an attacker controls (a log line, a user name): it must
// come out literally, neither breaking a table row nor becoming markup.
const hostile = "a|b\nc `x` *y* _z_ [l](http://e) <script>alert(1)</script> &amp; # ~~s~~ \\"

func hostileReport() *Report {
	ts := time.Date(2024, 2, 14, 14, 14, 5, 123000000, time.UTC)
	return &Report{
		ToolVersion: "test",
		Case:        evidence.Info{Name: "c|ase", Examiner: "ex<b>", Zone: "Asia/Jakarta"},
		Zone:        time.FixedZone("WIB", 7*3600),
		Custody:     export.ManifestCustody{Seq: 3, Hash: "ab", Intact: true},
		Hunt:        &Hunt{Key: "k", After: ts.Add(-time.Hour), Zone: "Asia/Jakarta", Rules: []string{"R@1"}},
		Findings: []hunt.Finding{{ID: "f1", RuleID: "R", Title: hostile, Severity: hunt.High, Key: hostile,
			First: ts, Last: ts, Explanation: hostile,
			Events: []hunt.EventRef{{ID: "e1", Timestamp: ts, TimestampDesc: "Event Time", Message: hostile,
				Provenance: timeline.Provenance{EvidenceName: "ev", Chain: []string{"tar:p|q"}, Path: "p|q", Offset: 7, Record: 2, Parser: "syslog"}}}}},
		Rules: []RuleText{{ID: "R", SHA256: "1", Text: "detection: |\n  ```\n  x\n"}},
	}
}

func TestMarkdownEscapesEvidenceText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReport(&buf, Markdown, hostileReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| 1 | 2024-02-14T14:14:05.123Z") {
			row = l
		}
	}
	if row == "" {
		t.Fatalf("no event row in:\n%s", out)
	}
	// Eight cells: nine pipes that are not backslashed.
	if n := unescapedPipes(row); n != 9 {
		t.Errorf("event row has %d cell separators, want 9:\n%s", n, row)
	}
	for _, bad := range []string{"<script>", "`x`", "*y*", "[l](", " &amp;"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown holds %q unescaped", bad)
		}
	}
	if !strings.Contains(row, "2024-02-14 21:14:05.123 +07:00") {
		t.Errorf("the case-zone time is missing: %s", row)
	}
	// The rule text holds a ``` line: its fence must be longer.
	if !strings.Contains(out, "````yaml\ndetection: |\n  ```\n  x\n````\n") {
		t.Errorf("rule text not fenced safely:\n%s", out)
	}
}

func unescapedPipes(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '|':
			n++
		}
	}
	return n
}

func TestHTMLEscapesEvidenceText(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReport(&buf, HTML, hostileReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "<script>") || strings.Contains(out, "<b>") {
		t.Error("evidence text became markup")
	}
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp;") {
		t.Error("evidence text not kept literally")
	}
}

func TestParseReportFormat(t *testing.T) {
	for in, want := range map[string]ReportFormat{"md": Markdown, "Markdown": Markdown, "HTML": HTML, "PDF": PDF} {
		if got, err := ParseReportFormat(in); err != nil || got != want {
			t.Errorf("%s: %v %v", in, got, err)
		}
	}
	if _, err := ParseReportFormat("docx"); err == nil {
		t.Error("docx accepted")
	}
}

func TestGroupWarnings(t *testing.T) {
	ws := []timeline.Warning{
		{Kind: timeline.WarnRecord, Chain: []string{"gzip:", "tar:b.log"}, Parser: "syslog", Offset: 10, Record: 2, Message: "bad"},
		{Kind: timeline.WarnSkipped, Path: "x.bin", Offset: -1, Message: "no parser"},
		{Kind: timeline.WarnRecord, Chain: []string{"gzip:", "tar:b.log"}, Parser: "syslog", Offset: 20, Record: 3, Message: "worse"},
	}
	g := GroupWarnings(ws)
	// A file left unread comes before records skipped inside read files.
	if len(g) != 2 || g[0].Where != "x.bin" || g[1].Kind != timeline.WarnRecord || g[1].Count != 2 || g[1].First != "offset 10, record 2: bad" {
		t.Errorf("groups: %+v", g)
	}
}

// TestGroupWarningsAnyOrder: the groups, their order and each group's
// first message are the same whatever order the warnings come in (the
// case store gives them as met, Elasticsearch by document ID): the
// warning earliest in the file speaks for its group, one without an
// offset last; the same file in two evidence items is two groups, in
// evidence order.
func TestGroupWarningsAnyOrder(t *testing.T) {
	ws := []timeline.Warning{
		{Kind: timeline.WarnRecord, Evidence: "bb", Path: "System.evtx", Parser: "evtx", Offset: 135168, Message: "chunk truncated"},
		{Kind: timeline.WarnRecord, Evidence: "bb", Path: "System.evtx", Parser: "evtx", Offset: -1, Message: "no offset"},
		{Kind: timeline.WarnRecord, Evidence: "bb", Path: "System.evtx", Parser: "evtx", Offset: 4096, Record: 9, Message: "record 9"},
		{Kind: timeline.WarnRecord, Evidence: "bb", Path: "System.evtx", Parser: "evtx", Offset: 4096, Record: 7, Message: "record 7"},
		{Kind: timeline.WarnRecord, Evidence: "aa", Path: "System.evtx", Parser: "evtx", Offset: 8, Message: "other item"},
		{Kind: timeline.WarnUnrecovered, Evidence: "bb", Path: "System.evtx", Parser: "evtx", Offset: -1, Message: "slack"},
	}
	want := []WarningGroup{
		{Kind: timeline.WarnRecord, Where: "System.evtx", Parser: "evtx", Evidence: "aa", Count: 1, First: "offset 8: other item"},
		{Kind: timeline.WarnRecord, Where: "System.evtx", Parser: "evtx", Evidence: "bb", Count: 4, First: "offset 4096, record 7: record 7"},
		{Kind: timeline.WarnUnrecovered, Where: "System.evtx", Parser: "evtx", Evidence: "bb", Count: 1, First: "slack"},
	}
	// Every rotation and the reverse of each.
	for i := range ws {
		perm := append(append([]timeline.Warning{}, ws[i:]...), ws[:i]...)
		rev := slices.Clone(perm)
		slices.Reverse(rev)
		for _, p := range [][]timeline.Warning{perm, rev} {
			got := GroupWarnings(p)
			if len(got) != len(want) {
				t.Fatalf("%d groups, want %d: %+v", len(got), len(want), got)
			}
			for j := range want {
				g := got[j]
				g.at = [2]int64{}
				if g != want[j] {
					t.Errorf("order %d: group %d is %+v, want %+v", i, j, g, want[j])
				}
			}
		}
	}
}

// FuzzMarkdownCell: whatever a log line holds, it stays inside one table
// cell of one row.
func FuzzMarkdownCell(f *testing.F) {
	for _, s := range []string{hostile, "", "\\|", "&#x41;", "a\r\nb", "```"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := md(s)
		if strings.ContainsAny(got, "\r\n") {
			t.Fatalf("md(%q) = %q holds a line break", s, got)
		}
		if n := unescapedPipes("|" + got + "|"); n != 2 {
			t.Fatalf("md(%q) = %q splits the cell", s, got)
		}
		if c := code(s); strings.ContainsAny(c, "\r\n") || unescapedPipes("|"+c+"|") != 2 {
			t.Fatalf("code(%q) = %q splits the cell", s, c)
		}
	})
}

// TestSummaryItems: the summary states each critical and high finding on
// its own up to a bound, and groups a rule's many lesser findings.
func TestSummaryItems(t *testing.T) {
	var fs []hunt.Finding
	for i := range 45 {
		fs = append(fs, hunt.Finding{RuleID: "H", Title: "high thing", Severity: hunt.High, Explanation: fmt.Sprintf("h%d", i)})
	}
	for i := range 5 {
		fs = append(fs, hunt.Finding{RuleID: "L", Title: "low thing", Severity: hunt.Low, Explanation: fmt.Sprintf("l%d", i)})
	}
	fs = append(fs, hunt.Finding{RuleID: "I", Title: "closing", Severity: hunt.Informational, Explanation: "the close"})
	got := summaryItems(fs)
	want := []string{"High: high thing. h0 (section 6.1)"}
	if len(got) != maxSummaryEach+3 || got[0] != want[0] ||
		got[maxSummaryEach] != "High: high thing (H): 5 findings (sections 6.41, 6.42, 6.43, 6.44, 6.45)" ||
		got[maxSummaryEach+1] != "Low: low thing (L): 5 findings (sections 6.46, 6.47, 6.48, 6.49, 6.50)" ||
		got[maxSummaryEach+2] != "Informational: closing. the close (section 6.51)" {
		t.Errorf("summary:\n%s", strings.Join(got, "\n"))
	}
}

// TestHTMLPrintAndContents: the HTML report prints on A4 with table
// headers repeated on each page and "page N of M", and its table of
// contents links to an element of every section.
func TestHTMLPrintAndContents(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteReport(&buf, HTML, hostileReport()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"@page { size: A4;", "thead { display: table-header-group; }", `content: "page " counter(page) " of " counter(pages)`} {
		if !strings.Contains(out, want) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	for _, s := range sections {
		if !strings.Contains(out, `<a href="#`+s.ID+`">`) || !strings.Contains(out, ` id="`+s.ID+`">`+s.Title+`</h2>`) {
			t.Errorf("section %s: no contents link or no heading with its id", s.ID)
		}
	}
	// Every table with a header row has it in a thead.
	if n, m := strings.Count(out, "<th>"), strings.Count(out, "<thead>"); m == 0 || strings.Contains(out, "<table>\n<tr><th>#") {
		t.Errorf("%d header cells, %d thead", n, m)
	}
}
