package export

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/internal/termsafe"
)

// writeMarkdown renders the report as CommonMark with GitHub-style tables,
// readable as plain text too.
func writeMarkdown(w io.Writer, v *view) error {
	b := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("# %s\n\n", md(v.Title))
	if len(v.Completeness) > 0 {
		p("## Completeness of the timeline\n\n")
		for i, s := range v.Completeness {
			if v.Incomplete && i == 0 {
				p("**%s**\n\n", md(s))
				continue
			}
			p("%s\n\n", md(s))
		}
	}
	for _, s := range v.Intro {
		p("%s\n\n", md(s))
	}

	p("## 1. Case\n\n")
	mdKV(b, v.Case)

	p("## 2. Evidence\n\n")
	if len(v.Evidence) == 0 {
		p("No evidence is registered in the case.\n\n")
	} else {
		mdRow(b, "ID", "Name", "Kind", "Size (bytes)", "SHA-256", "SHA-1", "MD5", "Registered (UTC)", "By")
		mdRule(b, 9)
		for _, e := range v.Evidence {
			mdRow(b, code(e.ID), md(e.Name), md(e.Kind), e.Size, code(e.SHA256), code(e.SHA1), code(e.MD5), e.Added, md(e.By))
		}
		p("\nRegistered from (path as given to jejak; the evidence was opened read-only):\n\n")
		for _, e := range v.Evidence {
			p("- %s: %s\n", code(e.ID), code(e.Path))
		}
		p("\nFor a folder, SHA-256 is the hash of its sorted `sha256sum` listing (reproducible with coreutils); SHA-1 and MD5 exist for single files only.\n\n")
	}

	p("## 3. Chain of custody\n\n")
	mdKV(b, v.Custody)

	p("## 4. What was read\n\n")
	if v.Ingest == nil {
		p("%s\n\n", md(v.NoIngest))
	} else {
		p("Latest ingest run, custody entry %s.\n\n", v.Ingest.Seq)
		if v.Ingest.Note != "" {
			p("**%s**\n\n", md(v.Ingest.Note))
		}
		mdKV(b, v.Ingest.Counts)
		if len(v.Ingest.Reasons) > 0 {
			p("Files skipped, by reason:\n\n")
			mdRow(b, "Reason", "Files")
			mdRule(b, 2)
			for _, r := range v.Ingest.Reasons {
				mdRow(b, md(r.K), r.V)
			}
			p("\n")
		}
		if len(v.Ingest.Parsers) > 0 {
			mdRow(b, "Parser", "Files", "Events", "Warnings", "Failed files")
			mdRule(b, 5)
			for _, r := range v.Ingest.Parsers {
				mdRow(b, md(r.Name), r.Files, r.Events, r.Warnings, r.Failed)
			}
			p("\n")
		}
	}

	p("## 5. What was looked for\n\n")
	if v.Hunt == nil {
		p("The case was never hunted: there are no findings.\n\n")
	} else {
		mdKV(b, v.Hunt.Params)
		if len(v.Hunt.Summary) > 0 {
			mdRow(b, "Severity", "Rule", "ATT&CK", "Findings", "Events", "First (UTC)", "Last (UTC)", "Title")
			mdRule(b, 8)
			for _, s := range v.Hunt.Summary {
				mdRow(b, s.Severity, s.Rule, md(s.Technique), s.Findings, s.Events, s.First, s.Last, md(s.Title))
			}
			p("\n")
		}
		if len(v.Hunt.Logs) > 0 {
			p("Logs examined: the record IDs of each log were put in order and judged (JEJAK-LOG-02). Only a gap, a clear or a roll-over past the cut-off is a finding; the others are intact.\n\n")
			mdRow(b, "Log", "File", "Records", "First ID", "Last ID", "First (UTC)", "Last (UTC)", "Verdict", "Finding")
			mdRule(b, 9)
			for _, l := range v.Hunt.Logs {
				mdRow(b, md(l.Log), md(l.File), l.Records, l.FirstID, l.LastID, l.First, l.Last, md(l.Verdict), md(l.Finding))
			}
			p("\n")
		}
	}

	p("## 6. Findings\n\n")
	if len(v.Findings) == 0 {
		p("No findings.\n\n")
	}
	for _, f := range v.Findings {
		p("### 6.%d %s\n\n", f.N, md(f.Heading))
		mdKV(b, f.Fields)
		if f.Explanation != "" {
			p("%s\n\n", md(f.Explanation))
		}
		for _, r := range f.Reasons {
			p("- %s\n", md(r))
		}
		if len(f.Reasons) > 0 {
			p("\n")
		}
		p("Matching events:\n\n")
		mdRow(b, "#", "Time (UTC)", "Case zone", "Timestamp description", "Message", "Source: evidence » containers » file @ offset, record (parser)", "Event code / record", "Event ID")
		mdRule(b, 8)
		for _, r := range f.Rows {
			mdRow(b, strconv.Itoa(r.N), r.UTC, r.Local, md(r.Desc), md(r.Message), md(r.Source), md(r.Code), code(r.ID))
		}
		if f.Hidden > 0 {
			p("\n%d more of the %d events are not shown here (report --max-rows); 'jejak hunt --json' lists them all.\n", f.Hidden, f.Total)
		}
		p("\n")
	}

	p("## 7. What was not read\n\n")
	for _, l := range v.NotRead.Lines {
		p("- %s\n", md(l))
	}
	p("\n")
	if len(v.NotRead.Warnings) > 0 {
		p("Warnings of the latest ingest run, by file ('jejak warnings CASE' lists each one):\n\n")
		mdRow(b, "Kind", "Where", "Parser", "Count", "First warning")
		mdRule(b, 5)
		for _, g := range v.NotRead.Warnings {
			mdRow(b, string(g.Kind), md(g.Where), md(dashIfEmpty(g.Parser)), strconv.FormatInt(g.Count, 10), md(g.First))
		}
		if v.NotRead.Hidden > 0 {
			p("\n%d more groups are not shown here.\n", v.NotRead.Hidden)
		}
		p("\n")
	}

	p("## Appendix A. Rules that produced findings\n\n")
	if len(v.Rules) == 0 {
		p("None.\n\n")
	}
	for _, r := range v.Rules {
		p("### %s\n\n", md(r.ID))
		src := "-"
		if r.Rule != nil {
			src = r.Rule.Source
		}
		mdKV(b, []kv{{K: "Source", V: src, Code: true}, {K: "SHA-256 of the text", V: r.SHA256, Code: true}})
		if r.Note != "" {
			p("%s\n\n", md(r.Note))
		}
		if r.Text != "" {
			fence := strings.Repeat("`", max(3, longestRun(r.Text, '`')+1))
			p("%syaml\n%s", fence, r.Text)
			if !strings.HasSuffix(r.Text, "\n") {
				p("\n")
			}
			p("%s\n\n", fence)
		}
	}

	p("## Appendix B. Every rule the hunt ran\n\n")
	if len(v.AllRules) == 0 {
		p("None.\n\n")
	}
	for _, r := range v.AllRules {
		p("- %s\n", code(r))
	}
	if len(v.AllRules) > 0 {
		p("\n")
	}

	p("## Appendix C. Tool\n\n")
	mdKV(b, v.Tool)
	return b.Flush()
}

