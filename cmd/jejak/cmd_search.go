package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/urfave/cli/v2"
)

func searchCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "search",
		Usage:     "print the events of a case that match a KQL query",
		ArgsUsage: "CASE 'KQL'",
		Description: `Searches the case timeline with the Kibana Query Language, as typed in Kibana's
search bar, and prints the hits in timeline order (same columns as 'jejak
timeline'). The query runs on the case store (case.db), or with --es on the
case's Elasticsearch index: the same query gives the same events on both.

   field:value          exact value (keyword fields are case-sensitive)
   field:"a phrase"     quoted value; on message, the words in this order
   field:adm*           wildcard (* only); field:* means the field exists
   field:(a or b)       any of the values; and, or, not, ( ) combine
   field >= 500         range on numbers, dates, IPs (and strings)
   source.ip:10.0.0.0/8 IP fields take addresses and CIDR blocks
   Failed password      text without a field searches message
   @timestamp < "2024-02-14T19:00"   dates without an offset are in the case zone

Full-text fields (message, user_agent.original.text) match words, whatever
their case, as Elasticsearch's standard analyzer splits them; every other
field matches whole values exactly. Unknown fields are an error naming the
nearest known one.

EXAMPLES
   jejak search CASE 'event.action:ssh_failed_login and source.ip:10.0.0.0/8'
   jejak search CASE 'winlog.event_id:(4624 or 4625) and not user.name:SYSTEM' --from 2024-02-14
   jejak search CASE '"Accepted password" and not source.ip:192.168.0.0/16' --json | jq .message
   jejak search CASE 'user.name:adm*' --es http://127.0.0.1:9200`,
		Flags: append(append(timeRangeFlags(),
			&cli.IntFlag{Name: "limit", Usage: "print at most `N` events (0: all)"},
			&cli.BoolFlag{Name: "json", Usage: "one ECS JSON document per line instead of a table"},
		), esFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return usagef("search takes a CASE and a KQL query, got %d arguments (quote the query)", c.NArg())
			}
			dir, kql := c.Args().Get(0), c.Args().Get(1)
			cs, store, err := e.openCase(c.Context, dir)
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
			f, err := query.New(kql, query.Options{Zone: cs.Location()})
			if err != nil {
				var qe *query.Error
				if errors.As(err, &qe) {
					return usagef("%v\n%s", err, qe.Caret())
				}
				return usagef("%v", err)
			}
			// The case's runs say whether the timeline (and an index made
			// from it) is complete.
			comp, err := timelineState(c.Context, cs, store)
			if err != nil {
				return err
			}
			warnIncomplete(e.stderr, comp)
			run := func(fn func(*timeline.Event) error) error { return store.Query(c.Context, f, q, fn) }
			if len(c.StringSlice("es")) > 0 {
				es, err := openES(c, cs)
				if err != nil {
					return err
				}
				defer es.Close()
				if n, err := es.Count(c.Context, timeline.Query{}); err == nil && n == 0 {
					fmt.Fprintf(e.stderr, "jejak: index %s holds no events: run 'jejak index %s --es ...' first\n", es.Index(), dir)
				}
				run = func(fn func(*timeline.Event) error) error { return es.Query(c.Context, f, q, fn) }
			}
			n, err := printEvents(e.stdout, c.Bool("json"), run)
			if err != nil {
				return err
			}
			if n == 1 {
				fmt.Fprintln(e.stderr, "1 event matches")
			} else {
				fmt.Fprintf(e.stderr, "%d events match\n", n)
			}
			return incompleteExit(e.stderr, comp, nil)
		},
	})
}

// printEvents writes the events a search streams as 'jejak timeline' does:
// a table, or one ECS JSON document per line. It returns how many it wrote.
func printEvents(w io.Writer, asJSON bool, search func(func(*timeline.Event) error) error) (int64, error) {
	out := bufio.NewWriterSize(w, 1<<16)
	var n int64
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		err := search(func(ev *timeline.Event) error { n++; return enc.Encode(ev) })
		if ferr := out.Flush(); err == nil {
			err = ferr
		}
		return n, err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tDESC\tPARSER\tACTION\tMESSAGE\tSOURCE")
	err := search(func(ev *timeline.Event) error {
		n++
		p := ev.Jejak.Provenance
		if _, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s @%d\n",
			ev.Timestamp.UTC().Format("2006-01-02T15:04:05.000000000Z"), oneLine(ev.TimestampDesc), oneLine(p.Parser),
			oneLine(dash(ev.Event.Action)), oneLine(ev.Message), oneLine(p.Display()), p.Offset); err != nil {
			return err
		}
		// tabwriter holds every row until Flush: align blocks of rows so a
		// timeline of millions streams in constant memory.
		if n%500 == 0 {
			return tw.Flush()
		}
		return nil
	})
	if err == nil {
		err = tw.Flush()
	}
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	return n, err
}
