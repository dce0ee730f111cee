package report

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// view is a Report with every value already written out as text, so the
// Markdown and HTML renderers say exactly the same thing and differ only
// in markup.
type view struct {
	Title    string
	Intro    []string
	Case     []kv
	Evidence []evidenceRow
	Custody  []kv
	Ingest   *ingestView
	Hunt     *huntView
	Findings []findingView
	NotRead  notReadView
	Rules    []RuleText
	AllRules []string
	Tool     []kv

	// The expert report's parts (report_expert.go).
	Date         time.Time
	Examiner     string
	Front        []kv
	DateNote     string
	Summary      []string
	SummaryItems []string
	Files        []fileRow
	FilesHidden  int
	Steps        []stepRow
	Outputs      []outputRow
	Classes      []classRow
	Declaration  []string
	Glossary     []glossRow

	// Completeness states whether the timeline is complete, at the top;
	// Incomplete makes it stand out.
	Completeness []string
	Incomplete   bool
	// NoIngest is what section 4 says when no ingest run is in the custody
	// log: it depends on what the store holds.
	NoIngest string
}

// kv is one labelled value; Code marks values a reader copies exactly
// (hashes, IDs, paths).
type kv struct {
	K, V string
	Code bool
}

type evidenceRow struct {
	ID, Name, Kind, Size, SHA256, SHA1, MD5, Added, By, Path string
}

type ingestView struct {
	Seq     string
	Counts  []kv
	Reasons []kv
	Parsers []parserRow
	// Note says that the run did not complete.
	Note string
}

type parserRow struct{ Name, Files, Events, Warnings, Failed string }

type huntView struct {
	Params  []kv
	Summary []summaryRow
	Logs    []logRow
}

// logRow is one line of the "Logs examined" table.
type logRow struct {
	Log, File, Records, FirstID, LastID, First, Last, Verdict, Finding string
}

type summaryRow struct {
	Severity, Rule, Technique, Findings, Events, First, Last, Title string
}

type findingView struct {
	N           int
	Heading     string
	Fields      []kv
	Explanation string
	Reasons     []string
	Rows        []eventRow
	Total       int
	Hidden      int
}

type eventRow struct {
	N                                           int
	UTC, Local, Desc, Message, Source, Code, ID string
}

type notReadView struct {
	Lines    []string
	Warnings []WarningGroup
	Hidden   int
}

// maxWarningGroups bounds the warning table: a disk image can hold
// thousands of files in no format jejak reads. 'jejak warnings' lists all.
const maxWarningGroups = 200

