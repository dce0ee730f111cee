package hunt

import (
	"fmt"
	"slices"
	"strings"
)

// One attack, one finding. Where two built-in rules see the same records
// (a password spray is also many failed logons from one source; an RDP
// logon's 1149 is also a row of its session chain), the rule that
// describes the activity less well names the other in its rule file:
//
//	yields_to: [JEJAK-AUTH-07]
//
// The named rule's findings then claim their event rows, and the yielding
// rule does not count a claimed row: its thresholds are judged on the rows
// left, and a finding it still raises says how many rows it left to the
// other rule. Nothing is dropped after the fact: a reader of the two rule
// files sees why a row raised one of them and not the other.

// yieldingAnalyzers are the analyzers that can leave rows to another rule
// (Sigma detections always can). A rule file asking it of another analyzer
// is refused, so a yields_to line never promises what the code does not do.
var yieldingAnalyzers = map[string]bool{
	"brute-force":      true,
	"kerberos-preauth": true,
}

// checkYields validates a rule's yields_to list as written.
func checkYields(r *Rule) error {
	if len(r.YieldsTo) == 0 {
		return nil
	}
	if r.Analyzer != "" && !yieldingAnalyzers[r.Analyzer] {
		return fmt.Errorf("analyzer %q cannot yield rows to another rule (yields_to)", r.Analyzer)
	}
	for _, id := range r.YieldsTo {
		if id == "" || id == r.ID {
			return fmt.Errorf("yields_to %q: a rule yields to another rule", id)
		}
	}
	return nil
}

// finisher is one loaded rule's end of the hunt.
type finisher struct {
	rule   *Rule
	finish func() []Finding
}

// finishOrder puts every rule after the rules it yields to, so their claims
// are known when it judges its rows; otherwise the rule order is kept. A
// rule yielding to a rule not loaded yields nothing. A cycle is an error.
func finishOrder(fs []finisher) ([]finisher, error) {
	loaded := map[string]bool{}
	for _, f := range fs {
		loaded[f.rule.ID] = true
	}
	done := map[string]bool{}
	out := make([]finisher, 0, len(fs))
	for len(out) < len(fs) {
		progress := false
		for _, f := range fs {
			if done[f.rule.ID] {
				continue
			}
			ready := true
			for _, id := range f.rule.YieldsTo {
				if loaded[id] && !done[id] {
					ready = false
					break
				}
			}
			if ready {
				done[f.rule.ID] = true
				out = append(out, f)
				progress = true
			}
		}
		if !progress {
			var stuck []string
			for _, f := range fs {
				if !done[f.rule.ID] {
					stuck = append(stuck, f.rule.ID)
				}
			}
			return nil, fmt.Errorf("rules yield to each other in a cycle: %s", strings.Join(stuck, ", "))
		}
	}
	return out, nil
}

// claim records the rows of a rule's findings when another loaded rule
// yields to it, and says so in each finding: a reader of the finding alone
// learns why the other rule did not report the same rows.
func (h *hunter) claim(r *Rule, fs []Finding) {
	yielders := h.claimants[r.ID]
	if len(yielders) == 0 {
		return
	}
	note := "; " + yielders[0] + " does not count these rows (its rule file yields them to this rule)"
	if len(yielders) > 1 {
		note = "; " + strings.Join(yielders, ", ") + " do not count these rows (their rule files yield them to this rule)"
	}
	for i := range fs {
		f := &fs[i]
		f.Explanation += note
		for _, e := range f.Events {
			if !slices.Contains(h.claims[e.ID], r.ID) {
				h.claims[e.ID] = append(h.claims[e.ID], r.ID)
			}
		}
	}
}

// claimedFor says which rule r yields an event row to ("" when none).
func (h *hunter) claimedFor(r *Rule, eventID string) string {
	for _, id := range h.claims[eventID] {
		if slices.Contains(r.YieldsTo, id) {
			return id
		}
	}
	return ""
}

// leftTo counts the rows a rule left to each rule it yields to, for the
// explanation of a finding it still raises.
type leftTo map[string]int

func (l leftTo) String() string {
	if len(l) == 0 {
		return ""
	}
	ids := authKeys(l)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s in %s's finding", plural(l[id], "row", "rows"), id)
	}
	return "; not counted here (the rule yields to them): " + strings.Join(parts, ", ")
}
