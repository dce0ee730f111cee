package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/urfave/cli/v2"
)

func timeRangeFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "from", Usage: "only events at or after `TIME` (RFC 3339, or 2006-01-02[T15:04:05] in the case zone)"},
		&cli.StringFlag{Name: "to", Usage: "only events before `TIME` (same forms as --from)"},
	}
}

func timelineCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "timeline",
		Usage:     "print the case timeline in time order",
		ArgsUsage: "CASE",
		Description: `Prints events ordered by @timestamp, then event ID — a total order, so the
same case always prints the same rows. Columns (--columns): time (UTC, or
--tz ZONE, --tz case), timestamp_desc, parser, action, host, user, source IP,
message, source (evidence » container chain » path @ offset). On a terminal
rows are fitted to its width, long cells cut with … (--width 0: never).
Evidence text is shown as text: control characters, escape sequences, C1
controls and bidi overrides appear escaped (\x1b[2J, \n, \u202e), never raw,
so a log line cannot drive the terminal. --json keeps the exact text.

EXAMPLES
   jejak timeline CASE --from 2024-02-14T18:00:00+07:00 --limit 100
   jejak timeline CASE --from 2024-02-14 --to 2024-02-15 --json | jq .message
   jejak timeline CASE --tz case --columns time,host,user,ip,action,message`,
		Flags: append(append(timeRangeFlags(),
			&cli.IntFlag{Name: "limit", Usage: "print at most `N` events (0: all)"},
			&cli.BoolFlag{Name: "json", Usage: "one ECS JSON document per line instead of a table"},
		), tableFlags()...),
		Action: func(c *cli.Context) error {
			cs, store, err := e.caseStoreArg(c)
			if err != nil {
				return err
			}
			defer store.Close()
			q, err := rangeQuery(c, cs.Location())
			if err != nil {
				return err
			}
			if q.Limit = c.Int("limit"); q.Limit < 0 {
				return usagef("--limit must not be negative")
			}
			st, err := tableStyleOf(c, cs.Location(), e.stdout)
			if err != nil {
				return err
			}
			comp, err := casework.FromEvidence(cs, store, e.caseConfig("")).Completeness(c.Context)
			if err != nil {
				return err
			}
			warnIncomplete(e.stderr, comp)
			_, err = printEvents(e.stdout, st, func(fn func(*timeline.Event) error) error {
				return store.Search(c.Context, q, fn)
			})
			return incompleteExit(e.stderr, comp, err)
		},
	})
}

func rangeQuery(c *cli.Context, zone *time.Location) (timeline.Query, error) {
	var q timeline.Query
	var err error
	if s := c.String("from"); s != "" {
		if q.From, err = parseTime(s, zone); err != nil {
			return q, usagef("--from: %v", err)
		}
	}
	if s := c.String("to"); s != "" {
		if q.To, err = parseTime(s, zone); err != nil {
			return q, usagef("--to: %v", err)
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return q, usagef("--to %s is not after --from %s", q.To.Format(time.RFC3339Nano), q.From.Format(time.RFC3339Nano))
	}
	return q, nil
}

// parseTime reads a command-line time. A time without a zone is in the case
// zone: an examiner types local times as the documents state them.
func parseTime(s string, zone *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, zone); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot read time %q: use RFC 3339 (2024-02-14T18:00:00+07:00) or 2024-02-14[T18:00:00] in the case zone %s", s, zone)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine makes evidence text one safe table cell: tabs (which would shift
// the columns) become spaces, and newlines, escape sequences and every
// other control character are shown escaped (termsafe), never written raw.
func oneLine(s string) string {
	return termsafe.String(strings.ReplaceAll(s, "\t", " "))
}

func oneArg(c *cli.Context, name string) (string, error) {
	if c.NArg() != 1 {
		return "", usagef("%s takes exactly one %s argument, got %d", c.Command.Name, name, c.NArg())
	}
	return c.Args().First(), nil
}
