package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/urfave/cli/v2"
)

func esFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "es", EnvVars: []string{"JEJAK_ES"}, Usage: "Elasticsearch node `URL` (repeat or comma-separate for several nodes); user:password@ in it is taken as --user/--password and never printed or stored. Credentials sent over plain http to a host that is not loopback draw a warning"},
		&cli.StringFlag{Name: "index", Usage: "index `NAME` (default jejak-<case name>)"},
		&cli.StringFlag{Name: "user", EnvVars: []string{"JEJAK_ES_USER"}, Usage: "basic-auth user"},
		&cli.StringFlag{Name: "password", EnvVars: []string{"JEJAK_ES_PASSWORD"}, Usage: "basic-auth password (prefer the environment variable)"},
		&cli.StringFlag{Name: "api-key", EnvVars: []string{"JEJAK_ES_API_KEY"}, Usage: "API key (base64 id:key); overrides --user"},
		&cli.StringFlag{Name: "ca-cert", EnvVars: []string{"JEJAK_ES_CA_CERT"}, Usage: "PEM `FILE` of the CA that signed the cluster's certificate"},
		&cli.StringFlag{Name: "ca-fingerprint", EnvVars: []string{"JEJAK_ES_CA_FINGERPRINT"}, Usage: "trust the cluster's certificate by its SHA-256 `HEX` fingerprint (as Elasticsearch prints it on first start; colons allowed) instead of --ca-cert"},
		&cli.IntFlag{Name: "bulk-workers", Value: 2, Usage: "bulk requests in flight at once: about the number of data nodes' write threads the index may take (2 suits one node on two cores)"},
		&cli.StringFlag{Name: "compress", Value: "auto", Usage: "gzip request bodies: `auto` (yes, unless every node is on this machine's loopback, where gzip saves no network and takes CPU the node needs), on, off"},
	}
}

// defaultIndex derives a valid index name from the case name.
func defaultIndex(cs *evidence.Case) string { return casework.IndexName(cs.Info().Name) }

// openES connects to the Elasticsearch the --es flags name, for case cs,
// installing the template and creating the index when needed.
func openES(c *cli.Context, cs *evidence.Case) (*elastic.Store, error) {
	cfg, err := esConfig(c, cs)
	if err != nil {
		return nil, err
	}
	return elastic.Open(c.Context, cfg)
}

// openESRead connects for reading only: nothing is created on the
// cluster, and an index that is not there is an error.
func openESRead(c *cli.Context, cs *evidence.Case) (*elastic.Store, error) {
	cfg, err := esConfig(c, cs)
	if err != nil {
		return nil, err
	}
	cfg.ReadOnly = true
	return elastic.Open(c.Context, cfg)
}

// esConfig reads the --es flags (casework.ESOptions does the checking).
func esConfig(c *cli.Context, cs *evidence.Case) (elastic.Config, error) {
	o := casework.ESOptions{URLs: c.StringSlice("es"), Index: c.String("index"), User: c.String("user"),
		Password: c.String("password"), APIKey: c.String("api-key"), CACertFile: c.String("ca-cert"),
		CAFingerprint: c.String("ca-fingerprint"), Workers: c.Int("bulk-workers"), Compress: c.String("compress"),
		Warn: func(msg string) { fmt.Fprintf(c.App.ErrWriter, "jejak: WARNING: %s\n", msg) }}
	if cs != nil {
		o.CaseName = cs.Info().Name
	}
	cfg, err := o.Config()
	return cfg, optionError(err)
}

// allLoopback tells whether every URL names this machine by a loopback
// address or "localhost".
func allLoopback(urls []string) bool { return casework.AllLoopback(urls) }

func indexCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "index",
		Usage:     "push a case's timeline into Elasticsearch, and prove nothing was lost",
		ArgsUsage: "CASE",
		Description: `Installs jejak's index template (explicit ECS mappings, no dynamic fields), then
bulk-indexes every event of the case's embedded store with its event ID as the
document _id, so indexing again changes nothing. Refused documents are an
error naming them; overloaded clusters (429, 5xx) are retried with backoff.
At the end the index must hold exactly the case's events: if not, the missing
event IDs are listed and the exit status is 1. Then every hunt stored in the
case is copied with its findings, in their order, to <index>-hunts and
<index>-findings (replacing a hunt of the same key there), so Kibana shows
them beside the timeline and 'jejak report NAME --es' reports them.

EXAMPLES
   jejak index CASE --es http://127.0.0.1:9200
   JEJAK_ES_PASSWORD=... jejak index CASE --es https://es1:9200,https://es2:9200 --user jejak --ca-cert ca.pem`,
		Flags: append(esFlags(), &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress bar"}),
		Action: func(c *cli.Context) error {
			cs, store, err := e.caseStoreArg(c)
			if err != nil {
				return err
			}
			defer store.Close()
			cw := casework.FromEvidence(cs, store, e.caseConfig(""))
			// An index made from a partial timeline is partial too.
			comp, err := cw.Completeness(c.Context)
			if err != nil {
				return err
			}
			warnIncomplete(e.stderr, comp)
			es, err := openES(c, cs)
			if err != nil {
				return err
			}
			defer es.Close()
			var o casework.IndexOptions
			var bar *progressBar
			if !c.Bool("quiet") && isTerminal(e.stderr) {
				total, err := store.Count(c.Context, timeline.Query{})
				if err != nil {
					return err
				}
				bar = newProgressBar(e.stderr, "indexing", total, false, "events")
				o.Progress = func(n int64) { bar.set(n, "indexing") }
			}
			res, err := cw.Index(c.Context, es, o)
			if bar != nil {
				bar.finish() // clears the bar before the summary line
			}
			fmt.Fprintf(e.stderr, "indexed %d events into %s (%d new, %d already there; %d retries, %d events resent); %d hunts with their findings\n",
				res.Events, es.Index(), res.Inserted, res.Duplicates, res.Retries, res.Resent, res.Hunts)
			return incompleteExit(e.stderr, comp, err)
		},
	})
}

// verifyIndex checks that dst holds exactly src's events and names the
// missing ones when it does not.
func verifyIndex(ctx context.Context, src casework.Timeline, dst *elastic.Store) error {
	return casework.VerifyIndex(ctx, src, dst)
}

func esCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:  "es",
		Usage: "print what Elasticsearch and Kibana need: index template, saved objects",
		Description: `'jejak index CASE --es URL' (or 'ingest --es') installs the index template
itself. These subcommands print the same objects for a cluster an
administrator prepares by hand: 'es template' the composable index template
(PUT _index_template/NAME), 'es kibana' the Kibana saved objects (data view,
searches) as NDJSON for Stack Management > Saved objects > Import.`,
		Subcommands: []*cli.Command{{
			Name:      "template",
			Usage:     "print the composable index template jejak installs",
			ArgsUsage: "[INDEX]",
			Action: func(c *cli.Context) error {
				index := c.Args().First()
				if index == "" {
					index = "jejak-*"
				}
				b, err := elastic.Template(index)
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(e.stdout, string(b))
				return err
			},
		}, {
			Name:      "kibana",
			Usage:     "write Kibana saved objects (data views, saved searches, dashboard) for a case's index",
			ArgsUsage: "CASE",
			Description: `Writes NDJSON importable with Kibana's saved-objects import (Stack Management »
Saved objects » Import): data views on the case index (@timestamp) and on its
findings index (first); saved searches for logons, failed logons, account
changes, log clearing, database writes and the findings; a dashboard (events
over time per host, findings by severity and by rule, logons by source); and
one saved search per built-in rule that has a raw query (its Sigma detection
as KQL). Rules that are analyzers (counting, sequences, baselines) have no
single query and are named on stderr. Every field the objects use exists in
jejak's index templates (checked before writing).`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "index", Usage: "index `NAME` (default jejak-<case name>)"},
				&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "-", Usage: "write to `FILE` (- for stdout)"},
			},
			Action: func(c *cli.Context) error {
				cs, err := e.caseArg(c)
				if err != nil {
					return err
				}
				index := c.String("index")
				if index == "" {
					index = defaultIndex(cs)
				}
				b, skipped, err := casework.KibanaObjects(index)
				if err != nil {
					return err
				}
				if len(skipped) > 0 {
					names := make([]string, len(skipped))
					for i, sk := range skipped {
						names[i] = sk.Rule
					}
					fmt.Fprintf(e.stderr, "kibana: no saved search for %d rules without a raw query (analyzers): %s\n", len(skipped), strings.Join(names, ", "))
				}
				if out := c.String("output"); out != "-" {
					return os.WriteFile(filepath.Clean(out), b, 0o644)
				}
				_, err = e.stdout.Write(b)
				return err
			},
		}},
	})
}
