package casework

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// KibanaObjects returns the Kibana saved objects of a case index
// (elastic.KibanaObjects: data views, searches, dashboard) with one more
// Discover search per built-in rule that has a raw query: a Sigma
// detection, written as KQL over the index's fields. A rule whose work is
// a Go analyzer (thresholds, windows, sequences) has no query to give, and
// is listed in the second result with why, as is a detection this
// translation does not cover.
func KibanaObjects(index string) ([]byte, []KibanaSkip, error) {
	rules, err := hunt.Builtin()
	if err != nil {
		return nil, nil, err
	}
	searches, skipped, err := RuleSearches(rules)
	if err != nil {
		return nil, nil, err
	}
	b, err := elastic.KibanaObjectsWith(index, searches)
	if err != nil {
		return nil, nil, err
	}
	// Checked here, not only in tests: a saved object naming a field the
	// templates do not map imports cleanly and then shows nothing.
	if err := elastic.CheckKibanaObjects(b); err != nil {
		return nil, nil, fmt.Errorf("kibana objects for %s: %w", index, err)
	}
	return b, skipped, nil
}

// KibanaSkip is a rule that got no saved search, and why.
type KibanaSkip struct {
	Rule   string `json:"rule"`
	Reason string `json:"reason"`
}

// ruleColumns are the columns of every rule's search before the fields the
// rule itself names.
var ruleColumns = []string{"host.name", "winlog.channel", "winlog.event_id", "user.name", "source.ip"}

