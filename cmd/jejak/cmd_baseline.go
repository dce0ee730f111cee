package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/baseline"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

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

// baselineCapture writes a baseline of src into the case dir
// (casework.CaptureBaseline) and says what it holds.
func (e *env) baselineCapture(c *cli.Context, dir, src string) error {
	cs, err := evidence.OpenWith(dir, e.caseConfig(""))
	if err != nil {
		return err
	}
	res, err := casework.FromEvidence(cs, nil, e.caseConfig("")).CaptureBaseline(c.Context, casework.CaptureOptions{
		Source: src, Name: c.String("name"), Registered: e.sayRegistered})
	if err != nil {
		return optionError(err)
	}
	name, out, sum, tr := res.Name, res.File, res.SHA256, res.Trailer
	it := res.Evidence
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
			b, p, sum, err := casework.OpenBaseline(cs, c.Args().Get(1))
			if err != nil {
				return err
			}
			seq, err := casework.BaselineCustody(cs, p, sum)
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

// baselineDiff compares evidence with a baseline or manifest
// (casework.DiffBaseline) and prints each item's differences.
func (e *env) baselineDiff(c *cli.Context) error {
	cs, err := evidence.OpenWith(c.Args().Get(0), e.caseConfig(""))
	if err != nil {
		return err
	}
	o := casework.DiffOptions{Against: c.String("against"), Evidence: c.Args().Slice()[1:], Touched: c.Bool("touched"),
		Registered: e.sayRegistered,
		Skipped: func(it *evidence.Item) {
			fmt.Fprintf(e.stderr, "not compared: %s %s, the baseline's own source\n", it.ID, termsafe.String(it.Name))
		},
		ManifestWarning: func(file string, w baseline.ManifestWarning) {
			fmt.Fprintf(e.stderr, "warning: %s line %d: %s\n", file, w.Line, termsafe.String(w.Msg))
		}}
	res, err := casework.FromEvidence(cs, nil, e.caseConfig("")).DiffBaseline(c.Context, o)
	if errors.Is(err, casework.ErrNothingToCompare) {
		return usagef("case %s has no evidence to compare: name some after the case", c.Args().Get(0))
	}
	if err != nil {
		return optionError(err)
	}
	ref, refFile, results, summary := res.Reference, res.Against, res.Items, res.Summary
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

// sayRegistered says that a path a baseline command was given was
// registered as evidence first.
func (e *env) sayRegistered(it *evidence.Item) {
	fmt.Fprintf(e.stderr, "registered %s as evidence %s\n", termsafe.String(it.Path), it.ID)
}
