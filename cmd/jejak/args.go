package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// permuteArgs moves flags that follow positional arguments in front of
// them, so "jejak analyze EVIDENCE --out DIR" works as examiners type it.
// urfave/cli v2 stops reading flags at the first positional argument.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	cmds := app.Commands
	var cmd *cli.Command
	// Walk down the command path (global flags before it stay as they are).
	for len(rest) > 0 {
		a := rest[0]
		if strings.HasPrefix(a, "-") {
			if cmd != nil {
				break
			}
			out = append(out, a)
			rest = rest[1:]
			// A global flag's value (--sign-key FILE) is no command name.
			if !strings.Contains(a, "=") && takesValue(&cli.Command{Flags: app.Flags}, strings.TrimLeft(a, "-")) && len(rest) > 0 {
				out = append(out, rest[0])
				rest = rest[1:]
			}
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		cmd = next
		out = append(out, a)
		rest = rest[1:]
		cmds = cmd.Subcommands
	}
	if cmd == nil {
		return args
	}
	var flags, pos []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		// A global flag given after the command (jejak ingest CASE
		// --sign-key K) moves before it, where the app reads it.
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if global := (&cli.Command{Flags: app.Flags}); !hasFlag(cmd, name) && hasFlag(global, name) {
			g := []string{a}
			if !strings.Contains(a, "=") && takesValue(global, name) && i+1 < len(rest) {
				i++
				g = append(g, rest[i])
			}
			out = append(append(out[:1:1], g...), out[1:]...)
			continue
		}
		flags = append(flags, a)
		if !strings.Contains(a, "=") && takesValue(cmd, strings.TrimLeft(a, "-")) && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	return append(append(out, flags...), pos...)
}

func hasFlag(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func takesValue(cmd *cli.Command, name string) bool {
	for _, f := range cmd.Flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, ok := f.(*cli.BoolFlag); ok {
				return false
			}
			return true
		}
	}
	return false
}
