package main

import (
	"fmt"

	"github.com/jejak-forensics/jejak/casework"
	"github.com/urfave/cli/v2"
)

func rulesFetchCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "fetch",
		Usage:     "download a SigmaHQ release zip into a rules folder",
		ArgsUsage: "DIR",
		Description: `Downloads a SigmaHQ rules release (default: the latest sigma_all_rules.zip
from github.com/SigmaHQ/sigma), checks that it is a zip of Sigma YAML rules,
and unpacks it into DIR (created; a DIR from an earlier fetch is replaced,
any other non-empty DIR is refused). No entry may leave DIR (absolute paths,
"..", links are refused). DIR/FETCHED.json records the URL, the zip's SHA-256
and the date, so 'jejak hunt --rules DIR' can be traced to a release.

   jejak rules fetch ~/sigma
   jejak rules fetch --url https://github.com/SigmaHQ/sigma/releases/download/r2024-09-02/sigma_core.zip ~/sigma-core`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Value: casework.DefaultRulesURL, Usage: "release zip `URL` (http or https)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usagef("rules fetch takes one argument, the rules folder")
			}
			rec, err := casework.FetchRules(c.Context, c.String("url"), c.Args().First(), e.now, version)
			if err != nil {
				return optionError(err)
			}
			fmt.Fprintf(e.stdout, "%d Sigma rules (%d files) from %s\nsha256 %s\nunpacked into %s (FETCHED.json)\n",
				rec.Rules, rec.Files, rec.URL, rec.SHA256, c.Args().First())
			return nil
		},
	}
}

// fetchRecord is DIR/FETCHED.json (casework.RulesFetch).
type fetchRecord = casework.RulesFetch
