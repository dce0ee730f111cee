package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/worker"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/urfave/cli/v2"
)

// A case in Elasticsearch: 'case push' and 'case pull' move a case folder
// into and out of the cluster, 'case show', 'evidence list' and 'warnings'
// read it there with --es, and 'worker' ingests its evidence from any
// number of machines (casework/worker).

// esReadFlags are the --es flags for commands that read a local case
// folder unless pointed at a cluster: --es there is not taken from JEJAK_ES,
// or setting it for 'jejak index' would turn 'case show DIR' into a
// question to the cluster.
func esReadFlags() []cli.Flag {
	fs := esFlags()
	for _, f := range fs {
		if s, ok := f.(*cli.StringSliceFlag); ok && s.Name == "es" {
			s.EnvVars = nil
		}
	}
	return fs
}

// esGiven tells whether a command was pointed at a cluster.
func esGiven(c *cli.Context) bool { return len(c.StringSlice("es")) > 0 }

// openESName connects for the case called name (its index, unless --index
// names one). write installs the timeline template and index if missing.
func openESName(c *cli.Context, name string, write bool) (*elastic.Store, error) {
	if c.String("index") == "" {
		if name == "" {
			return nil, usagef("name the case (or its index with --index)")
		}
		if err := c.Set("index", casework.IndexName(name)); err != nil {
			return nil, err
		}
	}
	cfg, err := esConfig(c, nil)
	if err != nil {
		return nil, err
	}
	cfg.ReadOnly = !write
	return elastic.Open(c.Context, cfg)
}

// readESCase opens, for reading, the case in the cluster that a command's
// one NAME argument names.
func readESCase(c *cli.Context) (string, *elastic.Store, error) {
	name, err := oneArg(c, "NAME")
	if err != nil {
		return "", nil, err
	}
	es, err := openESName(c, name, false)
	return name, es, err
}

func casePushCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "push",
		Usage:     "put a case folder into Elasticsearch, where workers on other machines can ingest it",
		ArgsUsage: "CASE",
		Description: `Writes the case into indices beside its timeline index (jejak-<case name>, or
--index): <index>-case (case.json and evidence.json verbatim), -evidence (the
registry, folder manifests), -custody (the custody chain, each entry's line
verbatim and still hash-chained: the chain is checked as written and read
back), -runs and -warnings (from case.db, when there is one). Each has a
strict mapping. The push is recorded in the folder's custody log first.
Pushing again adds the custody entries made since; a cluster whose chain
went on without the folder (workers' entries) while the folder went on too
is refused: pull the case into a new folder and work from that.

EXAMPLE
   jejak case push /cases/kpu-2024 --es http://es1:9200`,
		Flags: append(esFlags(), examinerFlag(false)),
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "CASE")
			if err != nil {
				return err
			}
			cs, err := evidence.OpenWith(dir, e.caseConfig(c.String("examiner")))
			if err != nil {
				return err
			}
			es, err := openES(c, cs)
			if err != nil {
				return err
			}
			defer es.Close()
			res, err := casework.PushCase(c.Context, cs, es, cs.Examiner())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "pushed case %q to %s: %d evidence items, %d custody entries (%d new), %d runs, %d warnings\n",
				cs.Info().Name, es.Index(), res.Items, res.Custody, res.CustodyAdded, res.Runs, res.Warnings)
			return nil
		},
	}
}

func casePullCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "pull",
		Usage:     "recreate a case folder from Elasticsearch",
		ArgsUsage: "NAME",
		Description: `Writes case.json, evidence.json, folder manifests and the custody log (workers'
entries included) from the case NAME in the cluster into --out, a new or
empty folder, and verifies the custody chain there as 'case show' does. The
timeline, runs and warnings stay in the cluster (read them with --es).`,
		Flags: append(esFlags(), &cli.StringFlag{Name: "out", Required: true, Usage: "new or empty `DIR` for the case folder"}),
		Action: func(c *cli.Context) error {
			name, es, err := readESCase(c)
			if err != nil {
				return err
			}
			defer es.Close()
			res, err := casework.PullCase(c.Context, es, c.String("out"))
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "pulled case %s into %s: %d evidence items, %d custody entries, chain intact\n", name, res.Dir, res.Items, res.Custody)
			return nil
		},
	}
}

// caseShowES is 'case show NAME --es URL'.
func (e *env) caseShowES(c *cli.Context) error {
	_, es, err := readESCase(c)
	if err != nil {
		return err
	}
	defer es.Close()
	st, err := casework.ClusterStatus(c.Context, es)
	if err != nil {
		return err
	}
	meta, states, verr := st.Meta, st.Claims, st.CustodyErr
	if c.Bool("json") {
		out := map[string]any{"case": meta.Name, "examiner": meta.Examiner, "zone": meta.Zone, "created": meta.Created,
			"index": st.Index, "evidence": st.Evidence, "claims": states, "custody_entries": st.Custody, "custody_ok": verr == nil}
		if verr != nil {
			out["custody_error"] = verr.Error()
		}
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintln(e.stdout, string(b))
		return verr
	}
	fmt.Fprintf(e.stdout, "case      %s\nindex     %s\nexaminer  %s\nzone      %s\ncreated   %s\nevidence  %d items: %d done, %d being worked, %d refused, %d unclaimed\ncustody   %d entries, ",
		meta.Name, st.Index, meta.Examiner, meta.Zone, meta.Created.Format(time.RFC3339), st.Evidence,
		states[elastic.ClaimDone], states[elastic.ClaimWorking], states[elastic.ClaimRefused], states["unclaimed"], st.Custody)
	if verr == nil {
		fmt.Fprintln(e.stdout, "chain intact (links, read from the cluster)")
	} else {
		fmt.Fprintln(e.stdout, "CHAIN BROKEN")
	}
	return verr
}

