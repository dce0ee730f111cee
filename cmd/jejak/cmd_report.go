package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jejak-forensics/jejak/internal/atomicfile"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/casework/report"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/urfave/cli/v2"
)

func reportCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "report",
		Usage:     "write a findings report a lawyer or judge can read",
		ArgsUsage: "CASE",
		Description: `Writes the expert report of one stored hunt (the latest, or --hunt KEY as
printed by 'jejak hunt'). It opens with the matter, case, examiner,
organisation and report date, a plain-language summary of the findings and a
table of contents; then the case; each evidence item as received with its
size, SHA-256, SHA-1 and MD5 (a folder's files each with its SHA-256) and when
and by whom it was registered; the custody log's state and every step done to
the case, in order, with its command; what ingest read; the hunt's
parameters; each finding, most severe first, with its rule, severity, ATT&CK
technique, time span and explanation, and its events as rows (time in UTC and
in the case zone, what the time means, message, evidence » containers » file
@ offset and record, event ID); the limitations (every warning class counted,
every file skipped or read in part with the reason); the exports made from
the case with their hashes; a declaration with signature lines; and, as
appendices, the exact text of every rule that produced a finding, every rule
run, a glossary of the timestamp kinds in the case, and the program that
wrote the report (version, build commit, SHA-256 of the binary).

The report date is the time of the last custody entry that changed the case,
not the clock. Beside the report, FILE.manifest.json records the report's
SHA-256, the case's evidence hashes, the event and finding counts, the
parameters (--matter, --title, --examiner, --organisation included), the tool
version and the custody entry the case stood at. Neither file holds a time of
its own making: the same case and arguments give the same bytes, so anyone
can re-create the report and compare hashes. The custody log records the
report, its hash and the manifest's hash; 'jejak verify FILE' checks them.

FORMATS
   md     Markdown (GitHub tables); readable as plain text
   html   one self-contained page (no scripts, no remote resources); prints
          on A4 with repeated table headers and "page N of M"
   pdf    PDF/A4 with embedded DejaVu fonts (Unicode text; Debian package
          fonts-dejavu-core), repeated table headers, "page N of M", a
          linked table of contents and bookmarks

EXAMPLES
   jejak report CASE -o report.md
   jejak report CASE --hunt 68d480d698e7324272543d587ed41cb9 --format html -o report.html
   jejak report CASE --format pdf --matter "PN 77/2024" --organisation "Lab" -o report.pdf`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "hunt", Usage: "report the hunt with this `KEY` (default: the latest)"},
			&cli.StringFlag{Name: "format", Value: "md", Usage: "md, html or pdf"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write to `FILE` (- for stdout, without a manifest)"},
			&cli.IntFlag{Name: "max-rows", Value: 500, Usage: "show at most `N` events per finding (0: all)"},
			&cli.StringFlag{Name: "min-severity", Usage: "leave out findings below `SEVERITY` (the report says so)"},
			&cli.StringSliceFlag{Name: "rules", Usage: "Sigma rules `DIR` or file the hunt ran, to quote their text (repeatable)"},
			&cli.StringFlag{Name: "matter", Usage: "the matter or case `NUMBER` the report is written for"},
			&cli.StringFlag{Name: "title", Usage: "the report's `TITLE` (default: \"Expert report: CASE NAME\")"},
			&cli.StringFlag{Name: "examiner", Usage: "the `NAME` who signs the report (default: the case's examiner)"},
			&cli.StringFlag{Name: "organisation", Aliases: []string{"organization"}, Usage: "the examiner's `ORGANISATION`"},
		},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "CASE")
			if err != nil {
				return err
			}
			f, err := report.ParseReportFormat(c.String("format"))
			if err != nil {
				return usageError{err}
			}
			if c.Int("max-rows") < 0 {
				return usagef("--max-rows must be 0 or more")
			}
			var minSev hunt.Severity
			if s := c.String("min-severity"); s != "" {
				if minSev, err = hunt.ParseSeverity(s); err != nil {
					return usagef("--min-severity: %v", err)
				}
			}
			cs, store, err := e.openCase(c.Context, dir)
			if err != nil {
				return err
			}
			defer store.Close()
			r, err := gatherReport(c.Context, cs, store, c.String("hunt"), c.StringSlice("rules"), e.stderr)
			if err != nil {
				return err
			}
			r.MaxRows = c.Int("max-rows")
			r.Matter, r.ReportTitle, r.Organisation = c.String("matter"), c.String("title"), c.String("organisation")
			r.Examiner = c.String("examiner")
			if minSev > hunt.Informational {
				r.MinSeverity = minSev
				r.Findings = slices.DeleteFunc(r.Findings, func(f hunt.Finding) bool { return f.Severity < minSev })
				// The appendix quotes the rules of the findings shown.
				shown := map[string]bool{}
				for _, f := range r.Findings {
					shown[f.RuleID] = true
				}
				r.Rules = slices.DeleteFunc(r.Rules, func(rt report.RuleText) bool { return !shown[rt.ID] })
			}
			warnIncomplete(e.stderr, r.Completeness)
			outPath := c.String("output")
			if outPath == "-" {
				if isTerminal(e.stdout) {
					// On a screen, evidence text must not reach the
					// terminal raw (HTML escaping leaves ESC as it is).
					tw := termsafe.NewWriter(e.stdout)
					err := report.WriteReport(tw, f, r)
					if ferr := tw.Flush(); err == nil {
						err = ferr
					}
					return incompleteExit(e.stderr, r.Completeness, err)
				}
				return incompleteExit(e.stderr, r.Completeness, report.WriteReport(e.stdout, f, r))
			}
			sum, size, err := writeOutput(outPath, func(w io.Writer) error { return report.WriteReport(w, f, r) })
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			var key string
			if r.Hunt != nil {
				key = r.Hunt.Key
			}
			nf := len(r.Findings)
			params := map[string]any{"hunt": key, "format": string(f), "max_rows": r.MaxRows}
			if minSev > hunt.Informational {
				params["min_severity"] = minSev.String()
			}
			if dirs := c.StringSlice("rules"); len(dirs) > 0 {
				params["rules"] = dirs
			}
			// The front matter given on the command line is part of what
			// was asked for: the manifest keeps it, so the report can be
			// written again the same.
			for _, k := range []string{"matter", "title", "examiner", "organisation"} {
				if v := c.String(k); v != "" {
					params[k] = v
				}
			}
			m, err := outputManifest(cs, "report", outPath, string(f), size, sum, params, r.Events, &nf, r.Custody)
			if err != nil {
				return err
			}
			m.Timeline = r.Completeness
			msum, err := export.WriteManifest(export.ManifestPath(outPath), m)
			if err != nil {
				return err
			}
			if err := cs.Log("report", map[string]any{"format": string(f), "file": absPath(outPath), "sha256": sum,
				"manifest_sha256": msum, "hunt": key, "findings": nf}); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "wrote report of %d findings to %s (sha256 %s)\nmanifest %s (sha256 %s)\n",
				nf, outPath, sum, export.ManifestPath(outPath), msum)
			return incompleteExit(e.stderr, r.Completeness, nil)
		},
	})
}

