package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/urfave/cli/v2"
)

func caseCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:  "case",
		Usage: "create and inspect case folders",
		Description: `A case is a folder: case.json (name, examiner, zone), evidence.json (the
registry of evidence items with their hashes), custody.log (hash-chained,
optionally signed, every action on the case in order) and case.db (the
timeline store). 'case init' makes one; 'case show' prints it and checks its
custody log. Evidence is never copied into it.`,
		Subcommands: []*cli.Command{{
			Name:      "init",
			Usage:     "create a case folder",
			ArgsUsage: "DIR",
			Description: `Creates DIR (which must be absent or empty) holding case.json, the evidence
registry, the hash-chained custody log and, after ingest, the timeline store.

--tz is the zone in which times written without a zone (classic syslog,
database and firewall logs) are read; each such event records the zone
assumed. Examiners in Jakarta use --tz Asia/Jakarta.

EXAMPLE
   jejak case init /cases/kpu-2024 --examiner "A. Examiner" --tz Asia/Jakarta`,
			Flags: []cli.Flag{
				examinerFlag(true),
				&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "IANA `ZONE` for times logged without a zone"},
				&cli.StringFlag{Name: "name", Usage: "case name (default: the folder's name)"},
			},
			Action: func(c *cli.Context) error {
				dir, err := oneArg(c, "DIR")
				if err != nil {
					return err
				}
				if err := checkZone("tz", c.String("tz")); err != nil {
					return err
				}
				cfg := e.caseConfig(c.String("examiner"))
				cfg.Zone, cfg.Name = c.String("tz"), c.String("name")
				cs, err := evidence.Init(dir, cfg)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "case %q created in %s (zone %s, examiner %s)\n", cs.Info().Name, cs.Dir(), cs.Info().Zone, cs.Info().Examiner)
				return nil
			},
		}, {
			Name:      "show",
			Usage:     "print a case's description and check its custody log",
			ArgsUsage: "CASE (or NAME with --es)",
			Flags:     append([]cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}}, esReadFlags()...),
			Action: func(c *cli.Context) error {
				if esGiven(c) {
					return e.caseShowES(c) // the case pushed to the cluster (cmd_worker.go)
				}
				cs, err := e.caseArg(c)
				if err != nil {
					return err
				}
				entries, verr := cs.VerifyCustody()
				size, err := storeSize(cs)
				if err != nil {
					return err
				}
				if c.Bool("json") {
					out := map[string]any{"case": cs.Info(), "dir": cs.Dir(), "custody_entries": len(entries), "custody_ok": verr == nil,
						"store_bytes": size.store, "evidence_bytes": size.evidence}
					if size.evidence > 0 {
						out["store_ratio"] = size.ratio()
					}
					if verr != nil {
						out["custody_error"] = verr.Error()
					}
					b, _ := json.MarshalIndent(out, "", "  ")
					fmt.Fprintln(e.stdout, string(b))
				} else {
					i := cs.Info()
					fmt.Fprintf(e.stdout, "case      %s\nfolder    %s\nexaminer  %s\nzone      %s\ncreated   %s\nstore     %s\ncustody   %d entries, ", i.Name, cs.Dir(), i.Examiner, i.Zone, i.Created.Format("2006-01-02T15:04:05Z07:00"), size, len(entries))
					if verr == nil {
						// Only the links and the head: the case files, the
						// store and the signatures are checked by verify.
						fmt.Fprintln(e.stdout, "chain intact (links and head; 'jejak verify' checks case files, store and signatures)")
					} else {
						fmt.Fprintln(e.stdout, "CHAIN BROKEN")
					}
				}
				return verr
			},
		}, casePushCmd(e), casePullCmd(e)},
	})
}

// caseSize is what 'case show' says of the store: its bytes on disk and
// the bytes of the evidence registered, which it was made from.
type caseSize struct {
	store, evidence int64
}

// storeSize measures the store's files (case.db and, while a writer has
// the store open, its write-ahead log) and sums the registered evidence.
func storeSize(cs *evidence.Case) (caseSize, error) {
	var sz caseSize
	for _, p := range []string{cs.StorePath(), cs.StorePath() + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return sz, fmt.Errorf("store size: %w", err)
		}
		sz.store += fi.Size()
	}
	items, err := cs.Evidence()
	if err != nil {
		return sz, err
	}
	for _, it := range items {
		sz.evidence += it.Size
	}
	return sz, nil
}

func (sz caseSize) ratio() float64 { return float64(sz.store) / float64(sz.evidence) }

func (sz caseSize) String() string {
	if sz.store == 0 {
		return "none yet (nothing ingested)"
	}
	s := fmt.Sprintf("%s (case.db)", humanBytes(sz.store))
	if sz.evidence > 0 {
		s += fmt.Sprintf(", %.2f× the %s of evidence registered", sz.ratio(), humanBytes(sz.evidence))
	}
	return s
}
