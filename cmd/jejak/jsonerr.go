package main

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/jejak-forensics/jejak/internal/termsafe"
	"github.com/urfave/cli/v2"
)

// jsonStreams are the commands whose --json is a stream of documents, one
// per line (events, warnings): an error object there would read as one
// more of them, so their errors stay on stderr and in the exit status.
var jsonStreams = map[string]bool{"timeline": true, "search": true, "warnings": true}

// jsonErrors gives every other command with --json the answer analyze
// gives: a run that fails before it printed its document prints
// {"error": "..."} instead, so a script reading stdout gets one JSON
// document whatever happened, beside the exit status. A command that
// printed its document (with its own "error", or a summary) is left as
// it is.
func jsonErrors(e *env, cmds []*cli.Command) {
	for _, c := range cmds {
		jsonErrors(e, c.Subcommands)
		if c.Action == nil || jsonStreams[c.Name] || !hasFlag(c, "json") {
			continue
		}
		act := c.Action
		c.Action = func(cc *cli.Context) error {
			if !cc.Bool("json") {
				return act(cc)
			}
			out := e.stdout
			w := &countingWriter{w: out}
			e.stdout = w
			err := act(cc)
			e.stdout = out
			if err == nil || w.n > 0 || errors.Is(err, errWarnings) || errors.Is(err, errFindings) {
				return err
			}
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(struct {
				Error string `json:"error"`
			}{termsafe.Lines(err.Error())}); jerr != nil {
				return errors.Join(err, jerr)
			}
			return err
		}
	}
}

// countingWriter counts what a command wrote to stdout.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
