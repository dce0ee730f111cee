package hunt

import (
	"path"

	"github.com/bradleyjkemp/sigma-go"
	"slices"
	"strings"
	"unicode/utf8"
)

// Most SigmaHQ rules an event's log source meets cannot match it: a
// process_creation rule asks for an image or a command line the event does
// not have. The prefilter skips those rules without evaluating them. For
// each rule it derives, from the detection, a set of (field, literal)
// alternatives such that the rule can only match an event whose lower-cased
// field value contains at least one of the literals — a necessary
// condition, never a sufficient one. Per event, one Aho-Corasick scan of
// each field that some candidate rule needs finds every literal present,
// and a rule none of whose literals is present is not asked.
//
// The derivation is conservative: whatever cannot be read as "this field
// must contain this text" (regular expressions, cased, numeric and CIDR
// comparisons, exists, fieldref, null values, NOT, auditd rules evaluated
// per record) yields no requirement, and a rule without a requirement is
// always evaluated.

// litAlt is one alternative of a requirement: the lower-cased value of
// field contains lit.
type litAlt struct {
	field, lit string
}

// A need is a rule's (or a part's) requirement: it can match only when
// one of the alternatives holds. nil: no requirement known.
type need []litAlt

// better picks, of two requirements both necessary, the more selective:
// one on a field other than those the Sigma index already chose the event
// by (indexedOnly), then the one whose shortest literal is longer, then the
// one with fewer alternatives.
func better(a, b need) need {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	if ia, ib := indexedOnly(a), indexedOnly(b); ia != ib {
		// "Channel: Security" holds for every Security event the index
		// gives the rule: "LogonType: 10" beside it rejects most of them,
		// and without building the event's field map (sigmaIndex.value).
		if ia {
			return b
		}
		return a
	}
	sa, sb := shortest(a), shortest(b)
	if sa != sb {
		if sa > sb {
			return a
		}
		return b
	}
	if len(b) < len(a) {
		return b
	}
	return a
}

// indexedOnly: every alternative of n is on the channel or the event ID,
// which the Sigma index (sigma_index.go) selects a Windows event's
// candidate rules by.
func indexedOnly(n need) bool {
	for _, a := range n {
		if a.field != "Channel" && a.field != "EventID" {
			return false
		}
	}
	return true
}

func shortest(n need) int {
	m := -1
	for _, a := range n {
		if m < 0 || len(a.lit) < m {
			m = len(a.lit)
		}
	}
	return m
}

// union is the requirement of "any of": nil when one of them has none.
func union(ns ...need) need {
	var out need
	for _, n := range ns {
		if n == nil {
			return nil
		}
		out = append(out, n...)
	}
	return out
}

// valueNeed is the requirement of one compiled string value under a
// comparator, not cased (the matcher compares lower-cased values): the
// longest literal text the value must contain. ok false when the value
// requires nothing (an empty literal).
func valueNeed(p pattern) (string, bool) {
	inner := false
	parts := p.parts
	for len(parts) > 0 && parts[0].wild == '*' {
		parts = parts[1:]
	}
	for len(parts) > 0 && parts[len(parts)-1].wild == '*' {
		parts = parts[:len(parts)-1]
	}
	for _, x := range parts {
		if x.wild != 0 {
			inner = true
		}
	}
	if !inner {
		// Compared as lower-cased text (equal, prefix, suffix or
		// substring): the whole lower-cased literal is contained.
		lit := strings.ToLower(pattern{parts: parts}.literal())
		return lit, lit != ""
	}
	// A wildcard value is a (?i) regular expression: case folding there
	// is wider than strings.ToLower (a pattern's "s" matches "ſ", whose
	// lower case is itself), so only runs of ASCII text without s or k
	// (whose folds leave ASCII) are required, each as lower-cased.
	best := ""
	for _, x := range parts {
		if x.wild != 0 {
			continue
		}
		start := 0
		t := x.text
		for i := 0; i <= len(t); i++ {
			if i < len(t) && t[i] < utf8.RuneSelf && !strings.ContainsRune("sSkK", rune(t[i])) {
				continue
			}
			if run := t[start:i]; len(run) > len(best) {
				best = run
			}
			start = i + 1
		}
	}
	best = strings.ToLower(best)
	return best, best != ""
}

// searchNeed combines the needs of a search's event matchers (any of them;
// each all of its field matchers).
func searchNeed(ems [][]need) need {
	var alts []need
	for _, em := range ems {
		var best need
		for _, n := range em {
			best = better(best, n)
		}
		if best == nil {
			return nil
		}
		alts = append(alts, best)
	}
	if len(alts) == 0 {
		return nil
	}
	return union(alts...)
}

