package main

import (
	"encoding/json"
	"fmt"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/urfave/cli/v2"
)

func warningsCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "warnings",
		Usage:     "list what ingest could not read: skipped files, bad records, container problems, zone mismatches",
		ArgsUsage: "CASE",
		Description: `Lists the warnings stored by the latest ingest run (or all runs with --all):
each names the evidence, container chain, path, byte offset and record number
where known, the parser, and the cause. Kind "zone" is a file whose times
were read in the case zone but were written in another (see 'jejak ingest
--help', ZONE CHECK): its records were read, its times need another --tz.`,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "warnings of every run, not only the latest"},
			&cli.BoolFlag{Name: "json", Usage: "one JSON object per line"},
		}, esReadFlags()...),
		Action: func(c *cli.Context) error {
			if esGiven(c) {
				return e.warningsES(c) // every warning of the case in the cluster (cmd_worker.go)
			}
			cs, err := e.caseArg(c)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(e.stdout)
			return casework.FromEvidence(cs, nil, e.caseConfig("")).Warnings(c.Context, c.Bool("all"), func(w timeline.Warning, names map[string]string) error {
				if c.Bool("json") {
					return enc.Encode(w)
				}
				_, err := fmt.Fprintln(e.stdout, formatWarning(w, names))
				return err
			})
		},
	})
}
