package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/urfave/cli/v2"
)

func huntCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "hunt",
		Usage:     "look for traces of unauthorized access after the cut-off",
		ArgsUsage: "CASE (or NAME with --es)",
		Description: `Reads the case timeline once and runs jejak's built-in rules ('jejak rules
list'), its Go analyzers and any Sigma rules given with --rules (a SigmaHQ
checkout works: rules whose log source or modifiers cannot be evaluated
faithfully are listed and skipped). Events before --after are the baseline;
findings are about what happened from --after on.

With --es, the hunt reads the case timeline from the cluster: the index
jejak-<case> (or --index), through a point in time in time and event-ID
order, e.g. one that 'jejak ingest --es', 'jejak index' or workers filled;
the analyzers and rules are the same, and so are the findings. The findings
are stored in the case and also go to the index jejak-<case>-findings (or
<--index>-findings) beside the timeline, replacing that hunt's earlier ones.
--es is not taken from JEJAK_ES here: a hunt reads the case folder unless
told otherwise. An index that holds fewer events than the case folder is
not read (the hunt would miss events): the folder is, and a line says so.

With --es and a NAME that is no case folder, the hunt is of the case of that
name in the cluster (pushed with 'jejak case push', filled by 'jejak
worker'): its timeline read from the index, the hunt and its findings
stored beside it (where 'jejak report NAME --es' reads them), the hunt
recorded in the cluster's custody chain; no folder is written.

--slices N reads the index with N readers at once, each a slice of the same
point in time, merged back into the one order the analyzers need: the same
findings, sooner on an index of several shards.

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
   jejak hunt CASE --after 2024-02-14T18:00 --rules ~/sigma/rules/windows --fail-on high
   jejak hunt CASE --after 2024-02-14T18:00 --es http://localhost:9200 --slices 3`,
		Flags: append(append(huntFlags(true),
			&cli.BoolFlag{Name: "json", Usage: "print the findings as JSON instead of the table"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr"},
			fromESFlag(),
			&cli.IntFlag{Name: "slices", Value: 1, Usage: "with --es, read the index with `N` readers at once (sliced point in time, merged back into one order): about the index's shard count"},
		), esReadFlags()...), // JEJAK_ES alone does not turn a hunt of the folder into one of the cluster
		Action: func(c *cli.Context) error {
			if name, err := oneArg(c, "CASE"); err == nil && esGiven(c) && !casework.IsCaseDir(name) {
				return e.huntCluster(c, name) // a case pushed to the cluster, by its name
			}
			cs, store, err := e.caseStoreArg(c)
			if err != nil {
				return err
			}
			defer store.Close()
			return e.hunt(c, cs, store)
		},
	})
}

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

// hunt runs the hunt the flags describe over an open case folder
// (casework.Hunt) and prints its findings.
func (e *env) hunt(c *cli.Context, cs *evidence.Case, store *sqlite.Store) error {
	// A signed case without its key: refused before the flags are read,
	// as casework.Hunt refuses it before findings are stored.
	if err := cs.CheckSigning(); err != nil {
		return err
	}
	o, failOn, err := e.huntOptions(c, cs.Location())
	if err != nil {
		return err
	}
	// --es: the timeline is read from the case's index (a point in time,
	// in time and event-ID order) and the findings written beside it.
	closeES, err := e.huntES(c, cs, store, &o)
	if err != nil {
		return err
	}
	defer closeES()
	res, huntErr := casework.FromEvidence(cs, store, e.caseConfig("")).Hunt(c.Context, o)
	return e.huntDone(c, o, res, huntErr, failOn)
}

// huntCluster hunts the case NAME of the cluster the --es flags name: its
// timeline read from the index, its hunt, findings and custody entry
// written there.
func (e *env) huntCluster(c *cli.Context, name string) error {
	es, err := openESName(c, name, true)
	if err != nil {
		return err
	}
	defer es.Close()
	cl, err := casework.OpenCluster(c.Context, es, "", e.caseConfig(""))
	if err != nil {
		return err
	}
	defer cl.Close()
	o, failOn, err := e.huntOptions(c, cl.Evidence.Location())
	if err != nil {
		return err
	}
	if n := c.Int("slices"); n > 1 {
		o.Source = es.Sliced(n)
	}
	res, huntErr := cl.Hunt(c.Context, o)
	return e.huntDone(c, o, res, huntErr, failOn)
}