// prefilter holds, for one hunt, an automaton per field over the literals
// the rules require, and per event the literals found.
type prefilter struct {
	fields  []string         // field index → name
	autos   []*automaton     // per field
	litOf   map[litAlt]int32 // literal → id
	fieldOf []int32          // literal id → field index
	found   []uint32         // literal id → generation it was found in
	scanned []uint32         // field index → generation it was scanned in
	gen     uint32           // current event
	byField map[string]int32 // name → field index
	lits    [][]string       // field index → literals, in id order (while building)
	ids     [][]int32        // field index → their ids (while building)
}

// maxLit is the longest literal the automata look for.
const maxLit = 16

func newPrefilter() *prefilter {
	return &prefilter{litOf: map[litAlt]int32{}, byField: map[string]int32{}}
}

// add registers a rule's requirement and returns its literal ids (nil: the
// rule is always evaluated).
func (p *prefilter) add(n need) []int32 {
	if n == nil {
		return nil
	}
	ids := make([]int32, 0, len(n))
	for _, a := range n {
		if len(a.lit) > maxLit {
			// Any piece of a required text is required too: a long
			// literal (a hash, a path) is looked for by its first bytes,
			// which keeps the automata small.
			a.lit = a.lit[:maxLit]
		}
		id, ok := p.litOf[a]
		if !ok {
			f, ok := p.byField[a.field]
			if !ok {
				f = int32(len(p.fields))
				p.byField[a.field] = f
				p.fields = append(p.fields, a.field)
				p.lits = append(p.lits, nil)
				p.ids = append(p.ids, nil)
			}
			id = int32(len(p.fieldOf))
			p.litOf[a] = id
			p.fieldOf = append(p.fieldOf, f)
			p.lits[f] = append(p.lits[f], a.lit)
			p.ids[f] = append(p.ids[f], id)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// build makes the automata once every rule is added.
func (p *prefilter) build() {
	p.autos = make([]*automaton, len(p.fields))
	for f := range p.fields {
		p.autos[f] = newAutomaton(p.lits[f], p.ids[f])
	}
	p.lits, p.ids = nil, nil
	p.found = make([]uint32, len(p.fieldOf))
	p.scanned = make([]uint32, len(p.fields))
}

// next starts a new event.
func (p *prefilter) next() {
	p.gen++
	if p.gen == 0 { // wrapped: forget every mark
		clear(p.found)
		clear(p.scanned)
		p.gen = 1
	}
}

// fieldValues gives an event's field as the matchers read it.
type fieldValues interface {
	value(field string) (string, bool)
}

// may reports whether a rule with these literal ids may match the event
// whose fields ev gives.
func (p *prefilter) may(ids []int32, ev fieldValues) bool {
	if ids == nil {
		return true
	}
	for _, id := range ids {
		f := p.fieldOf[id]
		if p.scanned[f] != p.gen {
			p.scanned[f] = p.gen
			if v, ok := ev.value(p.fields[f]); ok {
				p.autos[f].scanFold(v, p.found, p.gen)
			}
		}
		if p.found[id] == p.gen {
			return true
		}
	}
	return false
}

// automaton is an Aho-Corasick automaton as a dense DFA over byte classes
// (the bytes the literals use, and one class for every other byte).
type automaton struct {
	class  [256]uint8
	nclass int
	delta  []int32   // state*nclass + class → state
	out    [][]int32 // state → literal ids ending there (fail chain merged)
	fold   bool      // A-Z share the classes of a-z
}

func newAutomaton(lits []string, ids []int32) *automaton {
	a := &automaton{}
	// Class 0 is "a byte no literal uses"; every byte of a multi-byte
	// UTF-8 sequence shares one class. Bytes sharing a class can only
	// make the automaton report a literal the text does not hold (the
	// rule is then evaluated), never miss one it holds.
	var used [256]bool
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			used[l[i]] = true
		}
	}
	for b, u := range used {
		if u && b < utf8.RuneSelf {
			a.nclass++
			a.class[b] = uint8(a.nclass)
		}
	}
	// Upper-case ASCII reads as its lower case (scanFold), so an ASCII
	// value needs no lower-cased copy. The prefilter's literals are
	// lower-cased; should one not be, nothing is folded.
	a.fold = true
	for b := 'A'; b <= 'Z'; b++ {
		if used[b] {
			a.fold = false
		}
	}
	for b := 'A'; a.fold && b <= 'Z'; b++ {
		a.class[b] = a.class[b+'a'-'A']
	}
	a.nclass++
	for b := utf8.RuneSelf; b < 256; b++ {
		a.class[b] = uint8(a.nclass)
	}
	a.nclass++
	nc := a.nclass
	// Trie (goto) with -1 for no edge.
	// One state per distinct prefix: in sorted order, each literal adds
	// the bytes past what it shares with the one before.
	sorted := slices.Clone(lits)
	slices.Sort(sorted)
	states := 1
	for i, l := range sorted {
		shared := 0
		if i > 0 {
			prev := sorted[i-1]
			for shared < len(l) && shared < len(prev) && l[shared] == prev[shared] {
				shared++
			}
		}
		states += len(l) - shared
	}
	a.delta = make([]int32, nc, states*nc)
	for i := range a.delta {
		a.delta[i] = -1
	}
	a.out = make([][]int32, 1, states)
	for k, l := range lits {
		s := int32(0)
		for i := 0; i < len(l); i++ {
			c := int(a.class[l[i]])
			t := a.delta[int(s)*nc+c]
			if t < 0 {
				t = int32(len(a.out))
				a.out = append(a.out, nil)
				n := len(a.delta)
				a.delta = a.delta[:n+nc]
				for j := n; j < n+nc; j++ {
					a.delta[j] = -1
				}
				a.delta[int(s)*nc+c] = t
			}
			s = t
		}
		a.out[s] = append(a.out[s], ids[k])
	}
	// Breadth first: failure links resolved into the transitions.
	fail := make([]int32, len(a.out))
	queue := make([]int32, 0, len(a.out))
	for c := 0; c < nc; c++ {
		t := a.delta[c]
		if t < 0 {
			a.delta[c] = 0
		} else {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		a.out[s] = append(a.out[s], a.out[fail[s]]...)
		for c := 0; c < nc; c++ {
			t := a.delta[int(s)*nc+c]
			if t < 0 {
				a.delta[int(s)*nc+c] = a.delta[int(fail[s])*nc+c]
			} else {
				fail[t] = a.delta[int(fail[s])*nc+c]
				queue = append(queue, t)
			}
		}
	}
	return a
}

// scan marks in found (with gen) every literal s contains.
func (a *automaton) scan(s string, found []uint32, gen uint32) {
	nc := int32(a.nclass)
	st := int32(0)
	for i := 0; i < len(s); i++ {
		st = a.delta[st*nc+int32(a.class[s[i]])]
		for _, id := range a.out[st] {
			found[id] = gen
		}
	}
}

// scanFold marks every literal strings.ToLower(s) contains. An ASCII s is
// scanned as it is: its classes fold A-Z onto a-z, which is exactly what
// strings.ToLower does to ASCII text. A value with any other byte is
// lower-cased first, since Unicode lower-casing can make ASCII out of
// non-ASCII (the Kelvin sign gives "k") or change lengths.
func (a *automaton) scanFold(s string, found []uint32, gen uint32) {
	nc := int32(a.nclass)
	st := int32(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || !a.fold {
			a.scan(strings.ToLower(s), found, gen)
			return
		}
		st = a.delta[st*nc+int32(a.class[c])]
		for _, id := range a.out[st] {
			found[id] = gen
		}
	}
}

// condNeed is the requirement of a condition, read as compileCond reads
// it.
func (sr *sigmaRule) condNeed(x sigma.SearchExpr) need {
	searches := func(pattern string) []need {
		var out []need
		for i, n := range sr.names {
			if ok, _ := path.Match(pattern, n); ok {
				out = append(out, sr.searches[i].need)
			}
		}
		return out
	}
	allOf := func(ns []need) need {
		var best need
		for _, n := range ns {
			best = better(best, n)
		}
		return best
	}
	anyOf := func(ns []need) need {
		if len(ns) == 0 {
			return nil
		}
		return union(ns...)
	}
	switch x := x.(type) {
	case sigma.And:
		ns := make([]need, len(x))
		for i, c := range x {
			ns[i] = sr.condNeed(c)
		}
		return allOf(ns)
	case sigma.Or:
		ns := make([]need, len(x))
		for i, c := range x {
			ns[i] = sr.condNeed(c)
		}
		return anyOf(ns)
	case sigma.SearchIdentifier:
		if i, found := slices.BinarySearch(sr.names, x.Name); found {
			return sr.searches[i].need
		}
	case sigma.OneOfThem:
		return anyOf(searches("*"))
	case sigma.AllOfThem:
		return allOf(searches("*"))
	case sigma.OneOfPattern:
		return anyOf(searches(x.Pattern))
	case sigma.AllOfPattern:
		return allOf(searches(x.Pattern))
	}
	// NOT, an undefined search: nothing required.
	return nil
}
