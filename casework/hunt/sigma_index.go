package hunt

import (
	"slices"
	"strconv"
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
	derived   []sigmaRuleRef              // rules indexed by their detection's channels
	cache     map[winKey][]sigmaRuleRef
	// lastK, lastC: the key candidates looked up last and its rules.
	lastK  winKey
	lastC  []sigmaRuleRef
	lastOK bool
	pre    *prefilter
	m      map[string]any    // see event
	lower  map[string]string // m's lower-cased values
	want   map[string]bool   // the fields some rule reads
	ev     *timeline.Event   // m's event
	filled bool              // m holds ev's fields
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
		wins := s.rule.sigma.windows
		if len(wins) == 0 && usePrefilter {
			// The prefilter's oracle test runs without: it checks
			// these too.
			if wins = s.rule.sigma.derived; len(wins) > 0 {
				idx.derived = append(idx.derived, ref)
			}
		}
		if len(wins) == 0 {
			idx.general = append(idx.general, ref)
			continue
		}
		for _, sel := range wins {
			idx.byChannel[sel.channel] = append(idx.byChannel[sel.channel], sigmaCandidate{s: ref, ids: sel.ids})
		}
	}
	idx.pre.build()
	if !usePrefilter {
		idx.want = nil // the oracle: every field, every rule evaluated
	}
	return idx
}

// event returns ev's Sigma field map. The map, and the lower-cased values
// cached in it, are the index's and reused for the next event: no rule
// keeps them past its evaluation.
//
// The map is filled when mayMatch first lets a rule through (the caller
// asks mayMatch before every evaluation): most events pass no candidate's
// prefilter, and their prefilter reads EventData directly (see value).
func (idx *sigmaIndex) event(ev *timeline.Event) map[string]any {
	if idx.m == nil || len(idx.m) > 256 || len(idx.lower) > 256 {
		// A map only grows: one event with many fields would make every
		// later clear slow.
		idx.m, idx.lower = make(map[string]any, 64), make(map[string]string, 16)
	} else if idx.filled {
		// Clearing costs the map's size, filled or not: only a map
		// that was filled is cleared.
		clear(idx.m)
		clear(idx.lower)
	}
	idx.ev, idx.filled = ev, false
	return idx.m
}

// fill builds the current event's field map, once.
func (idx *sigmaIndex) fill() {
	if !idx.filled {
		idx.filled = true
		idx.m[lowerKey] = idx.lower
		sigmaEventInto(idx.m, idx.ev, idx.want)
	}
}

// value is the current event's field as its field map holds it (the
// prefilter asks only for fields some rule reads, all of them wanted).
// Before the map is built, a Windows event's field that sigmaEventInto
// only copies from EventData is read there; any other field builds the
// map.
func (idx *sigmaIndex) value(field string) (string, bool) {
	if !idx.filled {
		if w := idx.ev.Winlog; w != nil {
			if !winDerivedFields[field] {
				v, ok := w.EventData[field]
				return v, ok
			}
			if v, ok, direct := winSystemValue(w, field); direct {
				return v, ok
			}
		}
		idx.fill()
	}
	v, ok := idx.m[field]
	if !ok {
		return "", false
	}
	return str(v), true
}

// winSystemValue is the value sigmaEventInto gives the System fields a
// prefilter reads most (every rule of a channel names it), read without
// building the map: direct false for any other field. For a wanted field
// sigmaEventInto copies EventData's value, then sets the record's own over
// it when there is one (EventID always); TestWinSystemValue holds the two
// to the same answers.
func winSystemValue(w *timeline.Winlog, field string) (v string, ok, direct bool) {
	own := ""
	switch field {
	case "EventID":
		return strconv.Itoa(w.EventID), true, true
	case "Channel":
		own = w.Channel
	case "Provider_Name":
		own = w.ProviderName
	case "Computer":
		own = w.ComputerName
	default:
		return "", false, false
	}
	if own != "" {
		return own, true, true
	}
	v, ok = w.EventData[field]
	return v, ok, true
}

// winDerivedFields are the keys sigmaEventInto writes for a Windows event
// from anything but EventData (or over an EventData value);
// TestWinDerivedFields reads them from its source.
var winDerivedFields = map[string]bool{
	"EventID": true, "Channel": true, "Provider_Name": true, "Computer": true, "EventRecordID": true,
	"Level": true, "Task": true, "Opcode": true, "Keywords": true, "Version": true,
	"Image": true, "ParentImage": true, "User": true, "LogonId": true, "ProcessId": true,
	"FileName": true, "Data": true, keywordsField: true,
	"message": true, "timestamp_desc": true, "event.action": true, "event.outcome": true,
	"event.code": true, "event.dataset": true, "event.provider": true, "event.category": true,
	"jejak.provenance.parser": true, "jejak.provenance.path": true, "jejak.tags": true,
	"host.name": true, "user.name": true, "user.domain": true, "user.target.name": true,
	"user.effective.name": true, "source.ip": true, "source.domain": true, "source.address": true,
	"process.name": true, "process.executable": true, "process.command_line": true,
	"file.path": true, "file.name": true, "url.original": true, "url.path": true,
	"group.name": true, "winlog.channel": true, "winlog.logon.type": true,
}

// usePrefilter is false only in the test that checks the prefilter (and
// the field map restricted to the fields rules read) changes no finding.
var usePrefilter = true

// next starts an event: the prefilter forgets the previous one's texts.
func (idx *sigmaIndex) next() { idx.pre.next() }

// mayMatch is false when the prefilter shows the rule cannot match the
// event's field map m.
func (idx *sigmaIndex) mayMatch(r sigmaRuleRef, m map[string]any) bool {
	if !idx.pre.may(r.lits, idx) {
		return false
	}
	idx.fill() // the rule is evaluated on m
	return true
}

// candidates returns the rules that may apply to ev (in no set order: each
// rule collects its own matches).
func (idx *sigmaIndex) candidates(ev *timeline.Event) []sigmaRuleRef {
	w := ev.Winlog
	if w == nil || len(idx.byChannel) == 0 {
		return idx.general
	}
	k := winKey{channel: w.Channel, id: w.EventID}
	if idx.lastOK && k == idx.lastK {
		return idx.lastC // most events are of the kind of one just before
	}
	if c, ok := idx.cache[k]; ok {
		idx.lastK, idx.lastC, idx.lastOK = k, c, true
		return c
	}
	var out []sigmaRuleRef
	for _, c := range idx.byChannel[strings.ToLower(w.Channel)] {
		if (c.ids == nil || slices.Contains(c.ids, w.EventID)) && !slices.ContainsFunc(out, func(r sigmaRuleRef) bool { return r.sigmaMatches == c.s.sigmaMatches }) {
			out = append(out, c.s)
		}
	}
	if !plainChannel(w.Channel) {
		// No channel, or one whose case folding the lower-cased key may
		// not follow: the rules indexed by their detection are asked.
		for _, r := range idx.derived {
			if !slices.ContainsFunc(out, func(o sigmaRuleRef) bool { return o.sigmaMatches == r.sigmaMatches }) {
				out = append(out, r)
			}
		}
	}
	out = append(out, idx.general...)
	idx.cache[k] = out
	idx.lastK, idx.lastC, idx.lastOK = k, out, true
	return out
}
