package report

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/timeline"
)

// The parts of an expert report beyond the technical annex: front matter,
// a plain-language summary, the method, limitations, outputs, the
// declaration and a glossary. The Markdown, HTML and PDF renderers write
// them from the same view.

// section is one heading of the report: ID is its anchor (HTML, PDF
// links), Title the heading text.
type section struct{ ID, Title string }

// sections are the report's headings in order; the table of contents is
// this list.
var sections = []section{
	{"summary", "Summary of findings"},
	{"s1", "1. Case, examiner and report"},
	{"s2", "2. Evidence as received"},
	{"s3", "3. Chain of custody and methodology"},
	{"s4", "4. What was read"},
	{"s5", "5. What was looked for"},
	{"s6", "6. Findings, most severe first"},
	{"s7", "7. Limitations: what was not read"},
	{"s8", "8. Exports made from the case"},
	{"s9", "9. Declaration"},
	{"appA", "Appendix A. Rules that produced findings"},
	{"appB", "Appendix B. Every rule the hunt ran"},
	{"appC", "Appendix C. Glossary of timestamp kinds"},
	{"appD", "Appendix D. Tool"},
}

func heading(id string) string {
	for _, s := range sections {
		if s.ID == id {
			return s.Title
		}
	}
	panic("report: no section " + id)
}

type fileRow struct{ Item, Path, Size, SHA256 string }

type stepRow struct{ Seq, Time, By, What, Command string }

type outputRow struct{ Seq, Time, Kind, Format, File, SHA256, ManifestSHA256 string }

type classRow struct{ Kind, Count, Meaning string }

type glossRow struct{ Desc, Meaning, Events, Parsers string }

// maxEvidenceFiles bounds the list of a folder's files in the report; the
// hash manifest in the case folder lists them all.
const maxEvidenceFiles = 500

// bySeverity orders findings most severe first, then by time: the reader
// meets the worst first. SortStable keeps the hunt's order among equals.
func bySeverity(fs []hunt.Finding) []hunt.Finding {
	out := slices.Clone(fs)
	slices.SortStableFunc(out, func(a, b hunt.Finding) int {
		if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
			return c
		}
		return a.First.Compare(b.First)
	})
	return out
}

func (v *view) addExpert(r *Report, f timeFormatter, findings []hunt.Finding) {
	examiner := r.Examiner
	if examiner == "" {
		examiner = r.Case.Examiner
	}
	v.Examiner = examiner
	v.Date = r.Date
	if r.ReportTitle != "" {
		v.Title = r.ReportTitle
	} else {
		v.Title = "Expert report: " + r.Case.Name
	}
	v.Front = []kv{{K: "Matter", V: dashIfEmpty(r.Matter)}, {K: "Case", V: r.Case.Name}, {K: "Examiner", V: dashIfEmpty(examiner)},
		{K: "Organisation", V: dashIfEmpty(r.Organisation)}, {K: "Report date", V: f.both(r.Date)}}
	v.DateNote = fmt.Sprintf("The report date is the time of custody entry %d, the last change to the case this report reflects; "+
		"the report holds no other time of its own making, so the same case gives the same bytes.", r.Custody.Seq)

	v.Summary = summaryLines(r, f, findings)

	for _, it := range r.Evidence {
		files := r.EvidenceFiles[it.ID]
		for i, mf := range files {
			if i == maxEvidenceFiles {
				v.FilesHidden += len(files) - i
				break
			}
			v.Files = append(v.Files, fileRow{Item: it.ID, Path: mf.Path, Size: strconv.FormatInt(mf.Size, 10), SHA256: mf.SHA256})
		}
	}
	for _, s := range r.Steps {
		v.Steps = append(v.Steps, stepRow{Seq: strconv.FormatInt(s.Seq, 10), Time: f.utc(s.Time), By: dashIfEmpty(s.Examiner),
			What: s.What, Command: dashIfEmpty(s.Command)})
	}
	for _, o := range r.Outputs {
		v.Outputs = append(v.Outputs, outputRow{Seq: strconv.FormatInt(o.Seq, 10), Time: f.utc(o.Time), Kind: o.Action,
			Format: dashIfEmpty(o.Format), File: o.File, SHA256: dashIfEmpty(o.SHA256), ManifestSHA256: dashIfEmpty(o.ManifestSHA256)})
	}

	// Every warning class, with its count, zero included: the reader sees
	// what was checked for and not met as well as what was.
	counts := map[timeline.WarningKind]int64{}
	for _, g := range r.Warnings {
		counts[g.Kind] += g.Count
	}
	for _, k := range warningKinds {
		v.Classes = append(v.Classes, classRow{Kind: string(k.kind), Count: strconv.FormatInt(counts[k.kind], 10), Meaning: k.meaning})
		delete(counts, k.kind)
	}
	rest := map[string]int64{}
	for k, n := range counts {
		rest[string(k)] = n
	}
	for _, k := range slices.Sorted(maps.Keys(rest)) {
		v.Classes = append(v.Classes, classRow{Kind: k, Count: strconv.FormatInt(rest[k], 10), Meaning: "-"})
	}

	v.Declaration = []string{
		"I, " + dashIfEmpty(examiner) + orgClause(r.Organisation) + ", declare that this report states the facts as I found them in the evidence listed in section 2, " +
			"by the method stated in section 3, within the limitations stated in section 7.",
		"I have no interest in the outcome of the matter. My duty in writing this report is to the court and overrides any obligation to the party " +
			"who instructed me. I have stated every finding the examination produced" + minSevClause(r) + ", " +
			"whether or not it supports any party's case, and I have said where the evidence could not be read.",
		"The findings are the output of the rules quoted in appendix A applied to the timeline; they say what the records show, " +
			"not who was responsible. Every event row can be found again in the evidence at the file, byte offset and record given.",
	}

	for _, k := range r.TimestampKinds {
		v.Glossary = append(v.Glossary, glossRow{Desc: k.Desc, Meaning: timestampMeaning(k.Desc), Events: strconv.FormatInt(k.Events, 10),
			Parsers: strings.Join(k.Parsers, ", ")})
	}
}

