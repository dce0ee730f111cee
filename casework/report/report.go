package report

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
)

// ReportFormat names a report format.
type ReportFormat string

const (
	Markdown ReportFormat = "md"
	HTML     ReportFormat = "html"
	PDF      ReportFormat = "pdf"
)

// ParseReportFormat validates a report format name ("markdown" is accepted
// for md).
func ParseReportFormat(s string) (ReportFormat, error) {
	switch strings.ToLower(s) {
	case "md", "markdown":
		return Markdown, nil
	case "html":
		return HTML, nil
	case "pdf":
		return PDF, nil
	}
	return "", fmt.Errorf("unknown report format %q (want md, html or pdf)", s)
}

// Report is everything a findings report states, gathered from the case
// by the caller. Rendering reads no clock and no file: the same Report
// renders to the same bytes.
type Report struct {
	ToolVersion string
	Case        evidence.Info

	// The expert report's front matter: the matter (case number), the
	// report's title, who wrote it and for which organisation. Examiner is
	// the case's examiner unless the report names another.
	Matter       string
	ReportTitle  string
	Examiner     string
	Organisation string
	// Date is the report's date: the time of the custody entry it reflects
	// (the last change to the case), not the clock, so the same case gives
	// the same report.
	Date time.Time
	// Build says which binary wrote the report.
	Build BuildFacts
	// Steps are what was done to the case, in order, from the custody log.
	Steps []Step
	// Outputs are the exports and reports written from the case before
	// this one, as the custody log records them.
	Outputs []OutputRecord
	// EvidenceFiles are the files of each folder item as registered (its
	// hash manifest), by item ID.
	EvidenceFiles map[string][]evidence.ManifestFile
	// TimestampKinds are the timestamp descriptions in the case timeline,
	// for the glossary.
	TimestampKinds []TimestampKind

	// Zone is the case zone, shown beside every UTC time.
	Zone     *time.Location
	Evidence []*evidence.Item
	Custody  export.ManifestCustody
	// Ingest is the summary of the latest ingest run and IngestSeq its
	// custody entry; nil when the case was never ingested.
	Ingest    *ingest.Summary
	IngestSeq int64
	// IngestError is the error that ended that run ("" when it completed).
	IngestError string
	// Completeness says whether the timeline holds all the evidence gives
	// (nil: not worked out, and the report does not state it).
	Completeness *export.Completeness
	// Events is the number of events in the case timeline.
	Events int64
	// Warnings are the latest ingest run's warnings grouped by kind and
	// file; WarningsTotal counts them all.
	Warnings      []WarningGroup
	WarningsTotal int64
	// Hunt is nil when the case was never hunted.
	Hunt     *Hunt
	Findings []hunt.Finding
	// Logs are the verdicts on every log whose record sequence the hunt
	// judged, intact or not: an intact log is no finding, but the report
	// says it was examined.
	Logs []hunt.LogVerdict
	// MinSeverity, when above informational, is the level below which
	// findings are left out of the report (report --min-severity).
	MinSeverity hunt.Severity
	// Rules are the rules that produced a finding, in ID order.
	Rules []RuleText
	// MaxRows caps the event rows shown per finding (0: all). The cap is
	// stated where it applies.
	MaxRows int
}

// BuildFacts identify the program that wrote a report.
type BuildFacts struct {
	Version   string
	Commit    string // "unknown" when the binary carries no VCS stamp
	Modified  bool   // built from a tree with uncommitted changes
	GoVersion string
	Platform  string
	// BinarySHA256 is the SHA-256 of the running executable; BinaryError
	// says why it could not be read.
	BinarySHA256 string
	BinaryError  string
}

// Step is one custody log entry as a step of the method: what was done,
// when, by whom, and the command that does it.
type Step struct {
	Seq      int64
	Time     time.Time
	Examiner string
	Action   string
	What     string
	Command  string
}

// OutputRecord is an export or report the custody log records.
type OutputRecord struct {
	Seq            int64
	Time           time.Time
	Action         string // "export" or "report"
	Format         string
	File           string
	SHA256         string
	ManifestSHA256 string
}

// TimestampKind is one timestamp description present in the case, with
// how many events carry it and which parsers wrote it.
type TimestampKind struct {
	Desc    string
	Events  int64
	Parsers []string
}