// huntOptions are the hunt's flags as casework options (times read in the
// case zone), with --fail-on's severity.
func (e *env) huntOptions(c *cli.Context, zone *time.Location) (o casework.HuntOptions, failOn *hunt.Severity, err error) {
	if s := c.String("fail-on"); s != "" {
		v, err := hunt.ParseSeverity(s)
		if err != nil {
			return o, nil, usagef("--fail-on: %v", err)
		}
		failOn = &v
	}
	if s := c.String("min-severity"); s != "" {
		if o.MinSeverity, err = hunt.ParseSeverity(s); err != nil {
			return o, nil, usagef("--min-severity: %v", err)
		}
	}
	if o.After, err = parseTime(c.String("after"), zone); err != nil {
		return o, nil, usagef("--after: %v", err)
	}
	if s := c.String("before"); s != "" {
		if o.Before, err = parseTime(s, zone); err != nil {
			return o, nil, usagef("--before: %v", err)
		}
		if !o.Before.After(o.After) {
			return o, nil, usagef("--before %s is not after --after %s", s, c.String("after"))
		}
	}
	if s := c.String("working-hours"); s != "" {
		if o.WorkingHours, err = hunt.ParseWorkingHours(s, zone); err != nil {
			return o, nil, usagef("--working-hours: %v", err)
		}
	}
	if n := c.Int("slices"); c.IsSet("slices") && n < 1 {
		return o, nil, usagef("--slices %d: want 1 or more readers", n)
	}
	o.Watch = c.StringSlice("watch")
	if o.Rules, err = e.loadRules(c); err != nil {
		return o, nil, err
	}
	if !c.Bool("quiet") && isTerminal(e.stderr) {
		o.Progress = func(n int64) { fmt.Fprintf(e.stderr, "\rhunting: %d events read", n) }
	}
	// A hunt over a partial timeline says so first, and exits 3 (unless
	// --fail-on's 4: a finding on part of the events is still a finding).
	o.Started = func(comp *export.Completeness) { warnIncomplete(e.stderr, comp) }
	return o, failOn, nil
}

// huntDone prints a hunt's result and returns the command's error.
func (e *env) huntDone(c *cli.Context, o casework.HuntOptions, res *casework.HuntResult, huntErr error, failOn *hunt.Severity) error {
	if o.Progress != nil {
		fmt.Fprintln(e.stderr)
	}
	if res == nil {
		return huntErr
	}
	if res.FindingsIndex != "" {
		fmt.Fprintf(c.App.ErrWriter, "%d findings stored in %s\n", len(res.Findings), res.FindingsIndex)
	}
	comp := res.Timeline
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		// "timeline" says whether the events hunted were all the evidence's.
		if err := enc.Encode(map[string]any{"hunt": res.Key, "params": res.Params, "summary": res.Summary, "findings": res.Findings, "logs_examined": res.Logs, "timeline": comp}); err != nil {
			return err
		}
	} else {
		printHuntSummary(e.stdout, res.Summary, len(res.Findings), isTerminal(e.stdout))
		printLogsExamined(e.stdout, res.Logs)
		fmt.Fprintf(e.stderr, "\nhunt %s: %d findings stored in the case (details: --json)\n", res.Key, len(res.Findings))
	}
	if huntErr != nil {
		// A user rule that errs on some events: the rest is reported and
		// stored; the error is said and the exit is non-zero.
		return huntErr
	}
	if failOn != nil {
		for _, f := range res.Findings {
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
	for _, r := range slices.Sorted(maps.Keys(counts)) {
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

// loadRules returns the built-in rules, then the Sigma rules of the
// --rules folders (their problems printed on stderr).
func (e *env) loadRules(c *cli.Context) ([]*hunt.Rule, error) {
	dirs := c.StringSlice("rules")
	rules, problems, err := casework.LoadRules(dirs...)
	if rfe := (*casework.RuleFilesError)(nil); errors.As(err, &rfe) {
		return nil, usagef("--rules: %v", rfe.Err)
	}
	if err != nil {
		return nil, err
	}
	if len(dirs) > 0 {
		printProblems(e.stderr, sigmaCount(rules), problems)
	}
	return rules, nil
}

// sigmaCount is how many of rules were read from Sigma files: every rule
// not built in ("builtin:rules/NAME.yml").
func sigmaCount(rules []*hunt.Rule) int {
	n := 0
	for _, r := range rules {
		if !strings.HasPrefix(r.Source, "builtin:") {
			n++
		}
	}
	return n
}

// huntES points a hunt of a case folder at the case's Elasticsearch
// index when --es is given (or the older --from-es, now an alias): the
// timeline is read from it (casework's ESSource: a point in time, or
// --slices of one) and the findings are written beside it. An index that
// holds fewer events than the folder's store is not read, and a line says
// why. The returned func closes the connection.
func (e *env) huntES(c *cli.Context, cs *evidence.Case, store *sqlite.Store, o *casework.HuntOptions) (func(), error) {
	slices := c.Int("slices") // 0 from analyze, which has no --slices
	if !esGiven(c) {
		if c.Bool("from-es") {
			return nil, usagef("--from-es needs --es URL")
		}
		if slices > 1 {
			return nil, usagef("--slices reads the Elasticsearch index: it needs --es URL")
		}
		return func() {}, nil
	}
	es, err := openES(c, cs)
	if err != nil {
		return nil, err
	}
	o.ES = es
	src, behind, err := casework.FromEvidence(cs, store, e.caseConfig("")).ESSource(c.Context, es, slices)
	if err != nil {
		es.Close()
		return nil, err
	}
	if behind != nil {
		fmt.Fprintf(e.stderr, "jejak: index %s holds %d events, the case folder %d: the timeline is read from the case folder ('jejak index %s --es ...' copies it to the index)\n",
			behind.Index, behind.Indexed, behind.InStore, cs.Dir())
	}
	o.Source = src
	return func() { es.Close() }, nil
}
