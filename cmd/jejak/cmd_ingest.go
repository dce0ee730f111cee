package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/casework/zonecheck"
	"github.com/jejak-forensics/jejak/forensics/disk"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/image"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
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

// ingest runs the pipeline over a case's evidence and prints the summary.
//
// The run is recorded as running before any evidence is read, and as
// complete only at its successful end: an interrupted or failed run, or one
// killed outright, leaves the case marked incomplete (timelineState) until
// a run completes.
func (e *env) ingest(c *cli.Context, cs *evidence.Case) (rerr error) {
	ctx := c.Context
	items, err := cs.Evidence()
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return usagef("case %s has no evidence: add some with 'jejak evidence add %s PATH...'", cs.Dir(), cs.Dir())
	}
	// A signed case without its key: refuse before the store is touched.
	if err := cs.CheckSigning(); err != nil {
		return err
	}
	store, err := sqlite.Open(ctx, cs.StorePath())
	if err != nil {
		return err
	}
	defer store.Close()

	if _, err := store.StartRun(ctx, runStart(e.now(), items)); err != nil {
		return err
	}
	// Until the pipeline starts, nothing is written to the store: a run
	// that stops before (evidence refused, cancelled) is refused, and its
	// record removed (see sqlite.RunRefused).
	reading := false
	defer func() {
		if !reading {
			if err := store.EndRun(context.WithoutCancel(ctx), e.now(), sqlite.RunRefused, errString(rerr), nil); err != nil && rerr == nil {
				rerr = err
			}
		}
	}()

	// A compressed raw image is decompressed to a temporary copy beside
	// the case's other temporary files, never the machine's /tmp.
	image.TempDir = cs.TempDir()
	var walk []ingest.Item
	var zoneProblems []timeline.Warning // --machine-zone hives that could not be read
	for _, it := range items {
		// Only registered bytes are read: every file of a folder and every
		// segment of an image set is checked against the registry first.
		if err := cs.Recheck(ctx, it, c.Bool("verify")); err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // interrupted, not refused: exit 130
			}
			return fmt.Errorf("evidence %s refused: %w", it.ID, err)
		}
		item := ingest.Item{SHA256: it.SHA256, Name: it.Name}
		zone := cs.Location()
		if c.Bool("machine-zone") {
			mz, err := zonecheck.SystemZone(ctx, it.Path)
			switch {
			case err == nil:
				item.Zone = mz.TimeZone.Location()
				item.ZoneSource = fmt.Sprintf("%s (%s)", mz.Where, mz.TimeZone.Name)
				zone = item.Zone
			case ctx.Err() != nil:
				return ctx.Err()
			case !errors.Is(err, zonecheck.ErrNoSystemHive):
				// A hive that cannot be read: the item is read in the
				// case zone, and the warning says why.
				zoneProblems = append(zoneProblems, timeline.Warning{Kind: timeline.WarnZone, Evidence: it.SHA256, Offset: -1,
					Message: fmt.Sprintf("--machine-zone: the SYSTEM hive of this evidence could not be read (%v); its logs without a zone were read in the case zone %s", err, cs.Location())})
			}
		}
		w, err := disk.OpenEvidence(ctx, it.Path, jfs.Options{TempDir: cs.TempDir(), SpoolLimit: spoolLimit(c), Zone: zone})
		if err != nil {
			return fmt.Errorf("open evidence %s: %w", it.Path, err)
		}
		item.Walker = w
		walk = append(walk, item)
	}
	if err := os.MkdirAll(cs.TempDir(), 0o755); err != nil {
		return err
	}

	ws := &warningWriter{store: store, ctx: ctx}
	for _, w := range zoneProblems {
		ws.add(w)
	}
	cfg := ingest.Config{
		Registry:   all.Registry(),
		Zone:       cs.Location(),
		TempDir:    cs.TempDir(),
		SpoolLimit: spoolLimit(c),
		Workers:    c.Int("workers"),
		Warn:       ws.add,
	}
	if !c.Bool("quiet") && isTerminal(e.stderr) {
		bar := newProgressBar(e.stderr, "ingesting", -1, true, "")
		cfg.Progress = func(p ingest.Progress) {
			bar.set(p.Bytes, fmt.Sprintf("ingesting: %d files, %d events,", p.Files, p.Events))
			if p.Done {
				bar.finish()
			}
		}
	}
	// How far the run got is recorded as it goes: after a kill -9 it is the
	// run's last word.
	cfg.Progress = recordProgress(context.WithoutCancel(ctx), store, cfg.Progress)
	var sink timeline.Sink = store
	var es *elastic.Store
	var stream *elastic.Stream
	if len(c.StringSlice("es")) > 0 {
		if es, err = openES(c, cs); err != nil {
			return err
		}
		defer es.Close()
		stream = es.Stream()
		sink = timeline.Tee(store, stream)
	}
	reading = true
	sum, runErr := ingest.Run(ctx, cfg, walk, sink)
	// The check before reading leaves a window: evidence written to while
	// the run read it (a write moves the ctime, whatever is done to the
	// mtime) fails the run, as its events may hold unregistered bytes.
	for _, it := range items {
		if runErr != nil {
			break
		}
		if err := cs.Recheck(ctx, it, false); err != nil {
			runErr = fmt.Errorf("evidence %s changed while it was read, so this run's events may not be of the registered evidence: %w", it.ID, err)
		}
	}
	if stream != nil {
		if _, err := stream.Finish(ctx); err != nil && runErr == nil {
			runErr = err
		}
	}
	// A first run into an empty case defers the unique index on event IDs:
	// an event repeated within it was counted as inserted until now. An
	// interrupted run leaves that work to the next command that opens the
	// case, so Ctrl-C stops at once.
	if ctx.Err() != nil {
		store.LeaveIndexes()
	} else if dups, err := store.FinishWrites(context.WithoutCancel(ctx)); err != nil {
		if runErr == nil {
			runErr = err
		}
	} else {
		sum.Inserted -= int64(dups)
		sum.Duplicates += int64(dups)
	}
	if es != nil && runErr == nil {
		runErr = verifyIndex(ctx, store, es)
	}
	var zones []zonecheck.Finding
	var machineZones []timeline.Warning
	if runErr == nil {
		zones, runErr = checkZones(ctx, store)
		for _, f := range zones {
			if !f.Agree {
				ws.addQuiet(f.Warning())
			}
		}
	}
	if runErr == nil {
		machineZones, runErr = checkMachineZones(ctx, store, cs.Location())
		// An item read in its own machine's zone (--machine-zone) was
		// read right: the case zone's disagreement with it is no error.
		applied := map[string]bool{}
		for _, z := range sum.ItemZones {
			applied[z.Evidence] = true
		}
		machineZones = slices.DeleteFunc(machineZones, func(w timeline.Warning) bool { return applied[w.Evidence] })
		for _, w := range machineZones {
			ws.addQuiet(w)
		}
	}
	if n := sum.ZoneAssumed["UTC"]; n > 0 {
		// UTC is what a case gets when no --tz was given: a listed
		// warning, so 'jejak warnings' shows the assumption too.
		ws.addQuiet(timeline.Warning{Kind: timeline.WarnZoneAssumed, Offset: -1, Message: fmt.Sprintf(
			"%d events from sources without a zone were read as UTC, the case zone and the default when no --tz is given; if they were written in local time, re-create the case with --tz ZONE", n)})
	}
	if err := ws.flush(); err != nil && runErr == nil {
		runErr = err
	}
	out := runSummary{Summary: sum, ZoneCheck: zones}
	if err := store.EndRun(context.WithoutCancel(ctx), e.now(), runState(runErr), errString(runErr), out); err != nil && runErr == nil {
		runErr = err
	}
	// The store digest binds the rows to the chain (verify recomputes it).
	if err := cs.Log("ingest", map[string]any{"summary": out, "error": errString(runErr), "store": storeDetails(ctx, store, ingestStoreParts...)}); err != nil && runErr == nil {
		runErr = err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		names := evidenceNames(items)
		printSummary(e.stderr, &sum, ws.sample, names)
		printZones(e.stderr, zones)
		for _, w := range machineZones {
			fmt.Fprintf(e.stderr, "\nZONE MISMATCH    %s\n", formatWarning(w, names))
		}
		if runErr != nil {
			fmt.Fprintf(e.stderr, "\nINCOMPLETE       this run did not complete: the counts above stop where it stopped, and the case\n"+
				"                 timeline is partial (hunt, report, export say so, exit 3) until an ingest run completes\n")
		}
	}
	if runErr != nil {
		return runErr
	}
	if !sum.Clean() {
		return errWarnings
	}
	return nil
}

