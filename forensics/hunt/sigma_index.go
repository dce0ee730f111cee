package hunt

import (
	"slices"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/jejak-forensics/jejak/timeline"
)

// A hunt with SigmaHQ's Windows rules runs some 2,400 rules, and most of
// them can only apply to a few event IDs of one channel. sigmaIndex gives
// each EVTX event the rules whose log source can apply to its channel and
// ID, so the others are not even asked; each candidate's own log-source
// filter still decides.

// winSel is one channel and the event IDs in it (nil: any) that a Windows
// log source stands for.
type winSel struct {
	channel string // lower-case
	ids     []int
}

// windowsSelectors lists the channels and IDs a log source reads, or ok
// false when it is not that precise (product windows alone, other products).
func windowsSelectors(l sigma.Logsource) (sels []winSel, ok bool) {
	if !strings.EqualFold(l.Product, "windows") {
		return nil, false
	}
	service, category := strings.ToLower(l.Service), strings.ToLower(l.Category)
	switch {
	case service != "":
		for _, c := range windowsServices[service] {
			sels = append(sels, winSel{channel: strings.ToLower(c)})
		}
	case category != "":
		if cc, found := windowsChannelCategories[category]; found {
			for _, c := range cc.channels {
				sels = append(sels, winSel{channel: strings.ToLower(c), ids: cc.ids})
			}
		} else if ids, found := windowsCategories[category]; found {
			sels = append(sels, winSel{channel: strings.ToLower(sysmonChannel), ids: ids})
			if category == "process_creation" {
				sels = append(sels, winSel{channel: "security", ids: []int{4688}})
			}
		}
	}
	return sels, len(sels) > 0
}

type winKey struct {
	channel string
	id      int
}

type sigmaIndex struct {
	byChannel map[string][]sigmaCandidate // lower-case channel
	general   []sigmaRuleRef              // rules asked for every event
	cache     map[winKey][]sigmaRuleRef
	pre       *prefilter
	m         map[string]any    // see event
	lower     map[string]string // m's lower-cased values
	want      map[string]bool   // the fields some rule reads
}

type sigmaCandidate struct {
	s   sigmaRuleRef
	ids []int
}

// sigmaRuleRef is a rule of the hunt with its prefilter literals.
type sigmaRuleRef struct {
	*sigmaMatches
	lits []int32 // nil: always evaluated
}

func newSigmaIndex(all []*sigmaMatches) *sigmaIndex {
	idx := &sigmaIndex{byChannel: map[string][]sigmaCandidate{}, cache: map[winKey][]sigmaRuleRef{}, pre: newPrefilter(),
		want: map[string]bool{auditdRecordsField: true}}
	for _, s := range all {
		for _, f := range s.rule.sigma.fields {
			idx.want[f] = true
		}
		ref := sigmaRuleRef{sigmaMatches: s}
		if usePrefilter {
			ref.lits = idx.pre.add(s.rule.sigma.need)
		}
		if len(s.rule.sigma.windows) == 0 {
			idx.general = append(idx.general, ref)
			continue
		}
		for _, sel := range s.rule.sigma.windows {
			idx.byChannel[sel.channel] = append(idx.byChannel[sel.channel], sigmaCandidate{s: ref, ids: sel.ids})
		}
	}
	idx.pre.build()
	return idx
}

// event returns ev's Sigma field map. The map, and the lower-cased values
// cached in it, are the index's and reused for the next event: no rule
// keeps them past its evaluation.
func (idx *sigmaIndex) event(ev *timeline.Event) map[string]any {
	if idx.m == nil || len(idx.m) > 256 || len(idx.lower) > 256 {
		// A map only grows: one event with many fields would make every
		// later clear slow.
		idx.m, idx.lower = make(map[string]any, 64), make(map[string]string, 16)
	}
	clear(idx.m)
	clear(idx.lower)
	idx.m[lowerKey] = idx.lower
	return sigmaEventWant(idx.m, ev, idx.want)
}

// usePrefilter is false only in the test that checks the prefilter
// changes no finding.
var usePrefilter = true

// next starts an event: the prefilter forgets the previous one's texts.
func (idx *sigmaIndex) next() { idx.pre.next() }

// mayMatch is false when the prefilter shows the rule cannot match the
// event's field map m.
func (idx *sigmaIndex) mayMatch(r sigmaRuleRef, m map[string]any) bool {
	return idx.pre.may(r.lits, m)
}

// candidates returns the rules that may apply to ev (in no set order: each
// rule collects its own matches).
func (idx *sigmaIndex) candidates(ev *timeline.Event) []sigmaRuleRef {
	w := ev.Winlog
	if w == nil || len(idx.byChannel) == 0 {
		return idx.general
	}
	k := winKey{channel: w.Channel, id: w.EventID}
	if c, ok := idx.cache[k]; ok {
		return c
	}
	var out []sigmaRuleRef
	for _, c := range idx.byChannel[strings.ToLower(w.Channel)] {
		if (c.ids == nil || slices.Contains(c.ids, w.EventID)) && !slices.ContainsFunc(out, func(r sigmaRuleRef) bool { return r.sigmaMatches == c.s.sigmaMatches }) {
			out = append(out, c.s)
		}
	}
	out = append(out, idx.general...)
	idx.cache[k] = out
	return out
}