func newView(r *Report) *view {
	zone := r.Zone
	if zone == nil {
		zone = time.UTC
	}
	f := timeFormatter{zone}
	v := &view{}
	findings := bySeverity(r.Findings)
	v.addExpert(r, f, findings)
	v.SummaryItems = summaryItems(findings)
	v.Intro = []string{
		fmt.Sprintf("This report was written by jejak %s from the case folder as it stood at custody entry %d. "+
			"It states what was examined (section 2), how it was handled and by which steps (3), what was read and what was not (4, 7), "+
			"what was looked for (5) and what was found (6), with the exact text of every rule that produced a finding (appendix A) "+
			"and the meaning of every kind of time stamp in the timeline (appendix C).",
			r.ToolVersion, r.Custody.Seq),
		fmt.Sprintf("All times are UTC, written as ISO 8601 with a Z; the same instant in the case zone %s is given beside them. "+
			"Every event row names the evidence item, the chain of containers inside it, the file, and the byte offset and "+
			"record number where the event was read, so it can be found again in the evidence bytes.", zone),
	}
	v.Case = []kv{
		{K: "Case", V: r.Case.Name},
		{K: "Case examiner", V: r.Case.Examiner},
		{K: "Case zone", V: r.Case.Zone + " (times logged without a zone were read in it)"},
		{K: "Case created", V: f.both(r.Case.Created)},
		{K: "Created with", V: "jejak " + r.Case.ToolVersion},
	}
	for _, it := range r.Evidence {
		v.Evidence = append(v.Evidence, evidenceRow{
			ID: it.ID, Name: it.Name, Kind: it.Kind, Size: strconv.FormatInt(it.Size, 10),
			SHA256: it.SHA256, SHA1: dashIfEmpty(it.SHA1), MD5: dashIfEmpty(it.MD5),
			Added: f.utc(it.AddedAt), By: it.Examiner, Path: it.Path,
		})
	}
	// "intact" only when every custody check passed, not the links alone:
	// a chain can link perfectly and still not match the case files, the
	// registry or the stored events.
	intact := "intact: every entry's hash and link, the head, the case files and evidence registry against the chain, the timeline store's digest, outputs and signatures verified"
	if !r.Custody.Intact {
		intact = "BROKEN: " + r.Custody.Problem
	}
	v.Custody = []kv{
		{K: "Chain", V: intact},
	}
	if len(r.Custody.NotCovered) > 0 {
		v.Custody = append(v.Custody, kv{K: "Not covered", V: strings.Join(r.Custody.NotCovered, ", ") + " (the case predates these checks)"})
	}
	v.Custody = append(v.Custody,
		kv{K: "Entries up to this report", V: strconv.FormatInt(r.Custody.Seq, 10)},
		kv{K: "Head entry SHA-256", V: r.Custody.Hash, Code: true},
	)
	if r.Custody.Signature != "" {
		v.Custody = append(v.Custody,
			kv{K: "Signed by", V: r.Custody.KeyFingerprint + " (" + r.Custody.SigningKey + ")", Code: true},
			kv{K: "Head entry signature", V: r.Custody.Signature, Code: true},
		)
	} else {
		v.Custody = append(v.Custody, kv{K: "Signature", V: "none: the custody entries are not signed"})
	}
	v.Custody = append(v.Custody,
		kv{K: "Not counted", V: "later entries that only record exports and reports (they change nothing stated here; each names the SHA-256 of the file it wrote, and section 8 lists the exports)"})
	if s := r.Ingest; s != nil {
		iv := &ingestView{Seq: strconv.FormatInt(r.IngestSeq, 10)}
		iv.Counts = []kv{
			{K: "Evidence items", V: strconv.Itoa(s.Evidence)},
			{K: "Files seen", V: strconv.FormatInt(s.FilesSeen, 10)},
			{K: "Files parsed", V: strconv.FormatInt(s.FilesParsed, 10)},
			{K: "Files skipped", V: strconv.FormatInt(s.FilesSkipped, 10)},
			{K: "Events read", V: fmt.Sprintf("%d (%d new, %d already in the case)", s.Events, s.Inserted, s.Duplicates)},
			{K: "Events in the case timeline", V: strconv.FormatInt(r.Events, 10)},
			{K: "Unreadable records (warnings)", V: strconv.FormatInt(s.Warnings, 10)},
			{K: "Container problems", V: strconv.FormatInt(s.Problems, 10)},
			{K: "Content bytes parsed", V: strconv.FormatInt(s.Bytes, 10)},
		}
		if r.IngestError != "" {
			iv.Note = "This run did not complete: " + export.EndedBy(r.IngestError) + ". Its counts stop where it stopped."
		}
		for _, reason := range s.SortedReasons() {
			iv.Reasons = append(iv.Reasons, kv{K: reason, V: strconv.FormatInt(s.SkipReasons[reason], 10)})
		}
		for _, name := range slices.Sorted(maps.Keys(s.Parsers)) {
			p := s.Parsers[name]
			iv.Parsers = append(iv.Parsers, parserRow{Name: name, Files: strconv.FormatInt(p.Files, 10),
				Events: strconv.FormatInt(p.Events, 10), Warnings: strconv.FormatInt(p.Warnings, 10), Failed: strconv.FormatInt(p.Failed, 10)})
		}
		v.Ingest = iv
	}
	if h := r.Hunt; h != nil {
		hv := &huntView{}
		hv.Params = []kv{
			{K: "Hunt", V: h.Key, Code: true},
			{K: "Cut-off (--after)", V: f.both(h.After)},
		}
		if !h.Before.IsZero() {
			hv.Params = append(hv.Params, kv{K: "End (--before)", V: f.both(h.Before)})
		}
		hv.Params = append(hv.Params, kv{K: "Zone", V: h.Zone})
		if len(h.Watch) > 0 {
			hv.Params = append(hv.Params, kv{K: "Watched paths", V: strings.Join(h.Watch, ", "), Code: true})
		}
		if h.WorkingHours != "" {
			hv.Params = append(hv.Params, kv{K: "Working hours", V: h.WorkingHours})
		}
		custody := "not found"
		if h.CustodySeq > 0 {
			custody = "entry " + strconv.FormatInt(h.CustodySeq, 10)
		}
		hv.Params = append(hv.Params,
			kv{K: "Rules run", V: fmt.Sprintf("%d (appendix B lists each with the SHA-256 of its text)", len(h.Rules))},
			kv{K: "Run", V: f.utc(h.Started) + " to " + f.utc(h.Finished) + " by jejak " + h.ToolVersion},
			kv{K: "Custody entry", V: custody},
			kv{K: "Findings", V: strconv.Itoa(len(r.Findings))},
		)
		if r.MinSeverity > hunt.Informational {
			hv.Params = append(hv.Params, kv{K: "Minimum severity", V: r.MinSeverity.String() + ": findings below it are not in this report"})
		}
		if len(h.RunsAfter) > 0 {
			ids := make([]string, len(h.RunsAfter))
			for i, id := range h.RunsAfter {
				ids[i] = strconv.FormatInt(id, 10)
			}
			hv.Params = append(hv.Params, kv{K: "Not hunted", V: "what ingest run(s) " + strings.Join(ids, ", ") +
				", started after this hunt, added to the timeline: hunt again to cover it"})
		}
		for _, s := range hunt.Summarize(r.Findings) {
			hv.Summary = append(hv.Summary, summaryRow{Severity: s.Severity.String(), Rule: s.RuleID, Technique: dashIfEmpty(s.Technique),
				Findings: strconv.Itoa(s.Findings), Events: strconv.Itoa(s.Events), First: f.utc(s.First), Last: f.utc(s.Last), Title: s.Title})
		}
		hv.Logs = logRows(r, f, findings)
		v.Hunt = hv
		v.AllRules = h.Rules
	}
	for i, fd := range findings {
		v.Findings = append(v.Findings, findingRows(i+1, fd, f, r.MaxRows))
	}
	v.NotRead = notRead(r)
	v.Completeness, v.Incomplete, v.NoIngest = completenessText(r)
	v.Rules = r.Rules
	b := r.Build
	commit := dashIfEmpty(b.Commit)
	if b.Modified {
		commit += " (built with uncommitted changes)"
	}
	binary := b.BinarySHA256
	if binary == "" {
		binary = "not known: " + dashIfEmpty(b.BinaryError)
	}
	v.Tool = []kv{
		{K: "Program", V: "jejak " + r.ToolVersion},
		{K: "Build commit", V: commit, Code: true},
		{K: "Go version, platform", V: dashIfEmpty(b.GoVersion) + ", " + dashIfEmpty(b.Platform)},
		{K: "SHA-256 of the program file", V: binary, Code: true},
		{K: "Report", V: "written from the case store (case.db), the evidence registry and the custody log; the report holds no time of its own making, so the same case gives the same bytes"},
	}
	return v
}

