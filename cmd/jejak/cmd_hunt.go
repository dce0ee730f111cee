package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/urfave/cli/v2"
)

func huntCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "hunt",
		Usage:     "look for traces of unauthorized access after the cut-off",
		ArgsUsage: "CASE",
		Description: `Reads the case timeline once and runs jejak's built-in rules ('jejak rules
list'), its Go analyzers and any Sigma rules given with --rules (a SigmaHQ
checkout works: rules whose log source or modifiers cannot be evaluated
faithfully are listed and skipped). Events before --after are the baseline;
findings are about what happened from --after on.

With --es, the findings also go to the index jejak-<case>-findings (or
<--index>-findings) beside the timeline, replacing that hunt's earlier ones.
With --from-es too, the timeline itself is read from the index (a point in
time, in time and event-ID order), e.g. one that workers filled.

Each finding names its rule, severity, ATT&CK technique, time span, the
matching events (ID, evidence, container chain, path, offset, record) and a
one-line explanation. Findings are stored in the case: hunting again with the
same parameters (cut-off, window, rule files, watched paths, working hours)
replaces that hunt's findings, a hunt with other parameters is kept beside
it. Findings have stable IDs and order: the same case and parameters always
give the same report.

A summary table (severity, rule, count, first/last time) goes to stdout,
coloured by severity on a terminal; --json prints the findings instead.
The command exits 0 whether or not something was found, unless --fail-on.

Severities follow one scale (critical: guessing then a logon, a log
cleared, tabulation files changed after the cut-off; high; medium; low:
internet scanners, one finding per host; informational). --min-severity
leaves findings below a level out of what is stored and printed; --fail-on
still looks at what was stored. Every EVTX log's record-ID verdict is kept
with the hunt: only a gap, a clear or a roll-over past the cut-off is a
finding, the intact logs are listed in the report's "Logs examined" table
(and under "logs_examined" in --json).

EXAMPLES
   jejak hunt CASE --after 2024-02-14T18:00:00+07:00
   jejak hunt CASE --after 2024-02-14T18:00 --watch /var/lib/postgresql --working-hours 07:00-19:00
   jejak hunt CASE --after 2024-02-14T18:00 --rules ~/sigma/rules/windows --fail-on high`,
		Flags: append(append(huntFlags(true),
			&cli.BoolFlag{Name: "json", Usage: "print the findings as JSON instead of the table"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr"},
			fromESFlag(),
		), esFlags()...),
		Action: func(c *cli.Context) error {
			cs, store, err := e.caseStoreArg(c)
			if err != nil {
				return err
			}
			defer store.Close()
			return e.hunt(c, cs, store)
		},
	})
}

// huntParams and huntRecordParams moved to casework/hunt (hunt.Params,
// hunt.RecordParams); the aliases keep the readers in package main
// compiling while they move.
type (
	huntParams       = hunt.Params
	huntRecordParams = hunt.RecordParams
)

// huntFlags are the hunt's parameters, shared by hunt and analyze (where
// --after is optional: without it analyze does not hunt).
func huntFlags(afterRequired bool) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "after", Required: afterRequired, Usage: "cut-off `TIME` (RFC 3339, or 2006-01-02[T15:04:05] in the case zone): when tabulation closed"},
		&cli.StringFlag{Name: "before", Usage: "end the hunt at `TIME` (same forms)"},
		&cli.StringSliceFlag{Name: "rules", Usage: "Sigma rules `DIR` or file (repeatable)"},
		&cli.StringSliceFlag{Name: "watch", Usage: "`PATH` inside the evidence whose files must not change after the cut-off (repeatable)"},
		&cli.StringFlag{Name: "working-hours", Usage: "`HH:MM-HH:MM` in the case zone; logons outside are findings"},
		&cli.StringFlag{Name: "fail-on", Usage: "exit 4 when a finding is at least `SEVERITY` (informational, low, medium, high, critical)"},
		&cli.StringFlag{Name: "min-severity", Usage: "store and print only findings of at least `SEVERITY`"},
	}
}