// runSummary is what a run reports: the ingest counts and, beside them,
// the zone check's verdicts (agreements too, so a reader sees it ran).
type runSummary struct {
	ingest.Summary
	ZoneCheck []zonecheck.Finding `json:"zone_check,omitempty"`
}

// checkZones runs the zone check over the logons and web records of the
// case, streamed from the store in passes that each stay cheap whatever
// else the case holds: logons by their indexed action; web server errors;
// and then, client by client through the source-IP index, the access-log
// requests of the clients those errors name, never every request of the
// case (a KQL source.ip filter is tested on every row, not looked up).
func checkZones(ctx context.Context, store *sqlite.Store) ([]zonecheck.Finding, error) {
	chk := zonecheck.New()
	pass := func(kql string) error {
		f, err := query.New(kql, query.Options{})
		if err != nil {
			return err
		}
		err = store.Query(ctx, f, timeline.Query{}, func(ev *timeline.Event) error {
			chk.Add(ev)
			return nil
		})
		if err != nil {
			return fmt.Errorf("zone check: %w", err)
		}
		return nil
	}
	if err := pass("event.action:(" + strings.Join(zonecheck.LogonActions, " or ") + ")"); err != nil {
		return nil, err
	}
	// The parser is a column and the dataset is inside the stored JSON:
	// naming the parser first spares reading every other row's document.
	if err := pass("jejak.provenance.parser:weblog and event.dataset:(" + strings.Join(zonecheck.WebErrorDatasets, " or ") + ")"); err != nil {
		return nil, err
	}
	if hosts := chk.LooseWebHosts(); len(hosts) > 0 {
		if err := accessOf(ctx, store, hosts, chk.Add); err != nil {
			return nil, fmt.Errorf("zone check: %w", err)
		}
	}
	return chk.Findings(), nil
}