// outputActions are custody actions that only write something out of the
// case. An output reflects the case as of the last entry of another kind,
// so writing it again gives the same bytes.
var outputActions = map[string]bool{"export": true, "report": true}

// custodyBasis runs the custody checks (chain, case files, registry, store
// digest, signatures; see cmd_verify.go) and returns the entry an output
// reflects, signed when the case is, with every verified entry (those
// after the basis only record outputs).
func custodyBasis(ctx context.Context, cs *evidence.Case, store *sqlite.Store) (export.ManifestCustody, []evidence.Entry) {
	a, b := auditBasis(ctx, cs, store)
	for _, en := range a.Entries {
		if !outputActions[en.Action] {
			b.Seq, b.Hash = en.Seq, en.Hash
		}
	}
	signBasis(cs, a, &b)
	return b, a.Entries
}

// outputManifest describes an output file written from a case.
func outputManifest(cs *evidence.Case, command, outPath, format string, size int64, sum string,
	params any, events int64, findings *int, basis export.ManifestCustody) (*export.Manifest, error) {
	items, err := cs.Evidence()
	if err != nil {
		return nil, err
	}
	info := cs.Info()
	m := &export.Manifest{
		ManifestVersion: export.ManifestVersion,
		Tool:            "jejak",
		ToolVersion:     version,
		Command:         command,
		Output:          export.ManifestOutput{File: filepath.Base(outPath), Format: format, Size: size, SHA256: sum},
		Parameters:      params,
		Case:            export.ManifestCase{Name: info.Name, Examiner: info.Examiner, Zone: info.Zone, Created: info.Created},
		Evidence:        []export.ManifestEvidence{},
		Events:          events,
		Findings:        findings,
		Custody:         basis,
	}
	for _, it := range items {
		m.Evidence = append(m.Evidence, export.ManifestEvidence{ID: it.ID, Name: it.Name, Kind: it.Kind, Size: it.Size,
			SHA256: it.SHA256, SHA1: it.SHA1, MD5: it.MD5, Files: it.Files})
	}
	return m, nil
}