// logRows lists the logs examined, naming the finding (section 6) a log's
// verdict raised.
func logRows(r *Report, f timeFormatter, findings []hunt.Finding) []logRow {
	num := map[string]int{}
	for i, fd := range findings {
		num[fd.ID] = i + 1
	}
	var rows []logRow
	for _, lv := range r.Logs {
		finding := "no (intact)"
		if lv.Finding != "" {
			if n, ok := num[lv.Finding]; ok {
				finding = fmt.Sprintf("6.%d", n)
			} else {
				finding = "yes, not shown (below the report's minimum severity)"
			}
		}
		name := lv.Log
		if lv.Host != "" {
			name += " of " + lv.Host
		}
		rows = append(rows, logRow{Log: name, File: lv.File, Records: strconv.Itoa(lv.Records),
			FirstID: strconv.FormatUint(lv.FirstID, 10), LastID: strconv.FormatUint(lv.LastID, 10),
			First: f.utc(lv.First), Last: f.utc(lv.Last), Verdict: lv.Verdict, Finding: finding})
	}
	return rows
}

func findingRows(n int, fd hunt.Finding, f timeFormatter, maxRows int) findingView {
	fv := findingView{N: n, Heading: fmt.Sprintf("%s: %s (%s)", fd.RuleID, fd.Title, fd.Severity), Total: len(fd.Events)}
	fv.Fields = []kv{
		{K: "Finding ID", V: fd.ID, Code: true},
		{K: "Rule", V: fd.RuleID + ": " + fd.Title},
		{K: "Severity", V: fd.Severity.String()},
		{K: "ATT&CK technique", V: dashIfEmpty(fd.Technique)},
		{K: "About", V: dashIfEmpty(fd.Key)},
		{K: "First event", V: f.both(fd.First)},
		{K: "Last event", V: f.both(fd.Last)},
		{K: "Matching events", V: strconv.Itoa(len(fd.Events))},
	}
	if fd.Verdict != "" {
		fv.Fields = append(fv.Fields, kv{K: "Verdict", V: fd.Verdict})
	}
	fv.Explanation = fd.Explanation
	fv.Reasons = fd.Reasons
	events := fd.Events
	if maxRows > 0 && len(events) > maxRows {
		fv.Hidden = len(events) - maxRows
		events = events[:maxRows]
	}
	for i, e := range events {
		code := e.Code
		if e.RecordID != 0 {
			code = strings.TrimPrefix(code+" / record "+strconv.FormatUint(e.RecordID, 10), " / ")
		}
		desc := e.TimestampDesc
		if len(e.State) > 0 {
			desc += " [" + strings.Join(e.State, ", ") + "]"
		}
		fv.Rows = append(fv.Rows, eventRow{N: i + 1, UTC: f.utc(e.Timestamp), Local: f.local(e.Timestamp),
			Desc: desc, Message: e.Message, Source: source(e.Provenance), Code: dashIfEmpty(code), ID: e.ID})
	}
	return fv
}

