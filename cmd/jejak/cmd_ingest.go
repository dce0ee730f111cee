package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/casework/zonecheck"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/urfave/cli/v2"
)

func ingestFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "workers", DefaultText: "number of cores", Usage: "evidence items parsed at once"},
		&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"},
		spoolLimitFlag(),
		&cli.BoolFlag{Name: "machine-zone", Usage: "read the zone-less logs of an evidence item holding Windows (a disk image, or a folder copy of a system volume) in the zone its SYSTEM hive states, not the case zone (default off: the case zone stays the examiner's decision; the summary and --json name each zone so applied and its hive)"},
	}
}

// ingestCmdFlags adds --verify and the optional Elasticsearch target to ingest.
func ingestCmdFlags() []cli.Flag {
	verify := &cli.BoolFlag{Name: "verify", Usage: "re-hash every evidence file before reading it (default: hash only files whose size or mtime differ from the registry)"}
	return append(append(ingestFlags(), verify), esFlags()...)
}

func ingestCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "ingest",
		Usage:     "parse all registered evidence into the case timeline",
		ArgsUsage: "CASE",
		Description: `Walks every registered evidence item (folders, archives nested to any depth),
recognises each file's format by its content, parses it and stores the events
in the case's embedded store (case.db). Events have deterministic IDs, so
running ingest again adds nothing.

Each file is either parsed or counted as skipped with a reason; each record a
parser could not read is stored as a warning ('jejak warnings CASE' lists
them). The summary at the end says what was read and what was not.

EVIDENCE RE-CHECK
Before anything is read, each item is compared with its registration: every
file of a folder (a file added, missing or changed) and every segment of a
split raw or EWF image set. A file whose size and mtime equal the registry's
is taken as unchanged, others are hashed; --verify hashes every file. Any
difference refuses the ingest (exit 1) naming the file, and is recorded in
the custody log. The fast check runs again after reading: evidence written to
meanwhile fails the run (exit 1). Items registered by a jejak that hashed only the first
segment of an image set are refused until added again ('jejak evidence add
CASE PATH' hashes each segment and keeps the item's ID).

ZONE CHECK
After the run, records that a log without zones and a log with exact times
of the same host both hold are paired: sshd logons in classic syslog
(secure, auth.log) with wtmp, btmp, lastlog and auditd records, by user,
remote host and sshd's pid where both have one; web server errors (no zone)
with access-log requests (+0000), by client and path. Records of different
evidence items pair only when tied by pid or path. When their times
differ by a whole zone offset (a multiple of 15 minutes, within 30 s of
logging delay; 3 agreeing pairs, or 1 tied by pid or path), the log was
written in another zone than the case's --tz: the summary says so in a
ZONE MISMATCH block with the offset, the pairs and an example, 'jejak
warnings' lists it (kind "zone"), and --json has it under "zone_check" with
the --tz to use for a new case (e.g. Etc/GMT+3 for UTC-03:00). The records
were all read, so this alone does not make the exit status 3; re-ingest
into a case made with the suggested --tz.

MACHINE ZONE
A Windows SYSTEM hive states its machine's time zone; when it differs from
--tz the summary says ZONE MISMATCH. With --machine-zone (off by default:
the case zone stays the examiner's decision), an evidence item holding
Windows is read in its own zone instead: before its walk, the hive at
Windows/System32/config/SYSTEM is looked up by path (in each NTFS
partition of a disk image, or under a folder, any case), and the item's
logs without a zone (setupapi, SQL Server's ERRORLOG, FAT times, ...) are
read in the zone it states. The summary says "zone of ITEM: ZONE from its
SYSTEM hive PATH (Windows name)", --json lists it under "item_zones", and
each such event carries the zone in jejak.time.zone_assumed. A hive that
cannot be read leaves the item in the case zone, with a warning (kind zone).

With --es, events also go to Elasticsearch in the same pass (see 'jejak index'),
and the index is checked to hold exactly the case's events at the end. When the
node runs on this machine, 'jejak ingest' then 'jejak index' is faster (285k
events: 1.8 s + 6.2 s against 9.8 s in one pass): parsing and the node compete
for the same cores, and index sends the stored documents as they are.

A progress bar is drawn on stderr when it is a terminal.`,
		Flags: ingestCmdFlags(),
		Action: func(c *cli.Context) error {
			cs, err := e.caseArg(c)
			if err != nil {
				return err
			}
			return e.ingest(c, cs)
		},
	})
}

