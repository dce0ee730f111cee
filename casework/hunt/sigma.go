package hunt

import (
	"context"
	"encoding/base64"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator/modifiers"
	"github.com/jejak-forensics/jejak/timeline"
)

// sigmaRule is a Sigma detection ready to run: each search compiled to
// field matchers over the event's Sigma field map, the condition kept as
// sigma-go parsed it and evaluated here lazily (a search is only evaluated
// when the condition needs it), and a log-source filter. sigma-go v0.6.6
// evaluates every search of every rule with per-comparison lower-casing;
// a hunt with SigmaHQ's 2,400 Windows rules was 1,000 events/s with it.
// Beyond sigma-go, this handles keywords, wildcards inside values,
// regular expressions compiled once, and the cased, exists, fieldref,
// windash and base64offset modifiers.
type sigmaRule struct {
	applies    func(*timeline.Event) bool
	searches   []*cSearch // in the order of names
	names      []string   // search names, sorted (for "1 of them" and patterns)
	conditions []cond
	// perRecord: an auditd rule, evaluated on each audit record of an
	// event (see sigma_auditd.go).
	perRecord bool
	// windows: the channels and IDs the rule can apply to, when its log
	// source says (see sigma_index.go); empty: asked for every event.
	windows []winSel
	// derived: for a rule whose log source is only "product: windows",
	// the channels and IDs its detection can match, when it says
	// (sigma_detect_index.go).
	derived []winSel
	// need: field texts of which the event must contain one for the rule
	// to match (see sigma_prefilter.go); nil: none known.
	need need
	// fields: every field of the Sigma field map its matchers read (a
	// fieldref's other field too), so a hunt builds only those.
	fields []string
}

// cSearch is one search: any of its event matchers, each all of its
// field matchers.
type cSearch struct {
	ems  [][]fieldMatch
	need need // what any match of the search requires
}

// fieldMatch tests one field of the event's Sigma field map.
type fieldMatch func(m map[string]any) bool

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
	sr.windows, _ = windowsSelectors(r.Logsource)
	for name := range r.Detection.Searches {
		sr.names = append(sr.names, name)
	}
	slices.Sort(sr.names)
	if len(sr.windows) == 0 {
		sr.derived, _ = detectionWindows(r, sr.names)
	}
	for _, name := range sr.names {
		s := r.Detection.Searches[name]
		cs := &cSearch{}
		var needs [][]need // per event matcher, per field matcher
		if len(s.Keywords) > 0 {
			// Keywords are a full-text OR over the event's text.
			vals := make([]any, len(s.Keywords))
			for i, k := range s.Keywords {
				vals[i] = k
			}
			fm, n, err := sr.rewrite(sigma.FieldMatcher{Field: keywordsField, Modifiers: []string{"contains"}, Values: vals})
			if err != nil {
				return nil, fmt.Errorf("search %s keywords: %w", name, err)
			}
			cs.ems = append(cs.ems, []fieldMatch{fm})
			needs = append(needs, []need{n})
		}
		for _, em := range s.EventMatchers {
			out := make([]fieldMatch, 0, len(em))
			ns := make([]need, 0, len(em))
			for _, fm := range em {
				f, n, err := sr.rewrite(fm)
				if err != nil {
					return nil, fmt.Errorf("search %s field %s: %w", name, fm.Field, err)
				}
				out = append(out, f)
				ns = append(ns, n)
			}
			cs.ems = append(cs.ems, out)
			needs = append(needs, ns)
		}
		if len(s.Keywords) == 0 && len(s.EventMatchers) == 0 {
			cs.ems = [][]fieldMatch{{}} // an empty search matches (sigma-go's reading)
		} else {
			cs.need = searchNeed(needs)
		}
		sr.searches = append(sr.searches, cs)
	}
	var condNeeds []need
	for _, c := range r.Detection.Conditions {
		cc, err := sr.compileCond(c.Search)
		if err != nil {
			return nil, err
		}
		sr.conditions = append(sr.conditions, cc)
		condNeeds = append(condNeeds, sr.condNeed(c.Search))
	}
	if len(sr.conditions) == 0 {
		return nil, fmt.Errorf("no condition")
	}
	if !sr.perRecord {
		// An auditd rule is evaluated on each record merged with the
		// event's fields, not on the field map the prefilter reads.
		sr.need = union(condNeeds...)
	}
	return sr, nil
}

// cond is a compiled condition: searches named by their index, so an
// event's evaluation needs no map.
type cond func(e *condEval) bool

