package hunt

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Bounding first-seen's memory on an internet-facing log, where nearly
// every line brings an address seen nowhere else (issue 15).
//
// The baseline (the sources and accounts seen before the cut-off) is kept
// as sorted slices instead of a map: an IPv4 source costs 4 bytes, any
// other key its string. It is exact, and it still grows with the number of
// sources before the cut-off, by 4 bytes per address.
//
// A scanning candidate (a new source that failed fewer than aggregate_below
// times and never got in) holds at most aggregate_below-1 rows. Past
// maxCandidates of them, the half idle the longest are folded into their
// host's scanning counts (foldHost): the busiest maxScanRows of them stay
// whole, which are all the scanning finding shows, the rest leave only
// their counts. The findings are the same as with every candidate held
// unless a folded source comes back. One left as counts then counts as
// another new source, and if its attempts together would have reached
// aggregate_below it misses the finding of its own it would have had; the
// dropped keys are kept as a keySet (4 bytes an IPv4 address), so such
// returns are counted exactly and the scanning finding says how many there
// were. One held whole is taken back whole; should it then get a finding
// of its own, a source left as counts may be missing from the busiest the
// scanning finding names and shows. The account names it lists come from
// the sources held whole and the candidates.

// maxCandidates bounds the scanning candidates held whole (each a few
// hundred bytes with its rows). A variable so tests can fold a small case.
var maxCandidates = 200_000

// keySet is a set of strings held as sorted slices: IPv4 addresses as
// numbers, other keys as strings, plus the keys added since the last merge.
// Written by hand because the standard library has no compact set; a map
// costs some 50 bytes an entry, which is what the baseline of a server on
// the internet is made of.
type keySet struct {
	v4      []uint32 // sorted
	strs    []string // sorted
	newV4   []uint32 // added since the last merge, unsorted
	newStrs []string
}

// v4Key is the key as an IPv4 number when the key is an IPv4 address in
// its canonical form (so the number gives back the same text).
// Parsed by hand: netip.ParseAddr, which also reads IPv6, was a third of
// first-seen's time on an internet-facing log; TestV4Key checks the two
// agree.
func v4Key(k string) (uint32, bool) {
	if len(k) < 7 || len(k) > 15 {
		return 0, false
	}
	var n uint32
	part, digits, dots := uint32(0), 0, 0
	for i := 0; i <= len(k); i++ {
		if i == len(k) || k[i] == '.' {
			if digits == 0 {
				return 0, false
			}
			n = n<<8 | part
			part, digits = 0, 0
			if i < len(k) {
				dots++
			}
			continue
		}
		c := k[i]
		if c < '0' || c > '9' || digits == 3 || (digits == 1 && part == 0) {
			return 0, false // not a digit, too long, or a leading zero
		}
		part = part*10 + uint32(c-'0')
		digits++
		if part > 255 {
			return 0, false
		}
	}
	if dots != 3 {
		return 0, false
	}
	return n, true
}

func (s *keySet) add(k string) {
	if n, ok := v4Key(k); ok {
		s.newV4 = append(s.newV4, n)
		if len(s.newV4) > max(4096, len(s.v4)/2) {
			s.v4 = mergeSorted(s.v4, s.newV4)
			s.newV4 = s.newV4[:0]
		}
		return
	}
	s.newStrs = append(s.newStrs, k)
	if len(s.newStrs) > max(4096, len(s.strs)/2) {
		s.strs = mergeSorted(s.strs, s.newStrs)
		s.newStrs = s.newStrs[:0]
	}
}

func (s *keySet) has(k string) bool {
	if n, ok := v4Key(k); ok {
		if len(s.newV4) > 0 {
			s.v4 = mergeSorted(s.v4, s.newV4)
			s.newV4 = s.newV4[:0]
		}
		_, found := slices.BinarySearch(s.v4, n)
		return found
	}
	if len(s.newStrs) > 0 {
		s.strs = mergeSorted(s.strs, s.newStrs)
		s.newStrs = s.newStrs[:0]
	}
	_, found := slices.BinarySearch(s.strs, k)
	return found
}

func (s *keySet) empty() bool {
	return len(s.v4)+len(s.strs)+len(s.newV4)+len(s.newStrs) == 0
}