// source writes a row's provenance as "evidence » chain » path @ offset N,
// record M". The last layer of the chain usually names the path already.
func source(p timeline.Provenance) string {
	s := p.Display()
	if n := len(p.Chain); p.Path != "" && (n == 0 || !strings.HasSuffix(p.Chain[n-1], p.Path)) {
		s += " » " + p.Path
	}
	s += " @ offset " + strconv.FormatInt(p.Offset, 10)
	if p.Record > 0 {
		s += ", record " + strconv.FormatInt(p.Record, 10)
	}
	if p.Parser != "" {
		s += " (" + p.Parser + ")"
	}
	return s
}

func notRead(r *Report) notReadView {
	var nv notReadView
	if s := r.Ingest; s != nil {
		nv.Lines = append(nv.Lines, fmt.Sprintf("%d of %d files were not parsed.", s.FilesSkipped, s.FilesSeen))
		for _, reason := range s.SortedReasons() {
			nv.Lines = append(nv.Lines, fmt.Sprintf("%d files: %s.", s.SkipReasons[reason], reason))
		}
		listed := "none"
		if len(r.Warnings) > 0 {
			listed = "each file is listed below"
		}
		nv.Lines = append(nv.Lines,
			fmt.Sprintf("%d records could not be read and were skipped (%s); the rest of their files was read.", s.Warnings, listed),
			fmt.Sprintf("%d parts of containers (archives, images, file systems) could not be read.", s.Problems))
		for _, name := range slices.Sorted(maps.Keys(s.Parsers)) {
			if p := s.Parsers[name]; p.Failed > 0 {
				nv.Lines = append(nv.Lines, fmt.Sprintf("The %s parser failed on %d files.", name, p.Failed))
			}
		}
	} else {
		_, _, none := completenessText(r)
		nv.Lines = append(nv.Lines, none)
	}
	nv.Lines = append(nv.Lines, "jejak reads the files it finds in the evidence and recognises by their content; "+
		"it does not carve unallocated space or file slack, and files in formats it has no parser for are counted above, not read.")
	nv.Warnings = r.Warnings
	if len(nv.Warnings) > maxWarningGroups {
		nv.Hidden = len(nv.Warnings) - maxWarningGroups
		nv.Warnings = nv.Warnings[:maxWarningGroups]
	}
	return nv
}

type timeFormatter struct{ zone *time.Location }

func (f timeFormatter) utc(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02T15:04:05.999999999Z")
}

func (f timeFormatter) local(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(f.zone).Format("2006-01-02 15:04:05.999999999 -07:00")
}

func (f timeFormatter) both(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return f.utc(t) + " (" + f.local(t) + " " + f.zone.String() + ")"
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
