package dpkg

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// AlternativesName is the parser name of /var/log/alternatives.log.
const AlternativesName = "alternatives"

// ErrBadAltLine marks an alternatives.log line that does not start with
// "update-alternatives <date> <time>: ".
var ErrBadAltLine = errors.New("not an alternatives.log line")

// altPrefix starts every line update-alternatives logs (dpkg's
// utils/update-alternatives.c, log_msg: "%s %s: " with the program name and
// strftime "%Y-%m-%d %H:%M:%S" in local time). The messages after it are
// never translated, so matching their English text is safe.
const altPrefix = "update-alternatives "

// Alternatives reads update-alternatives' log. It records which program
// answers to a generic name (editor, java, x-www-browser, …): a changed
// link group on an audited server is a change to what runs.
type Alternatives struct{}

var _ parsers.Parser = (*Alternatives)(nil)

// NewAlternatives returns the alternatives.log parser.
func NewAlternatives() *Alternatives { return &Alternatives{} }

// Name implements parsers.Parser.
func (*Alternatives) Name() string { return AlternativesName }

// Match accepts a file whose first line is an alternatives.log line.
func (*Alternatives) Match(e *jfs.Entry, head []byte) bool {
	// altLine needs the prefix, which holds no '\n': without it on the
	// head the line is neither cut nor copied.
	if !bytes.HasPrefix(head, []byte(altPrefix)) {
		return false
	}
	first, _, _ := bytes.Cut(head, []byte("\n"))
	_, _, ok := altLine(strings.TrimRight(string(first), "\r"))
	return ok
}

// Requires implements parsers.Requirer: altPrefix first.
func (*Alternatives) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf(altPrefix[:1])}
}

// altLine cuts "update-alternatives 2025-06-24 14:36:53: run with …" into
// the time and the message.
func altLine(line string) (stamp, msg string, ok bool) {
	rest, ok := strings.CutPrefix(line, altPrefix)
	if !ok || len(rest) < len(stampLayout)+2 {
		return "", "", false
	}
	s := rest[:len(stampLayout)]
	if s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return "", "", false
	}
	msg, ok = strings.CutPrefix(rest[len(stampLayout):], ": ")
	if !ok {
		// log_msg with an empty message leaves "…:53: " trimmed to ":".
		if rest[len(stampLayout):] != ":" {
			return "", "", false
		}
	}
	return s, msg, true
}

// Parse implements parsers.Parser.
func (p *Alternatives) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	// the time the line was written
	return parseStamped(ctx, src, emit, AlternativesName, "Content Modification Time", ErrBadAltLine, altLine, altEvent)
}

// altCommands are update-alternatives' commands with the number of
// arguments each takes (--install's --slave triples follow its four).
var altCommands = map[string]int{
	"--install": 4, "--remove": 2, "--remove-all": 1, "--auto": 1, "--set": 2,
	"--config": 1, "--display": 1, "--query": 1, "--list": 1,
	"--get-selections": 0, "--set-selections": 0, "--all": 0,
}

// altOptions take one argument (the rest are flags).
var altOptions = map[string]bool{"--altdir": true, "--admindir": true, "--log": true, "--instdir": true, "--root": true}

