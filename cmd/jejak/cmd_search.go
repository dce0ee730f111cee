package main

import (
	"errors"
	"fmt"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	jstore "github.com/jejak-forensics/jejak/timeline/store"
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
		), append(tableFlags(), esFlags()...)...),
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
			st, err := tableStyleOf(c, cs.Location(), e.stdout)
			if err != nil {
				return err
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
			comp, err := casework.FromEvidence(cs, store, e.caseConfig("")).Completeness(c.Context)
			if err != nil {
				return err
			}
			warnIncomplete(e.stderr, comp)
			// Either store runs the query alike (the store contract).
			var src jstore.Events = store
			if len(c.StringSlice("es")) > 0 {
				es, err := openESRead(c, cs)
				if err != nil {
					return err
				}
				defer es.Close()
				if n, err := es.Count(c.Context, timeline.Query{}); err == nil && n == 0 {
					fmt.Fprintf(e.stderr, "jejak: index %s holds no events: run 'jejak index %s --es ...' first\n", es.Index(), dir)
				}
				src = es
			}
			run := func(fn func(*timeline.Event) error) error { return src.Query(c.Context, f, q, fn) }
			// count tells the total when --limit cut the listing short.
			count := func() (int64, error) {
				all := q
				all.Limit = 0
				return src.QueryCount(c.Context, f, all)
			}
			n, err := printEvents(e.stdout, st, run)
			if err != nil {
				return err
			}
			total := n
			if q.Limit > 0 && n == int64(q.Limit) {
				if total, err = count(); err != nil {
					return err
				}
			}
			switch {
			case total > n:
				fmt.Fprintf(e.stderr, "%d events match; the first %d shown (--limit %d)\n", total, n, q.Limit)
			case n == 1:
				fmt.Fprintln(e.stderr, "1 event matches")
			default:
				fmt.Fprintf(e.stderr, "%d events match\n", n)
			}
			return incompleteExit(e.stderr, comp, nil)
		},
	})
}
