package casework

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/casework/report"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// ReportOptions say which hunt a report is about, what it shows and
// where it goes.
type ReportOptions struct {
	Format report.ReportFormat
	// Hunt is the key of the hunt reported (or a unique prefix of it);
	// empty: the latest.
	Hunt string
	// RuleDirs are the Sigma rules the hunt ran, to quote their text.
	RuleDirs []string
	// MaxRows caps the events shown per finding (0: all).
	MaxRows int
	// MinSeverity leaves out findings below it (the report says so).
	MinSeverity hunt.Severity
	// The front matter: empty Examiner is the case's examiner, empty
	// Title "Expert report: CASE NAME".
	Matter, Title, Examiner, Organisation string
	// ToolVersion and Build name the program writing the report (empty
	// ToolVersion: the one the case was opened with).
	ToolVersion string
	Build       report.BuildFacts
	// Output is the file written, with FILE.manifest.json beside it and a
	// custody entry. Empty: the report goes to the writer Report is given
	// (no manifest, no entry).
	Output string
	// SigmaProblems, when set, is told what loading RuleDirs skipped.
	SigmaProblems func(loaded int, problems []hunt.LoadProblem)
	// Gathered, when set, is called with the report once read from the
	// case, before anything is written (the command line warns on a
	// partial timeline there).
	Gathered func(*report.Report)
}

// OptionError is an error in the options a caller gave (a hunt key that
// names no hunt, rules that cannot be read): the command line's usage
// error.
type OptionError struct{ Err error }

func (e *OptionError) Error() string { return e.Err.Error() }
func (e *OptionError) Unwrap() error { return e.Err }

func optionErrorf(format string, a ...any) error { return &OptionError{fmt.Errorf(format, a...)} }

// Report writes the expert report of one stored hunt: to o.Output with
// its manifest and a custody entry, or to w when o.Output is empty.
func (c *Case) Report(ctx context.Context, w io.Writer, o ReportOptions) (*OutputResult, error) {
	if o.ToolVersion == "" {
		o.ToolVersion = c.Config.ToolVersion
	}
	return reportFrom(ctx, c.Evidence, storeSource{c.Store}, w, o, c.Evidence.Log)
}

// GatherReport reads what a report states from the case.
func (c *Case) GatherReport(ctx context.Context, o ReportOptions) (*report.Report, error) {
	return gatherReport(ctx, c.Evidence, storeSource{c.Store}, o)
}

func reportFrom(ctx context.Context, cs *evidence.Case, src source, w io.Writer, o ReportOptions, log logFunc) (*OutputResult, error) {
	r, err := gatherReport(ctx, cs, src, o)
	if err != nil {
		return nil, err
	}
	if o.Gathered != nil {
		o.Gathered(r)
	}
	res := &OutputResult{Timeline: r.Completeness, Findings: len(r.Findings)}
	if o.Output == "" {
		return res, report.WriteReport(w, o.Format, r)
	}
	sum, size, err := WriteOutput(o.Output, func(w io.Writer) error { return report.WriteReport(w, o.Format, r) })
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var key string
	if r.Hunt != nil {
		key = r.Hunt.Key
	}
	nf := len(r.Findings)
	params := map[string]any{"hunt": key, "format": string(o.Format), "max_rows": r.MaxRows}
	if o.MinSeverity > hunt.Informational {
		params["min_severity"] = o.MinSeverity.String()
	}
	if len(o.RuleDirs) > 0 {
		params["rules"] = o.RuleDirs
	}
	// The front matter asked for is part of what was asked for: the
	// manifest keeps it, so the report can be written again the same.
	for _, kv := range [][2]string{{"matter", o.Matter}, {"title", o.Title}, {"examiner", o.Examiner}, {"organisation", o.Organisation}} {
		if kv[1] != "" {
			params[kv[0]] = kv[1]
		}
	}
	m, err := outputManifest(cs, o.ToolVersion, "report", o.Output, string(o.Format), size, sum, params, r.Events, &nf, r.Custody)
	if err != nil {
		return nil, err
	}
	m.Timeline = r.Completeness
	msum, err := export.WriteManifest(export.ManifestPath(o.Output), m)
	if err != nil {
		return nil, err
	}
	if err := log("report", map[string]any{"format": string(o.Format), "file": AbsPath(o.Output), "sha256": sum,
		"manifest_sha256": msum, "hunt": key, "findings": nf}); err != nil {
		return nil, err
	}
	res.File, res.SHA256, res.Size, res.Events = o.Output, sum, size, r.Events
	res.Manifest, res.ManifestHash = export.ManifestPath(o.Output), msum
	return res, nil
}

