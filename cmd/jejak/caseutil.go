package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
	"github.com/mattn/go-isatty"
	"github.com/urfave/cli/v2"
)

func (e *env) caseConfig(examiner string) evidence.Config {
	return evidence.Config{Examiner: examiner, Clock: e.now, ToolVersion: version, Signer: e.signer}
}

// caseArg opens the case folder a command's one CASE argument names, with
// the env's clock and the tool version for what it records.
func (e *env) caseArg(c *cli.Context) (*evidence.Case, error) {
	dir, err := oneArg(c, "CASE")
	if err != nil {
		return nil, err
	}
	return evidence.OpenWith(dir, e.caseConfig(""))
}

// caseStoreArg opens the case folder a command's one CASE argument names,
// and its embedded store.
func (e *env) caseStoreArg(c *cli.Context) (*evidence.Case, *sqlite.Store, error) {
	dir, err := oneArg(c, "CASE")
	if err != nil {
		return nil, nil, err
	}
	return e.openCase(c.Context, dir)
}

// openCase opens a case folder and its embedded store, with the env's clock
// for the custody entries a command writes (reproducible in tests).
func (e *env) openCase(ctx context.Context, dir string) (*evidence.Case, *sqlite.Store, error) {
	k, err := casework.Open(ctx, dir, e.caseConfig(""))
	if err != nil {
		return nil, nil, err
	}
	return k.Evidence, k.Store, nil
}

func examinerFlag(required bool) cli.Flag {
	return &cli.StringFlag{Name: "examiner", Required: required, EnvVars: []string{"JEJAK_EXAMINER"},
		Usage: "`NAME` of the examiner, recorded in every custody entry (default: the case's examiner)"}
}

// isTerminal reports whether w is an interactive terminal, the only place
// progress bars go.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
