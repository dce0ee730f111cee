package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/urfave/cli/v2"
)

// rulesCommand is 'jejak rules': the rule list, stating what a --rules
// folder gave (rules loaded, files skipped per reason), and 'rules fetch'.
func rulesCommand(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:  "rules",
		Usage: "list jejak's hunting rules, or fetch SigmaHQ's",
		Description: `'jejak hunt' runs the built-in rules (readable YAML, each with its ATT&CK
technique and the reason it fires) and any Sigma rules given with --rules.
'rules list' prints them, and with --rules DIR which Sigma rules load and
why the others are skipped; 'rules fetch' downloads a SigmaHQ release into a
folder for --rules.`,
		Subcommands: []*cli.Command{{
			Name:      "list",
			Usage:     "list the built-in rules (and Sigma rules under --rules)",
			ArgsUsage: " ",
			Description: `Lists every rule 'jejak hunt' runs: ID, severity, ATT&CK technique, kind
(a Go analyzer or a Sigma detection), title. --json adds the description,
parameters, source file and its SHA-256, for a report's appendix.

With --rules, the Sigma files under DIR that were not loaded are counted per
reason (a log source jejak has no events for, an unsupported modifier or
aggregation, a deprecated rule, not a rule); --verbose names each file and
its reason, and --json gives {"rules": [...], "sigma": {...}} with both.`,
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: `one JSON object, {"rules": [...]}, with every field`},
				&cli.StringSliceFlag{Name: "rules", Usage: "also list the Sigma rules under `DIR`"},
				&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "name every skipped Sigma file and its reason"},
			},
			Action: func(c *cli.Context) error { return rulesList(e, c) },
		}, rulesFetchCmd(e)},
	})
}

// sigmaLoad is what 'rules list --json' says about the --rules folders.
type sigmaLoad struct {
	Loaded   int                `json:"loaded"`
	Skipped  int                `json:"skipped"`
	ByReason map[string]int     `json:"by_reason"`
	Files    []skippedSigmaFile `json:"skipped_files"`
}

type skippedSigmaFile struct {
	Path   string `json:"path"`
	Class  string `json:"class"`
	Reason string `json:"reason"`
}

func rulesList(e *env, c *cli.Context) error {
	if c.NArg() != 0 {
		return usagef("rules list takes no arguments")
	}
	dirs := c.StringSlice("rules")
	rules, problems, err := casework.LoadRules(dirs...)
	if rfe := (*casework.RuleFilesError)(nil); errors.As(err, &rfe) {
		return usagef("--rules: %v", rfe.Err)
	}
	if err != nil {
		return err
	}
	var load *sigmaLoad
	if len(dirs) > 0 {
		load = &sigmaLoad{Loaded: sigmaCount(rules), Skipped: len(problems), ByReason: map[string]int{}, Files: []skippedSigmaFile{}}
		for _, p := range problems {
			class := problemClass(p.Reason)
			load.ByReason[class]++
			load.Files = append(load.Files, skippedSigmaFile{Path: p.Path, Class: class, Reason: p.Reason})
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		out := map[string]any{"rules": rules}
		if load != nil {
			out["sigma"] = load
		}
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tTECHNIQUE\tKIND\tTITLE")
	for _, r := range rules {
		kind := "sigma"
		if r.Analyzer != "" {
			kind = "analyzer " + r.Analyzer
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", oneLine(r.ID), r.Severity, oneLine(dash(r.Technique)), kind, oneLine(r.Title))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if load != nil {
		printSigmaLoad(e.stdout, load, c.Bool("verbose"))
	}
	return nil
}

func printSigmaLoad(w io.Writer, load *sigmaLoad, verbose bool) {
	fmt.Fprintf(w, "\nsigma: %d rules loaded, %d files skipped\n", load.Loaded, load.Skipped)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, class := range slices.Sorted(maps.Keys(load.ByReason)) {
		fmt.Fprintf(tw, "  %d\t%s\n", load.ByReason[class], oneLine(class))
	}
	tw.Flush()
	if verbose && len(load.Files) > 0 {
		fmt.Fprintln(w, "\nskipped files:")
		for _, f := range load.Files {
			fmt.Fprintf(w, "  %s: %s\n", oneLine(f.Path), oneLine(f.Reason))
		}
	}
}

// problemClass groups skip reasons: the innermost error of a detection
// (what is unsupported, not in which search), the head of others (the log
// source named, the parse error's kind left to --verbose).
func problemClass(reason string) string {
	if strings.HasPrefix(reason, "search ") {
		if strings.Contains(reason, ": regular expression ") {
			return "regular expression not supported by Go's RE2"
		}
		if i := strings.LastIndex(reason, ": "); i >= 0 {
			reason = reason[i+2:]
		}
		return reason
	}
	if head, _, ok := strings.Cut(reason, ": "); ok {
		return head
	}
	return reason
}
