package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

func evidenceCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:  "evidence",
		Usage: "register, list and verify evidence items",
		Description: `Evidence items are files, folders, archives and disk images registered in a
case by path, with SHA-256, SHA-1 and MD5 taken as received. 'evidence add'
registers them (read-only, nothing copied); 'evidence list' shows them;
'evidence verify' re-hashes them and checks the custody chain.`,
		Subcommands: []*cli.Command{{
			Name:      "add",
			Usage:     "register evidence (files, folders, archives) without changing it",
			ArgsUsage: "CASE PATH...",
			Description: `Hashes each PATH once (SHA-256, SHA-1 and MD5 in one streaming pass; a folder
gets a per-file manifest and a tree hash) and records name, size, hashes,
examiner, time and tool version in the registry and the hash-chained custody
log. The evidence is opened read-only and never modified.

A disk image split into segments (image.001, image.002, ... or an E01, E02,
... set) is registered by any one of its files: every segment is hashed, and
ingest reads none that was not. Only regular files and folders are evidence:
a FIFO, socket or device is refused at once (inside a folder they are listed
in the manifest as skipped, never read).

Adding a path again whose content is unchanged does nothing. Adding a path
whose content changed since it was registered is refused.

EXAMPLE
   jejak evidence add CASE /evidence/web01-varlog.tgz /evidence/db01/`,
			Flags: []cli.Flag{examinerFlag(false)},
			Action: func(c *cli.Context) error {
				if c.NArg() < 2 {
					return usagef("evidence add needs CASE and at least one PATH")
				}
				cfg := e.caseConfig(c.String("examiner"))
				cs, err := evidence.OpenWith(c.Args().First(), cfg)
				if err != nil {
					return err
				}
				k := casework.FromEvidence(cs, nil, cfg)
				// A signed case without its key: refuse before hashing.
				if err := cs.CheckSigning(); err != nil {
					return err
				}
				var failed []error
				for _, p := range c.Args().Slice()[1:] {
					var bar *progressBar
					progress := func(done, total int64) {}
					if isTerminal(e.stderr) {
						bar = newProgressBar(e.stderr, "hashing "+p, -1, true, "")
						progress = func(done, total int64) {
							if total > 0 {
								bar.changeMax(total)
							}
							bar.set(done, "hashing "+p)
						}
					}
					it, err := k.AddEvidence(c.Context, p, casework.AddOptions{Progress: progress})
					if bar != nil {
						bar.finish()
					}
					if c.Context.Err() != nil {
						return c.Context.Err() // interrupted: exit 130, the rest not tried
					}
					if err != nil {
						fmt.Fprintf(e.stderr, "jejak: %v\n", err)
						failed = append(failed, err)
						continue
					}
					fmt.Fprintf(e.stdout, "%s  %s  %s  %s\n", it.ID, it.SHA256, humanBytes(it.Size), termsafe.String(it.Path))
				}
				if len(failed) > 0 {
					return cli.Exit(fmt.Sprintf("%d of %d evidence paths not registered", len(failed), c.NArg()-1), exitFatal)
				}
				return nil
			},
		}, {
			Name:      "list",
			Usage:     "list registered evidence",
			ArgsUsage: "CASE (or NAME with --es)",
			Flags:     append([]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}}, esReadFlags()...),
			Action: func(c *cli.Context) error {
				if esGiven(c) {
					return e.evidenceListES(c) // the case pushed to the cluster (cmd_worker.go)
				}
				cs, err := e.caseArg(c)
				if err != nil {
					return err
				}
				items, err := cs.Evidence()
				if err != nil {
					return err
				}
				if c.Bool("json") {
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(items)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKIND\tSIZE\tSHA-256\tADDED (UTC)\tEXAMINER\tPATH")
				for _, it := range items {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.Kind, humanBytes(it.Size), it.SHA256,
						it.AddedAt.UTC().Format("2006-01-02T15:04:05Z"), oneLine(it.Examiner), oneLine(it.Path))
				}
				return tw.Flush()
			},
		}, {
			Name:      "verify",
			Usage:     "re-hash every evidence item and check the custody log's chain",
			ArgsUsage: "CASE",
			Description: `Re-reads each registered item and compares its hashes with the registry:
every segment of an image set (one line each) and every file of a folder
(one line per file that differs: changed, added or missing); for
an E01 image also decompresses the media and checks it against the MD5 and
SHA-1 the acquisition tool stored in it. Then walks the custody log's hash
chain. Any mismatch is an error (exit 1).

An image set registered by a jejak that hashed only the file it was given
fails on each segment without a hash: 'jejak evidence add CASE PATH' again
hashes every segment, keeping the item's ID.

` + verifyHelp,
			Flags: verifyFlags(),
			Action: func(c *cli.Context) error {
				cs, err := e.caseArg(c)
				if err != nil {
					return err
				}
				// One line per segment of an image set, and one per file of
				// a folder that differs; then the item's line.
				reported := 0
				file := func(it *evidence.Item, file string, err error) {
					if err != nil {
						reported++
						fmt.Fprintf(e.stdout, "MISMATCH  %s  %s: %s\n", it.ID, termsafe.String(file), termsafe.String(err.Error()))
					} else if len(it.Segments) > 1 {
						fmt.Fprintf(e.stdout, "ok        %s  segment %s\n", it.ID, termsafe.String(file))
					}
				}
				var bad []error
				item := func(ic casework.ItemCheck) {
					it := ic.Item
					if ic.Err != nil {
						if reported == 0 {
							fmt.Fprintf(e.stdout, "MISMATCH  %s  %s: %s\n", it.ID, termsafe.String(it.Path), termsafe.String(ic.Err.Error()))
						}
					} else {
						fmt.Fprintf(e.stdout, "ok        %s  %s\n", it.ID, termsafe.String(it.Path))
						printMediaCheck(e.stdout, ic)
					}
					if err := ic.Failure(); err != nil {
						bad = append(bad, err)
					}
					reported = 0
				}
				checks, err := casework.FromEvidence(cs, nil, e.caseConfig("")).VerifyEvidence(c.Context, casework.VerifyEvidenceOptions{File: file, Item: item})
				if err != nil {
					return err
				}
				// The custody checks, one line each (cmd_verify.go).
				return e.verifyCustody(c, cs, len(checks), bad)
			},
		}},
	})
}

// printMediaCheck says how an EWF image's media compared with the hashes
// stored in it at acquisition (casework.CheckStoredHashes). Other items
// have none: nothing to say.
func printMediaCheck(out io.Writer, ic casework.ItemCheck) {
	it, mc := ic.Item, ic.Media
	switch {
	case ic.MediaErr != nil:
		fmt.Fprintf(out, "MISMATCH  %s  %s: media unreadable: %s\n", it.ID, termsafe.String(it.Path), termsafe.String(errors.Unwrap(ic.MediaErr).Error()))
	case mc == nil:
	case len(mc.Mismatches) > 0:
		fmt.Fprintf(out, "MISMATCH  %s  %s: media differs from the hashes stored at acquisition: %s\n", it.ID, termsafe.String(it.Path), strings.Join(mc.Mismatches, "; "))
	default:
		fmt.Fprintf(out, "ok        %s  media MD5 %s SHA-1 %s equal the hashes stored in the image\n", it.ID, mc.Computed.MD5, mc.Computed.SHA1)
	}
}
