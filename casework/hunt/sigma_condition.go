package hunt

import (
	"path"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// sigma-go v0.6.6's condition lexer stops at a wildcard after a digit
// ("1 of selection_5136_*", "all of set1*": "invalid token '*'"), a form
// SigmaHQ uses. expandConditionWildcards rewrites each "1 of X*" / "any of
// X*" / "all of X*" into the explicit (a or b) / (a and b) over the
// detection's search names, which is what the wildcard means, and returns
// the rule text to parse instead; ok is false when nothing was rewritten.
func expandConditionWildcards(b []byte) ([]byte, bool) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, false
	}
	det := mapValue(doc.Content[0], "detection")
	if det == nil || det.Kind != yaml.MappingNode {
		return nil, false
	}
	var names []string
	for i := 0; i+1 < len(det.Content); i += 2 {
		if k := det.Content[i].Value; k != "condition" && k != "timeframe" {
			names = append(names, k)
		}
	}
	cond := mapValue(det, "condition")
	if cond == nil {
		return nil, false
	}
	changed := false
	rewrite := func(n *yaml.Node) {
		if n.Kind != yaml.ScalarNode {
			return
		}
		out := quantified.ReplaceAllStringFunc(n.Value, func(m string) string {
			sm := quantified.FindStringSubmatch(m)
			var hit []string
			for _, name := range names {
				if ok, _ := path.Match(sm[2], name); ok {
					hit = append(hit, name)
				}
			}
			if len(hit) == 0 {
				return m // left for the parser to report
			}
			changed = true
			op := " or "
			if sm[1] == "all" {
				op = " and "
			}
			return "(" + strings.Join(hit, op) + ")"
		})
		n.Value = out
	}
	if cond.Kind == yaml.SequenceNode {
		for _, c := range cond.Content {
			rewrite(c)
		}
	} else {
		rewrite(cond)
	}
	if !changed {
		return nil, false
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, false
	}
	return out, true
}

var quantified = regexp.MustCompile(`\b(1|any|all) of ([A-Za-z0-9_\-]*\*[A-Za-z0-9_\-*]*)`)

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