// gatherReport reads what a report states from the case: registry, custody
// log, store (events, warnings, the hunt and its findings) and rule texts.
func gatherReport(ctx context.Context, cs *evidence.Case, src source, o ReportOptions) (*report.Report, error) {
	r := &report.Report{ToolVersion: o.ToolVersion, Case: cs.Info(), Zone: cs.Location()}
	var err error
	if r.Evidence, err = cs.Evidence(); err != nil {
		return nil, err
	}
	var all []evidence.Entry
	r.Custody, all = custodyBasis(cs, src.Digest(ctx))
	var entries []evidence.Entry
	for _, en := range all {
		if en.Seq <= r.Custody.Seq {
			entries = append(entries, en)
		}
	}
	if n := len(entries); n > 0 {
		r.Date = entries[n-1].Time
	}
	r.Build = o.Build
	r.Steps = reportSteps(entries)
	r.Outputs = reportOutputs(all)
	r.EvidenceFiles = map[string][]evidence.ManifestFile{}
	for _, it := range r.Evidence {
		if it.Kind != "dir" {
			// An image set in several files: each segment as received.
			if len(it.Segments) > 1 {
				for _, sg := range it.Segments {
					r.EvidenceFiles[it.ID] = append(r.EvidenceFiles[it.ID], evidence.ManifestFile{Path: filepath.Base(sg.Path), Size: sg.Size, SHA256: sg.SHA256})
				}
			}
			continue
		}
		m, err := cs.Manifest(it)
		if err != nil {
			return nil, fmt.Errorf("evidence %s: hash manifest: %w", it.ID, err)
		}
		r.EvidenceFiles[it.ID] = m.Files
	}
	if r.TimestampKinds, err = timestampKinds(ctx, src); err != nil {
		return nil, err
	}
	for _, en := range entries {
		if en.Action != "ingest" {
			continue
		}
		b, err := json.Marshal(en.Details["summary"])
		if err != nil {
			return nil, err
		}
		var s ingest.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("custody entry %d: ingest summary: %w", en.Seq, err)
		}
		r.Ingest, r.IngestSeq = &s, en.Seq
		// An interrupted or failed run logs its partial counts with the
		// error that ended it.
		r.IngestError, _ = en.Details["error"].(string)
	}
	if r.Events, err = src.Count(ctx, timeline.Query{}); err != nil {
		return nil, err
	}
	if r.Completeness, err = completeness(ctx, cs, src); err != nil {
		return nil, err
	}
	runs, err := src.Runs(ctx)
	if err != nil {
		return nil, err
	}
	var ws []timeline.Warning
	if err := src.Warnings(ctx, func(w timeline.Warning) error {
		ws = append(ws, w)
		return nil
	}); err != nil {
		return nil, err
	}
	r.Warnings, r.WarningsTotal = report.GroupWarnings(ws), int64(len(ws))
	r.MaxRows = o.MaxRows
	r.Matter, r.ReportTitle, r.Organisation, r.Examiner = o.Matter, o.Title, o.Organisation, o.Examiner

	hunts, err := src.Hunts(ctx)
	if err != nil {
		return nil, err
	}
	hr, err := pickHunt(hunts, o.Hunt)
	if err != nil || hr == nil {
		return r, err
	}
	var p hunt.RecordParams
	if err := json.Unmarshal(hr.Params, &p); err != nil {
		return nil, fmt.Errorf("hunt %s: parameters: %w", hr.Key, err)
	}
	r.Logs = p.Logs
	r.Hunt = &report.Hunt{Key: hr.Key, After: p.After, Before: p.Before, Zone: p.Zone, Watch: p.Watch,
		WorkingHours: p.WorkingHours, Rules: p.Rules, Started: hr.Started, Finished: hr.Finished, ToolVersion: hr.ToolVersion}
	// Events a later run added were not there to be hunted.
	for _, run := range runs {
		if run.State != sqlite.RunRefused && run.Started.After(hr.Started) {
			r.Hunt.RunsAfter = append(r.Hunt.RunsAfter, run.ID)
		}
	}
	for _, en := range entries {
		if en.Action == "hunt" && en.Details["hunt"] == hr.Key {
			r.Hunt.CustodySeq = en.Seq
		}
	}
	if err := src.Findings(ctx, hr.Key, func(fr sqlite.FindingRecord) error {
		var f hunt.Finding
		if err := json.Unmarshal(fr.Doc, &f); err != nil {
			return fmt.Errorf("finding %s: %w", fr.ID, err)
		}
		r.Findings = append(r.Findings, f)
		return nil
	}); err != nil {
		return nil, err
	}
	if r.Rules, err = firedRules(r.Findings, p.Rules, o.RuleDirs, o.SigmaProblems); err != nil {
		return nil, err
	}
	if o.MinSeverity > hunt.Informational {
		r.MinSeverity = o.MinSeverity
		r.Findings = slices.DeleteFunc(r.Findings, func(f hunt.Finding) bool { return f.Severity < o.MinSeverity })
		// The appendix quotes the rules of the findings shown.
		shown := map[string]bool{}
		for _, f := range r.Findings {
			shown[f.RuleID] = true
		}
		r.Rules = slices.DeleteFunc(r.Rules, func(rt report.RuleText) bool { return !shown[rt.ID] })
	}
	return r, nil
}

