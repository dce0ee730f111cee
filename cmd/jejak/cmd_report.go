package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/casework/report"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

func reportCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "report",
		Usage:     "write a findings report a lawyer or judge can read",
		ArgsUsage: "CASE | NAME --es URL",
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

With --es URL, NAME is a case in Elasticsearch (as 'jejak case push' put it
there, or workers built it): its case files, evidence registry and custody
chain are pulled from the case indices, the timeline is read through a point
in time, and the hunt, findings, runs and warnings come from their indices
(a hunt reaches the cluster with 'jejak index'). The report is the one the
case folder gives, byte for byte, but for the store check (the cluster holds
no case.db to check against its digest); the custody entry recording it is
appended to the chain in the cluster.

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
   jejak report CASE --format pdf --matter "PN 77/2024" --organisation "Lab" -o report.pdf
   jejak report kpu-2024 --es http://es1:9200 -o report.md`,
		Flags: append([]cli.Flag{
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
		}, esReadFlags()...),
		Action: func(c *cli.Context) error {
			// With --es, CASE is the case's name in the cluster.
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
			o := casework.ReportOptions{Format: f, Hunt: c.String("hunt"), RuleDirs: c.StringSlice("rules"),
				MaxRows: c.Int("max-rows"), MinSeverity: minSev, Matter: c.String("matter"), Title: c.String("title"),
				Examiner: c.String("examiner"), Organisation: c.String("organisation"),
				ToolVersion: version, Build: reportBuild(),
				SigmaProblems: func(n int, p []hunt.LoadProblem) { printProblems(e.stderr, n, p) },
				Gathered:      func(r *report.Report) { warnIncomplete(e.stderr, r.Completeness) }}
			if esGiven(c) {
				cl, err := e.openCluster(c, dir)
				if err != nil {
					return err
				}
				defer cl.Close()
				return e.writeReport(c.Context, cl, o, c.String("output"))
			}
			cs, store, err := e.openCase(c.Context, dir)
			if err != nil {
				return err
			}
			defer store.Close()
			return e.writeReport(c.Context, casework.FromEvidence(cs, store, e.caseConfig("")), o, c.String("output"))
		},
	})
}

// openCluster opens the case NAME in the cluster the --es flags name: its
// folder pulled into a temporary one, its timeline and findings read there.
func (e *env) openCluster(c *cli.Context, name string) (*casework.Cluster, error) {
	es, err := openESName(c, name, false)
	if err != nil {
		return nil, err
	}
	cl, err := casework.OpenCluster(c.Context, es, "", e.caseConfig(""))
	if err != nil {
		es.Close()
		return nil, err
	}
	return cl, nil
}

// reporter is a case a report is written from: a case folder
// (casework.Case) or a case in Elasticsearch (casework.Cluster).
type reporter interface {
	Report(ctx context.Context, w io.Writer, o casework.ReportOptions) (*casework.OutputResult, error)
}

// writeReport writes the report to outPath (- for stdout) and says what it
// wrote.
func (e *env) writeReport(ctx context.Context, cw reporter, o casework.ReportOptions, outPath string) error {
	if outPath == "-" {
		w := io.Writer(e.stdout)
		var tw *termsafe.Writer
		if isTerminal(e.stdout) {
			// On a screen, evidence text must not reach the terminal raw
			// (HTML escaping leaves ESC as it is).
			tw = termsafe.NewWriter(e.stdout)
			w = tw
		}
		res, err := cw.Report(ctx, w, o)
		if tw != nil && res != nil {
			if ferr := tw.Flush(); err == nil {
				err = ferr
			}
		}
		if res == nil {
			return optionError(err)
		}
		return incompleteExit(e.stderr, res.Timeline, err)
	}
	o.Output = outPath
	res, err := cw.Report(ctx, nil, o)
	if err != nil {
		return optionError(err)
	}
	fmt.Fprintf(e.stderr, "wrote report of %d findings to %s (sha256 %s)\nmanifest %s (sha256 %s)\n",
		res.Findings, outPath, res.SHA256, res.Manifest, res.ManifestHash)
	return incompleteExit(e.stderr, res.Timeline, nil)
}

// optionError turns the API's option errors into usage errors (exit 2).
func optionError(err error) error {
	var oe *casework.OptionError
	if errors.As(err, &oe) {
		return usageError{oe.Err}
	}
	return err
}
