package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/jejak-forensics/jejak/casework/baseline"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/urfave/cli/v2"
)

// baselinesDir is the case subfolder baselines are written to.
const baselinesDir = "baselines"

func baselineCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:  "baseline",
		Usage: "capture a server's trusted state before election day, and compare later evidence with it",
		Description: `'baseline capture' records every file of a server — from a mounted tree, a
folder of collected files or a disk image — with its path, size, mode, owner,
MACB times, SHA-256, SHA-1 and MD5, and the facts an auditor reviews before
election day (accounts, groups, sudoers, services, scheduled tasks, installed
packages, listening services named in configuration, SSH authorized keys,
time zone, NTP), into CASE/baselines/NAME.jsonl. The source is registered as
evidence first when it is not, and the baseline's SHA-256 is recorded in the
custody log.

'baseline diff' compares later evidence with a baseline or a vendor's
trusted-build manifest and stores each difference as an event on the case
timeline (event.dataset jejak.baseline), so 'jejak hunt' sees them.`,
		Subcommands: []*cli.Command{baselineCaptureCmd(e), baselineShowCmd(e), baselineDiffCmd(e)},
	})
}

func baselineCaptureCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "capture",
		Usage:     "record every file of a tree or image and the facts an auditor reviews",
		ArgsUsage: "CASE PATH|IMAGE",
		Description: `Walks PATH as it lies: a folder's archives are files to hash, not expanded (a
vendor's manifest lists the .jar, not its classes); a disk image's ext4,
FAT/exFAT and NTFS file systems are walked per partition (deleted entries are
counted, not recorded: a baseline is of the live files). Owners are recorded
where the source has them (uid:gid of a folder on this machine); NTFS times
are not given to the walk (the mft parser reads them) and are left empty.

The baseline is JSON Lines (one line per file, written as it is hashed, so
memory does not grow with the tree): readable with jq and grep, and its
SHA-256 goes into the custody log.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "baseline `NAME` (default: the source's base name); written to CASE/baselines/NAME.jsonl, never overwritten"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("baseline capture takes CASE and PATH, got %d arguments", c.NArg())
			}
			return e.baselineCapture(c, c.Args().Get(0), c.Args().Get(1))
		},
	}
}

var baselineName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// evidenceFor returns the registered item of path, registering it first
// when it is not: a baseline's or a diff's bytes must be evidence of the
// case, with their hashes in the registry and the custody log.
func (e *env) evidenceFor(ctx context.Context, cs *evidence.Case, p string) (*evidence.Item, bool, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, false, err
	}
	items, err := cs.Evidence()
	if err != nil {
		return nil, false, err
	}
	for _, it := range items {
		if it.Path == abs || it.ID == p {
			if err := cs.Recheck(ctx, it, false); err != nil {
				return nil, false, fmt.Errorf("evidence %s refused: %w", it.ID, err)
			}
			return it, false, nil
		}
	}
	it, err := cs.AddEvidence(ctx, abs, nil)
	return it, err == nil, err
}

func (e *env) baselineCapture(c *cli.Context, dir, src string) error {
	ctx := c.Context
	cs, err := evidence.OpenWith(dir, e.caseConfig(""))
	if err != nil {
		return err
	}
	if err := cs.CheckSigning(); err != nil {
		return err
	}
	it, added, err := e.evidenceFor(ctx, cs, src)
	if err != nil {
		return err
	}
	if added {
		fmt.Fprintf(e.stderr, "registered %s as evidence %s\n", termsafe.String(it.Path), it.ID)
	}
	name := c.String("name")
	if name == "" {
		name = strings.TrimSuffix(it.Name, filepath.Ext(it.Name))
	}
	if !baselineName.MatchString(name) {
		return usagef("baseline name %q: use letters, digits, '.', '_' and '-' (up to 100)", name)
	}
	out := filepath.Join(cs.Dir(), baselinesDir, name+".jsonl")
	if _, err := os.Stat(out); err == nil {
		return usagef("baseline %s exists already (%s): a baseline is never overwritten; choose another --name", name, out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	source, err := baseline.OpenSource(ctx, it.Path, jfs.Options{TempDir: cs.TempDir(), Zone: cs.Location()})
	if err != nil {
		return fmt.Errorf("open %s: %w", it.Path, err)
	}
	var tr *baseline.Trailer
	sum, size, err := writeOutput(out, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var err error
		tr, err = baseline.Capture(ctx, source, bw, baseline.Options{Now: e.now, Header: baseline.Header{
			Name: name, Source: it.Path, SourceSHA256: it.SHA256, SourceID: it.ID,
			Examiner: cs.Examiner(), ToolVersion: version}})
		if err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return err
	}
	if err := cs.Log("baseline_capture", map[string]any{"name": name, "file": out, "sha256": sum, "size": size,
		"evidence": it.ID, "evidence_sha256": it.SHA256, "files": tr.Files, "dirs": tr.Dirs, "hashed": tr.Hashed,
		"errors": tr.Errors, "facts": tr.Facts, "problems": tr.ProblemCount}); err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"name": name, "file": out, "sha256": sum, "evidence": it.ID, "trailer": tr})
	}
	fmt.Fprintf(e.stdout, "baseline %s: %d files (%d hashed, %d bytes), %d folders, %d other entries, %d facts\n",
		name, tr.Files, tr.Hashed, tr.Bytes, tr.Dirs, tr.Others, tr.Facts)
	fmt.Fprintf(e.stdout, "written to %s (sha256 %s), recorded in the custody log\n", out, sum)
	if tr.Deleted > 0 || tr.Members > 0 {
		fmt.Fprintf(e.stdout, "not recorded: %d deleted entries, %d members of archives the walker expanded\n", tr.Deleted, tr.Members)
	}
	if tr.Errors > 0 || tr.ProblemCount > 0 {
		fmt.Fprintf(e.stdout, "%d files could not be hashed; %d problems:\n", tr.Errors, tr.ProblemCount)
		for i, p := range tr.Problems {
			if i == 20 {
				fmt.Fprintf(e.stdout, "  … %d more (the baseline's trailer line lists up to %d)\n", tr.ProblemCount-20, baseline.MaxProblems)
				break
			}
			fmt.Fprintf(e.stdout, "  %s\n", termsafe.String(p))
		}
		return errWarnings
	}
	return nil
}

// openBaseline reads a baseline by name (CASE/baselines/NAME.jsonl) or path.
func openBaseline(cs *evidence.Case, ref string) (*baseline.Baseline, string, string, error) {
	p := ref
	if _, err := os.Stat(p); err != nil {
		p = filepath.Join(cs.Dir(), baselinesDir, ref+".jsonl")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", "", fmt.Errorf("baseline %s: %w", ref, err)
	}
	b, err := baseline.Read(bytes.NewReader(data))
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: %w", p, err)
	}
	s := sha256.Sum256(data)
	return b, p, hex.EncodeToString(s[:]), nil
}

func baselineShowCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a baseline's header, counts and the facts an auditor reviews",
		ArgsUsage: "CASE NAME|FILE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the header, trailer and facts as JSON"},
			&cli.BoolFlag{Name: "files", Usage: "list every file too"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("baseline show takes CASE and NAME, got %d arguments", c.NArg())
			}
			cs, err := evidence.OpenWith(c.Args().Get(0), e.caseConfig(""))
			if err != nil {
				return err
			}
			b, p, sum, err := openBaseline(cs, c.Args().Get(1))
			if err != nil {
				return err
			}
			seq, err := baselineCustody(cs, p, sum)
			if err != nil {
				return err
			}
			if seq == 0 {
				fmt.Fprintf(e.stderr, "note: %s was not captured in this case: no custody entry records its hash\n", p)
			}
			if c.Bool("json") {
				v := map[string]any{"file": p, "sha256": sum, "header": b.Header, "trailer": b.Trailer, "facts": b.Facts}
				if c.Bool("files") {
					v["files"] = b.Files
				}
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			w := termsafe.NewWriter(e.stdout)
			defer w.Flush()
			printBaseline(w, b, p, sum, c.Bool("files"))
			return nil
		},
	}
}

// factTitles orders and names the facts section.
var factTitles = []struct{ cat, title string }{
	{"account", "LOCAL ACCOUNTS"}, {"group", "GROUPS"}, {"sudoers", "SUDOERS"},
	{"service", "SERVICES"}, {"service_enabled", "ENABLED UNITS"}, {"scheduled_task", "SCHEDULED TASKS"},
	{"package", "INSTALLED PACKAGES"}, {"listen", "LISTENING SERVICES (CONFIGURED)"},
	{"ssh_key", "SSH AUTHORIZED KEYS"}, {"timezone", "TIME ZONE"}, {"ntp", "NTP"},
	{"error", "FACT FILES THAT COULD NOT BE READ"},
}

func printBaseline(w io.Writer, b *baseline.Baseline, p, sum string, files bool) {
	h, t := b.Header, b.Trailer
	fmt.Fprintf(w, "BASELINE %s\n  file      %s (sha256 %s)\n  captured  %s by %s (jejak %s)\n  source    %s (evidence %s)\n",
		h.Name, p, sum, h.CapturedAt.Format("2006-01-02T15:04:05Z07:00"), h.Examiner, h.ToolVersion, h.Source, h.SourceID)
	fmt.Fprintf(w, "  counts    %d files (%d hashed, %d not), %d folders, %d other, %d bytes; %d deleted and %d archive members not recorded\n",
		t.Files, t.Hashed, t.Errors, t.Dirs, t.Others, t.Bytes, t.Deleted, t.Members)
	by := map[string][]baseline.Fact{}
	for _, f := range b.Facts {
		by[f.Category] = append(by[f.Category], f)
	}
	for _, ft := range factTitles {
		fs := by[ft.cat]
		if ft.cat == "error" && len(fs) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s (%d)\n", ft.title, len(fs))
		if len(fs) == 0 {
			fmt.Fprintf(w, "  (none found in the evidence)\n")
			continue
		}
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		for _, f := range fs {
			where := "/" + f.Source
			if f.Line > 0 {
				where += ":" + strconv.Itoa(f.Line)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Name, detailString(f.Detail), where)
		}
		tw.Flush()
	}
	if files {
		fmt.Fprintf(w, "\nFILES (%d)\n", len(b.Files))
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		for _, f := range b.Files {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\n", f.Mode, f.Owner, f.Size, f.SHA256, f.Path)
		}
		tw.Flush()
	}
}

func detailString(d map[string]string) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		if d[k] != "" {
			parts = append(parts, k+"="+d[k])
		}
	}
	return strings.Join(parts, " ")
}

func baselineDiffCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare later evidence with a baseline or a trusted-build manifest",
		ArgsUsage: "CASE --against BASELINE|MANIFEST [EVIDENCE...]",
		Description: `Compares each EVIDENCE (a path, registered first if it is not, or a registered
item's ID; default: every registered item) with the reference: a baseline
(a name in CASE/baselines or a baseline file) or a vendor's manifest
("hash  path" lines as sha256sum/sha1sum/md5sum print them, BSD "SHA256 (path)
= hash", CSV or JSON with path and hash columns, an NSRL RDS CSV matched by
file name).

Files are added, changed (which of kind/size/hash/mode/owner/link moved, and
which times), removed, or unchanged (counted); only-times-moved files are
counted as touched. Executables and libraries (ELF/PE magic, .exe .dll .so
.sys …, +x) that differ are flagged. Paths match without a leading "/" or
drive letter, with "\" as "/", and case-insensitively when either side is
NTFS, FAT or exFAT (or a Windows manifest). A file system's own files (NTFS
$-files, lost+found) present on one side only are counted, not reported.