func minSevClause(r *Report) string {
	if r.MinSeverity > hunt.Informational {
		return " at or above the minimum severity named in section 5 (" + r.MinSeverity.String() + ")"
	}
	return ""
}

func orgClause(org string) string {
	if org == "" {
		return ""
	}
	return " of " + org
}

// summaryLines says in plain words what was examined and found, most
// severe first, each finding pointing to its section.
func summaryLines(r *Report, f timeFormatter, findings []hunt.Finding) []string {
	var out []string
	var items []string
	for _, it := range r.Evidence {
		items = append(items, it.Name)
	}
	examined := fmt.Sprintf("%d evidence items were examined (%s).", len(r.Evidence), strings.Join(items, ", "))
	if len(r.Evidence) == 1 {
		examined = fmt.Sprintf("One evidence item was examined (%s).", items[0])
	}
	if len(r.Evidence) == 0 {
		examined = "No evidence is registered in the case."
	}
	out = append(out, examined)
	if r.Hunt == nil {
		return append(out, "The timeline was not searched for signs of intrusion (no hunt was run): this report states what the evidence holds, and makes no finding.")
	}
	window := "from " + f.both(r.Hunt.After)
	if r.Hunt.After.IsZero() {
		window = "over the whole timeline"
	}
	if !r.Hunt.Before.IsZero() {
		window += " to " + f.both(r.Hunt.Before)
	}
	if len(findings) == 0 {
		return append(out, fmt.Sprintf("The timeline was searched for signs of unauthorised access %s with %d rules: nothing was found.", window, len(r.Hunt.Rules)))
	}
	bySev := map[hunt.Severity]int{}
	for _, fd := range findings {
		bySev[fd.Severity]++
	}
	var parts []string
	for s := hunt.Critical; s >= hunt.Informational; s-- {
		if n := bySev[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	out = append(out, fmt.Sprintf("The timeline was searched for signs of unauthorised access %s with %d rules. There are %d findings (%s); "+
		"a critical or high finding is activity that calls for an explanation, an informational one is expected activity stated for completeness:",
		window, len(r.Hunt.Rules), len(findings), strings.Join(parts, ", ")))
	return out
}

// summaryItems are the summary's lines, in report order: each critical
// and high finding on its own (up to maxSummaryEach), the others one line
// per rule and severity when the rule found more than three things.
func summaryItems(findings []hunt.Finding) []string {
	type group struct {
		sev      hunt.Severity
		rule     string
		title    string
		sections []int
	}
	var out []string
	var groups []*group
	idx := map[string]*group{}
	each := 0
	for i, fd := range findings {
		if fd.Severity >= hunt.High && each < maxSummaryEach {
			each++
			out = append(out, summaryLine(fd, i+1))
			continue
		}
		k := fd.Severity.String() + "\x00" + fd.RuleID
		g := idx[k]
		if g == nil {
			g = &group{sev: fd.Severity, rule: fd.RuleID, title: fd.Title}
			idx[k] = g
			groups = append(groups, g)
		}
		g.sections = append(g.sections, i+1)
	}
	for _, g := range groups {
		if len(g.sections) <= 3 {
			for _, n := range g.sections {
				out = append(out, summaryLine(findings[n-1], n))
			}
			continue
		}
		var secs []string
		for i, n := range g.sections {
			if i == 5 {
				secs = append(secs, "…")
				break
			}
			secs = append(secs, fmt.Sprintf("6.%d", n))
		}
		out = append(out, fmt.Sprintf("%s: %s (%s): %d findings (sections %s)", capital(g.sev.String()), g.title, g.rule, len(g.sections), strings.Join(secs, ", ")))
	}
	return out
}

// maxSummaryEach bounds the findings the summary states one by one.
const maxSummaryEach = 40

func summaryLine(fd hunt.Finding, n int) string {
	what := fd.Explanation
	if what == "" {
		what = fd.Key
	}
	return fmt.Sprintf("%s: %s. %s (section 6.%d)", capital(fd.Severity.String()), fd.Title, clipText(what, 600), n)
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

var warningKinds = []struct {
	kind    timeline.WarningKind
	meaning string
}{
	{timeline.WarnSkipped, "a file was seen but not parsed (empty, or in no format jejak reads); each is listed below with the reason"},
	{timeline.WarnFile, "a parser failed on a file as a whole; the file's events are missing"},
	{timeline.WarnRecord, "one record of a file could not be parsed and was skipped; the rest of the file was read"},
	{timeline.WarnContainer, "part of an archive, disk image or file system could not be read"},
	{timeline.WarnUnrecovered, "what looks like a deleted record in unused space could not be recovered (the live records were all read)"},
	{timeline.WarnZone, "times written without a zone disagree with zone-carrying records of the same activity by a whole zone offset"},
	{timeline.WarnZoneAssumed, "times written without a zone were read in the case zone, and nothing confirmed or contradicted it"},
}

// timestampMeanings explain the timestamp descriptions jejak's parsers
// write (plaso's vocabulary where one exists).
var timestampMeanings = map[string]string{
	"Event Time":                                  "when the logged event happened, as the log states it",
	"Recorded Time":                               "when the program wrote the log line (the line's own time stamp)",
	"Log Entry Time":                              "the time stamp at the start of a log line",
	"Content Modification Time":                   "a file's mtime: when its content was last written; for a log line with no time of its own, the line's own time stamp",
	"Metadata Modification Time":                  "a file's ctime: when its inode or metadata (permissions, owner, name) last changed",
	"MFT Entry Modification Time":                 "when the NTFS MFT record of a file last changed",
	"Last Access Time":                            "a file's atime: when it was last read (often not updated: noatime, relatime)",
	"Creation Time":                               "when a file or object was created (a file's birth time)",
	"Content Deletion Time":                       "when a file was deleted (recycle bin, journal)",
	"Start Time":                                  "when a session, process or connection began",
	"End Time":                                    "when a session, process or connection ended",
	"Session Start Time":                          "when a logon session began",
	"Session End Time":                            "when a logon session ended",
	"Last Login Time":                             "the last logon the record keeps for an account",
	"Last Written Time":                           "when a registry key or record was last written",
	"Key Last Written":                            "when a registry key was last written",
	"Log Last Written":                            "when the log file was last written, from its header",
	"First Connected":                             "when a device was first connected",
	"Last Seen Time":                              "when an item was last seen by the system that recorded it",
	"Previous Execution Time":                     "an earlier time a program ran (prefetch keeps several)",
	"Last Execution Time":                         "the last time a program ran",
	"Digitized Time":                              "when a photo was digitised (EXIF DateTimeDigitized)",
	"GPS Time":                                    "the satellite time a camera recorded with a photo's position",
	"Target Creation Time":                        "the creation time of the file a shortcut points to, as the shortcut recorded it",
	"Target Modification Time":                    "the modification time of the file a shortcut points to, as the shortcut recorded it",
	"Target Last Access Time":                     "the access time of the file a shortcut points to, as the shortcut recorded it",
	"First Access Time":                           "when an item was first opened",
	"Transcript Start Time":                       "when a PowerShell transcript began",
	"Transcript End Time":                         "when a PowerShell transcript ended",
	"Section Start Time":                          "when a section of a setup log began",
	"Section End Time":                            "when a section of a setup log ended",
	"Link Tracking Object ID Creation Time":       "when the NTFS object ID of a shortcut's target was made (distributed link tracking)",
	"Link Tracking Birth Object ID Creation Time": "when the original NTFS object ID of a shortcut's target was made",
	"Not a time":                                  "the record carries no time; it is placed at the Unix epoch so it is not lost",
}

func timestampMeaning(desc string) string {
	if m, ok := timestampMeanings[desc]; ok {
		return m
	}
	// A file event at a time shared by several of the file's times (the
	// mft and filestat parsers emit one event per distinct time): each
	// part's meaning.
	if parts := strings.Split(desc, "; "); len(parts) > 1 {
		var ms []string
		for _, p := range parts {
			m, ok := timestampMeanings[p]
			if !ok {
				ms = nil
				break
			}
			ms = append(ms, p+": "+m)
		}
		if ms != nil {
			return "the same time is several of the file's times; " + strings.Join(ms, "; ")
		}
	}
	return "the time the named parser records under this description (see the parser's documentation)"
}