// ingest runs the pipeline over a case's evidence (casework.Ingest) and
// prints the summary.
func (e *env) ingest(c *cli.Context, cs *evidence.Case) error {
	res, runErr := e.runIngest(c, cs)
	if res == nil {
		return runErr
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res.RunSummary)
	} else {
		e.printIngest(res, runErr, false)
	}
	return ingestStatus(res, runErr)
}

// runIngest is ingest without the printing: the result (nil when the run
// did not start) and the run's error.
func (e *env) runIngest(c *cli.Context, cs *evidence.Case) (*casework.IngestResult, error) {
	o := casework.IngestOptions{
		Verify:      c.Bool("verify"),
		MachineZone: c.Bool("machine-zone"),
		Workers:     c.Int("workers"),
		SpoolLimit:  spoolLimit(c),
	}
	if !c.Bool("quiet") && isTerminal(e.stderr) {
		bar := newProgressBar(e.stderr, "ingesting", -1, true, "")
		o.Progress = func(p ingest.Progress) {
			bar.set(p.Bytes, fmt.Sprintf("ingesting: %d files, %d events,", p.Files, p.Events))
			if p.Done {
				bar.finish()
			}
		}
	}
	if len(c.StringSlice("es")) > 0 {
		o.OpenES = func(context.Context) (*elastic.Store, error) { return openES(c, cs) }
	}
	res, runErr := casework.FromEvidence(cs, nil, e.caseConfig("")).Ingest(c.Context, o)
	if errors.Is(runErr, casework.ErrNoEvidence) {
		return nil, usagef("case %s has no evidence: add some with 'jejak evidence add %s PATH...'", cs.Dir(), cs.Dir())
	}
	return res, runErr
}

// printIngest prints the summary of a run for a reader on stderr.
// discarded says the run's events were removed after it (its evidence's
// registration failed): the store is gone, not partial.
func (e *env) printIngest(res *casework.IngestResult, runErr error, discarded bool) {
	printSummary(e.stderr, &res.Summary, res.Sample, res.Names)
	printZones(e.stderr, res.ZoneCheck)
	for _, w := range res.MachineZones {
		fmt.Fprintf(e.stderr, "\nZONE MISMATCH    %s\n", formatWarning(w, res.Names))
	}
	switch {
	case discarded:
		fmt.Fprintf(e.stderr, "\nDISCARDED        the evidence could not be registered (below): the events counted above\n"+
			"                 were removed with the case store, and no custody entry records this run\n")
	case runErr != nil:
		fmt.Fprintf(e.stderr, "\nINCOMPLETE       this run did not complete: the counts above stop where it stopped, and the case\n"+
			"                 timeline is partial (hunt, report, export say so, exit 3) until an ingest run completes\n")
	}
}

// ingestStatus is the command's error after a run: the run's own, else
// errWarnings when some input could not be read.
func ingestStatus(res *casework.IngestResult, runErr error) error {
	if runErr != nil {
		return runErr
	}
	if !res.Summary.Clean() {
		return errWarnings
	}
	return nil
}

// printZones makes a mismatch the loudest lines of the summary: every time
// of that file is hours off, and nothing else on the screen says so.
func printZones(out io.Writer, fs []zonecheck.Finding) {
	for _, f := range fs {
		if f.Agree {
			fmt.Fprintf(out, "\nzone check       %s (read in %s) agrees with %s: %s\n",
				termsafe.String(f.File), f.ZoneAssumed, termsafe.String(strings.Join(f.ExactFiles, ", ")), termsafe.String(f.How()))
			continue
		}
		fmt.Fprintf(out, "\nZONE MISMATCH    %s (read in %s)\n", termsafe.String(f.File), f.ZoneAssumed)
		fmt.Fprintf(out, "  its times are %s the same activity in %s\n", f.Gap(), termsafe.String(strings.Join(f.ExactFiles, ", ")))
		fmt.Fprintf(out, "  %s\n  e.g. %s\n  %s\n", termsafe.String(f.How()), termsafe.String(f.Instance()), termsafe.String(f.Advice()))
	}
}

