package hunt

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"
	"github.com/jejak-forensics/jejak/timeline"
)

// sigmaRule is a Sigma detection ready to run: the sigma-go evaluator for
// the condition and the plain comparisons, a log-source filter, and the
// predicates this package evaluates itself because sigma-go v0.6.6 does not
// (keywords, wildcards inside values, regular expressions compiled once,
// and the cased, exists, fieldref, windash and base64offset modifiers).
type sigmaRule struct {
	eval    *evaluator.RuleEvaluator
	applies func(*timeline.Event) bool
	preds   []predicate
	// perRecord: an auditd rule, evaluated on each audit record of an
	// event (see sigma_auditd.go).
	perRecord bool
}

// predicate is a field matcher evaluated here; its result is put in the
// event under key, where the rewritten matcher expects "true".
type predicate struct {
	key   string
	match func(ev map[string]any) bool
}

// keywordsField carries the text Sigma keyword searches look in.
const keywordsField = "jejak.keywords"

func compileSigma(r sigma.Rule) (*sigmaRule, error) {
	applies, err := logsourceFilter(r.Logsource)
	if err != nil {
		return nil, err
	}
	for _, c := range r.Detection.Conditions {
		if c.Aggregation != nil {
			return nil, fmt.Errorf("condition with an aggregation (count, near) is not supported: a jejak analyzer does sequences")
		}
	}
	sr := &sigmaRule{applies: applies,
		perRecord: strings.EqualFold(r.Logsource.Product, "linux") && strings.EqualFold(r.Logsource.Service, "auditd")}
	// Rewrite a copy: the parsed rule's maps are not shared with anyone,
	// but being explicit keeps the evaluator's input obvious.
	searches := make(map[string]sigma.Search, len(r.Detection.Searches))
	names := make([]string, 0, len(r.Detection.Searches))
	for name := range r.Detection.Searches {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := r.Detection.Searches[name]
		var ems []sigma.EventMatcher
		if len(s.Keywords) > 0 {
			// Keywords are a full-text OR over the event's text.
			vals := make([]any, len(s.Keywords))
			for i, k := range s.Keywords {
				vals[i] = k
			}
			nfm, err := sr.rewrite(r.ID+"/"+name, sigma.FieldMatcher{Field: keywordsField, Modifiers: []string{"contains"}, Values: vals})
			if err != nil {
				return nil, fmt.Errorf("search %s keywords: %w", name, err)
			}
			ems = append(ems, sigma.EventMatcher{nfm})
		}
		for _, em := range s.EventMatchers {
			out := make(sigma.EventMatcher, 0, len(em))
			for _, fm := range em {
				nfm, err := sr.rewrite(r.ID+"/"+name, fm)
				if err != nil {
					return nil, fmt.Errorf("search %s field %s: %w", name, fm.Field, err)
				}
				out = append(out, nfm)
			}
			ems = append(ems, out)
		}
		searches[name] = sigma.Search{EventMatchers: ems}
	}
	r.Detection.Searches = searches
	sr.eval = evaluator.ForRule(r)
	return sr, nil
}

