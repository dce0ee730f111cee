package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

func analyzeCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "analyze",
		Usage:     "the quick path: create a case, register evidence and ingest it in one go",
		ArgsUsage: "PATH...",
		Description: `Does 'case init' (unless --out already holds a case), 'evidence add' for each
PATH and 'ingest', then prints the summary; with --after it also runs 'hunt'.
The summary ends with the zone check (see 'jejak ingest --help'): a ZONE
MISMATCH says a log without zones was written in another zone than --tz,
by how much, and which --tz reads it right.
Look at the result with 'jejak timeline DIR' or export it with 'jejak export DIR'.
With --json, stdout is one JSON document: the summary as 'ingest --json' prints
it, with --after the hunt's as 'hunt --json' prints it under "hunt", and
"error" when the command failed; when nothing of the run is kept (an evidence
file changed while it was hashed, or the run did not start), "error" alone.

EXAMPLE
   jejak analyze fixtures/example --out /tmp/example-case --tz Asia/Jakarta --after "2024-02-14 19:00"`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "case folder `DIR` to create or reuse"},
			&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "IANA `ZONE` for times logged without a zone (new cases)"},
			examinerFlag(false),
		}, append(ingestFlags(), huntFlags(false)...)...),
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usagef("analyze needs at least one evidence PATH")
			}
			if err := checkZone("tz", c.String("tz")); err != nil {
				return err
			}
			examiner := c.String("examiner")
			if examiner == "" {
				examiner = defaultExaminer()
			}
			cfg := e.caseConfig(examiner)
			cfg.Zone = c.String("tz")
			cs, err := evidence.Init(c.String("out"), cfg)
			if errors.Is(err, evidence.ErrCaseExists) {
				cs, err = evidence.OpenWith(c.String("out"), e.caseConfig(c.String("examiner")))
			}
			if err != nil {
				return err
			}
			k := casework.FromEvidence(cs, nil, cfg)
			// Into a case without a store yet, the ingest starts once each
			// item's SHA-256 is known and its SHA-1 and MD5 are computed
			// beside it (see evidence.Registration); the registration is
			// still written before the ingest's custody entry. A store
			// already there holds events that a failed registration must
			// not mix with: its items are registered first, as ever.
			_, serr := os.Stat(cs.StorePath())
			overlap := errors.Is(serr, fs.ErrNotExist)
			var regs []*evidence.Registration
			commitAll := func() error {
				for _, r := range regs {
					if _, err := r.Commit(); err != nil {
						return err
					}
				}
				return nil
			}
			for _, p := range c.Args().Slice() {
				var it *evidence.Item
				if overlap {
					r, err := k.BeginEvidence(c.Context, p, casework.AddOptions{})
					if err != nil {
						// The items before are registered, as when each
						// was added in turn.
						if cerr := commitAll(); cerr != nil {
							return cerr
						}
						return err
					}
					regs = append(regs, r)
					it = r.Item()
				} else if it, err = k.AddEvidence(c.Context, p, casework.AddOptions{}); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "evidence %s  sha256 %s  %s\n", it.ID, it.SHA256, termsafe.String(it.Path))
			}
			parent := c.Context
			var (
				res    *casework.IngestResult
				runErr error // the ingest's own
			)
			err = k.IngestRegistering(parent, regs, func(ctx context.Context) error {
				c.Context = ctx // what e.runIngest runs under
				defer func() { c.Context = parent }()
				res, runErr = e.runIngest(c, cs)
				if res == nil {
					return ingestOwn{runErr}
				}
				return ingestOwn{ingestStatus(res, runErr)}
			})
			// IngestRegistering returns the ingest's result as it is, or
			// the error of a registration that failed: then the store the
			// run wrote is removed (even when the run was interrupted
			// too), and its summary counts events no longer in the case.
			var own ingestOwn
			discarded := false
			if errors.As(err, &own) {
				err = own.err
			} else if err != nil {
				discarded = res != nil
			}
			if c.Bool("json") {
				return e.analyzeJSON(c, cs, res, runErr, discarded, err)
			}
			if res != nil {
				e.printIngest(res, runErr, discarded)
			}
			if err != nil && !errors.Is(err, errWarnings) {
				return err
			}
			if c.String("after") != "" {
				_, store, oerr := e.openCase(c.Context, cs.Dir())
				if oerr != nil {
					return oerr
				}
				defer store.Close()
				if herr := e.hunt(c, cs, store); herr != nil {
					return herr
				}
			}
			fmt.Fprintf(e.stderr, "\ncase folder: %s\nnext: jejak timeline %s | less -S\n", cs.Dir(), cs.Dir())
			return err
		},
	})
}

// ingestOwn marks the error analyze's ingest returned, to tell it from a
// registration's.
type ingestOwn struct{ err error }

func (o ingestOwn) Error() string { return fmt.Sprint(o.err) }

// analyzeDoc is what analyze --json prints, one document whatever the
// outcome: the ingest summary, with --after the hunt's document (as 'hunt
// --json' prints it) under "hunt", and "error" when the command failed
// (the exit status says how). When the run has no summary to give (it did
// not start, or its events were discarded because the evidence could not
// be registered), "error" alone.
type analyzeDoc struct {
	*casework.RunSummary
	Hunt  json.RawMessage `json:"hunt,omitempty"`
	Error string          `json:"error,omitempty"`
}

// analyzeJSON ends analyze --json: err is IngestRegistering's.
func (e *env) analyzeJSON(c *cli.Context, cs *evidence.Case, res *casework.IngestResult, runErr error, discarded bool, err error) error {
	var doc analyzeDoc
	if res != nil && !discarded {
		doc.RunSummary = &res.RunSummary
	}
	if err != nil && !errors.Is(err, errWarnings) {
		doc.Error = termsafe.Lines(err.Error())
	} else if c.String("after") != "" {
		// The hunt's document is taken whole from where huntDone writes
		// it, so it is the same as 'hunt --json' prints.
		var hb bytes.Buffer
		herr := func() error {
			_, store, oerr := e.openCase(c.Context, cs.Dir())
			if oerr != nil {
				return oerr
			}
			defer store.Close()
			stdout := e.stdout
			e.stdout = &hb
			defer func() { e.stdout = stdout }()
			return e.hunt(c, cs, store)
		}()
		if hb.Len() > 0 {
			doc.Hunt = json.RawMessage(hb.Bytes())
		}
		if herr != nil {
			if !errors.Is(herr, errFindings) {
				doc.Error = termsafe.Lines(herr.Error())
			}
			err = herr
		}
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if jerr := enc.Encode(doc); jerr != nil {
		return jerr
	}
	if err == nil || errors.Is(err, errWarnings) {
		fmt.Fprintf(e.stderr, "\ncase folder: %s\nnext: jejak timeline %s | less -S\n", cs.Dir(), cs.Dir())
	}
	return err
}

// defaultExaminer is the login name, so a quick analysis still records who
// ran it.
func defaultExaminer() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}