// pickHunt returns the hunt with the given key (or a unique prefix of it),
// or the latest when key is empty; nil when the case was never hunted.
func pickHunt(hunts []sqlite.HuntRecord, key string) (*sqlite.HuntRecord, error) {
	if key == "" {
		if len(hunts) == 0 {
			return nil, nil
		}
		return &hunts[0], nil
	}
	var found *sqlite.HuntRecord
	for i := range hunts {
		if strings.HasPrefix(hunts[i].Key, key) {
			if found != nil {
				return nil, optionErrorf("--hunt %s names more than one hunt", key)
			}
			found = &hunts[i]
		}
	}
	if found == nil {
		keys := make([]string, len(hunts))
		for i, h := range hunts {
			keys[i] = h.Key
		}
		return nil, optionErrorf("--hunt %s: no such hunt in the case (hunts: %s)", key, strings.Join(keys, ", "))
	}
	return found, nil
}

// firedRules finds the text of each rule that produced a finding: the
// built-in rule or a Sigma rule under ruleDirs whose text has the SHA-256
// the hunt recorded. A rule whose text changed since is named, not quoted.
func firedRules(findings []hunt.Finding, ran []string, ruleDirs []string, problems func(int, []hunt.LoadProblem)) ([]report.RuleText, error) {
	recorded := map[string]string{}
	for _, s := range ran {
		if i := strings.LastIndex(s, "@"); i > 0 {
			recorded[s[:i]] = s[i+1:]
		}
	}
	var ids []string
	for _, f := range findings {
		if !slices.Contains(ids, f.RuleID) {
			ids = append(ids, f.RuleID)
		}
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		return nil, nil
	}
	rules, err := hunt.Builtin()
	if err != nil {
		return nil, err
	}
	if len(ruleDirs) > 0 {
		sig, probs, err := hunt.LoadSigma(ruleDirs...)
		if err != nil {
			return nil, optionErrorf("--rules: %v", err)
		}
		if problems != nil {
			problems(len(sig), probs)
		}
		rules = append(rules, sig...)
	}
	var out []report.RuleText
	for _, id := range ids {
		rt := report.RuleText{ID: id, SHA256: recorded[id]}
		var sameID *hunt.Rule
		for _, r := range rules {
			if r.ID != id {
				continue
			}
			sameID = r
			if r.SHA256 == rt.SHA256 {
				rt.Rule = r
				break
			}
		}
		switch {
		case rt.Rule != nil:
			b, err := hunt.RuleText(rt.Rule)
			if err != nil {
				rt.Note = "The rule's text could not be read: " + err.Error()
			} else {
				rt.Text = string(b)
			}
		case sameID != nil:
			rt.Rule = sameID
			rt.Note = fmt.Sprintf("The rule %s available now (SHA-256 %s) is not the text the hunt ran; hunt again to report on the current rules.", id, sameID.SHA256)
		default:
			rt.Note = "The rule's text is not available to this report: give the folder of Sigma rules the hunt ran with --rules."
		}
		out = append(out, rt)
	}
	return out, nil
}

// reportSteps turns the custody entries up to the report's basis into the
// method: each entry says what was done, and the command that does it.
// Outputs are listed apart (reportOutputs).
func reportSteps(entries []evidence.Entry) []report.Step {
	var out []report.Step
	for _, en := range entries {
		if outputActions[en.Action] {
			continue
		}
		what, cmd := describeEntry(en)
		out = append(out, report.Step{Seq: en.Seq, Time: en.Time, Examiner: en.Examiner, Action: en.Action, What: what, Command: cmd})
	}
	return out
}

