package hunt

import (
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bradleyjkemp/sigma-go"
)

// A rule whose log source is only "product: windows" was asked for every
// Windows event, although its detection often names the channel and event
// IDs it can match: the built-in Remote Desktop rule (JEJAK-AUTH-06) reads
// three channels and four IDs, and asking it about every other record was
// a sixth of an EVTX hunt's CPU. detectionWindows derives those channels
// and IDs from the detection, as a necessary condition only: a rule is
// indexed under them (sigma_index.go) only when every way the condition
// can be true requires a Channel equal to one of them, and, where given, an
// EventID among them. Anything else (a modifier, a wildcard, a keyword
// search, NOT, a search without Channel) derives nothing, and the rule is
// asked for every Windows event as before. The rule's own evaluation still
// decides.

// detectionWindows returns the channels (lower-case) and IDs a Windows
// rule's detection can match, ok false when it cannot say.
func detectionWindows(r sigma.Rule, names []string) ([]winSel, bool) {
	if !strings.EqualFold(r.Logsource.Product, "windows") || r.Logsource.Service != "" || r.Logsource.Category != "" {
		return nil, false
	}
	var all []winSel
	for _, c := range r.Detection.Conditions {
		sels, ok := condWindows(r, names, c.Search)
		if !ok {
			return nil, false
		}
		all = append(all, sels...)
	}
	return all, len(all) > 0
}

func condWindows(r sigma.Rule, names []string, x sigma.SearchExpr) ([]winSel, bool) {
	matching := func(pattern string) []string {
		var out []string
		for _, n := range names {
			if ok, _ := path.Match(pattern, n); ok {
				out = append(out, n)
			}
		}
		return out
	}
	anyOf := func(ns []string) ([]winSel, bool) {
		if len(ns) == 0 {
			return nil, false
		}
		var out []winSel
		for _, n := range ns {
			s, ok := searchWindows(r.Detection.Searches[n])
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	}
	allOf := func(ns []string) ([]winSel, bool) {
		// Every one must match: what any one of them requires.
		for _, n := range ns {
			if s, ok := searchWindows(r.Detection.Searches[n]); ok {
				return s, true
			}
		}
		return nil, false
	}
	switch x := x.(type) {
	case sigma.And:
		for _, c := range x {
			if s, ok := condWindows(r, names, c); ok {
				return s, true
			}
		}
	case sigma.Or:
		var out []winSel
		for _, c := range x {
			s, ok := condWindows(r, names, c)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, len(out) > 0
	case sigma.SearchIdentifier:
		if _, found := slices.BinarySearch(names, x.Name); found {
			return searchWindows(r.Detection.Searches[x.Name])
		}
	case sigma.OneOfThem:
		return anyOf(matching("*"))
	case sigma.AllOfThem:
		return allOf(matching("*"))
	case sigma.OneOfPattern:
		return anyOf(matching(x.Pattern))
	case sigma.AllOfPattern:
		return allOf(matching(x.Pattern))
	}
	return nil, false // NOT, an undefined search
}

// searchWindows: a search matches when one of its event matchers does; each
// must name its channel.
func searchWindows(s sigma.Search) ([]winSel, bool) {
	if len(s.Keywords) > 0 || len(s.EventMatchers) == 0 {
		return nil, false
	}
	var out []winSel
	for _, em := range s.EventMatchers {
		var chans []string
		var ids []int
		idsOK := false
		for _, fm := range em {
			switch fm.Field {
			case "Channel":
				if c, ok := plainChannels(fm); ok && chans == nil {
					chans = c
				}
			case "EventID":
				if i, ok := plainIDs(fm); ok && !idsOK {
					ids, idsOK = i, true
				}
			}
		}
		if chans == nil {
			return nil, false
		}
		for _, c := range chans {
			sel := winSel{channel: c}
			if idsOK {
				sel.ids = ids
			}
			out = append(out, sel)
		}
	}
	return out, true
}

// plainChannels: a Channel matcher without modifiers whose values are
// ASCII text without wildcards (compared as lower-cased text).
func plainChannels(fm sigma.FieldMatcher) ([]string, bool) {
	if len(fm.Modifiers) > 0 || len(fm.Values) == 0 {
		return nil, false
	}
	var out []string
	for _, v := range fm.Values {
		s, ok := v.(string)
		if !ok || s == "" || strings.ContainsAny(s, `*?\`) || !ascii(s) {
			return nil, false
		}
		out = append(out, strings.ToLower(s))
	}
	return out, true
}

// plainIDs: an EventID matcher without modifiers whose values are integers
// written as the field map writes them (strconv.Itoa).
func plainIDs(fm sigma.FieldMatcher) ([]int, bool) {
	if len(fm.Modifiers) > 0 || len(fm.Values) == 0 {
		return nil, false
	}
	var out []int
	for _, v := range fm.Values {
		switch v := v.(type) {
		case int:
			out = append(out, v)
		case string:
			n, err := strconv.Atoi(v)
			if err != nil || strconv.Itoa(n) != v {
				return nil, false
			}
			out = append(out, n)
		default:
			return nil, false
		}
	}
	return out, true
}

// plainChannel: the index compares an event's channel lower-cased with
// strings.ToLower; the matcher's case folding differs from that only
// outside ASCII, where the rule is asked anyway.
func plainChannel(c string) bool { return c != "" && utf8.ValidString(c) && ascii(c) }