// RuleSearches makes the saved search of each rule with a Sigma detection,
// in rule order.
func RuleSearches(rules []*hunt.Rule) ([]elastic.SavedSearch, []KibanaSkip, error) {
	var out []elastic.SavedSearch
	var skipped []KibanaSkip
	for _, r := range rules {
		if r.Kind() != "sigma" {
			skipped = append(skipped, KibanaSkip{r.ID, "Go analyzer " + r.Analyzer + ": no raw query"})
			continue
		}
		text, err := hunt.RuleText(r)
		if err != nil {
			return nil, nil, err
		}
		sr, err := sigma.ParseRule(text)
		if err != nil {
			return nil, nil, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		kql, fields, err := SigmaKQL(sr)
		if err != nil {
			skipped = append(skipped, KibanaSkip{r.ID, err.Error()})
			continue
		}
		cols := slices.Clone(ruleColumns)
		for _, f := range fields {
			if !slices.Contains(cols, f) {
				cols = append(cols, f)
			}
		}
		out = append(out, elastic.SavedSearch{
			ID:    "rule-" + strings.ToLower(r.ID),
			Title: "jejak rule " + r.ID + ": " + r.Title,
			// Kibana compares keyword values as written, where the
			// hunt's Sigma match ignores case; the description says so,
			// and that the hunt also applies the cut-off and yields_to.
			Description: "The detection of " + r.ID + " (" + r.Source + ", sha256 " + r.SHA256 + ") as KQL. " +
				"Values match case-sensitively here; the hunt matches them ignoring case, and keeps only rows from the cut-off on that no rule it yields to holds.",
			KQL:     kql,
			Columns: append(cols, "message"),
		})
	}
	return out, skipped, nil
}

// windowsSystemFields are the Sigma names of the EVTX System fields, as the
// hunt reads them (casework/hunt/sigmamap.go), and their index fields; every
// other Sigma field of a Windows event is an EventData value.
var windowsSystemFields = map[string]string{
	"Channel":       "winlog.channel",
	"EventID":       "winlog.event_id",
	"Provider_Name": "winlog.provider_name",
	"Computer":      "winlog.computer_name",
	"EventRecordID": "winlog.record_id",
}

// SigmaKQL writes a Sigma detection of Windows events (logsource product
// windows, no service or category: the channel is in the detection) as KQL
// over jejak's index, and returns the index fields it names. It is
// written by hand, for the subset jejak's own rules use: plain values and
// lists of them, null, and conditions of and/or/not, "1 of" and "all of"
// over names, patterns and them. Anything else (modifiers, keywords,
// aggregations, other log sources) is an error saying what, never a query
// that would match something else.
func SigmaKQL(r sigma.Rule) (string, []string, error) {
	ls := r.Logsource
	if ls.Product != "windows" || ls.Service != "" || ls.Category != "" {
		return "", nil, fmt.Errorf("log source %+v: only product windows with the channel in the detection is written as KQL", ls)
	}
	if len(r.Detection.Conditions) == 0 {
		return "", nil, fmt.Errorf("no condition")
	}
	names := make([]string, 0, len(r.Detection.Searches))
	for n := range r.Detection.Searches {
		names = append(names, n)
	}
	sort.Strings(names)
	w := kqlWriter{searches: r.Detection.Searches, names: names, fields: map[string]bool{}}
	var parts []string
	for _, c := range r.Detection.Conditions {
		if c.Aggregation != nil {
			return "", nil, fmt.Errorf("condition with an aggregation")
		}
		s, err := w.expr(c.Search)
		if err != nil {
			return "", nil, err
		}
		parts = append(parts, s)
	}
	fields := make([]string, 0, len(w.fields))
	for f := range w.fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	if len(parts) == 1 {
		return parts[0], fields, nil
	}
	return "(" + strings.Join(parts, ") or (") + ")", fields, nil
}

type kqlWriter struct {
	searches map[string]sigma.Search
	names    []string // sorted, so the query is the same on every run
	fields   map[string]bool
}

func (w *kqlWriter) expr(e sigma.SearchExpr) (string, error) {
	switch x := e.(type) {
	case sigma.And:
		return w.join(x, " and ")
	case sigma.Or:
		return w.join(x, " or ")
	case sigma.Not:
		s, err := w.expr(x.Expr)
		return "not " + s, err
	case sigma.SearchIdentifier:
		return w.search(x.Name)
	case sigma.OneOfIdentifier:
		return w.search(x.Ident.Name)
	case sigma.AllOfIdentifier:
		return w.search(x.Ident.Name)
	case sigma.OneOfPattern:
		return w.pattern(x.Pattern, " or ")
	case sigma.AllOfPattern:
		return w.pattern(x.Pattern, " and ")
	case sigma.OneOfThem:
		return w.pattern("*", " or ")
	case sigma.AllOfThem:
		return w.pattern("*", " and ")
	}
	return "", fmt.Errorf("condition %T is not written as KQL", e)
}

func (w *kqlWriter) join(xs []sigma.SearchExpr, op string) (string, error) {
	parts := make([]string, len(xs))
	for i, x := range xs {
		s, err := w.expr(x)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return "(" + strings.Join(parts, op) + ")", nil
}

// pattern is "1 of"/"all of" a name pattern: the searches whose names it
// matches (Sigma's patterns are globs on the name), joined by op.
func (w *kqlWriter) pattern(p, op string) (string, error) {
	var parts []string
	for _, n := range w.names {
		if ok, err := path.Match(p, n); err != nil {
			return "", fmt.Errorf("pattern %q: %w", p, err)
		} else if ok {
			s, err := w.search(n)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("pattern %q names no search", p)
	}
	if len(parts) == 1 {
		return parts[0], nil
	}
	return "(" + strings.Join(parts, op) + ")", nil
}

// search is one named search: its maps of field matchers, or'ed; each
// map's matchers and'ed.
func (w *kqlWriter) search(name string) (string, error) {
	s, ok := w.searches[name]
	if !ok {
		return "", fmt.Errorf("condition names search %q, which the detection lacks", name)
	}
	if len(s.Keywords) > 0 {
		return "", fmt.Errorf("search %q: keyword searches are not written as KQL", name)
	}
	var ors []string
	for _, m := range s.EventMatchers {
		var ands []string
		for _, f := range m {
			c, err := w.matcher(f)
			if err != nil {
				return "", fmt.Errorf("search %q: %w", name, err)
			}
			ands = append(ands, c)
		}
		if len(ands) == 0 {
			return "", fmt.Errorf("search %q: an empty map", name)
		}
		ors = append(ors, "("+strings.Join(ands, " and ")+")")
	}
	if len(ors) == 1 {
		return ors[0], nil
	}
	return "(" + strings.Join(ors, " or ") + ")", nil
}

// matcher is one field: its values or'ed, each quoted (a quoted KQL value
// is the whole value, as a plain Sigma value is); null is "no value".
func (w *kqlWriter) matcher(f sigma.FieldMatcher) (string, error) {
	if len(f.Modifiers) > 0 {
		return "", fmt.Errorf("field %s: modifiers %v are not written as KQL", f.Field, f.Modifiers)
	}
	field, ok := windowsSystemFields[f.Field]
	if !ok {
		field = "winlog.event_data." + f.Field
	}
	w.fields[field] = true
	var vals []string
	for _, v := range f.Values {
		switch x := v.(type) {
		case nil:
			if len(f.Values) > 1 {
				return "", fmt.Errorf("field %s: null among other values", f.Field)
			}
			return "not " + field + ":*", nil
		case string:
			vals = append(vals, elastic.KQLQuote(x))
		case int:
			vals = append(vals, elastic.KQLQuote(strconv.Itoa(x)))
		default:
			return "", fmt.Errorf("field %s: value %v (%T) is not written as KQL", f.Field, v, v)
		}
	}
	if len(vals) == 0 {
		return "", fmt.Errorf("field %s: no value", f.Field)
	}
	if len(vals) == 1 {
		return field + ":" + vals[0], nil
	}
	return field + ":(" + strings.Join(vals, " or ") + ")", nil
}