// checkMachineZones compares the zone each Windows machine of the case
// states in its SYSTEM hive with the case zone: a machine in another zone
// wrote its zone-less logs in it (zonecheck.MachineZone).
func checkMachineZones(ctx context.Context, store *sqlite.Store, caseZone *time.Location) ([]timeline.Warning, error) {
	f, err := query.New(zonecheck.MachineZoneQuery, query.Options{})
	if err != nil {
		return nil, err
	}
	var out []timeline.Warning
	err = store.Query(ctx, f, timeline.Query{}, func(ev *timeline.Event) error {
		if w, ok := zonecheck.MachineZone(ev, caseZone); ok {
			out = append(out, w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("zone check: %w", err)
	}
	return out, nil
}

// accessOf streams, for each client IP, its first access-log requests in
// time order (as many as zonecheck keeps per client).
func accessOf(ctx context.Context, store *sqlite.Store, hosts []string, fn func(*timeline.Event)) error {
	marks := strings.TrimSuffix(strings.Repeat("?,", len(zonecheck.WebAccessDatasets)), ",")
	stmt, err := store.DB().PrepareContext(ctx, `SELECT doc FROM events WHERE source_ip = ? AND json_extract(doc, '$.event.dataset') IN (`+
		marks+`) ORDER BY ts, id LIMIT `+strconv.Itoa(zonecheck.PerKey))
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, 1, 1+len(zonecheck.WebAccessDatasets))
	for _, d := range zonecheck.WebAccessDatasets {
		args = append(args, d)
	}
	for _, h := range hosts {
		args[0] = h
		if err := eachDoc(ctx, stmt, args, fn); err != nil {
			return err
		}
	}
	return nil
}

func eachDoc(ctx context.Context, stmt *sql.Stmt, args []any, fn func(*timeline.Event)) error {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return err
		}
		var ev timeline.Event
		if err := json.Unmarshal(doc, &ev); err != nil {
			return fmt.Errorf("decode stored event: %w", err)
		}
		fn(&ev)
	}
	return rows.Err()
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

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// warningWriter stores warnings in batches and keeps the first few for the
// summary.
type warningWriter struct {
	store  *sqlite.Store
	ctx    context.Context
	mu     sync.Mutex
	buf    []timeline.Warning
	sample []timeline.Warning
	err    error
}

const summarySample = 10

func (w *warningWriter) add(x timeline.Warning) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.sample) < summarySample {
		w.sample = append(w.sample, x)
	}
	w.buf = append(w.buf, x)
	if len(w.buf) >= 5000 {
		w.flushLocked()
	}
}

// addQuiet stores a warning the summary prints by itself, so that it is
// not in the sample a second time.
func (w *warningWriter) addQuiet(x timeline.Warning) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, x)
}

func (w *warningWriter) flushLocked() {
	if w.err == nil && len(w.buf) > 0 {
		w.err = w.store.AddWarnings(context.WithoutCancel(w.ctx), w.buf)
	}
	w.buf = w.buf[:0]
}

func (w *warningWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return w.err
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
	for _, z := range sortedKeys(s.ZoneAssumed) {
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
		for _, name := range sortedKeys(s.Parsers) {
			p := s.Parsers[name]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", name, p.Files, p.Events, p.Warnings, p.Failed)
		}
		tw.Flush()
		for _, name := range sortedKeys(s.Parsers) {
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

// evidenceNames maps each registered item's SHA-256 to its name, for
// warning lines.
func evidenceNames(items []*evidence.Item) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		m[it.SHA256] = it.Name
	}
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
