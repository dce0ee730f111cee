package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/urfave/cli/v2"
)

func exportCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "export",
		Usage:     "write the case timeline to a CSV or JSON Lines file",
		ArgsUsage: "CASE",
		Description: `Writes the timeline in the store's total order (@timestamp, then event ID), so
the same case exports to the same bytes every time. The SHA-256 of the file
written is printed and recorded in the custody log.

FORMATS
   csv    one row per event: datetime (UTC, RFC 3339 with nanoseconds),
          timestamp_desc, action, outcome, message, user, source IP/port, host,
          process, then provenance: evidence SHA-256 and name, container chain,
          path, offset, record, parser, zone assumed, year inferred, event ID
   jsonl  one ECS JSON document per line, as stored

EXAMPLES
   jejak export CASE --format csv -o timeline.csv
   jejak export CASE --format jsonl --from 2024-02-14 -o after-close.jsonl`,
		Flags: append(timeRangeFlags(),
			&cli.StringFlag{Name: "format", Value: "csv", Usage: "csv or jsonl"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "write to `FILE` (- for stdout)"},
		),
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "CASE")
			if err != nil {
				return err
			}
			f, err := export.ParseFormat(c.String("format"))
			if err != nil {
				return usageError{err}
			}
			cs, store, err := openCase(c.Context, dir)
			if err != nil {
				return err
			}
			defer store.Close()
			q, err := rangeQuery(c, cs.Location())
			if err != nil {
				return err
			}
			outPath := c.String("output")
			if outPath == "-" {
				_, err := export.Write(c.Context, e.stdout, f, store, q)
				return err
			}
			tmp, err := os.CreateTemp(filepath.Dir(outPath), ".jejak-export-*")
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			defer os.Remove(tmp.Name())
			h := newHashWriter(tmp)
			n, err := export.Write(c.Context, h, f, store, q)
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := os.Rename(tmp.Name(), outPath); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			sum := h.sum()
			if err := cs.Log("export", map[string]any{"format": string(f), "file": outPath, "events": n, "sha256": sum,
				"from": c.String("from"), "to": c.String("to")}); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "wrote %d events to %s (sha256 %s)\n", n, outPath, sum)
			return nil
		},
	})
}
