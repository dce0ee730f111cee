package evtx

import (
	"bytes"
	"hash/maphash"
	"unsafe"
)

// valueCache remembers the text of recently rendered substitution values.
// Most values of a log repeat record after record (the computer, the
// provider's GUID, the subject's SID, name and domain, the level, task and
// keywords, process IDs): rendering each afresh was a third of the
// decoder's allocations. A hit costs a hash and a byte comparison and
// allocates nothing.
//
// It is direct-mapped (a colliding value replaces the slot's) and its
// keys, the values' raw bytes, live in one slab that is dropped with every
// slot when full, so memory stays bounded and a miss allocates only the
// rendered string the record needs anyway.
type valueCache struct {
	slots [cacheSlots]cacheSlot
	keys  []byte
	// ints is where the texts of integer values are carved from (see
	// fresh).
	ints []byte
}

const (
	cacheSlots    = 2048
	cacheKeyBytes = 64 << 10
	// maxCachedValue keeps long values (script blocks, command lines,
	// binary blobs), which seldom repeat, out of the cache.
	maxCachedValue = 96
)

type cacheSlot struct {
	typ    byte
	used   bool
	off, n uint32
	s      string
}

var cacheSeed = maphash.MakeSeed()

// cacheable says whether values of a type are worth remembering: times are
// unique to their record.
func cacheable(typ byte, b []byte) bool { return keepable(typ, b, maxCachedValue) }

// maxMemoValue bounds the values a template's substitution remembers
// (memo). They may be longer than the valueCache keeps: a slot holds one
// value, compared with the next one there, not hashed, and a long value
// there often repeats record after record (a privilege list of 274
// characters on most of a Security log's 4672 events, a key file path),
// where rendering it again was a UTF-16 decoding and a new string each
// time. Longer ones (script blocks) seldom repeat, and copying them into
// the memo on every miss would cost more than it saves.
const maxMemoValue = 1024

// memoable says whether a substitution's memo keeps v.
func memoable(typ byte, b []byte) bool { return keepable(typ, b, maxMemoValue) }

// keepable says whether v, of at most max bytes, may repeat: times are
// unique to their record, and BinXML is rendered, not kept.
func keepable(typ byte, b []byte, max int) bool {
	if len(b) > max {
		return false
	}
	switch typ {
	case vtFiletime, vtSystime, vtBinXML:
		return false
	}
	return true
}

// render returns render of the value of type typ and bytes b, from the
// cache when the same type and bytes were rendered recently. The type and
// bytes come in registers: copying a value struct here (a byte stored,
// then 16 bytes loaded over it) stalled on every call.
func (vc *valueCache) render(typ byte, b []byte) string {
	s, _ := vc.lookup(typ, b)
	return s
}

// lookup is render, saying whether the text came from the cache (hit).
func (vc *valueCache) lookup(typ byte, b []byte) (_ string, hit bool) {
	if !cacheable(typ, b) {
		return vc.fresh(typ, b), false
	}
	h := maphash.Bytes(cacheSeed, b) ^ uint64(typ)*0x9e3779b97f4a7c15
	sl := &vc.slots[h%cacheSlots]
	if sl.used && sl.typ == typ && bytes.Equal(vc.keys[sl.off:sl.off+sl.n], b) {
		return sl.s, true
	}
	s := vc.fresh(typ, b)
	if len(vc.keys)+len(b) > cap(vc.keys) {
		if vc.keys == nil {
			vc.keys = make([]byte, 0, cacheKeyBytes)
		}
		vc.keys = vc.keys[:0]
		clear(vc.slots[:])
	}
	*sl = cacheSlot{typ: typ, used: true, off: uint32(len(vc.keys)), n: uint32(len(b)), s: s}
	vc.keys = append(vc.keys, b...)
	return s, false
}

// fresh is render of the value of type typ and bytes b, the text of an
// integer carved from a block of bytes (ints) shared by many rather than
// allocated for each: the values that miss the caches are mostly numbers
// new with every record (its EventRecordID, logon IDs, thread IDs), a
// string allocated for each, about one a record. The bytes are only
// ever appended to, never written again, so each text stays as it was
// rendered, and a block lives as long as any text in it (small blocks:
// a cached or kept text holds its whole block).
func (vc *valueCache) fresh(typ byte, b []byte) string {
	if cap(vc.ints)-len(vc.ints) < maxIntText {
		vc.ints = make([]byte, 0, intBlock)
	}
	start := len(vc.ints)
	out, ok := appendInt(vc.ints, typ, b)
	if !ok || len(out) == start {
		return render(value{typ: typ, data: b})
	}
	vc.ints = out
	return unsafe.String(&out[start], len(out)-start)
}

// intBlock is the size of the blocks fresh carves integer texts from:
// about 60 texts.
const intBlock = 1024