// hunt runs the hunt the flags describe over an open case and stores and
// prints its findings.
func (e *env) hunt(c *cli.Context, cs *evidence.Case, store *sqlite.Store) error {
	// A signed case without its key: refuse before findings are stored.
	if err := cs.CheckSigning(); err != nil {
		return err
	}
	var err error
	var failOn *hunt.Severity
	if s := c.String("fail-on"); s != "" {
		v, err := hunt.ParseSeverity(s)
		if err != nil {
			return usagef("--fail-on: %v", err)
		}
		failOn = &v
	}
	zone := cs.Location()
	var logs []hunt.LogVerdict
	cfg := hunt.Config{Zone: zone, Watch: c.StringSlice("watch"), Examined: func(lv hunt.LogVerdict) { logs = append(logs, lv) }}
	if s := c.String("min-severity"); s != "" {
		if cfg.MinSeverity, err = hunt.ParseSeverity(s); err != nil {
			return usagef("--min-severity: %v", err)
		}
	}
	if cfg.After, err = parseTime(c.String("after"), zone); err != nil {
		return usagef("--after: %v", err)
	}
	if s := c.String("before"); s != "" {
		if cfg.Before, err = parseTime(s, zone); err != nil {
			return usagef("--before: %v", err)
		}
		if !cfg.Before.After(cfg.After) {
			return usagef("--before %s is not after --after %s", s, c.String("after"))
		}
	}
	if s := c.String("working-hours"); s != "" {
		if cfg.WorkingHours, err = hunt.ParseWorkingHours(s, zone); err != nil {
			return usagef("--working-hours: %v", err)
		}
	}
	rules, err := e.loadRules(c)
	if err != nil {
		return err
	}
	cfg.Rules = rules
	if !c.Bool("quiet") && isTerminal(e.stderr) {
		cfg.Progress = func(n int64) { fmt.Fprintf(e.stderr, "\rhunting: %d events read", n) }
	}

	params := hunt.ParamsFor(cfg)

	// A hunt over a partial timeline says so first, and exits 3 (unless
	// --fail-on's 4: a finding on part of the events is still a finding).
	comp, err := timelineState(c.Context, cs, store)
	if err != nil {
		return err
	}
	warnIncomplete(e.stderr, comp)
	started := e.now()
	src, closeSrc, err := huntSource(c, cs, store) // --from-es: the index, through a point in time (cmd_worker.go)
	if err != nil {
		return err
	}
	defer closeSrc()
	findings, huntErr := hunt.Hunt(c.Context, src, cfg)
	if cfg.Progress != nil {
		fmt.Fprintln(e.stderr)
	}
	if huntErr != nil && findings == nil {
		return huntErr
	}
	recs := make([]sqlite.FindingRecord, len(findings))
	for i, f := range findings {
		doc, err := json.Marshal(f)
		if err != nil {
			return err
		}
		recs[i] = sqlite.FindingRecord{ID: f.ID, RuleID: f.RuleID, Severity: f.Severity.String(),
			First: f.First, Last: f.Last, Events: len(f.Events), Doc: doc}
	}
	// The key stays the hash of the parameters alone; the stored record
	// adds the logs examined.
	rj, err := json.Marshal(hunt.RecordParams{Params: params, Logs: logs})
	if err != nil {
		return err
	}
	hr := sqlite.HuntRecord{Key: params.Key(), Params: rj, Started: started, Finished: e.now(), ToolVersion: version}
	if err := store.ReplaceFindings(c.Context, hr, recs); err != nil {
		return err
	}
	if len(c.StringSlice("es")) > 0 {
		if err := findingsToES(c, cs, hr.Key, findings); err != nil {
			return err
		}
	}
	summary := hunt.Summarize(findings)
	// The digest of hunts and findings binds them to the chain.
	if err := cs.Log("hunt", map[string]any{"hunt": hr.Key, "params": params, "findings": len(findings), "logs_examined": len(logs), "error": errString(huntErr),
		"store": storeDetails(c.Context, store, huntStoreParts...)}); err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		// "timeline" says whether the events hunted were all the evidence's.
		if err := enc.Encode(map[string]any{"hunt": hr.Key, "params": params, "summary": summary, "findings": findings, "logs_examined": logs, "timeline": comp}); err != nil {
			return err
		}
	} else {
		printHuntSummary(e.stdout, summary, len(findings), isTerminal(e.stdout))
		printLogsExamined(e.stdout, logs)
		fmt.Fprintf(e.stderr, "\nhunt %s: %d findings stored in the case (details: --json)\n", hr.Key, len(findings))
	}
	if huntErr != nil {
		// A user rule that errs on some events: the rest is reported and
		// stored; the error is said and the exit is non-zero.
		return huntErr
	}
	if failOn != nil {
		for _, f := range findings {
			if f.Severity >= *failOn {
				return errFindings
			}
		}
	}
	return incompleteExit(e.stderr, comp, nil)
}