// evidenceListES is 'evidence list NAME --es URL'.
func (e *env) evidenceListES(c *cli.Context) error {
	_, es, err := readESCase(c)
	if err != nil {
		return err
	}
	defer es.Close()
	items, err := casework.ClusterEvidence(c.Context, es)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSIZE\tSHA-256\tADDED (UTC)\tEXAMINER\tPATH")
	for _, it := range items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", it.ID, it.Kind, humanBytes(it.Size), it.SHA256,
			it.AddedAt.UTC().Format("2006-01-02T15:04:05Z"), oneLine(it.Examiner), oneLine(it.Path))
	}
	return tw.Flush()
}

// warningsES is 'warnings NAME --es URL': every warning stored in the
// cluster (pushed from case.db and written by workers), each once.
func (e *env) warningsES(c *cli.Context) error {
	_, es, err := readESCase(c)
	if err != nil {
		return err
	}
	defer es.Close()
	enc := json.NewEncoder(e.stdout)
	return casework.ClusterWarnings(c.Context, es, func(w timeline.Warning, names map[string]string) error {
		if c.Bool("json") {
			return enc.Encode(w)
		}
		_, err := fmt.Fprintln(e.stdout, formatWarning(w, names))
		return err
	})
}

// fromESFlag is hunt's --from-es, kept hidden as an alias: --es alone now
// reads the timeline from the index (cmd_hunt.go's huntES).
func fromESFlag() cli.Flag {
	return &cli.BoolFlag{Name: "from-es", Hidden: true, Usage: "the same as --es (kept for scripts written before --es read the timeline from the index)"}
}

func workerCmd(e *env) *cli.Command {
	flags := append(esFlags(),
		&cli.StringFlag{Name: "case", Required: true, Usage: "`NAME` of the case in the cluster (as 'case push' put it)"},
		&cli.StringSliceFlag{Name: "path-map", Usage: "`FROM=TO`: evidence registered under FROM is read under TO on this machine (repeatable)"},
		&cli.DurationFlag{Name: "lease", Value: 60 * time.Second, Usage: "how long a claim on an item lasts unrenewed; renewed every third of it while the item is read. Keep the machines' clocks in sync far closer than this"},
		&cli.StringFlag{Name: "name", Usage: "worker `NAME` in claims, runs and custody entries (default host:pid)"},
		&cli.StringFlag{Name: "work-dir", Usage: "`DIR` for this worker's copy of the case folder and its spool (default a new temporary folder, removed at the end)"},
		&cli.IntFlag{Name: "workers", DefaultText: "number of cores", Usage: "files parsed at once"},
		examinerFlag(false),
		spoolLimitFlag(),
	)
	return withHelp(&cli.Command{
		Name:  "worker",
		Usage: "ingest a case's evidence from Elasticsearch, beside any number of other workers",
		Description: `Claims the evidence items of a case pushed with 'jejak case push', one at a
time, and ingests each into the case's timeline index with the same event IDs
'jejak ingest' gives them. Run it on as many machines as there are: each
item is claimed by one worker with Elasticsearch's optimistic concurrency
(op_type=create, then if_seq_no/if_primary_term) and a lease the worker
renews while it reads; a worker that dies stops renewing, and once its lease
runs out another takes the item over and reads it again from the start (the
events already written come back as duplicates: none is indexed twice).

Evidence paths are those registered; --path-map rewrites them for this
machine's mount. Every item is re-hashed (each file of a folder, each
segment of an image set) before it is read, and refused if it differs. Each
item's run goes to <index>-runs, its warnings to <index>-warnings, and a
custody entry (worker_ingest, or evidence_refused) to the chain in
<index>-custody. The worker exits when every item is done or refused.

EXAMPLE
   jejak worker --es http://es1:9200 --case kpu-2024 --path-map /mnt/evidence=/srv/evidence`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			var maps []worker.PathMap
			for _, s := range c.StringSlice("path-map") {
				m, err := worker.ParsePathMap(s)
				if err != nil {
					return usageError{err}
				}
				maps = append(maps, m)
			}
			if c.Duration("lease") < 3*time.Second {
				return usagef("--lease must be at least 3s, not %s", c.Duration("lease"))
			}
			es, err := openESName(c, c.String("case"), true)
			if err != nil {
				return err
			}
			defer es.Close()
			dir := c.String("work-dir")
			if dir == "" {
				if dir, err = os.MkdirTemp("", "jejak-worker-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			} else if dir, err = filepath.Abs(dir); err != nil {
				return err
			}
			res, err := casework.RunWorker(c.Context, worker.Config{ES: es, Name: c.String("name"), Examiner: c.String("examiner"),
				PathMap: maps, Lease: c.Duration("lease"), WorkDir: dir, Workers: c.Int("workers"),
				SpoolLimit: spoolLimit(c), ToolVersion: version, Log: e.stderr})
			fmt.Fprintf(e.stderr, "worker: %d items ingested, %d refused, %d lost to another worker, %d events sent\n",
				len(res.Done), len(res.Refused), len(res.Lost), res.Events)
			if err != nil {
				return err
			}
			if len(res.Refused) > 0 {
				return errors.New("evidence refused: " + strings.Join(res.Refused, ", ") + " (see the custody log)")
			}
			return nil
		},
	})
}
