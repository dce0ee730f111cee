package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

// Exit codes, the one table scripts can rely on. Every command's help ends
// with exitHelp.
const (
	exitOK          = 0   // done, everything read
	exitFatal       = 1   // could not do the job
	exitUsage       = 2   // wrong flags or arguments
	exitWarnings    = 3   // done, but some input could not be read
	exitFindings    = 4   // hunt --fail-on: a finding at or above that severity
	exitInterrupted = 130 // stopped by Ctrl-C / SIGTERM
)

const exitHelp = `EXIT STATUS
   0    done, all input read
   1    fatal error: the job could not be done
   2    usage error: wrong flags or arguments
   3    done with warnings: some input could not be read (a damaged container,
        unreadable records, a file a parser failed on); the summary and
        'jejak warnings CASE' say which. Files in no known format and empty
        files are listed there too, but alone do not make the status 3.
        Also: hunt, report, export, timeline and search read an INCOMPLETE
        case timeline (an ingest run interrupted, failed or killed, or an
        evidence item no completed run read); they say so on stderr, first
        and last, the report at its top and manifests under "timeline",
        until an ingest run completes.
   4    hunt --fail-on SEVERITY: a finding at or above that severity (even
        on an incomplete timeline)
   130  interrupted

   With --json, a command that fails before it printed its JSON document
   prints {"error": "..."} on stdout instead, beside the status above
   (timeline, search and warnings, whose --json is one document per line,
   leave stdout empty).`

// exitPointer ends every command's help: the table itself is in 'jejak --help'.
const exitPointer = `EXIT STATUS 0 done, 1 fatal, 2 usage, 3 done with warnings or an incomplete
timeline, 4 hunt --fail-on reached, 130 interrupted ('jejak --help' explains each).`

// usageError marks an error as the caller's mistake (exit 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errWarnings is returned by commands that finished but skipped input.
var errWarnings = errors.New("finished with warnings")

// errFindings is returned by hunt --fail-on when a finding reached the
// given severity.
var errFindings = errors.New("findings at or above the --fail-on severity")

// exitCode maps a command's error to the table above and prints it.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	switch {
	case errors.Is(err, errWarnings):
		return exitWarnings
	case errors.Is(err, errFindings):
		return exitFindings
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "jejak: interrupted")
		return exitInterrupted
	case errors.As(err, &ue), strings.HasPrefix(err.Error(), "Required flag"), strings.HasPrefix(err.Error(), "flag provided but not defined"):
		fmt.Fprintf(stderr, "jejak: %s\nRun 'jejak help' or 'jejak COMMAND --help' for usage.\n", termsafe.Lines(err.Error()))
		return exitUsage
	}
	var ee cli.ExitCoder
	if errors.As(err, &ee) {
		if msg := ee.Error(); msg != "" {
			fmt.Fprintln(stderr, "jejak:", termsafe.Lines(msg))
		}
		return ee.ExitCode()
	}
	// Errors name evidence paths and quote evidence text.
	fmt.Fprintln(stderr, "jejak:", termsafe.Lines(err.Error()))
	return exitFatal
}