// messageCache hands out the message strings of recent events: most of a
// log's messages repeat exactly (a service's logon, its special
// privileges: 1,421 of security.evtx's 2,261 records repeat an earlier
// line), and each new string was a quarter of the bytes the parser
// allocated. A hit costs a hash of the line and a comparison. It is
// direct-mapped, a colliding line replacing the slot's; the strings it
// keeps are immutable, so events may share them.
type messageCache struct {
	slots [messageSlots]string
	parts [partSlots]msgParts
}

// msgParts is a message (s) and what it was made of: a message is a
// function of its provider, event ID, summary and fields shown, and
// these are mostly the same strings (by address) record after record, as
// the value caches hand them out, so that comparing their addresses
// finds the message without writing it out, hashing and comparing it
// (see byParts). Strings are immutable: the same address and length are
// the same text.
type msgParts struct {
	provider, eid, summary string
	shown                  []field
	s                      string
}

// partSlots is how many msgParts a messageCache keeps, direct-mapped.
const partSlots = 256

// byParts returns the slot of the message of these parts: the message
// when p.is says so, else the slot to set once it is made.
func (mc *messageCache) byParts(provider, eid, summary string, shown []field) *msgParts {
	h := uint(uintptr(unsafe.Pointer(unsafe.StringData(eid))))>>3 ^
		uint(uintptr(unsafe.Pointer(unsafe.StringData(provider))))>>4 ^ uint(len(shown))*0x9e3779b9
	for i := range shown {
		h = (h ^ uint(uintptr(unsafe.Pointer(unsafe.StringData(shown[i].v))))>>3) * 0x85ebca6b
	}
	return &mc.parts[(h^h>>16)%partSlots]
}

// is says whether p is the message of these parts: each the same string
// (address and length) as p's.
func (p *msgParts) is(provider, eid, summary string, shown []field) bool {
	if p.s == "" || len(p.shown) != len(shown) || !samePtr(p.provider, provider) || !samePtr(p.eid, eid) || !samePtr(p.summary, summary) {
		return false
	}
	for i := range shown {
		a, b := &shown[i], &p.shown[i]
		if !samePtr(a.k, b.k) || !samePtr(a.dom, b.dom) || !samePtr(a.v, b.v) {
			return false
		}
	}
	return true
}

// set makes p the message s of these parts.
func (p *msgParts) set(provider, eid, summary string, shown []field, s string) {
	p.provider, p.eid, p.summary, p.s = provider, eid, summary, s
	p.shown = append(p.shown[:0], shown...)
}

// samePtr says whether a and b are the same string: the same bytes at
// the same address (which makes them equal; equal strings elsewhere are
// not the same).
func samePtr(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

const messageSlots = 1024

// intern returns string(b), the slot's string when it holds the same
// bytes.
func (mc *messageCache) intern(b []byte) string {
	sl := &mc.slots[maphash.Bytes(cacheSeed, b)%messageSlots]
	if *sl == string(b) {
		return *sl
	}
	s := string(b)
	*sl = s
	return s
}

// reuse readies a worker's expander for chunk c (nil: done with the
// last): the arena, the value cache and the scratch stay from chunk to
// chunk, since a chunk holds only a few hundred records, too few for the
// cache to pay for itself if it started empty every time. The template
// slabs are freed: the last chunk's definitions are dead.
func (x *expander) reuse(c *chunk) {
	x.c, x.depth, x.work = c, 0, 0
	x.a.reset()
	x.sc.kids, x.sc.attrs = x.sc.kids[:0], x.sc.attrs[:0]
	x.sc.nodeSlabs.reset()
	x.sc.attrSlabs.reset()
	x.sc.cattrSlabs.reset()
	if c != nil {
		c.sc = &x.sc
	}
}

// newChunk readies the expander's chunk, its name and template tables
// emptied, for the chunk in buf read from fileOff. The chunk and its
// tables are the expander's, reused from chunk to chunk.
func (x *expander) newChunk(buf []byte, fileOff int64) *chunk {
	c := &x.ch
	if c.names == nil {
		c.names = make(map[uint32]nameEntry, 64)
		c.templates = make(map[uint32]*template, 16)
	}
	clear(c.names)
	clear(c.templates)
	*c = chunk{buf: buf, fileOff: fileOff, names: c.names, templates: c.templates, notes: c.notes[:0], namesUsed: c.namesUsed[:0]}
	return c
}

// getExpander takes an expander from the pool (see expanders): the
// Parser's workers keep their arena, value cache and kept template
// definitions (sharedTemplates) from file to file this way, where they
// were built afresh for every file, and an event log is often many small
// files of the same channels. What they keep is checked against each new
// chunk's bytes before use, so nothing of one file shows in another's
// events.
func getExpander() *expander { return expanders.Get().(*expander) }

// putExpander returns x to the pool, without the last chunk it read.
func putExpander(x *expander) {
	x.reuse(nil)
	x.ch = chunk{names: x.ch.names, templates: x.ch.templates}
	clear(x.ch.names)
	clear(x.ch.templates)
	expanders.Put(x)
}
