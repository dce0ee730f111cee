package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// buildInfo is what 'jejak version' prints and reports record: which code
// produced an output, so a reviewer can rebuild the same binary.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Modified  bool   `json:"modified"`
	BuildDate string `json:"build_date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// commit and buildDate are set by scripts/build.sh with -ldflags -X; a plain
// 'go build' in a checkout stamps the same facts into the binary instead.
var commit, buildDate string

// readBuildInfo takes commit and date from the link flags, else from the VCS
// stamp 'go build' embeds (absent with -buildvcs=false or outside a
// checkout: "unknown").
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: "unknown", BuildDate: "unknown",
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if commit != "" {
		b.Commit, b.BuildDate = commit, buildDate
	} else if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.BuildDate = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

func versionCmd(e *env) *cli.Command {
	return withHelp(&cli.Command{
		Name:  "version",
		Usage: "print jejak's version, build commit, build date and Go version",
		Description: `The commit and date come from the version-control stamp Go embeds in the
binary ('go build' or 'go install' in a checkout); "modified" means the tree
had uncommitted changes when it was built.`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "one JSON object"}},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("version takes no arguments")
			}
			b := readBuildInfo()
			if c.Bool("json") {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(b)
			}
			commit := b.Commit
			if b.Modified {
				commit += " (modified)"
			}
			fmt.Fprintf(e.stdout, "jejak %s\ncommit:     %s\nbuilt:      %s\ngo:         %s\nplatform:   %s\n",
				b.Version, commit, b.BuildDate, b.GoVersion, b.Platform)
			return nil
		},
	})
}

// unknownCommand is the usage error for a first word that names no command.
func unknownCommand(app *cli.App, name string) error {
	var names []string
	for _, c := range app.Commands {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	msg := fmt.Sprintf("unknown command %q", name)
	if near := nearest(name, names); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return usagef("%s; the commands are: %s", msg, strings.Join(names, ", "))
}

// nearest returns the candidate within edit distance 2 of s (the closest),
// or "".
func nearest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