// writeOutput writes an output file through a temporary file beside it,
// renamed into place when complete, and returns its SHA-256 and size.
func writeOutput(outPath string, fn func(io.Writer) error) (string, int64, error) {
	var h *hashWriter
	var cw *countWriter
	err := atomicfile.Write(outPath, 0o644, func(w io.Writer) error {
		h = newHashWriter(w)
		cw = &countWriter{w: h}
		return fn(cw)
	})
	if err != nil {
		return "", 0, err
	}
	return h.sum(), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// gatherReport reads what a report states from the case: registry, custody
// log, store (events, warnings, the hunt and its findings) and rule texts.
func gatherReport(ctx context.Context, cs *evidence.Case, store *sqlite.Store, huntKey string, ruleDirs []string, stderr io.Writer) (*report.Report, error) {
	r := &report.Report{ToolVersion: version, Case: cs.Info(), Zone: cs.Location()}
	var err error
	if r.Evidence, err = cs.Evidence(); err != nil {
		return nil, err
	}
	var all []evidence.Entry
	r.Custody, all = custodyBasis(ctx, cs, store)
	var entries []evidence.Entry
	for _, en := range all {
		if en.Seq <= r.Custody.Seq {
			entries = append(entries, en)
		}
	}
	if n := len(entries); n > 0 {
		r.Date = entries[n-1].Time
	}
	r.Build = reportBuild()
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
	if r.TimestampKinds, err = timestampKinds(ctx, store); err != nil {
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
	if r.Events, err = store.Count(ctx, timeline.Query{}); err != nil {
		return nil, err
	}
	if r.Completeness, err = timelineState(ctx, cs, store); err != nil {
		return nil, err
	}
	runs, err := store.Runs(ctx)
	if err != nil {
		return nil, err
	}
	var ws []timeline.Warning
	if err := store.Warnings(ctx, true, func(w timeline.Warning) error {
		ws = append(ws, w)
		return nil
	}); err != nil {
		return nil, err
	}
	r.Warnings, r.WarningsTotal = report.GroupWarnings(ws), int64(len(ws))

	hunts, err := store.Hunts(ctx)
	if err != nil {
		return nil, err
	}
	hr, err := pickHunt(hunts, huntKey)
	if err != nil || hr == nil {
		return r, err
	}
	var p huntRecordParams
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
	if err := store.Findings(ctx, hr.Key, func(fr sqlite.FindingRecord) error {
		var f hunt.Finding
		if err := json.Unmarshal(fr.Doc, &f); err != nil {
			return fmt.Errorf("finding %s: %w", fr.ID, err)
		}
		r.Findings = append(r.Findings, f)
		return nil
	}); err != nil {
		return nil, err
	}
	r.Rules, err = firedRules(r.Findings, p.Rules, ruleDirs, stderr)
	return r, err
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
				return nil, usagef("--hunt %s names more than one hunt", key)
			}
			found = &hunts[i]
		}
	}
	if found == nil {
		keys := make([]string, len(hunts))
		for i, h := range hunts {
			keys[i] = h.Key
		}
		return nil, usagef("--hunt %s: no such hunt in the case (hunts: %s)", key, strings.Join(keys, ", "))
	}
	return found, nil
}

// firedRules finds the text of each rule that produced a finding: the
// built-in rule or a Sigma rule under ruleDirs whose text has the SHA-256
// the hunt recorded. A rule whose text changed since is named, not quoted.
func firedRules(findings []hunt.Finding, ran []string, ruleDirs []string, stderr io.Writer) ([]report.RuleText, error) {
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
		sig, problems, err := hunt.LoadSigma(ruleDirs...)
		if err != nil {
			return nil, usagef("--rules: %v", err)
		}
		printProblems(stderr, len(sig), problems)
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