func (sr *sigmaRule) compileCond(x sigma.SearchExpr) (cond, error) {
	subs := func(xs []sigma.SearchExpr) ([]cond, error) {
		out := make([]cond, len(xs))
		for i, n := range xs {
			c, err := sr.compileCond(n)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	// matching lists the searches a pattern names ("*" for them).
	matching := func(pattern string) []int {
		var idx []int
		for i, n := range sr.names {
			if ok, _ := path.Match(pattern, n); ok {
				idx = append(idx, i)
			}
		}
		return idx
	}
	anyOf := func(idx []int) cond {
		return func(e *condEval) bool {
			for _, i := range idx {
				if e.search(i) {
					return true
				}
			}
			return false
		}
	}
	allOf := func(idx []int) cond {
		return func(e *condEval) bool {
			for _, i := range idx {
				if !e.search(i) {
					return false
				}
			}
			return true
		}
	}
	switch x := x.(type) {
	case sigma.And:
		cs, err := subs(x)
		if err != nil {
			return nil, err
		}
		return func(e *condEval) bool {
			for _, c := range cs {
				if !c(e) {
					return false
				}
			}
			return true
		}, nil
	case sigma.Or:
		cs, err := subs(x)
		if err != nil {
			return nil, err
		}
		return func(e *condEval) bool {
			for _, c := range cs {
				if c(e) {
					return true
				}
			}
			return false
		}, nil
	case sigma.Not:
		c, err := sr.compileCond(x.Expr)
		if err != nil {
			return nil, err
		}
		return func(e *condEval) bool { return !c(e) }, nil
	case sigma.SearchIdentifier:
		i, found := slices.BinarySearch(sr.names, x.Name)
		if !found {
			// An undefined search is false (sigma-go's reading).
			return func(*condEval) bool { return false }, nil
		}
		return func(e *condEval) bool { return e.search(i) }, nil
	case sigma.OneOfThem:
		return anyOf(matching("*")), nil
	case sigma.AllOfThem:
		return allOf(matching("*")), nil
	case sigma.OneOfPattern:
		return anyOf(matching(x.Pattern)), nil
	case sigma.AllOfPattern:
		return allOf(matching(x.Pattern)), nil
	}
	return nil, fmt.Errorf("condition element %T is not supported", x)
}

// rewrite compiles a field matcher: its modifiers applied to the values
// once, the comparison done on the event's value (lower-cased once per
// event and field when the comparison is not cased).
func (sr *sigmaRule) rewrite(fm sigma.FieldMatcher) (fieldMatch, need, error) {
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
			return nil, nil, fmt.Errorf("modifier %q is not supported", m)
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
			return nil, nil, fmt.Errorf("value %v (%T) is not a scalar", v, v)
		}
		values = append(values, v)
	}
	if windash {
		values = expandWindash(values)
	}
	if b64offset {
		if comparator != "contains" {
			return nil, nil, fmt.Errorf("base64offset needs contains")
		}
		values = base64Offsets(values)
	} else if b64 {
		for i, v := range values {
			values[i] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
		}
	}
	field := fm.Field
	sr.fields = append(sr.fields, field)
	if fieldref {
		for _, other := range values {
			sr.fields = append(sr.fields, fmt.Sprint(other))
		}
	}
	switch {
	case exists:
		want := len(values) == 0 || fmt.Sprint(values[0]) == "true"
		return func(ev map[string]any) bool {
			_, ok := ev[field]
			return ok == want
		}, nil, nil
	case fieldref:
		return func(ev map[string]any) bool {
			a := str(ev[field])
			for _, other := range values {
				if b, ok := ev[fmt.Sprint(other)]; ok && strings.EqualFold(a, str(b)) {
					return true
				}
			}
			return false
		}, nil, nil
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
				return nil, nil, fmt.Errorf("regular expression %q: %w", expr, err)
			}
			res = append(res, re)
		}
		// Regular expressions are cased unless they say (?i).
		return matchAnyAll(field, all, true, len(res), nil, func(i int, s string) bool { return res[i].MatchString(s) }), nil, nil
	case "cidr", "gt", "gte", "lt", "lte":
		// sigma-go's comparators, as it evaluates them.
		cmp, err := modifiers.GetComparator(field, nil, comparator)
		if err != nil {
			return nil, nil, err
		}
		return func(ev map[string]any) bool {
			actual := ev[field]
			for _, v := range values {
				ok, _ := cmp(actual, v)
				if all && !ok {
					return false
				}
				if !all && ok {
					return true
				}
			}
			return all && len(values) > 0
		}, nil, nil
	}
	// Plain string comparisons with Sigma's wildcards and escapes; not
	// cased, the event's value is lower-cased once per event and field.
	fns := make([]func(string) bool, 0, len(values))
	null := make([]bool, 0, len(values))
	// The prefilter's requirement: a value's literal text in the field
	// (any value's, or, with all, the most selective one's). Cased
	// comparisons and null values give none.
	var n need
	known := !cased && len(values) > 0
	for _, v := range values {
		s, isStr := v.(string)
		if !isStr {
			s = fmt.Sprint(v)
		}
		p := parseWildcards(s)
		fns = append(fns, p.compile(comparator, cased))
		// "null" (a YAML null) matches a field the event lacks.
		isNull := comparator == "" && strings.EqualFold(s, "null")
		null = append(null, isNull)
		lit, ok := valueNeed(p)
		switch {
		case isNull:
			known = false
		case all && ok:
			n = better(n, need{{field, lit}})
		case !all && ok:
			n = append(n, litAlt{field, lit})
		case !all:
			known = false // this value requires nothing
		}
	}
	if !known {
		n = nil
	}
	return matchAnyAll(field, all, cased, len(fns), null, func(i int, s string) bool { return fns[i](s) }), n, nil
}

