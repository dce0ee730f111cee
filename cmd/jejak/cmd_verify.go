package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

const verifyHelp = `Checks, each reported on its own line:
   evidence           re-hash every registered item against the registry (and
                      an E01 image's media against the hashes stored in it)
   chain links, head  every custody line's hash, sequence and link; the log's
                      end against custody.head
   case file ...      case.json and evidence.json against the SHA-256 the
                      chain recorded when jejak wrote them
   evidence registry  every item of evidence.json and case.json against the
                      entries that registered and created them
   signatures         every entry signed by the case's key (when it is
                      signed); with --key, by that key
   timeline store     the events, runs and warnings in case.db against the
                      digest the last ingest recorded, hunts and findings
                      against the last hunt's (catches UPDATE, DELETE, INSERT)
   outputs            exports and reports still in place against their entries
   anchor FILE        with --anchor: a manifest handed out earlier must name
                      an entry of this chain, with a valid signature
A case made before a check existed shows "not covered" for it. Any FAILED
line makes the exit status 1.`

func verifyFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "key", Usage: "the examiner's public key `FILE` (.pub line, PEM, or the private key): the case must be signed by it"},
		&cli.StringSliceFlag{Name: "anchor", Usage: "a `MANIFEST` (.manifest.json of an export or report) handed out earlier; its head must be in the chain (repeatable)"},
	}
}

// verifyCmd is 'jejak verify CASE', the same as 'jejak evidence verify
// CASE', and 'jejak verify FILE…' for exports and reports (verify_file.go).
func verifyCmd(e *env) *cli.Command {
	var caseAction cli.ActionFunc
	for _, sub := range evidenceCmd(e).Subcommands {
		if sub.Name == "verify" {
			caseAction = sub.Action
		}
	}
	return withHelp(&cli.Command{
		Name:        "verify",
		Usage:       "check a case (evidence hashes, custody chain, case files, store, signatures) or exports and reports against their manifests",
		ArgsUsage:   "CASE | FILE...",
		Description: "With a CASE folder, the same as 'jejak evidence verify'.\n\n" + verifyHelp + "\n" + verifyFileHelp,
		Flags: append(append(verifyFlags(),
			&cli.StringFlag{Name: "case", Usage: "with FILE arguments: the `CASE` folder whose custody log recorded them (with --es: the case's name in the cluster)"}),
			esReadFlags()...),
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 0 {
				return usagef("verify takes a CASE folder or one or more export or report FILEs")
			}
			if len(args) == 1 && c.String("case") == "" {
				if st, err := os.Stat(args[0]); err == nil && st.IsDir() {
					return caseAction(c)
				}
			}
			for _, a := range args {
				if isCaseDir(a) {
					return usagef("%s is a case folder: verify one case alone, or give export and report files (with --case CASE)", a)
				}
			}
			if len(c.StringSlice("anchor")) > 0 || c.String("key") != "" {
				return usagef("--anchor and --key check a CASE; with FILE arguments give --case CASE")
			}
			return e.verifyFiles(c, args)
		},
	})
}

// verifyCustody runs the custody checks after the evidence was re-hashed
// (bad holds its failures), prints one line per check, records the
// verification in the custody log and returns exit 1 on any failure.
func (e *env) verifyCustody(c *cli.Context, cs *evidence.Case, items int, bad []error) error {
	opt, err := auditOptions(c)
	if err != nil {
		return err
	}
	a, err := casework.AuditCase(c.Context, cs, opt)
	if err != nil {
		return err
	}
	printAudit(e.stdout, a)
	if err := a.Err(); err != nil {
		bad = append(bad, err)
	}
	// Recording the verification needs the key on a signed case; the checks
	// are the result either way, so a refusal here is only noted.
	if lerr := cs.Log("verify", map[string]any{"items": items, "failures": len(bad)}); lerr != nil {
		fmt.Fprintf(e.stderr, "note: this verification is not recorded in the custody log: %v\n", lerr)
	}
	if len(bad) > 0 {
		return cli.Exit(errors.Join(bad...).Error(), exitFatal)
	}
	fmt.Fprintln(e.stdout, "case intact: every check passed")
	return nil
}

func auditOptions(c *cli.Context) (evidence.AuditOptions, error) {
	var opt evidence.AuditOptions
	if p := c.String("key"); p != "" {
		k, err := evidence.LoadPublicKey(p)
		if err != nil {
			return opt, usageError{fmt.Errorf("--key: %w", err)}
		}
		opt.Key = &k
	}
	opt.Anchors = c.StringSlice("anchor")
	return opt, nil
}

func printAudit(w io.Writer, a *evidence.Audit) {
	for _, ch := range a.Checks {
		// Details name files of the evidence and the case: shown escaped.
		fmt.Fprintf(w, "%-12s %s: %s\n", ch.Status, ch.Name, termsafe.String(ch.Detail))
	}
}