// reportOutputs are the exports the custody log records. Reports are left
// out: listing them would make writing a report twice give two different
// files, and they change nothing a report states.
func reportOutputs(entries []evidence.Entry) []report.OutputRecord {
	var out []report.OutputRecord
	for _, en := range entries {
		if en.Action != "export" {
			continue
		}
		out = append(out, report.OutputRecord{Seq: en.Seq, Time: en.Time, Action: en.Action, Format: str(en.Details["format"]),
			File: str(en.Details["file"]), SHA256: str(en.Details["sha256"]), ManifestSHA256: str(en.Details["manifest_sha256"])})
	}
	return out
}

func num(v any) string {
	if s := str(v); s != "" {
		return s
	}
	return "0"
}

// describeEntry says in words what a custody entry records and gives the
// jejak command that makes such an entry ("" when no command does alone).
func describeEntry(en evidence.Entry) (what, command string) {
	d := en.Details
	switch en.Action {
	case "case_init":
		return fmt.Sprintf("Case %q created, times without a zone to be read in %s", str(d["name"]), str(d["zone"])),
			"jejak case init CASE --tz " + str(d["zone"])
	case "evidence_add":
		what = fmt.Sprintf("Evidence %s registered: %s %s, %s bytes, SHA-256 %s", str(d["id"]), str(d["kind"]), str(d["path"]), num(d["size"]), str(d["sha256"]))
		if n := str(d["files"]); n != "" && str(d["kind"]) == "dir" {
			what += " (" + n + " files, each hashed)"
		}
		return what, "jejak evidence add CASE " + str(d["path"])
	case "case_files":
		return "The case files (case.json, evidence.json) as rewritten, with their SHA-256", ""
	case "evidence_refused":
		return "Evidence refused before reading: it no longer matched its registration", "jejak ingest CASE"
	case "ingest":
		s, _ := d["summary"].(map[string]any)
		what = fmt.Sprintf("All registered evidence read into the timeline: %s files seen, %s parsed, %s skipped; %s events; %s unreadable records",
			num(s["files_seen"]), num(s["files_parsed"]), num(s["files_skipped"]), num(s["events"]), num(s["warnings"]))
		if e := str(d["error"]); e != "" {
			what += "; the run did not complete: " + e
		}
		return what, "jejak ingest CASE"
	case "hunt":
		p, _ := d["params"].(map[string]any)
		cmd := "jejak hunt CASE"
		if a := str(p["after"]); a != "" {
			cmd += " --after " + a
		}
		if b := str(p["before"]); b != "" && !strings.HasPrefix(b, "0001-") {
			cmd += " --before " + b
		}
		if w, ok := p["watch"].([]any); ok {
			for _, x := range w {
				cmd += " --watch " + str(x)
			}
		}
		if wh := str(p["working_hours"]); wh != "" {
			cmd += " --working-hours " + wh
		}
		rules, _ := p["rules"].([]any)
		what = fmt.Sprintf("Timeline hunted with %d rules: %s findings (hunt %s)", len(rules), num(d["findings"]), str(d["hunt"]))
		if e := str(d["error"]); e != "" {
			what += "; error: " + e
		}
		return what, cmd
	case "verify":
		return fmt.Sprintf("Evidence and custody verified: %s items, %s failures", num(d["items"]), num(d["failures"])), "jejak verify CASE"
	case "index":
		return "Timeline indexed into Elasticsearch", "jejak index CASE"
	case "note":
		return "Note: " + str(d["text"]), ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return en.Action + " (" + strings.Join(keys, ", ") + ")", ""
}

// timestampKinds counts the timestamp descriptions of every event in the
// case, with the parsers that wrote each: one scan of the timeline.
func timestampKinds(ctx context.Context, src export.Searcher) ([]report.TimestampKind, error) {
	type acc struct {
		n       int64
		parsers map[string]bool
	}
	m := map[string]*acc{}
	err := src.Search(ctx, timeline.Query{}, func(ev *timeline.Event) error {
		a := m[ev.TimestampDesc]
		if a == nil {
			a = &acc{parsers: map[string]bool{}}
			m[ev.TimestampDesc] = a
		}
		a.n++
		a.parsers[ev.Jejak.Provenance.Parser] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]report.TimestampKind, 0, len(m))
	for desc, a := range m {
		k := report.TimestampKind{Desc: desc, Events: a.n}
		for p := range a.parsers {
			k.Parsers = append(k.Parsers, p)
		}
		slices.Sort(k.Parsers)
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b report.TimestampKind) int { return strings.Compare(a.Desc, b.Desc) })
	return out, nil
}
