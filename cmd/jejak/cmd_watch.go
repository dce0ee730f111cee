package main

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/watch"
	"github.com/urfave/cli/v2"
)

func watchCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:      "watch",
		Usage:     "watch servers live during data entry: follow log files, receive syslog, alert",
		ArgsUsage: "CASE",
		Description: `Follows log files as they grow and receives syslog from the servers being
watched, stores every line's events in the case as they arrive (batches at
most --latency apart), and runs the hunting rules that can judge a stream
(Sigma rules, password guessing, new sources and accounts, admin web paths,
database writes, account changes, Linux commands) on what arrived: each new
finding is an alert, printed on stdout as one JSON line and POSTed to
--webhook (retried with backoff; a failing webhook never slows intake).

Files (--follow) are read across rotations, by rename and create or by
copytruncate; how far each was stored is kept in CASE/watch/offsets.json
with the file's identity (device, inode, hash of its first line), so a
restart neither loses nor repeats a line. Listeners (--listen) take RFC 5424
and RFC 3164 messages, over UDP, TCP and TLS, newline-framed or
octet-counted (RFC 6587). What the store cannot take at once waits in memory,
then in a bounded spool file (CASE/watch/spool.jsonl, --spool-limit);
only beyond that are lines dropped, and counted.

Ctrl-C (SIGINT) or SIGTERM stops intake, stores what is queued, saves the
offsets and prints what was received per source on stderr (--json: on
stdout as JSON). The watch is a run of the case and is written to its custody log.

EXAMPLES
   jejak watch CASE --follow /var/log/auth.log --follow /var/log/nginx/access.log
   jejak watch CASE --listen udp://0.0.0.0:514 --listen tcp://0.0.0.0:514 --after 2024-02-14T19:00
   jejak watch CASE --listen tls://0.0.0.0:6514 --tls-cert srv.pem --tls-key srv.key --webhook https://soc.example/hook`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "follow", Usage: "log `FILE` to follow (repeatable)"},
			&cli.StringSliceFlag{Name: "listen", Usage: "syslog listener `URL`: udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (repeatable)"},
			&cli.StringFlag{Name: "tls-cert", Usage: "PEM certificate `FILE` of tls:// listeners"},
			&cli.StringFlag{Name: "tls-key", Usage: "PEM private key `FILE` of tls:// listeners"},
			&cli.StringFlag{Name: "webhook", Usage: "POST each alert as JSON to `URL`"},
			&cli.StringFlag{Name: "after", Usage: "hunt cut-off `TIME` (RFC 3339, or 2006-01-02[T15:04:05] in the case zone): events before it are the baseline"},
			&cli.StringSliceFlag{Name: "rules", Usage: "Sigma rules `DIR` or file to run on the stream as well (repeatable)"},
			&cli.BoolFlag{Name: "no-hunt", Usage: "store only: run no rules, raise no alerts"},
			&cli.DurationFlag{Name: "latency", Value: 500 * time.Millisecond, Usage: "longest a received line waits before it is stored (at most 1s)"},
			&cli.Int64Flag{Name: "spool-limit", Value: 256 << 20, Usage: "`BYTES` of the on-disk spool for lines the store cannot take at once"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout"},
		}, esFlags()...),
		Action: func(c *cli.Context) error {
			cs, err := e.caseArg(c)
			if err != nil {
				return err
			}
			if err := cs.CheckSigning(); err != nil {
				return err
			}
			zone := cs.Location()
			o := casework.WatchOptions{Config: watch.Config{Follow: c.StringSlice("follow"), Listen: c.StringSlice("listen"),
				Alerts: e.stdout, Webhook: c.String("webhook"),
				Latency: c.Duration("latency"), SpoolLimit: c.Int64("spool-limit"), NoHunt: c.Bool("no-hunt")}}
			cfg := &o.Config
			if len(cfg.Follow) == 0 && len(cfg.Listen) == 0 {
				return usagef("nothing to watch: give --follow FILE or --listen URL")
			}
			for _, l := range cfg.Listen {
				if !strings.HasPrefix(l, "udp://") && !strings.HasPrefix(l, "tcp://") && !strings.HasPrefix(l, "tls://") {
					return usagef("--listen %q: want udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT", l)
				}
				if strings.HasPrefix(l, "tls://") && c.String("tls-cert") == "" {
					return usagef("--listen %s: a tls:// listener needs --tls-cert and --tls-key", l)
				}
			}
			if cfg.Latency > time.Second {
				return usagef("--latency %v: at most 1s", cfg.Latency)
			}
			if s := c.String("after"); s != "" {
				if cfg.After, err = parseTime(s, zone); err != nil {
					return usagef("--after: %v", err)
				}
			}
			if cert, key := c.String("tls-cert"), c.String("tls-key"); cert != "" || key != "" {
				pair, err := tls.LoadX509KeyPair(cert, key)
				if err != nil {
					return usagef("--tls-cert/--tls-key: %v", err)
				}
				cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
			}
			if !cfg.NoHunt {
				rules, err := e.loadRules(c)
				if err != nil {
					return err
				}
				cfg.Rules = watch.StreamRules(rules)
			}
			if len(c.StringSlice("es")) > 0 {
				es, err := openES(c, cs)
				if err != nil {
					return err
				}
				defer es.Close()
				o.ES = es
			}
			o.Started = func(w *watch.Watcher) {
				for _, f := range cfg.Follow {
					fmt.Fprintf(e.stderr, "following %s\n", oneLine(f))
				}
				for i, a := range w.Addrs() {
					fmt.Fprintf(e.stderr, "listening on %s (%s)\n", a, oneLine(cfg.Listen[i]))
				}
				fmt.Fprintln(e.stderr, "watching; Ctrl-C to stop")
			}
			sum, runErr := casework.FromEvidence(cs, nil, e.caseConfig("")).Watch(c.Context, o)
			if sum == nil {
				return runErr // refused before it started: nothing to sum up
			}
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				_ = enc.Encode(map[string]any{"summary": sum})
			} else {
				printWatchSummary(e.stderr, *sum)
			}
			return runErr
		},
	})
}

