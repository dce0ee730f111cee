package query

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// maxTokenLength is the standard tokenizer's default: longer words are
// split into pieces of this many characters.
const maxTokenLength = 255

// Tokens returns the terms Elasticsearch's standard analyzer makes of s:
// Unicode (UAX #29) word segments that hold a letter, digit or emoji,
// lowercased. So "Failed password for root from 10.0.0.5 port 22 ssh2"
// gives failed, password, for, root, from, 10.0.0.5, port, 22, ssh2.
// uniseg implements the same Unicode word-boundary rules Lucene's
// StandardTokenizer follows; writing them again would only add bugs.
func Tokens(s string) []string {
	var out []string
	state := -1
	for len(s) > 0 {
		var w string
		w, s, state = uniseg.FirstWordInString(s, state)
		if !isWordToken(w) {
			continue
		}
		w = strings.ToLower(w)
		for utf8.RuneCountInString(w) > maxTokenLength {
			i := 0
			for n := 0; n < maxTokenLength; n++ {
				_, size := utf8.DecodeRuneInString(w[i:])
				i += size
			}
			out = append(out, w[:i])
			w = w[i:]
		}
		out = append(out, w)
	}
	return out
}

func isWordToken(w string) bool {
	for _, r := range w {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || r >= 0x1f000 && r <= 0x1faff || r >= 0x2600 && r <= 0x27bf {
			return true
		}
	}
	return false
}

// wildMatch says whether s matches the pattern given as the literal
// segments around each '*'.
func wildMatch(s string, segs []string) bool {
	if len(segs) == 1 {
		return s == segs[0]
	}
	if !strings.HasPrefix(s, segs[0]) {
		return false
	}
	s = s[len(segs[0]):]
	last := segs[len(segs)-1]
	for _, seg := range segs[1 : len(segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// wildMatchJoined is wildMatch with the segments joined by sepSeg, as
// kql_wild gets them: it runs once per row, so it walks the joined
// segments instead of splitting them into a new slice each time.
func wildMatchJoined(s, segs string) bool {
	first, rest, many := strings.Cut(segs, sepSeg)
	if !many {
		return s == first
	}
	if !strings.HasPrefix(s, first) {
		return false
	}
	s = s[len(first):]
	for {
		seg, more, ok := strings.Cut(rest, sepSeg)
		if !ok {
			// seg is the last segment: it must end s.
			return len(s) >= len(seg) && strings.HasSuffix(s, seg)
		}
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s, rest = s[i+len(seg):], more
	}
}

// Separators inside the arguments of the SQL functions: unit separator
// between tokens or patterns, record separator between the segments of a
// wildcard pattern. Neither can be part of a token.
const (
	sepList = "\x1f"
	sepSeg  = "\x1e"
)

// textMatch is the full-text test behind kql_text: mode "any" (a match
// query: any token), "phrase" (match_phrase: the tokens in a row) or
// "wild" (a token matches one of the patterns).
func textMatch(value, mode, arg string) bool {
	toks := Tokens(value)
	switch mode {
	case "any":
		want := strings.Split(arg, sepList)
		for _, t := range toks {
			for _, w := range want {
				if t == w {
					return true
				}
			}
		}
	case "phrase":
		want := strings.Split(arg, sepList)
	outer:
		for i := 0; i+len(want) <= len(toks); i++ {
			for j, w := range want {
				if toks[i+j] != w {
					continue outer
				}
			}
			return true
		}
	case "wild":
		for _, p := range strings.Split(arg, sepList) {
			for _, t := range toks {
				if wildMatchJoined(t, p) {
					return true
				}
			}
		}
	}
	return false
}

// ipIn is the test behind kql_ip: value parses as an IP (Elasticsearch's
// ip field ignores a malformed one: it matches nothing) and lies in
// [lo, hi] compared as 16-byte addresses.
func ipIn(value string, lo, hi []byte) bool {
	a, err := netip.ParseAddr(value)
	if err != nil || a.Zone() != "" {
		return false
	}
	b := a.As16()
	return bytes.Compare(b[:], lo) >= 0 && bytes.Compare(b[:], hi) <= 0
}

// SQLFunc is a scalar function the compiled SQL calls. The SQLite store
// registers each with its driver; the functions are deterministic.
type SQLFunc struct {
	Name  string
	NArgs int
	// Fn gets and returns driver values (nil, int64, float64, string,
	// []byte).
	Fn func(args []any) (any, error)
}

// SQLFuncs are the functions SQL() may call: kql_text(value, mode, arg),
// kql_wild(value, segments) and kql_ip(value, lo, hi). Each returns 0 or 1
// (0 for a NULL value). SQL() passes the value as a BLOB, which the driver
// hands over whole (a TEXT argument ends at its first NUL).
func SQLFuncs() []SQLFunc {
	return []SQLFunc{
		{Name: "kql_text", NArgs: 3, Fn: func(a []any) (any, error) {
			v, ok := textArg(a[0])
			mode, _ := a[1].(string)
			arg, _ := a[2].(string)
			if !ok {
				return int64(0), nil
			}
			return b2i(textMatch(v, mode, arg)), nil
		}},
		{Name: "kql_wild", NArgs: 2, Fn: func(a []any) (any, error) {
			v, ok := textArg(a[0])
			arg, _ := a[1].(string)
			if !ok {
				return int64(0), nil
			}
			return b2i(wildMatchJoined(v, arg)), nil
		}},
		{Name: "kql_ip", NArgs: 3, Fn: func(a []any) (any, error) {
			v, ok := textArg(a[0])
			lo, _ := a[1].([]byte)
			hi, _ := a[2].([]byte)
			if !ok {
				return int64(0), nil
			}
			if len(lo) != 16 || len(hi) != 16 {
				return nil, fmt.Errorf("kql_ip: bounds must be 16 bytes")
			}
			return b2i(ipIn(v, lo, hi)), nil
		}},
	}
}

// textArg is a function's value argument as a string: a BLOB (as SQL()
// passes values) or a TEXT; ok is false for NULL and numbers.
func textArg(a any) (v string, ok bool) {
	switch a := a.(type) {
	case string:
		return a, true
	case []byte:
		return string(a), true
	}
	return "", false
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
