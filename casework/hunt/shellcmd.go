package hunt

import (
	"path"
	"strings"
)

// A typed command line is read the way a shell splits it, not searched for
// substrings: "rm" inside "grep rm" or "/var/log" in "ls /var/log" must
// not match, and "> /var/log/auth.log" is a redirection only outside
// quotes. This is a small POSIX-shell word splitter, enough for what people
// type: quotes, backslashes, ; && || | & and newlines between commands,
// redirections with an optional file descriptor, and "sh -c STRING" read
// again. It does not expand variables, globs or command substitutions; the
// words are kept as typed ("$HISTFILE", "/var/log/*").

// simpleCmd is one command of a command line.
type simpleCmd struct {
	name    string   // base name of the program, after wrappers (sudo, env, ...)
	args    []string // words after the program
	assigns []string // NAME=value words (prefix assignments, export/declare arguments)
	redirs  []redir
}

type redir struct {
	op     string // ">", ">>" or "<"
	target string
}

// splitCommands parses a command line into its simple commands.
func splitCommands(line string) []simpleCmd {
	var out []simpleCmd
	splitInto(line, &out, 0)
	return out
}

func splitInto(line string, out *[]simpleCmd, depth int) {
	var words []string
	var redirs []redir
	var cur strings.Builder
	inWord := false
	pendingOp := "" // a redirection waiting for its target word
	endWord := func() {
		if !inWord {
			return
		}
		w := cur.String()
		cur.Reset()
		inWord = false
		if pendingOp != "" {
			redirs = append(redirs, redir{op: pendingOp, target: w})
			pendingOp = ""
			return
		}
		words = append(words, w)
	}
	endCmd := func() {
		endWord()
		pendingOp = ""
		if len(words) > 0 || len(redirs) > 0 {
			*out = append(*out, simplify(words, redirs, depth)...)
		}
		words, redirs = nil, nil
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\' && i+1 < len(rs):
			if rs[i+1] != '\n' {
				cur.WriteRune(rs[i+1])
				inWord = true
			}
			i++
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			cur.WriteString(string(rs[i+1 : min(j, len(rs))]))
			inWord = true
			i = j
		case c == '"':
			j := i + 1
			for j < len(rs) && rs[j] != '"' {
				if rs[j] == '\\' && j+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[j+1]) {
					j++
				}
				cur.WriteRune(rs[j])
				j++
			}
			inWord = true
			i = j
		case c == '#' && !inWord:
			// A comment runs to the end of the line.
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			endCmd()
		case c == ' ' || c == '\t':
			endWord()
		case c == ';' || c == '\n' || c == '|' || c == '&' || c == '(' || c == ')':
			if c == '&' && i+1 < len(rs) && rs[i+1] == '>' {
				// "&>file" and "&>>file": stdout and stderr to a file.
				endWord()
				i++
				pendingOp = ">"
				if i+1 < len(rs) && rs[i+1] == '>' {
					pendingOp = ">>"
					i++
				}
				continue
			}
			endCmd()
			if i+1 < len(rs) && (rs[i+1] == c) && (c == '|' || c == '&' || c == ';') {
				i++
			}
		case c == '>' || c == '<':
			// "2>" and "1>>": a word of digits right before is a file
			// descriptor, not an argument.
			if inWord && allDigits(cur.String()) {
				cur.Reset()
				inWord = false
			}
			endWord()
			op := string(c)
			if c == '>' && i+1 < len(rs) && rs[i+1] == '>' {
				op = ">>"
				i++
			} else if c == '>' && i+1 < len(rs) && rs[i+1] == '|' {
				i++
			} else if i+1 < len(rs) && rs[i+1] == '&' {
				// ">&2", "2>&1": duplication, no file.
				i++
				for i+1 < len(rs) && (rs[i+1] >= '0' && rs[i+1] <= '9' || rs[i+1] == '-') {
					i++
				}
				continue
			}
			pendingOp = op
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	endCmd()
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// wrappers run the command that follows them; their own options are
// skipped (those taking a value are listed).
var wrappers = map[string]map[string]bool{
	"sudo":    {"-u": true, "-g": true, "-C": true, "-D": true, "-h": true, "-p": true, "-r": true, "-t": true, "-U": true, "-T": true},
	"doas":    {"-u": true, "-C": true},
	"env":     {"-u": true, "-C": true, "-S": true},
	"nohup":   {},
	"nice":    {"-n": true},
	"ionice":  {"-c": true, "-n": true, "-p": true},
	"time":    {"-f": true, "-o": true},
	"command": {},
	"exec":    {"-a": true},
	"builtin": {},
	"stdbuf":  {"-i": true, "-o": true, "-e": true},
	"timeout": {"-s": true, "-k": true},
	"chroot":  {},
	"busybox": {},
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "ash": true}

// declarers take NAME=value arguments.
var declarers = map[string]bool{"export": true, "declare": true, "typeset": true, "readonly": true, "local": true}

func simplify(words []string, redirs []redir, depth int) []simpleCmd {
	c := simpleCmd{redirs: redirs}
	i := 0
	for i < len(words) && isAssign(words[i]) {
		c.assigns = append(c.assigns, words[i])
		i++
	}
	for i < len(words) {
		name := path.Base(words[i])
		opts, ok := wrappers[name]
		if !ok {
			break
		}
		i++
		skipNext := false
		for i < len(words) {
			w := words[i]
			switch {
			case skipNext:
				skipNext = false
			case name == "timeout" && !strings.HasPrefix(w, "-"):
				// The duration, then the command.
				i++
				goto next
			case name == "env" && isAssign(w):
				c.assigns = append(c.assigns, w)
			case name == "chroot" && !strings.HasPrefix(w, "-"):
				i++
				goto next
			case w == "--":
				i++
				goto next
			case strings.HasPrefix(w, "-") && len(w) > 1:
				skipNext = opts[w]
			default:
				goto next
			}
			i++
		}
	next:
	}
	if i >= len(words) {
		return []simpleCmd{c}
	}
	c.name = path.Base(words[i])
	c.args = words[i+1:]
	if declarers[c.name] {
		for _, a := range c.args {
			if isAssign(a) {
				c.assigns = append(c.assigns, a)
			}
		}
	}
	out := []simpleCmd{c}
	// "bash -c 'rm /var/log/x'": the string is a command line of its own.
	if shells[c.name] && depth < 3 {
		for j := 0; j+1 < len(c.args); j++ {
			if a := c.args[j]; strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "c") {
				splitInto(c.args[j+1], &out, depth+1)
				break
			}
		}
	}
	return out
}

func isAssign(w string) bool {
	k, _, ok := strings.Cut(w, "=")
	if !ok || k == "" {
		return false
	}
	for i, r := range k {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// operands are the arguments that are not options. Options of the form
// "-x VALUE" are not told apart from "-x FILE": a value taken for a file
// only matters when it looks like a protected path, which values do not.
func (c simpleCmd) operands() []string {
	var out []string
	dashdash := false
	for _, a := range c.args {
		if !dashdash && a == "--" {
			dashdash = true
			continue
		}
		if !dashdash && strings.HasPrefix(a, "-") && a != "-" {
			continue
		}
		out = append(out, a)
	}
	return out
}

func (c simpleCmd) has(flags ...string) bool {
	for _, a := range c.args {
		for _, f := range flags {
			if a == f {
				return true
			}
		}
	}
	return false
}

// writes lists the files the command overwrites (">") or appends to
// (">>") by redirection.
func (c simpleCmd) writes(op string) []string {
	var out []string
	for _, r := range c.redirs {
		if r.op == op {
			out = append(out, r.target)
		}
	}
	return out
}
