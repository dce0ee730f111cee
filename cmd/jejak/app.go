package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/urfave/cli/v2"
)

// version is set at build time with -ldflags "-X main.version=..."; it is
// recorded in every custody entry and run.
var version = "0.1.0-dev"

// env is what commands get instead of globals: streams and the clock, so
// commands are testable and their output reproducible.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	// signer signs every custody entry commands write (--sign-key).
	signer *evidence.Signer
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	app := newApp(e)
	jsonErrors(e, app.Commands)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return exitCode(app.RunContext(ctx, permuteArgs(app, args)), stderr)
}

func newApp(e *env) *cli.App {
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"}
	return &cli.App{
		Name:    "jejak",
		Usage:   "forensic super-timelines and intrusion hunting for election IT systems",
		Version: version,
		Description: `jejak ("trace") turns the evidence of an election's IT systems — log files,
folders, archives (tar, tgz, zip, gz, bz2, xz, nested), disk images (raw, split
raw, E01; MBR/GPT; NTFS, ext4, FAT, exFAT; found anywhere) — into one timeline of events, each traceable to
the evidence bytes it came from (evidence SHA-256, container chain, path,
offset, parser), and hunts it for traces of unauthorized access after a
cut-off ('jejak hunt').

A case is a folder holding the evidence registry, a hash-chained custody log
and the embedded timeline store (case.db). The evidence is opened read-only
and never changed.

QUICK START
   jejak analyze fixtures/example --out /tmp/example-case --tz Asia/Jakarta --after "2024-02-14 19:00"
   jejak timeline /tmp/example-case --limit 20

STEP BY STEP
   jejak case init CASE --examiner "A. Examiner" --tz Asia/Jakarta
   jejak evidence add CASE /evidence/server1-logs.tgz /evidence/var-log/
   jejak ingest CASE
   jejak timeline CASE --from 2024-02-14T13:00:00+07:00
   jejak export CASE --format csv -o timeline.csv
   jejak hunt CASE --after 2024-02-14T19:00:00+07:00

` + exitHelp,
		Writer:          e.stdout,
		ErrWriter:       e.stderr,
		HideHelpCommand: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "sign-key", EnvVars: []string{"JEJAK_SIGN_KEY"},
				Usage: "sign every custody entry written with the ed25519 private key in `FILE` ('jejak key new', or an unencrypted ssh-keygen -t ed25519 key)"},
		},
		Before: func(c *cli.Context) error {
			if p := c.String("sign-key"); p != "" {
				s, err := evidence.LoadSigner(p)
				if err != nil {
					return usageError{err}
				}
				e.signer = s
			}
			return nil
		},
		// Without a command: the help. With a word that is no command: a
		// usage error (exit 2) naming the nearest command, not urfave's
		// "No help topic" with the warnings code.
		Action: func(c *cli.Context) error {
			if !c.Args().Present() {
				return cli.ShowAppHelp(c)
			}
			return unknownCommand(c.App, c.Args().First())
		},
		ExitErrHandler: func(*cli.Context, error) {}, // exit codes are mapped in run
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Commands: []*cli.Command{
			caseCmd(e),
			evidenceCmd(e),
			ingestCmd(e),
			timelineCmd(e),
			searchCmd(e),
			exportCmd(e),
			reportCmd(e),
			warningsCmd(e),
			analyzeCmd(e),
			huntCmd(e),
			baselineCmd(e),
			watchCmd(e),
			rulesCommand(e),
			indexCmd(e),
			workerCmd(e),
			esCmd(e),
			verifyCmd(e),
			keyCmd(e),
			versionCmd(e),
		},
	}
}

// withHelp ends a command's description with a one-line pointer to the
// exit-status table (printed once, in 'jejak --help') and makes flag errors
// usage errors.
func withHelp(c *cli.Command) *cli.Command {
	if c.Description != "" {
		c.Description += "\n\n"
	}
	c.Description += exitPointer
	c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	for _, sub := range c.Subcommands {
		withHelp(sub)
	}
	return c
}
