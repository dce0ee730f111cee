package sqlite

import (
	"context"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// A hunt reads every event of a case, and on Windows cases most of its
// decoding was the two string maps of a record, winlog.event_data and
// jejak.data (18 of 35 % of an EVTX hunt's CPU, measured): every entry a
// map entry and most values a string, for keys no rule looks at (a 4907's
// OldSd and NewSd, a record's thread_id and provider_guid). A Projection
// names the keys a reader does look at; the decoder builds only those
// entries and steps over the other values, checking them as before (a
// document the full decoder refuses is refused) without making strings.

// Projection says which entries of a Windows record's two string maps a
// reader needs. A nil func, or a func returning nil, means every entry.
//
// Both funcs are asked with the record's head: its channel, event ID and
// provider as the document gives them before event_data, which is where
// appendEvent writes them. A document that gives event_data before all
// three, or jejak before winlog, is decoded whole (so is one the fast
// decoder leaves to encoding/json): projecting only ever leaves entries
// out, and only entries the funcs did not ask for.
//
// The funcs are called from every decoding goroutine at once, so they
// must be safe for that; each goroutine asks once per distinct head.
type Projection struct {
	// EventData: the keys of winlog.event_data to decode.
	EventData func(h WinlogHead) *Keys
	// WinData: the keys of jejak.data to decode, for a record that has a
	// winlog (jejak.data of any other event is decoded whole).
	WinData func(h WinlogHead) *Keys
}

// WinlogHead is what identifies a Windows record's kind: the fields a
// projection is decided by.
type WinlogHead struct {
	Channel  string
	EventID  int
	Provider string
}

// Keys is a set of map keys: exact names and name prefixes.
type Keys struct {
	names    map[string]struct{}
	prefixes []string
}

// NewKeys returns the set of names and of every key beginning with one of
// prefixes.
func NewKeys(names, prefixes []string) *Keys {
	k := &Keys{names: make(map[string]struct{}, len(names))}
	for _, n := range names {
		k.names[n] = struct{}{}
	}
	k.prefixes = append(k.prefixes, prefixes...)
	return k
}

// Has reports whether key is in the set.
func (k *Keys) Has(key string) bool {
	if _, ok := k.names[key]; ok {
		return true
	}
	for _, p := range k.prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// hasBytes is Has without making a string of key.
func (k *Keys) hasBytes(key []byte) bool {
	if _, ok := k.names[string(key)]; ok {
		return true
	}
	for _, p := range k.prefixes {
		if len(key) >= len(p) && string(key[:len(p)]) == p {
			return true
		}
	}
	return false
}

// SearchProjected is SearchTransient decoding of a Windows record's
// winlog.event_data and jejak.data only the entries p asks for (nil: all):
// the events are the same but for the entries left out.
func (s *Store) SearchProjected(ctx context.Context, q timeline.Query, p *Projection, fn func(*timeline.Event) error) error {
	return s.search(ctx, q, streamOpts{reuse: true, noRelated: true, proj: p}, fn)
}

// projector is one decoding goroutine's view of a Projection: the funcs'
// answers by head, asked once each, with what the decoder remembers of
// the maps it decoded for that head (headMap).
type projector struct {
	p         *Projection
	eventData map[WinlogHead]*headMap
	winData   map[WinlogHead]*headMap
	// recent is a direct-mapped cache in front of the two maps, by event
	// ID: each record asks for both of its maps' keys, and hashing its
	// head (two strings, one of 35 bytes) for the lookups was 1.6 % of
	// an EVTX hunt. A head's strings are interned, so comparing a cached
	// head with the record's is mostly comparing pointers.
	recent [2][projRecent]struct {
		h  WinlogHead
		hm *headMap
		ok bool
	}
}

// projRecent is the size of projector.recent's tables, a power of 2.
const projRecent = 32

// headMap is a projection's keys for one head and one of its two maps
// (nil keys: all), and what the decoder learnt from the last map of a
// record with that head: records of one kind give their keys in one order
// (the template's), so the key at a position is usually the one the record
// before had there, and whether to keep it is known without looking it up
// in keys (a map lookup per entry, 5 % of an EVTX hunt).
type headMap struct {
	keys *Keys
	// seq is the last map's keys in order, each with the decision.
	seq []seqKey
	// last and lastKV: the last map made for this head and its entries in
	// document order, for sharing an equal map (memoMaps).
	last   map[string]string
	lastKV []kv
}

// seqKey is the key at one position of a map: the member's bytes from
// the key's opening quote to its colon ("key":), the key interned (when
// kept) and whether the projection keeps it; for a kept key, the value
// it had last (val) and whether that was written plain, as it reads
// (plain): values repeat from record to record of one kind (an account's
// SID, a logon type), and a repeated plain value is read by comparing
// its bytes.
type seqKey struct {
	tok, key string
	keep     bool
	val      string
	plain    bool
	// skip: for a key left out, its last value as the document wrote it
	// (quotes included) when it had no escape; a value that repeats is
	// stepped over by comparing bytes.
	skip []byte
}

// maxSkipMemo bounds seqKey.skip: longer values (a 4907's OldSd) are
// skipped byte by byte each time.
const maxSkipMemo = 128

// kv is one entry of a projected map, in document order.
type kv struct{ k, v string }

func newProjector(p *Projection) *projector {
	if p == nil || (p.EventData == nil && p.WinData == nil) {
		return nil
	}
	return &projector{p: p, eventData: map[WinlogHead]*headMap{}, winData: map[WinlogHead]*headMap{}}
}

// keys returns the keys of event_data (data false) or of jejak.data (data
// true) for head h, with its memo; nil: all keys.
func (pr *projector) keys(h WinlogHead, data bool) *headMap {
	if pr == nil {
		return nil
	}
	m, f, t := pr.eventData, pr.p.EventData, 0
	if data {
		m, f, t = pr.winData, pr.p.WinData, 1
	}
	if f == nil {
		return nil
	}
	c := &pr.recent[t][uint(h.EventID)&(projRecent-1)]
	if c.ok && c.h == h {
		return c.hm
	}
	hm, ok := m[h]
	if !ok {
		if len(m) >= 4096 {
			clear(m) // bounded: heads are few, but a document may make up any
			clear(pr.recent[t][:])
		}
		if k := f(h); k != nil {
			hm = &headMap{keys: k}
		}
		m[h] = hm
	}
	c.h, c.hm, c.ok = h, hm, true
	return hm
}