func altEvent(msg string) *timeline.Event {
	ev := &timeline.Event{Message: "update-alternatives: " + msg}
	ev.Event.Kind = "event"
	ev.Event.Dataset = "alternatives.log"
	ev.Event.Category = []string{"package", "configuration"}
	ev.Event.Type = []string{"change"}
	data := map[string]string{"body": msg}
	ev.Jejak.Data = data
	switch {
	case strings.HasPrefix(msg, "run with "):
		// "run with <the arguments as given>": the command line. The
		// arguments were joined with spaces, so a path holding a space
		// cannot be told apart; the fields below are a best reading and
		// the command line stays whole.
		args := strings.TrimPrefix(msg, "run with ")
		ev.Event.Action = "run"
		ev.Event.Type = []string{"start"}
		ev.Process = &timeline.Process{Name: "update-alternatives", CommandLine: "update-alternatives " + args}
		altRun(ev, strings.Fields(args))
	case strings.HasPrefix(msg, "link group ") && strings.Contains(msg, " updated to point to "):
		// "link group <name> updated to point to <path>"
		name, target, _ := strings.Cut(strings.TrimPrefix(msg, "link group "), " updated to point to ")
		ev.Event.Action = "link_updated"
		data["alternative"], data["target"] = name, target
		ev.File = &timeline.File{Name: name, TargetPath: target}
	case strings.HasPrefix(msg, "link group ") && strings.HasSuffix(msg, " fully removed"):
		name := strings.TrimSuffix(strings.TrimPrefix(msg, "link group "), " fully removed")
		ev.Event.Action = "link_group_removed"
		ev.Event.Type = []string{"deletion"}
		data["alternative"] = name
	case strings.HasPrefix(msg, "link group ") && strings.HasSuffix(msg, " updated with changed slaves"):
		ev.Event.Action = "slaves_updated"
		data["alternative"] = strings.TrimSuffix(strings.TrimPrefix(msg, "link group "), " updated with changed slaves")
	case strings.HasPrefix(msg, "status of link group "):
		// "status of link group <master link> set to auto|manual": this
		// one names the link (/usr/bin/editor), not the alternative.
		link, status, _ := strings.Cut(strings.TrimPrefix(msg, "status of link group "), " set to ")
		ev.Event.Action = "status_set"
		data["link"], data["status"] = link, status
		ev.File = &timeline.File{Path: link}
	case strings.HasPrefix(msg, "auto-repair link group "):
		ev.Event.Action = "auto_repair"
		data["alternative"] = strings.TrimPrefix(msg, "auto-repair link group ")
	default:
		// A message of another dpkg version: the line is well formed and
		// its text is kept.
		ev.Event.Action = "message"
		ev.Event.Type = []string{"info"}
	}
	return ev
}

// altRun reads the command of a "run with" line into data: the command,
// the alternative's name, and for --install its link, path and priority.
func altRun(ev *timeline.Event, f []string) {
	data := ev.Jejak.Data
	for i := 0; i < len(f); i++ {
		if altOptions[f[i]] {
			i++
			continue
		}
		nargs, ok := altCommands[f[i]]
		if !ok {
			continue // --quiet, --verbose, --force, --skip-auto
		}
		data["command"] = strings.TrimPrefix(f[i], "--")
		a := f[i+1 : min(len(f), i+1+nargs)]
		switch f[i] {
		case "--install":
			// --install <link> <name> <path> <priority>
			if len(a) == 4 {
				data["link"], data["alternative"], data["path"], data["priority"] = a[0], a[1], a[2], a[3]
				ev.File = &timeline.File{Path: a[0], TargetPath: a[2]}
			}
			ev.Event.Type = []string{"installation", "change"}
		case "--remove", "--set":
			// --remove|--set <name> <path>
			if len(a) == 2 {
				data["alternative"], data["path"] = a[0], a[1]
			}
			if f[i] == "--remove" {
				ev.Event.Type = []string{"deletion"}
			} else {
				ev.Event.Type = []string{"change"}
			}
		case "--remove-all":
			if len(a) == 1 {
				data["alternative"] = a[0]
			}
			ev.Event.Type = []string{"deletion"}
		default:
			if len(a) == 1 {
				data["alternative"] = a[0]
			}
		}
		if n := countOf(f[i+1:], "--slave"); n > 0 && f[i] == "--install" {
			data["slaves"] = strconv.Itoa(n)
		}
		return
	}
}

func countOf(f []string, s string) int {
	n := 0
	for _, x := range f {
		if x == s {
			n++
		}
	}
	return n
}

// trimLineEnds is bytes.TrimLeft(b, "\r\n") without the cutset that
// TrimLeft builds on every call: Match of apt's logs asks it of every head.
func trimLineEnds(b []byte) []byte {
	for len(b) > 0 && (b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}
