package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/urfave/cli/v2"
)

func exportCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "export",
		Usage:     "write the case timeline to a CSV, JSON Lines or Timesketch file",
		ArgsUsage: "CASE | NAME --es URL",
		Description: `Writes the timeline in the store's total order (@timestamp, then event ID), so
the same case exports to the same bytes every time.

Beside FILE, FILE.manifest.json records the file's SHA-256, size and event
count, the parameters (format, --from, --to as UTC), the case's evidence
hashes, the tool version and the custody entry the case stood at. It holds
no time of its own making: the same case and arguments give the same
manifest. The custody log records the export, its hash and the manifest's.
With -o - the timeline goes to stdout and no manifest is written; when stdout
is a terminal, control characters from evidence are shown escaped (\x1b), as
by 'jejak timeline', and the bytes are no longer the export's.

With --es URL, NAME is a case in Elasticsearch (as 'jejak case push' put it
there, or workers built it): the timeline is read from its index through a
point in time, in the same order, and the manifest's case, evidence and
custody come from the case indices; the file is the one the case folder
gives, byte for byte. The custody entry is appended to the chain in the
cluster.

FORMATS
   csv         one row per event: datetime (UTC, RFC 3339 with nanoseconds),
               timestamp_desc, action, outcome, message, user, source IP/port,
               host, process, then provenance: evidence SHA-256 and name,
               container chain, path, offset, record, parser, zone assumed,
               year inferred, event ID. Evidence text is attacker-controlled,
               so a cell that starts with =, +, -, @, tab or carriage return
               (a spreadsheet would run it as a formula) gets a single quote
               in front, as OWASP advises against CSV injection; so does a
               cell that starts with a quote, which keeps it reversible:
               remove one leading ' from every cell that has one to get the
               original text. Plain numbers (-1, +2.5) are left as they are.
   jsonl       one ECS JSON document per line, as stored: the exact,
               machine-faithful export (nothing neutralised or escaped
               beyond JSON's own escaping), except that winlog.event_data and
               jejak.data, whose keys vary per record, are each one string
               holding the JSON object (jq: .jejak.data | fromjson): so the
               file loads into any Elasticsearch/OpenSearch index with default
               mapping, under its 1,000-field limit
   timesketch  Timesketch's JSONL import format: one JSON object per line with
               message, datetime (ISO 8601, microseconds, +00:00), timestamp
               (microseconds since 1970) and timestamp_desc, then every ECS and
               jejak field flattened to a dotted name (source.ip,
               jejak.provenance.path, ...); @timestamp keeps the nanoseconds.
               Name the file *.jsonl: Timesketch picks the reader by extension.
               Import: timesketch_importer --timeline_name NAME FILE.jsonl
               (winlog.event_data and jejak.data as in jsonl)
   l2tcsv      plaso's log2timeline CSV (date, time, timezone, MACB, source,
               sourcetype, type, user, host, short, desc, version, filename,
               inode, notes, format, extra), times in UTC to the second; the
               exact time, event ID and evidence SHA-256 are in extra; cells
               neutralised as in csv

EXAMPLES
   jejak export CASE --format csv -o timeline.csv
   jejak export CASE --format jsonl --from 2024-02-14 -o after-close.jsonl
   jejak export CASE --format timesketch -o case-timesketch.jsonl
   jejak export kpu-2024 --es http://es1:9200 --format jsonl -o timeline.jsonl`,
		Flags: append(append(timeRangeFlags(),
			&cli.StringFlag{Name: "format", Value: "csv", Usage: "csv, jsonl, timesketch or l2tcsv"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write to `FILE` (- for stdout, without a manifest)"},
		), esReadFlags()...),
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "CASE")
			if err != nil {
				return err
			}
			f, err := export.ParseFormat(c.String("format"))
			if err != nil {
				return usageError{err}
			}
			if esGiven(c) {
				cl, err := e.openCluster(c, dir)
				if err != nil {
					return err
				}
				defer cl.Close()
				q, err := rangeQuery(c, cl.Evidence.Location())
				if err != nil {
					return err
				}
				o := casework.ExportOptions{Format: f, Query: q, From: c.String("from"), To: c.String("to"), ToolVersion: version}
				return e.writeExport(c.Context, cl, o, c.String("output"))
			}
			cs, store, err := e.openCase(c.Context, dir)
			if err != nil {
				return err
			}
			defer store.Close()
			q, err := rangeQuery(c, cs.Location())
			if err != nil {
				return err
			}
			o := casework.ExportOptions{Format: f, Query: q, From: c.String("from"), To: c.String("to"), ToolVersion: version}
			return e.writeExport(c.Context, casework.FromEvidence(cs, store, e.caseConfig("")), o, c.String("output"))
		},
	})
}

// exporter is a case an export is written from: a case folder
// (casework.Case) or a case in Elasticsearch (casework.Cluster).
type exporter interface {
	Export(ctx context.Context, o casework.ExportOptions) (*casework.OutputResult, error)
}

// writeExport writes the export to outPath (- for stdout) and says what it
// wrote.
func (e *env) writeExport(ctx context.Context, cw exporter, o casework.ExportOptions, outPath string) error {
	o.Completeness = func(comp *export.Completeness) {
		warnIncomplete(e.stderr, comp)
		if outPath != "-" && o.Format == export.Timesketch && !strings.HasSuffix(strings.ToLower(outPath), ".jsonl") {
			fmt.Fprintf(e.stderr, "note: Timesketch imports a JSONL file only when its name ends in .jsonl\n")
		}
	}
	if outPath == "-" {
		o.W = e.stdout
		var tw *termsafe.Writer
		if isTerminal(e.stdout) {
			// Read on a screen, not by a program: evidence text must not
			// reach the terminal raw (termsafe).
			tw = termsafe.NewWriter(e.stdout)
			o.W = tw
		}
		res, err := cw.Export(ctx, o)
		if res == nil {
			return err
		}
		if tw != nil {
			if ferr := tw.Flush(); err == nil {
				err = ferr
			}
		}
		return incompleteExit(e.stderr, res.Timeline, err)
	}
	o.Output = outPath
	res, err := cw.Export(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %d events to %s (sha256 %s)\nmanifest %s (sha256 %s)\n",
		res.Events, outPath, res.SHA256, res.Manifest, res.ManifestHash)
	return incompleteExit(e.stderr, res.Timeline, nil)
}