// rewrite returns a matcher sigma-go evaluates faithfully: unchanged when
// it can, else a predicate of ours behind a synthetic field.
func (sr *sigmaRule) rewrite(where string, fm sigma.FieldMatcher) (sigma.FieldMatcher, error) {
	var (
		comparator             string // "", contains, startswith, endswith, re, cidr, gt, gte, lt, lte
		all, cased, windash    bool
		b64, b64offset, exists bool
		fieldref               bool
		reFlags                string
	)
	for _, m := range fm.Modifiers {
		switch m {
		case "contains", "startswith", "endswith", "re", "cidr", "gt", "gte", "lt", "lte":
			comparator = m
		case "all":
			all = true
		case "cased":
			cased = true
		case "windash":
			windash = true
		case "base64":
			b64 = true
		case "base64offset":
			b64offset = true
		case "exists":
			exists = true
		case "fieldref":
			fieldref = true
		case "i", "m", "s":
			reFlags += m
		default:
			return fm, fmt.Errorf("modifier %q is not supported", m)
		}
	}
	values := make([]any, 0, len(fm.Values))
	for _, v := range fm.Values {
		if v == nil {
			v = "null" // sigma-go's spelling of "field absent"
		}
		switch v.(type) {
		case string, int, float64, bool:
		default:
			return fm, fmt.Errorf("value %v (%T) is not a scalar", v, v)
		}
		values = append(values, v)
	}
	if windash {
		values = expandWindash(values)
	}
	if b64offset {
		if comparator != "contains" {
			return fm, fmt.Errorf("base64offset needs contains")
		}
		values = base64Offsets(values)
	} else if b64 {
		for i, v := range values {
			values[i] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
		}
	}
	field := fm.Field
	switch {
	case exists:
		want := len(values) == 0 || fmt.Sprint(values[0]) == "true"
		return sr.pred(where, func(ev map[string]any) bool {
			_, ok := ev[field]
			return ok == want
		}), nil
	case fieldref:
		return sr.pred(where, func(ev map[string]any) bool {
			a := str(ev[field])
			for _, other := range values {
				if b, ok := ev[fmt.Sprint(other)]; ok && strings.EqualFold(a, str(b)) {
					return true
				}
			}
			return false
		}), nil
	}
	switch comparator {
	case "re":
		res := make([]*regexp.Regexp, 0, len(values))
		for _, v := range values {
			expr := fmt.Sprint(v)
			if reFlags != "" {
				expr = "(?" + reFlags + ")" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				return fm, fmt.Errorf("regular expression %q: %w", expr, err)
			}
			res = append(res, re)
		}
		return sr.pred(where, matchAnyAll(field, all, len(res), func(i int, s string) bool { return res[i].MatchString(s) })), nil
	case "cidr", "gt", "gte", "lt", "lte":
		return sigma.FieldMatcher{Field: field, Modifiers: fm.Modifiers, Values: values}, nil
	}
	// Plain string comparisons with Sigma's wildcards and escapes.
	plain := true
	type cmpFn func(string) bool
	fns := make([]cmpFn, 0, len(values))
	outVals := make([]any, 0, len(values))
	mods := []string{}
	if comparator != "" {
		mods = append(mods, comparator)
	}
	for _, v := range values {
		s, isStr := v.(string)
		if !isStr {
			s = fmt.Sprint(v)
		}
		pat := parseWildcards(s)
		fn, native := pat.compile(comparator, cased)
		fns = append(fns, fn)
		if !native || !isStr && cased {
			plain = false
		}
		// sigma-go reads any value wrapped in % as a placeholder to expand
		// (and errs without an expander); Sigma does that only under the
		// expand modifier, so %SystemRoot%\x or %temp% is literal text here.
		if isStr && len(s) > 1 && strings.HasPrefix(s, "%") && strings.HasSuffix(s, "%") {
			plain = false
		}
		if isStr {
			outVals = append(outVals, pat.literal())
		} else {
			outVals = append(outVals, v)
		}
	}
	if plain {
		if all {
			mods = append(mods, "all")
		}
		return sigma.FieldMatcher{Field: field, Modifiers: mods, Values: outVals}, nil
	}
	return sr.pred(where, matchAnyAll(field, all, len(fns), func(i int, s string) bool { return fns[i](s) })), nil
}

func (sr *sigmaRule) pred(where string, f func(map[string]any) bool) sigma.FieldMatcher {
	key := "jejak.predicate:" + where + "#" + strconv.Itoa(len(sr.preds))
	sr.preds = append(sr.preds, predicate{key: key, match: f})
	return sigma.FieldMatcher{Field: key, Values: []any{"true"}}
}

