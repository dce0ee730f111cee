package main

import (
	"fmt"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/urfave/cli/v2"
)

// spoolLimitFlag is --spool-limit of ingest and analyze. The value is
// checked before the command runs, so a typo is a usage error before any
// evidence is read.
func spoolLimitFlag() cli.Flag {
	return &cli.StringFlag{
		Name:  "spool-limit",
		Value: "4GiB",
		Usage: "largest `SIZE` one member of a compressed stream (a .gz, a file in a .tar.gz) may take when a parser needs random access to it (EVTX, SQLite), or a zip inside a stream needs it for its directory, or a disk image is found inside an archive or a file system, and it is copied to CASE/tmp; a member over it is skipped with a warning naming it (exit 3) and the rest is read. KiB/MiB/GiB/TiB or KB/MB/GB/TB; none (or 0) for no limit but the disk",
		Action: func(_ *cli.Context, v string) error {
			if _, err := ingest.ParseSpoolLimit(v); err != nil {
				return usageError{fmt.Errorf("--spool-limit: %w", err)}
			}
			return nil
		},
	}
}

// spoolLimit is the --spool-limit value, already checked by the flag.
func spoolLimit(c *cli.Context) int64 {
	n, err := ingest.ParseSpoolLimit(c.String("spool-limit"))
	if err != nil {
		return ingest.DefaultSpoolLimit
	}
	return n
}