func mdKV(b *bufio.Writer, rows []kv) {
	mdRow(b, "", "")
	mdRule(b, 2)
	for _, r := range rows {
		val := md(r.V)
		if r.Code {
			val = code(r.V)
		}
		mdRow(b, md(r.K), val)
	}
	b.WriteString("\n")
}

func mdRow(b *bufio.Writer, cells ...string) {
	b.WriteString("|")
	for _, c := range cells {
		b.WriteString(" ")
		b.WriteString(c)
		b.WriteString(" |")
	}
	b.WriteString("\n")
}

func mdRule(b *bufio.Writer, n int) {
	b.WriteString("|" + strings.Repeat("---|", n) + "\n")
}

// md makes text literal in Markdown, table cells included: every
// character with a meaning in CommonMark or GFM tables is backslashed, an
// ampersand that could start an entity too, and line breaks, which would
// end a table row, become spaces. Other control characters (an escape
// sequence in a log line) are shown escaped (termsafe), as \x1b: a report
// read with cat or less must not drive the terminal.
func md(s string) string {
	s = termsafe.Lines(strings.ReplaceAll(s, "\r\n", "\n"))
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '~':
			b.WriteByte('\\')
		case '&':
			if entityAt(s[i+1:]) {
				b.WriteByte('\\')
			}
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			c = ' '
		case '\n':
			c = ' '
		}
		b.WriteByte(c)
	}
	return b.String()
}

// entityAt reports whether s (what follows an ampersand) reads as an
// entity or character reference, "name;" or "#123;".
func entityAt(s string) bool {
	i := 0
	for i < len(s) && i < 32 && (s[i] == '#' || s[i] >= '0' && s[i] <= '9' || s[i]|0x20 >= 'a' && s[i]|0x20 <= 'z') {
		i++
	}
	return i > 0 && i < len(s) && s[i] == ';'
}

// code writes s as an inline code span. A pipe still ends a GFM table
// cell inside one, so it is backslashed (GFM removes that backslash before
// the span is read). A backslash before it would pair with that one, and a
// backtick would end the span: values with either (Windows paths) are
// written as escaped text instead.
func code(s string) string {
	if s == "" || s == "-" {
		return "-"
	}
	if strings.ContainsAny(s, "`\\\n\r") || !termsafe.Safe(s) {
		return md(s)
	}
	return "`" + strings.ReplaceAll(s, "|", `\|`) + "`"
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}
