package report

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
	mdKV(b, v.Front)
	p("%s\n\n", md(v.DateNote))
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
	p("## %s\n\n", heading("summary"))
	for _, s := range v.Summary {
		p("%s\n\n", md(s))
	}
	for i, s := range v.SummaryItems {
		p("%d. %s\n", i+1, md(s))
	}
	if len(v.SummaryItems) > 0 {
		p("\n")
	}
	p("## Contents\n\n")
	for _, s := range sections {
		p("- [%s](#%s)\n", md(s.Title), slug(s.Title))
	}
	p("\n")
	for _, s := range v.Intro {
		p("%s\n\n", md(s))
	}

	p("## %s\n\n", heading("s1"))
	mdKV(b, v.Case)

	p("## %s\n\n", heading("s2"))
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
	if len(v.Files) > 0 {
		p("The files of each folder and the segments of each split image as received, with their SHA-256 (an archive's own hash is its line here):\n\n")
		mdRow(b, "Item", "File", "Size (bytes)", "SHA-256")
		mdRule(b, 4)
		for _, f := range v.Files {
			mdRow(b, code(f.Item), md(f.Path), f.Size, code(f.SHA256))
		}
		if v.FilesHidden > 0 {
			p("\n%d more files are not listed here; the item's hash manifest in the case folder lists them all.\n", v.FilesHidden)
		}
		p("\n")
	}

	p("## %s\n\n", heading("s3"))
	mdKV(b, v.Custody)
	p("What was done, in order, as the custody log records it (each step with the command that does it):\n\n")
	mdRow(b, "Entry", "Time (UTC)", "By", "What was done", "Command")
	mdRule(b, 5)
	for _, s := range v.Steps {
		mdRow(b, s.Seq, s.Time, md(s.By), md(s.What), code(s.Command))
	}
	p("\n")

	p("## %s\n\n", heading("s4"))
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

	p("## %s\n\n", heading("s5"))
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

	p("## %s\n\n", heading("s6"))
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

	p("## %s\n\n", heading("s7"))
	for _, l := range v.NotRead.Lines {
		p("- %s\n", md(l))
	}
	p("\n")
	p("Warnings of the latest ingest run, by class:\n\n")
	mdRow(b, "Class", "Count", "Meaning")
	mdRule(b, 3)
	for _, c := range v.Classes {
		mdRow(b, c.Kind, c.Count, md(c.Meaning))
	}
	p("\n")
	if len(v.NotRead.Warnings) == 0 {
		p("No file was skipped or read in part.\n\n")
	} else {
		p("Every file skipped or read in part, with the reason ('jejak warnings CASE' lists each warning):\n\n")
		mdRow(b, "Class", "File (evidence » containers » path)", "Parser", "Count", "Reason (the first warning)")
		mdRule(b, 5)
		for _, g := range v.NotRead.Warnings {
			mdRow(b, string(g.Kind), md(g.Where), md(dashIfEmpty(g.Parser)), strconv.FormatInt(g.Count, 10), md(g.First))
		}
		if v.NotRead.Hidden > 0 {
			p("\n%d more groups are not shown here.\n", v.NotRead.Hidden)
		}
		p("\n")
	}

	p("## %s\n\n", heading("s8"))
	if len(v.Outputs) == 0 {
		p("No export of the case timeline is recorded in the custody log.\n\n")
	} else {
		p("As the custody log records them (reports are in the custody log too; they are not listed here, so writing a report twice gives the same file):\n\n")
		mdRow(b, "Entry", "Time (UTC)", "Kind", "Format", "File", "SHA-256", "Manifest SHA-256")
		mdRule(b, 7)
		for _, o := range v.Outputs {
			mdRow(b, o.Seq, o.Time, o.Kind, md(o.Format), code(o.File), code(o.SHA256), code(o.ManifestSHA256))
		}
		p("\n")
	}

	p("## %s\n\n", heading("s9"))
	for _, d := range v.Declaration {
		p("%s\n\n", md(d))
	}
	p("Signature: ______________________________\n\nName: %s\n\nDate: ______________________________\n\n", md(dashIfEmpty(v.Examiner)))

	p("## %s\n\n", heading("appA"))
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

	p("## %s\n\n", heading("appB"))
	if len(v.AllRules) == 0 {
		p("None.\n\n")
	}
	for _, r := range v.AllRules {
		p("- %s\n", code(r))
	}
	if len(v.AllRules) > 0 {
		p("\n")
	}

	p("## %s\n\n", heading("appC"))
	if len(v.Glossary) == 0 {
		p("The timeline holds no events.\n\n")
	} else {
		p("Every kind of time stamp in the case timeline (timestamp_desc), what it means, and how many events carry it:\n\n")
		mdRow(b, "Timestamp description", "Meaning", "Events", "Parsers")
		mdRule(b, 4)
		for _, g := range v.Glossary {
			mdRow(b, md(g.Desc), md(g.Meaning), g.Events, md(g.Parsers))
		}
		p("\n")
	}

	p("## %s\n\n", heading("appD"))
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

// slug is the anchor GitHub and most Markdown renderers give a heading:
// lower case, punctuation dropped, spaces as hyphens.
func slug(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r > 0x7f:
			b.WriteRune(r)
		}
	}
	return b.String()
}
