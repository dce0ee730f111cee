package hunt

import (
	"math/bits"

	"github.com/jejak-forensics/jejak/timeline"
)

// interest says which events an analyzer can act on: what its observe
// tests first. An event none of the fields names is not handed to the
// analyzer at all (TestDispatchCoverage runs every analyzer on every
// corpus event and fails when one the interest leaves out changes its
// state). The fields are a union: an event matching any of them is handed
// over; a superset of what the analyzer acts on is fine, a subset is not.
//
// An analyzer without a wants method is handed every event.
type interest struct {
	all      bool     // every event
	win      bool     // every EVTX record (ev.Winlog set)
	winOther bool     // EVTX records of a channel other than Security
	winIDs   []int    // EVTX records of these event IDs, whatever their provider
	actions  []string // events of these event.action values
	file     bool     // events with a file (ev.File set)
	source   bool     // events with a source (ev.Source set)
	tagged   bool     // events with any jejak tag
	parsers  []string // events of these parsers (provenance)
	datasets []string // events of these event.dataset values
}

// wanter is an analyzer that says which events it can act on.
type wanter interface {
	wants() interest
}

// dispatch hands each event to the analyzers whose interest it meets, in
// the analyzers' order: with 30-odd analyzers and most of them about a few
// event IDs or actions, calling every one for every event was ~3 % of a
// hunt before any did work. The first 64 analyzers are selected by a bit
// mask; any beyond are handed every event.
type dispatch struct {
	anas   []analyzer // the first 64, selected by mask
	extra  []analyzer // the rest: every event
	always uint64
	win    uint64
	other  uint64 // winOther
	file   uint64
	source uint64
	tagged uint64
	ids    map[int]uint64
	acts   map[string]uint64
	pars   map[string]uint64
	sets   map[string]uint64
	// The last string each map was asked about, and its mask: rows come
	// in runs of one action, parser and dataset.
	lastAct, lastPar, lastSet    string
	lastActM, lastParM, lastSetM uint64
}

// dispatchAll makes newDispatch hand every event to every analyzer (the
// tests compare the findings both ways).
var dispatchAll = false

func newDispatch(anas []analyzer) *dispatch {
	d := &dispatch{}
	if len(anas) > 64 {
		d.anas, d.extra = anas[:64], anas[64:]
	} else {
		d.anas = anas
	}
	for i, a := range d.anas {
		bit := uint64(1) << i
		w, ok := a.(wanter)
		if !ok || dispatchAll {
			d.always |= bit
			continue
		}
		in := w.wants()
		if in.all {
			d.always |= bit
		}
		if in.win {
			d.win |= bit
		}
		if in.winOther {
			d.other |= bit
		}
		if in.file {
			d.file |= bit
		}
		if in.source {
			d.source |= bit
		}
		if in.tagged {
			d.tagged |= bit
		}
		d.ids = addBit(d.ids, in.winIDs, bit)
		d.acts = addBit(d.acts, in.actions, bit)
		d.pars = addBit(d.pars, in.parsers, bit)
		d.sets = addBit(d.sets, in.datasets, bit)
	}
	// No event has these keys: the caches start out right.
	d.lastAct, d.lastPar, d.lastSet = "\x00", "\x00", "\x00"
	d.lastActM, d.lastParM, d.lastSetM = 0, 0, 0
	return d
}

// addBit sets bit in m for every key, making m when it needs one: a
// map stays nil while no analyzer names such keys, and mask skips it.
func addBit[K comparable](m map[K]uint64, keys []K, bit uint64) map[K]uint64 {
	for _, k := range keys {
		if m == nil {
			m = map[K]uint64{}
		}
		m[k] |= bit
	}
	return m
}

// mask is the set of analyzers (of d.anas) ev is handed to.
func (d *dispatch) mask(ev *timeline.Event) uint64 {
	m := d.always
	if w := ev.Winlog; w != nil {
		m |= d.win
		if d.other != 0 && w.Channel != "Security" {
			m |= d.other
		}
		if d.ids != nil {
			m |= d.ids[w.EventID]
		}
	}
	if d.acts != nil {
		if a := ev.Event.Action; a != d.lastAct {
			d.lastAct, d.lastActM = a, d.acts[a]
		}
		m |= d.lastActM
	}
	if ev.File != nil {
		m |= d.file
	}
	if ev.Source != nil {
		m |= d.source
	}
	if len(ev.Jejak.Tags) > 0 {
		m |= d.tagged
	}
	if d.pars != nil {
		if p := ev.Jejak.Provenance.Parser; p != d.lastPar {
			d.lastPar, d.lastParM = p, d.pars[p]
		}
		m |= d.lastParM
	}
	if d.sets != nil {
		if s := ev.Event.Dataset; s != d.lastSet {
			d.lastSet, d.lastSetM = s, d.sets[s]
		}
		m |= d.lastSetM
	}
	return m
}

// observe hands ev to the analyzers that want it, in their order.
func (d *dispatch) observe(ev *timeline.Event) {
	for m := d.mask(ev); m != 0; m &= m - 1 {
		d.anas[bits.TrailingZeros64(m)].observe(ev)
	}
	for _, a := range d.extra {
		a.observe(ev)
	}
}
