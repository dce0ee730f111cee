package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline/export"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// errIncomplete ends a command that read a partial case timeline: it did
// its job, but what it read lacks events (exit 3, like other input left
// unread).
var errIncomplete = fmt.Errorf("%w: the case timeline is incomplete", errWarnings)

// timelineState works out from the recorded ingest runs and the evidence
// registry whether the case timeline is complete (casework's Completeness).
func timelineState(ctx context.Context, cs *evidence.Case, store *sqlite.Store) (*export.Completeness, error) {
	return casework.FromEvidence(cs, store, casework.Options{}).Completeness(ctx)
}

// warnIncomplete prints the state of an incomplete timeline on stderr, as
// the first thing a command that reads the timeline says.
func warnIncomplete(w io.Writer, c *export.Completeness) {
	if c.Complete {
		return
	}
	lines := c.Lines()
	fmt.Fprintf(w, "jejak: %s\n", lines[0])
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// incompleteExit is what a command that read the timeline returns: its
// own error, or errIncomplete (exit 3) when the timeline it read is
// partial, restated last so that it is not lost above long output.
func incompleteExit(w io.Writer, c *export.Completeness, err error) error {
	if c == nil || c.Complete {
		return err
	}
	if err == nil || errors.Is(err, errWarnings) {
		fmt.Fprintf(w, "jejak: the case timeline read here is INCOMPLETE (%s): exit status 3\n", incompleteWhy(c))
		return errIncomplete
	}
	return err
}

func incompleteWhy(c *export.Completeness) string {
	var parts []string
	for _, r := range c.Incomplete {
		parts = append(parts, fmt.Sprintf("ingest run %d %s", r.Run, r.State))
	}
	if n := len(c.NotIngested); n > 0 {
		parts = append(parts, fmt.Sprintf("%d evidence item(s) never read by a completed run", n))
	}
	return strings.Join(parts, "; ")
}