func printWatchSummary(w io.Writer, s watch.Summary) {
	fmt.Fprintf(w, "watched %s to %s\n", s.Started.Format(time.RFC3339), s.Stopped.Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tPARSER\tLINES\tBYTES\tEVENTS\tWARNINGS\tSPOOLED\tDROPPED\tALERTS")
	for _, x := range append(s.Sources, s.Total) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", oneLine(x.Source), dash(x.Parser), x.Lines, x.Bytes, x.Events, x.Warnings, x.Spooled, x.Dropped, x.Alerts)
	}
	tw.Flush()
	if s.Total.Duplicates > 0 {
		fmt.Fprintf(w, "%d events were already stored (lines read again after an interruption): not stored twice\n", s.Total.Duplicates)
	}
	if s.Recovered > 0 {
		fmt.Fprintf(w, "%d lines recovered from the spool an interrupted watch left\n", s.Recovered)
	}
	a := s.Alerts
	fmt.Fprintf(w, "alerts: %d raised (%d stream hunts", a.Raised, a.HuntRuns)
	if a.HuntErrors > 0 {
		fmt.Fprintf(w, ", %d failed", a.HuntErrors)
	}
	fmt.Fprint(w, ")")
	if a.WebhookSent+a.WebhookFailed+a.WebhookDropped > 0 {
		fmt.Fprintf(w, "; webhook: %d sent, %d retries, %d failed, %d dropped (queue full)", a.WebhookSent, a.WebhookRetries, a.WebhookFailed, a.WebhookDropped)
		if a.WebhookLastErr != "" {
			fmt.Fprintf(w, ", last error: %s", oneLine(a.WebhookLastErr))
		}
	}
	fmt.Fprintf(w, "\nlongest wait before storing: %v\n", s.MaxLatency.Round(time.Millisecond))
}