// Hunt describes the stored hunt a report is about.
type Hunt struct {
	Key          string
	After        time.Time
	Before       time.Time
	Zone         string
	Watch        []string
	WorkingHours string
	// Rules lists every rule run as "ID@sha256".
	Rules       []string
	Started     time.Time
	Finished    time.Time
	ToolVersion string
	// CustodySeq is the custody entry that recorded the hunt (0: not found).
	CustodySeq int64
	// RunsAfter are ingest runs started after the hunt: what they added was
	// not hunted.
	RunsAfter []int64
}

// RuleText is a rule that fired, with the exact text of its file.
type RuleText struct {
	ID     string
	Rule   *hunt.Rule // nil when the rule is not known to this build
	SHA256 string     // as recorded by the hunt
	Text   string
	// Note says why the text is missing or differs from what the hunt ran.
	Note string
}

// WarningGroup is the warnings of one kind about one file.
type WarningGroup struct {
	Kind     timeline.WarningKind
	Where    string
	Parser   string
	Evidence string // SHA-256 of the evidence item
	Count    int64
	// First is the message of the group's warning earliest in the file
	// (lowest offset, then record; one without an offset after those
	// with one; the first given on a tie), so the group reads the same
	// whichever store gave the warnings in whichever order.
	First string
	at    [2]int64 // offset and record of First
}

// GroupWarnings groups warnings by kind and place, in an order that does
// not depend on the order of ws.
func GroupWarnings(ws []timeline.Warning) []WarningGroup {
	idx := map[string]int{}
	var out []WarningGroup
	// An unknown offset (-1) sorts after every known one.
	pos := func(w timeline.Warning) [2]int64 {
		off := w.Offset
		if off < 0 {
			off = math.MaxInt64
		}
		return [2]int64{off, w.Record}
	}
	for _, w := range ws {
		where := w.Path
		if len(w.Chain) > 0 {
			where = strings.Join(w.Chain, " » ")
		}
		k := string(w.Kind) + "\x00" + w.Evidence + "\x00" + where + "\x00" + w.Parser
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, WarningGroup{Kind: w.Kind, Where: where, Parser: w.Parser, Evidence: w.Evidence, First: warningText(w), at: pos(w)})
		} else if p := pos(w); cmp.Compare(p[0], out[i].at[0]) < 0 || (p[0] == out[i].at[0] && p[1] < out[i].at[1]) {
			out[i].First, out[i].at = warningText(w), p
		}
		out[i].Count++
	}
	slices.SortStableFunc(out, func(a, b WarningGroup) int {
		if c := cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		if c := strings.Compare(a.Where, b.Where); c != 0 {
			return c
		}
		if c := strings.Compare(a.Parser, b.Parser); c != 0 {
			return c
		}
		// The same file in two evidence items.
		return strings.Compare(a.Evidence, b.Evidence)
	})
	return out
}

// kindRank orders warning classes by what they leave unread: whole files
// and containers first, then records, zone doubts, and last what could not
// be recovered from unused space (the live records were all read).
func kindRank(k timeline.WarningKind) int {
	switch k {
	case timeline.WarnFile:
		return 0
	case timeline.WarnContainer:
		return 1
	case timeline.WarnSkipped:
		return 2
	case timeline.WarnRecord:
		return 3
	case timeline.WarnZone:
		return 4
	case timeline.WarnZoneAssumed:
		return 5
	case timeline.WarnUnrecovered:
		return 7
	}
	return 6
}

func warningText(w timeline.Warning) string {
	var at []string
	if w.Offset >= 0 {
		at = append(at, "offset "+strconv.FormatInt(w.Offset, 10))
	}
	if w.Record > 0 {
		at = append(at, "record "+strconv.FormatInt(w.Record, 10))
	}
	if len(at) == 0 {
		return w.Message
	}
	return strings.Join(at, ", ") + ": " + w.Message
}

// WriteReport renders r in format f.
func WriteReport(w io.Writer, f ReportFormat, r *Report) error {
	v := newView(r)
	switch f {
	case Markdown:
		return writeMarkdown(w, v)
	case HTML:
		return writeHTML(w, v)
	case PDF:
		return writePDF(w, v)
	}
	return fmt.Errorf("unknown report format %q", f)
}