// matchAnyAll tests a field against n values (any, or all): on the value as
// is when cased, else on its lower-cased form. A field the event lacks
// matches only the values null marks.
func matchAnyAll(field string, all, cased bool, n int, null []bool, match func(i int, s string) bool) fieldMatch {
	return func(ev map[string]any) bool {
		var s string
		var ok bool
		if cased {
			var v any
			if v, ok = ev[field]; ok {
				s = str(v)
			}
		} else {
			s, ok = lowered(ev, field)
		}
		for i := 0; i < n; i++ {
			var m bool
			if ok {
				m = match(i, s)
			} else {
				m = null != nil && null[i]
			}
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

// lowerKey holds, in an event's field map, the lower-cased field values
// already computed for it: each is lower-cased once, whatever the number
// of rules reading it.
const lowerKey = "\x00jejak.lower"

func lowered(ev map[string]any, field string) (string, bool) {
	c, _ := ev[lowerKey].(map[string]string)
	if c == nil {
		c = make(map[string]string, 16)
		ev[lowerKey] = c
	}
	if s, ok := c[field]; ok {
		return s, true
	}
	v, ok := ev[field]
	if !ok {
		return "", false
	}
	s := strings.ToLower(str(v))
	c[field] = s
	return s, true
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

// compile returns a matcher for the pattern under a comparator. Not
// cased, the matcher expects the lower-cased value.
func (p pattern) compile(comparator string, cased bool) func(string) bool {
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
	if !inner {
		lit := pattern{parts: parts}.literal()
		if !cased {
			lit = strings.ToLower(lit)
		}
		switch {
		case anchorStart && anchorEnd:
			return func(s string) bool { return s == lit }
		case anchorStart:
			return func(s string) bool { return strings.HasPrefix(s, lit) }
		case anchorEnd:
			return func(s string) bool { return strings.HasSuffix(s, lit) }
		default:
			return func(s string) bool { return strings.Contains(s, lit) }
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
	return regexp.MustCompile(b.String()).MatchString
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

// matches evaluates the rule on an event already mapped to Sigma fields
// (sigmaEventInto); the map gains cached lower-cased values.
func (sr *sigmaRule) matches(ctx context.Context, m map[string]any) (bool, error) {
	if recs, ok := m[auditdRecordsField].([]map[string]string); ok && sr.perRecord {
		// One record at a time, over the event's common fields; the
		// record's own fields (type, a0, name, key...) win.
		for _, rec := range recs {
			rm := make(map[string]any, len(m)+len(rec))
			for k, v := range m {
				rm[k] = v
			}
			delete(rm, lowerKey) // its values are the event's, not the record's
			for k, v := range rec {
				rm[k] = v
			}
			if sr.matchOne(rm) {
				return true, nil
			}
		}
		return false, nil
	}
	return sr.matchOne(m), nil
}

func (sr *sigmaRule) matchOne(m map[string]any) bool {
	var buf [32]int8
	e := condEval{sr: sr, m: m}
	if len(sr.searches) <= len(buf) {
		e.state = buf[:len(sr.searches)]
	} else {
		e.state = make([]int8, len(sr.searches))
	}
	for _, c := range sr.conditions {
		if c(&e) {
			return true
		}
	}
	return false
}

// condEval evaluates a condition on one event, each search at most once
// and only when the condition reaches it.
type condEval struct {
	sr    *sigmaRule
	m     map[string]any
	state []int8 // per search: 0 not evaluated, 1 false, 2 true
}

func (e *condEval) search(i int) bool {
	switch e.state[i] {
	case 1:
		return false
	case 2:
		return true
	}
	r := false
ems:
	for _, em := range e.sr.searches[i].ems {
		for _, f := range em {
			if !f(e.m) {
				continue ems
			}
		}
		r = true
		break
	}
	e.state[i] = 1
	if r {
		e.state[i] = 2
	}
	return r
}