// mergeSorted returns the sorted, duplicate-free union of sorted (already
// so) and added (in any order, sorted in place).
func mergeSorted[T cmp.Ordered](sorted, added []T) []T {
	slices.Sort(added)
	added = slices.Compact(added)
	out := make([]T, 0, len(sorted)+len(added))
	i, j := 0, 0
	for i < len(sorted) && j < len(added) {
		switch c := cmp.Compare(sorted[i], added[j]); {
		case c < 0:
			out = append(out, sorted[i])
			i++
		case c > 0:
			out = append(out, added[j])
			j++
		default:
			out = append(out, sorted[i])
			i++
			j++
		}
	}
	out = append(out, sorted[i:]...)
	return append(out, added[j:]...)
}

// foldHost is what is left of one host's folded scanning candidates: the
// busiest whole, the others as counts.
type foldHost struct {
	// top are the busiest folded sources, held whole: no source outside
	// them can be among the sources a scanning finding names or shows.
	top map[string]*seen
	// The folded sources not in top: how many, their attempts and rows,
	// and the time of their first and last rows.
	sources, attempts, rows int
	first, last             time.Time
	// returns counts the new sources that had been dropped before (each
	// counted once more than it should be).
	returns int
}

// drop leaves only s's counts.
func (fh *foldHost) drop(s *seen) {
	first, last := s.span()
	if fh.sources == 0 || first.Before(fh.first) {
		fh.first = first
	}
	if fh.sources == 0 || last.After(fh.last) {
		fh.last = last
	}
	fh.sources++
	fh.attempts += s.failures
	fh.rows += s.rows()
}

// fold moves the half of the scanning candidates idle the longest out of
// found into their hosts' folded counts.
func (f *firstSeen) fold() {
	type idle struct {
		key  string
		s    *seen
		last int64 // Unix ns of the last row
	}
	var cands []idle
	for k, s := range f.found {
		if f.candidate(s) {
			cands = append(cands, idle{k, s, s.lastNano()})
		}
	}
	slices.SortFunc(cands, func(a, b idle) int {
		if c := cmp.Compare(a.last, b.last); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	if f.folds == nil {
		f.folds = map[string]*foldHost{}
	}
	byHost := map[string][]idle{}
	for _, c := range cands[:len(cands)/2] {
		delete(f.found, c.key)
		f.cands--
		f.kept -= len(c.s.refs)
		byHost[c.s.host] = append(byHost[c.s.host], c)
	}
	for host, folded := range byHost {
		fh := f.folds[host]
		if fh == nil {
			fh = &foldHost{top: map[string]*seen{}}
			f.folds[host] = fh
		}
		for k, s := range fh.top {
			folded = append(folded, idle{key: k, s: s})
		}
		// Busiest first, as scanOrder: the first maxScanRows stay whole.
		slices.SortFunc(folded, func(a, b idle) int {
			if c := cmp.Compare(b.s.failures, a.s.failures); c != 0 {
				return c
			}
			return cmp.Compare(a.key, b.key)
		})
		clear(fh.top)
		for i, c := range folded {
			if i < maxScanRows {
				fh.top[c.key] = c.s
				continue
			}
			fh.drop(c.s)
			f.gone.add(c.key)
		}
	}
}

// lastNano is the time of the key's last row, held or not.
func (s *seen) lastNano() int64 {
	var last int64 = math.MinInt64
	if len(s.refs) > 0 {
		last = s.refs[len(s.refs)-1].Timestamp.UnixNano()
	}
	if len(s.missed) > 0 {
		last = max(last, s.missed[len(s.missed)-1])
	}
	return last
}

// revive gives back the folded state of a source that comes back: whole
// when it is among its host's busiest folded sources, else nil (and the
// return of a dropped one is counted).
func (f *firstSeen) revive(key, host string) *seen {
	if f.folds == nil {
		return nil
	}
	for _, fh := range f.folds {
		s := fh.top[key]
		if s == nil {
			continue
		}
		delete(fh.top, key)
		f.kept += len(s.refs)
		return s
	}
	if f.gone.has(key) {
		if fh := f.folds[host]; fh != nil {
			fh.returns++
		}
	}
	return nil
}