// printLogsExamined says in one line how many logs were judged and how
// many of them are findings: the intact ones are listed in the report.
func printLogsExamined(w io.Writer, logs []hunt.LogVerdict) {
	if len(logs) == 0 {
		return
	}
	flagged := 0
	for _, lv := range logs {
		if lv.Finding != "" {
			flagged++
		}
	}
	fmt.Fprintf(w, "logs examined: %d (%d with records missing, %d intact; listed in 'jejak report')\n", len(logs), flagged, len(logs)-flagged)
}

func printProblems(w io.Writer, loaded int, problems []hunt.LoadProblem) {
	fmt.Fprintf(w, "sigma: %d rules loaded, %d files skipped\n", loaded, len(problems))
	counts := map[string]int{}
	for _, p := range problems {
		reason := p.Reason
		if i := strings.Index(reason, ":"); i > 0 && i < 40 {
			reason = reason[:i]
		}
		counts[reason]++
	}
	for _, r := range sortedKeys(counts) {
		fmt.Fprintf(w, "  %-60s %d\n", r, counts[r])
	}
}

var severityColour = map[hunt.Severity]string{
	hunt.Critical: "\x1b[1;35m", hunt.High: "\x1b[31m", hunt.Medium: "\x1b[33m", hunt.Low: "\x1b[36m", hunt.Informational: "\x1b[2m",
}

func printHuntSummary(w io.Writer, summary []hunt.Summary, n int, colour bool) {
	if n == 0 {
		fmt.Fprintln(w, "no findings")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tRULE\tTECHNIQUE\tFINDINGS\tEVENTS\tFIRST (UTC)\tLAST (UTC)\tTITLE")
	for _, s := range summary {
		sev := s.Severity.String()
		if colour {
			// tabwriter counts the escape bytes; padding the plain name
			// first keeps the columns straight.
			sev = severityColour[s.Severity] + fmt.Sprintf("%-13s", sev) + "\x1b[0m"
		}
		// Rule IDs and titles come from Sigma files too: one safe cell each.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", sev, oneLine(s.RuleID), oneLine(dash(s.Technique)), s.Findings, s.Events,
			s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339), oneLine(s.Title))
	}
	tw.Flush()
}

// findingsToES stores a hunt's findings in the case index's findings index
// (jejak-<case>-findings), replacing that hunt's earlier ones, so analysts
// in Kibana see them beside the timeline.
// loadRules returns the built-in rules, then the Sigma rules of the
// --rules folders (their problems printed on stderr).
func (e *env) loadRules(c *cli.Context) ([]*hunt.Rule, error) {
	rules, err := hunt.Builtin()
	if err != nil {
		return nil, err
	}
	if dirs := c.StringSlice("rules"); len(dirs) > 0 {
		sig, problems, err := hunt.LoadSigma(dirs...)
		if err != nil {
			return nil, usagef("--rules: %v", err)
		}
		printProblems(e.stderr, len(sig), problems)
		rules = append(rules, sig...)
	}
	return rules, nil
}

func findingsToES(c *cli.Context, cs *evidence.Case, key string, findings []hunt.Finding) error {
	es, err := openES(c, cs)
	if err != nil {
		return err
	}
	defer es.Close()
	docs := make([]elastic.FindingDoc, len(findings))
	for i, f := range findings {
		doc, err := json.Marshal(struct {
			Hunt string `json:"hunt"`
			hunt.Finding
		}{key, f})
		if err != nil {
			return err
		}
		docs[i] = elastic.FindingDoc{ID: f.ID, Doc: doc}
	}
	if err := es.ReplaceFindings(c.Context, key, docs); err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "%d findings stored in %s\n", len(docs), elastic.FindingsIndex(es.Index()))
	return nil
}