func printSummary(out io.Writer, s *ingest.Summary, sample []timeline.Warning, names map[string]string) {
	fmt.Fprintf(out, "\nevidence items   %d\n", s.Evidence)
	fmt.Fprintf(out, "files seen       %d\n", s.FilesSeen)
	fmt.Fprintf(out, "files parsed     %d\n", s.FilesParsed)
	fmt.Fprintf(out, "files skipped    %d\n", s.FilesSkipped)
	for _, r := range s.SortedReasons() {
		fmt.Fprintf(out, "  %-40s %d\n", r, s.SkipReasons[r])
	}
	if s.Directories > 0 || s.Special > 0 {
		fmt.Fprintf(out, "directories      %d (times only)\n", s.Directories)
		fmt.Fprintf(out, "links, devices, pipes, sockets %d (times only)\n", s.Special)
	}
	if s.Containers > 0 {
		fmt.Fprintf(out, "containers       %d (archives and images: their own times, then their members)\n", s.Containers)
	}
	fmt.Fprintf(out, "events           %d (%d new, %d already in the case)\n", s.Events, s.Inserted, s.Duplicates)
	fmt.Fprintf(out, "record warnings  %d\n", s.Warnings)
	if s.Unrecovered > 0 {
		fmt.Fprintf(out, "slack records not recovered %d (listed in jejak warnings; the live records were read)\n", s.Unrecovered)
	}
	fmt.Fprintf(out, "container problems %d\n", s.Problems)
	if s.Notes > 0 {
		fmt.Fprintf(out, "container notes  %d (how an image was read: a compressed image's temporary copy and its SHA-256, a log replayed; listed in jejak warnings as kind note)\n", s.Notes)
	}
	fmt.Fprintf(out, "content read     %s\n", humanBytes(s.Bytes))
	machine := map[string]bool{}
	for _, z := range s.ItemZones {
		fmt.Fprintf(out, "zone of %s: %s from its SYSTEM hive %s\n", termsafe.String(z.Name), z.Zone, termsafe.String(z.Source))
		machine[z.Zone] = true
	}
	for _, z := range slices.Sorted(maps.Keys(s.ZoneAssumed)) {
		whose := "(the case zone)"
		if machine[z] {
			whose = "(the zone of their machine, --machine-zone)"
		}
		fmt.Fprintf(out, "zone assumed     %d events from sources without a zone were read as %s %s\n", s.ZoneAssumed[z], z, whose)
		if z == "UTC" {
			fmt.Fprintf(out, "  WARNING        UTC is also the default when no --tz was given: if those logs were written in\n"+
				"                 the server's local time, their times are off by its offset. Re-create the case with\n"+
				"                 --tz ZONE (e.g. Asia/Jakarta), and read the ZONE CHECK below\n")
		}
	}
	if len(s.Parsers) > 0 {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "\nPARSER\tFILES\tEVENTS\tWARNINGS\tFAILED")
		for _, name := range slices.Sorted(maps.Keys(s.Parsers)) {
			p := s.Parsers[name]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", name, p.Files, p.Events, p.Warnings, p.Failed)
		}
		tw.Flush()
		for _, name := range slices.Sorted(maps.Keys(s.Parsers)) {
			if a := s.Parsers[name].Records; a != nil {
				fmt.Fprintf(out, "%s records: %d declared by the files, %d read, %d recovered from unused space (tagged recovered), %d unreadable (each listed in jejak warnings)\n",
					name, a.Declared, a.Live, a.Recovered, a.Unreadable)
			}
		}
	}
	if len(sample) > 0 {
		fmt.Fprintln(out, "\nfirst warnings (all of them: jejak warnings CASE):")
		for _, w := range sample {
			fmt.Fprintf(out, "  %s\n", formatWarning(w, names))
		}
	}
}

func formatWarning(w timeline.Warning, names map[string]string) string {
	where := w.Path
	if len(w.Chain) > 0 {
		where = fmt.Sprint(w.Chain)
	}
	// Which evidence item: two items may hold the same path.
	if name := names[w.Evidence]; name != "" {
		where = strings.TrimSpace(name + " " + where)
	} else if w.Evidence != "" {
		where = strings.TrimSpace("evidence " + shortHash(w.Evidence) + " " + where)
	}
	s := fmt.Sprintf("[%s]", w.Kind)
	if where != "" {
		s += " " + where
	}
	if w.Offset >= 0 {
		s += fmt.Sprintf(" offset %d", w.Offset)
	}
	if w.Record > 0 {
		s += fmt.Sprintf(" record %d", w.Record)
	}
	if w.Parser != "" {
		s += " (" + w.Parser + ")"
	}
	// Paths and messages come from evidence: escape what a terminal would
	// obey (the line is printed by ingest and by jejak warnings).
	return termsafe.String(s + ": " + w.Message)
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