Each difference (not touched) is an event in the case store (event.dataset
jejak.baseline, event.action baseline-added|changed|removed) with an ID from
the reference, the evidence and the path: a re-run adds nothing.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "against", Required: true, Usage: "the baseline `NAME|FILE` or manifest file"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
			&cli.BoolFlag{Name: "touched", Usage: "list files whose times alone moved too"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 1 {
				return usagef("baseline diff takes CASE and optional EVIDENCE, got none")
			}
			return e.baselineDiff(c)
		},
	}
}

type diffItem struct {
	Evidence string              `json:"evidence"`
	Path     string              `json:"path"`
	Result   *baseline.Result    `json:"result"`
	Changes  []baseline.Change   `json:"changes"`
	Stored   timeline.WriteStats `json:"stored"`
}

func (e *env) baselineDiff(c *cli.Context) (rerr error) {
	ctx := c.Context
	dir := c.Args().Get(0)
	cs, err := evidence.OpenWith(dir, e.caseConfig(""))
	if err != nil {
		return err
	}
	if err := cs.CheckSigning(); err != nil {
		return err
	}
	ref, refFile, warns, err := loadReference(cs, c.String("against"))
	if err != nil {
		return err
	}
	for _, w := range warns {
		fmt.Fprintf(e.stderr, "warning: %s line %d: %s\n", refFile, w.Line, termsafe.String(w.Msg))
	}
	var items []*evidence.Item
	if c.NArg() > 1 {
		for _, p := range c.Args().Slice()[1:] {
			it, added, err := e.evidenceFor(ctx, cs, p)
			if err != nil {
				return err
			}
			if added {
				fmt.Fprintf(e.stderr, "registered %s as evidence %s\n", termsafe.String(it.Path), it.ID)
			}
			items = append(items, it)
		}
	} else {
		all, err := cs.Evidence()
		if err != nil {
			return err
		}
		for _, it := range all {
			if ref.SourceSHA256 != "" && it.SHA256 == ref.SourceSHA256 {
				// The baseline's own source: comparing it with itself says
				// nothing (name it to do so anyway).
				fmt.Fprintf(e.stderr, "not compared: %s %s, the baseline's own source\n", it.ID, termsafe.String(it.Name))
				continue
			}
			if err := cs.Recheck(ctx, it, false); err != nil {
				return fmt.Errorf("evidence %s refused: %w", it.ID, err)
			}
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return usagef("case %s has no evidence to compare: name some after the case", dir)
	}
	store, err := sqlite.Open(ctx, cs.StorePath())
	if err != nil {
		return err
	}
	defer store.Close()
	// The run names no items: it stores differences, it does not read the
	// items' logs, so it must not count as their ingest (completeness).
	if _, err := store.StartRun(ctx, runStart(e.now(), nil)); err != nil {
		return err
	}
	var results []diffItem
	var runErr error
	for _, it := range items {
		src, err := baseline.OpenSource(ctx, it.Path, jfs.Options{TempDir: cs.TempDir(), Zone: cs.Location()})
		if err != nil {
			runErr = fmt.Errorf("open evidence %s: %w", it.Path, err)
			break
		}
		di := diffItem{Evidence: it.ID, Path: it.Path}
		var batch []*timeline.Event
		flush := func() error {
			st, err := store.Write(ctx, batch)
			di.Stored.Inserted += st.Inserted
			di.Stored.Duplicates += st.Duplicates
			batch = batch[:0]
			return err
		}
		later := baseline.Later{SHA256: it.SHA256, Name: it.Name}
		di.Result, err = baseline.Diff(ctx, ref, src, func(ch baseline.Change) error {
			if ch.Status == baseline.Touched && !c.Bool("touched") {
				return nil
			}
			di.Changes = append(di.Changes, ch)
			if ch.Status == baseline.Touched {
				return nil
			}
			batch = append(batch, ch.Event(ref, later))
			if len(batch) >= 1000 {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		results = append(results, di)
		if err != nil {
			runErr = err
			break
		}
	}
	if runErr == nil {
		dups, err := store.FinishWrites(context.WithoutCancel(ctx))
		if err != nil {
			runErr = err
		}
		if dups > 0 && len(results) > 0 {
			results[0].Stored.Inserted -= dups
			results[0].Stored.Duplicates += dups
		}
	}
	summary := map[string]any{"against": refFile, "reference": ref.Kind, "reference_sha256": ref.SHA256, "items": results}
	if err := store.EndRun(context.WithoutCancel(ctx), e.now(), runState(runErr), errString(runErr), summary); err != nil && runErr == nil {
		runErr = err
	}
	logged := []map[string]any{}
	for _, r := range results {
		logged = append(logged, map[string]any{"evidence": r.Evidence, "result": r.Result, "stored": r.Stored})
	}
	if err := cs.Log("baseline_diff", map[string]any{"against": refFile, "reference": ref.Kind, "reference_sha256": ref.SHA256,
		"items": logged, "error": errString(runErr),
		// The store's digest after the run, as ingest records it: 'jejak
		// evidence verify' checks the events against the latest one.
		"store": storeDetails(context.WithoutCancel(ctx), store, ingestStoreParts...)}); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(summary)
	}
	w := termsafe.NewWriter(e.stdout)
	defer w.Flush()
	for _, r := range results {
		res := r.Result
		fmt.Fprintf(w, "%s %s against %s %s (sha256 %s)\n", r.Evidence, r.Path, ref.Kind, refFile, ref.SHA256)
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintf(tw, "  STATUS\tPATH\tMOVED\tFLAG\n")
		for _, ch := range r.Changes {
			flag := ""
			if ch.Executable {
				flag = "EXECUTABLE"
			}
			fmt.Fprintf(tw, "  %s\t/%s\t%s\t%s\n", ch.Status, ch.Path, strings.Join(ch.Moved, ","), flag)
		}
		tw.Flush()
		fmt.Fprintf(w, "  %d added, %d changed, %d removed, %d unchanged, %d touched (times only); %d executables or libraries differ\n",
			res.Added, res.Changed, res.Removed, res.Unchanged, res.Touched, res.Executables)
		fmt.Fprintf(w, "  not compared: %d file-system metadata entries, %d deleted entries, %d folders listed on one side only but holding files of both, %d members of expanded archives\n",
			res.Metadata, res.Deleted, res.Implied, res.Members)
		if ref.ByName {
			fmt.Fprintf(w, "  %d files whose name the list does not hold (a name list is a catalogue of known files: not reported one by one)\n", res.Unlisted)
		}
		fmt.Fprintf(w, "  %d problems; %d events stored (%d already there)\n", res.ProblemCount, r.Stored.Inserted, r.Stored.Duplicates)
		for _, p := range res.Problems {
			fmt.Fprintf(w, "  problem: %s\n", p)
		}
	}
	return nil
}

// loadReference reads --against: a baseline (by name or file) or a
// manifest file.
func loadReference(cs *evidence.Case, against string) (*baseline.Reference, string, []baseline.ManifestWarning, error) {
	p := against
	if _, err := os.Stat(p); err != nil {
		p = filepath.Join(cs.Dir(), baselinesDir, against+".jsonl")
		if _, err2 := os.Stat(p); err2 != nil {
			return nil, "", nil, usagef("--against %s: neither a file nor a baseline of the case (%v)", against, err)
		}
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, "", nil, err
	}
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	if bytes.HasPrefix(data, []byte(`{"type":"header"`)) {
		if _, err := baselineCustody(cs, p, sum); err != nil {
			return nil, "", nil, err
		}
		b, err := baseline.Read(bytes.NewReader(data))
		if err != nil {
			return nil, "", nil, fmt.Errorf("%s: %w", p, err)
		}
		return baseline.FromBaseline(b, sum), p, nil, nil
	}
	ref, warns, err := baseline.ReadManifest(bytes.NewReader(data), filepath.Base(p))
	if err != nil {
		return nil, "", warns, err
	}
	ref.SHA256 = sum
	if fi, err := os.Stat(p); err == nil {
		ref.Time = fi.ModTime().UTC()
	}
	return ref, p, warns, nil
}

// baselineCustody finds the custody entry that recorded a baseline file's
// capture in this case and checks the file still has the hash it
// recorded: a baseline changed after capture is refused. A baseline
// captured elsewhere (another case) has no entry: seq 0, no error; the
// diff's own entry records its hash.
func baselineCustody(cs *evidence.Case, p, sum string) (int64, error) {
	abs := absPath(p)
	a := cs.Audit(evidence.AuditOptions{})
	var seq int64
	var want string
	for _, e := range a.Entries {
		if e.Action != "baseline_capture" {
			continue
		}
		if f, _ := e.Details["file"].(string); f == abs {
			seq = e.Seq
			want, _ = e.Details["sha256"].(string)
		}
	}
	if seq > 0 && want != sum {
		return seq, fmt.Errorf("baseline %s was changed after its capture: custody entry %d recorded sha256 %s, the file now has %s", p, seq, want, sum)
	}
	return seq, nil
}