func matchAnyAll(field string, all bool, n int, match func(i int, s string) bool) func(map[string]any) bool {
	return func(ev map[string]any) bool {
		v, ok := ev[field]
		if !ok {
			return false
		}
		s := str(v)
		for i := 0; i < n; i++ {
			m := match(i, s)
			if all && !m {
				return false
			}
			if !all && m {
				return true
			}
		}
		return all && n > 0
	}
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// pattern is a Sigma string value: literal text and the wildcards * and ?.
type pattern struct {
	parts []patPart
}

type patPart struct {
	wild byte // 0 for literal text, else '*' or '?'
	text string
}

// parseWildcards reads Sigma's escaping: a backslash escapes *, ? and a
// backslash; any other backslash is itself (so C:\Windows\ needs no
// doubling), as pySigma reads it.
func parseWildcards(s string) pattern {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.parts = append(p.parts, patPart{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			p.parts = append(p.parts, patPart{wild: c})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

func (p pattern) literal() string {
	var b strings.Builder
	for _, x := range p.parts {
		if x.wild == 0 {
			b.WriteString(x.text)
		}
	}
	return b.String()
}

// compile returns a matcher for the pattern under a comparator, and
// whether sigma-go's own comparator on literal() is equivalent (no inner
// wildcards, not case-sensitive, and leading/trailing stars folded into
// contains/startswith/endswith are not needed).
func (p pattern) compile(comparator string, cased bool) (func(string) bool, bool) {
	parts := p.parts
	anchorStart := comparator == "" || comparator == "startswith"
	anchorEnd := comparator == "" || comparator == "endswith"
	for len(parts) > 0 && parts[0].wild == '*' {
		anchorStart = false
		parts = parts[1:]
	}
	for len(parts) > 0 && parts[len(parts)-1].wild == '*' {
		anchorEnd = false
		parts = parts[:len(parts)-1]
	}
	inner := false
	for _, x := range parts {
		if x.wild != 0 {
			inner = true
		}
	}
	lit := pattern{parts: parts}.literal()
	// The stars at the ends changed the comparator: sigma-go cannot say
	// that with the original one, so a predicate is used.
	effective := map[[2]bool]string{{true, true}: "", {true, false}: "startswith", {false, true}: "endswith", {false, false}: "contains"}[[2]bool{anchorStart, anchorEnd}]
	native := !inner && !cased && effective == comparator
	if !inner {
		fold := func(s string) string { return s }
		if !cased {
			fold = strings.ToLower
			lit = strings.ToLower(lit)
		}
		switch effective {
		case "":
			return func(s string) bool { return fold(s) == lit }, native
		case "startswith":
			return func(s string) bool { return strings.HasPrefix(fold(s), lit) }, native
		case "endswith":
			return func(s string) bool { return strings.HasSuffix(fold(s), lit) }, native
		default:
			return func(s string) bool { return strings.Contains(fold(s), lit) }, native
		}
	}
	var b strings.Builder
	b.WriteString("(?s)")
	if !cased {
		b.WriteString("(?i)")
	}
	if anchorStart {
		b.WriteString("^")
	}
	for _, x := range parts {
		switch x.wild {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(x.text))
		}
	}
	if anchorEnd {
		b.WriteString("$")
	}
	re := regexp.MustCompile(b.String())
	return re.MatchString, false
}

// windashChars are the characters Windows command lines accept where a
// dash introduces an option (pySigma's windash set).
var windashChars = []string{"-", "/", "–", "—", "―"}

var windashRE = regexp.MustCompile(`(^|[^\w])[-/](\w)`)

// expandWindash writes each value with every option dash replaced by each
// of the dash-like characters (all options of one value alike).
func expandWindash(values []any) []any {
	var out []any
	for _, v := range values {
		s := fmt.Sprint(v)
		if !windashRE.MatchString(s) {
			out = append(out, v)
			continue
		}
		for _, d := range windashChars {
			out = append(out, windashRE.ReplaceAllString(s, "${1}"+escapeRepl(d)+"${2}"))
		}
	}
	return out
}

func escapeRepl(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// base64Offsets gives the three encodings of each value that appear in a
// longer base64 text depending on its alignment (Sigma's base64offset).
func base64Offsets(values []any) []any {
	var out []any
	for _, v := range values {
		s := fmt.Sprint(v)
		start := []int{0, 2, 3}
		end := []int{0, -3, -2}
		for i := 0; i < 3; i++ {
			enc := base64.StdEncoding.EncodeToString(append([]byte(strings.Repeat(" ", i)), s...))
			tail := (len(s) + i) % 3
			e := len(enc)
			if tail != 0 {
				e += end[tail]
			}
			if start[i] < e {
				out = append(out, enc[start[i]:e])
			}
		}
	}
	return out
}

// matches evaluates the rule on an event already mapped to Sigma fields.
func (sr *sigmaRule) matches(ctx context.Context, m map[string]any) (bool, error) {
	if recs, ok := m[auditdRecordsField].([]map[string]string); ok && sr.perRecord {
		// One record at a time, over the event's common fields; the
		// record's own fields (type, a0, name, key...) win.
		for _, rec := range recs {
			rm := make(map[string]any, len(m)+len(rec))
			for k, v := range m {
				rm[k] = v
			}
			for k, v := range rec {
				rm[k] = v
			}
			ok, err := sr.matchOne(ctx, rm)
			if ok || err != nil {
				return ok, err
			}
		}
		return false, nil
	}
	return sr.matchOne(ctx, m)
}

func (sr *sigmaRule) matchOne(ctx context.Context, m map[string]any) (bool, error) {
	for _, p := range sr.preds {
		if p.match(m) {
			m[p.key] = "true"
		} else {
			delete(m, p.key)
		}
	}
	res, err := sr.eval.Matches(ctx, m)
	if err != nil {
		return false, err
	}
	return res.Match, nil
}
