package sqlite

import (
	"bytes"

	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/timeline"
)

// A hunt's read (SearchTransient, SearchProjected) decodes the same
// sub-objects over and over: every line of a syslog file has the same
// jejak.time note and host, every failed SSH login the same event object
// ({"action":"ssh_failed_login","category":["authentication"],...}) and the
// same jejak.data. Parsing them again, interning their strings and
// allocating their structs, slices and maps was about a quarter of the
// decoding on a syslog hunt (profile of a 200 MB auth.log case).
//
// A memo remembers the last few values the decoder made of one field, with
// the exact bytes each was made from. When the document at the field's
// value starts with those bytes, the value is those bytes and nothing else
// (a JSON object, array or string ends where its bytes say, whatever
// follows), so the decoder would make an equal value of them: it hands out
// the remembered one and steps over the bytes. Values made from invalid
// input are never remembered (the decoder fails on it as before and the
// document goes to encoding/json).
//
// The value handed out is shared with the other events it was made for:
// that is why only the transient reads memoize (interner.share), whose
// reader, the hunt, reads events and never changes them. Slices are
// remembered with their capacity cut to their length, so an append to one
// copies it instead of writing into the shared array.
//
// A field whose values seldom repeat (a Windows record's jejak.data, with
// its thread and process IDs and times) would pay a comparison and a copy
// per event for nothing: a memo that finds too few of its values turns
// itself off for a while (memoOff lookups), then tries again.

const (
	memoWays   = 8    // values remembered per field
	memoMaxRaw = 1024 // longer values are not remembered
	memoJudge  = 256  // lookups between judgements of the hit rate
	memoOff    = 8192 // lookups a memo stays off after a poor judgement
)

// memo is one field's remembered values. They are looked for from the
// one found last, and a new one replaces the oldest: keeping them in
// recency order instead moved up to eight values at every hit, which cost
// more than the comparisons it saved.
type memo[T any] struct {
	raw  [memoWays][]byte
	val  [memoWays]T
	n    int // values held
	last int // the one found or kept last
	next int // the one the next keep replaces, when all are held
	hits int
	seen int
	off  int
}

// active reports whether the memo is on for this lookup, counting it.
func (m *memo[T]) active() bool {
	if m.off > 0 {
		m.off--
		return false
	}
	if m.seen++; m.seen >= memoJudge {
		// Fewer than a quarter found: not worth it for now.
		if m.hits < memoJudge/4 {
			m.off = memoOff
		}
		m.seen, m.hits = 0, 0
	}
	return true
}

// find returns the value remembered for the bytes b starts with, and
// their length.
func (m *memo[T]) find(b []byte) (T, int, bool) {
	for k := 0; k < m.n; k++ {
		i := m.last + k
		if i >= m.n {
			i -= m.n
		}
		r := m.raw[i]
		if len(r) <= len(b) && string(b[:len(r)]) == string(r) {
			m.last = i
			m.hits++
			return m.val[i], len(r), true
		}
	}
	var zero T
	return zero, 0, false
}

// keep remembers v as made of raw, in place of the oldest value when all
// places are taken (its buffer is reused).
func (m *memo[T]) keep(raw []byte, v T) {
	if len(raw) > memoMaxRaw {
		return
	}
	i := m.n
	if m.n < memoWays {
		m.n++
	} else {
		i = m.next
		m.next = (m.next + 1) % memoWays
	}
	m.raw[i], m.val[i] = append(m.raw[i][:0], raw...), v
	m.last = i
}

// memos are one decoding goroutine's memos, in its interner.
type memos struct {
	meta  memo[timeline.EventMeta]
	host  memo[*timeline.Host]
	user  memo[*timeline.User]
	time  memo[*timeline.TimeNote]
	data  memo[map[string]string]
	chain memo[[]string]
	// The first members of a provenance, up to its offset (see lead).
	prov leadMemo[timeline.Provenance]
}

// sharing reports whether the decoder hands out shared values (see
// above): its interner's memos are then in d.in.memo.
func (d *decoder) sharing() bool { return d.in != nil && d.in.share }

// memoized returns the value parse makes of the field's value at d.i,
// through m, one of d.in.memo's (d.sharing()).
func memoized[T any](d *decoder, m *memo[T], parse func() T) T {
	if !m.active() {
		return parse()
	}
	d.ws()
	if v, n, ok := m.find(d.b[d.i:]); ok {
		d.i += n
		return v
	}
	start := d.i
	v := parse()
	if !d.bad {
		m.keep(d.b[start:d.i], v)
	}
	return v
}

// clip cuts a shared slice's capacity to its length.
func clip(s []string) []string {
	if s == nil {
		return nil
	}
	return s[:len(s):len(s)]
}

// metaShared is eventMeta through its memo (d.sharing()): m is the zero
// EventMeta.
func (d *decoder) metaShared(m *timeline.EventMeta) {
	*m = memoized(d, &d.in.memo.meta, func() timeline.EventMeta {
		var v timeline.EventMeta
		d.eventMeta(&v)
		v.Category, v.Type = clip(v.Category), clip(v.Type)
		return v
	})
}

// chainShared is strs(true) through its memo (d.sharing()).
func (d *decoder) chainShared() []string {
	return memoized(d, &d.in.memo.chain, func() []string { return clip(d.strs(true)) })
}

// A transient read's events also take their sub-structs (log, syslog,
// user, source and destination, process, file, winlog, logon) from slabs
// of slabN, one allocation for slabN of them instead of one each: the
// allocations of a syslog hunt's decoding (five structs an event) were,
// with their zeroing and sweeping, about a tenth of its CPU. A struct the
// reader keeps keeps its slab's memory too; the hunt keeps none (its
// references copy the strings they need).
const slabN = 32

// slabs are one decoding goroutine's slabs, in its interner.
type slabs struct {
	log      slab.Slab[timeline.Log]
	syslog   slab.Slab[timeline.Syslog]
	user     slab.Slab[timeline.User]
	endpoint slab.Slab[timeline.Endpoint]
	process  slab.Slab[timeline.Process]
	file     slab.Slab[timeline.File]
	winlog   slab.Slab[timeline.Winlog]
	logon    slab.Slab[timeline.WinlogLogon]
}

func (d *decoder) newLog() *timeline.Log {
	if d.sharing() {
		return d.in.slabs.log.New(slabN)
	}
	return &timeline.Log{}
}

func (d *decoder) newSyslog() *timeline.Syslog {
	if d.sharing() {
		return d.in.slabs.syslog.New(slabN)
	}
	return &timeline.Syslog{}
}

func (d *decoder) newUser() *timeline.User {
	if d.sharing() {
		return d.in.slabs.user.New(slabN)
	}
	return &timeline.User{}
}

func (d *decoder) newEndpoint() *timeline.Endpoint {
	if d.sharing() {
		return d.in.slabs.endpoint.New(slabN)
	}
	return &timeline.Endpoint{}
}

func (d *decoder) newProcess() *timeline.Process {
	if d.sharing() {
		return d.in.slabs.process.New(slabN)
	}
	return &timeline.Process{}
}

func (d *decoder) newFile() *timeline.File {
	if d.sharing() {
		return d.in.slabs.file.New(slabN)
	}
	return &timeline.File{}
}

func (d *decoder) newWinlog() *timeline.Winlog {
	if d.sharing() {
		return d.in.slabs.winlog.New(slabN)
	}
	return &timeline.Winlog{}
}

func (d *decoder) newWinlogLogon() *timeline.WinlogLogon {
	if d.sharing() {
		return d.in.slabs.logon.New(slabN)
	}
	return &timeline.WinlogLogon{}
}

// Some objects repeat but for a member or two: a row's provenance differs
// from the row before in its offset and record only. For those the memo
// remembers the object's first members, up to the one that varies: the
// bytes after the '{' up to that member's ',' and the state the decoder
// had there (the struct as filled so far, the keys seen, how many). When
// the document goes on with those bytes, the decoder takes that state and
// reads on from the ',' as it would have: the rest of the object is read
// as ever, and a key given twice is still refused. (A remembered number
// that the document's goes on from, "record":5 before "record":55, leaves
// the decoder at a digit where a ',' must be: it fails, and encoding/json
// decodes the document.) On a syslog hunt this took the provenance from
// 0.49 to 0.32 CPU-s of 8.3; log.syslog and process, tried the same way
// up to their procid and pid, gained nothing measurable: their first
// members are one or two short interned strings.

// lead is the state of an object's decoding after its remembered first
// members.
type lead[T any] struct {
	v    T
	seen uint32
	n    int
}

// leadMemo is the memo of an object's first members. Its ring (memo)
// holds the last few leads, found by comparing bytes; behind it, by holds
// up to leadMax of them by their exact bytes, up to the varying member.
// A time-ordered read of many files of one evidence (a folder of EVTX
// logs, whose records interleave by time) gives each row a provenance of
// another file than the row before: their leads differ in the chain and
// path, more files than the ring holds take turns, and the ring found
// none (the 40-copy EVTX hunt decoded every provenance whole, 5 % of its
// CPU). by finds each of them with one search for the varying member's
// key and one lookup; the ring stays first, as it is cheaper where the
// rows come from one file (a syslog case).
type leadMemo[T any] struct {
	ring  memo[lead[T]]
	by    map[string]lead[T]
	found int // leads by found, for the tests
}

// leadMax bounds leadMemo.by, which is cleared when full: files are few
// beside the rows, a document may make up any.
const leadMax = 1024

// prefixStart is called right after the object's '{' with its memo (nil:
// the decoder does not share) and cut, how the varying member begins
// (its ',' and key, as the encoder writes them: ',"offset":'): with a
// remembered start of the object there, it sets v, seen and n from it and
// steps over its bytes. It returns where the object's members begin and
// whether the decoder should remember them (prefixKeep) this time.
//
// by is looked up with the bytes before the first cut: remembered bytes
// never hold cut (their object's varying member is the first member of
// that key, and a JSON string holds no unescaped quote), so when they
// begin the object and cut follows them, the first cut is right after
// them, and those are the bytes looked up. A hit is the object going on
// from remembered bytes, as with the ring.
func prefixStart[T any](d *decoder, m *leadMemo[T], cut string, v *T, seen *uint32, n *int) (start int, keep bool) {
	start = d.i
	if m == nil {
		return start, false
	}
	ring := m.ring.active()
	if ring {
		if p, l, ok := m.ring.find(d.b[start:]); ok {
			*v, *seen, *n = p.v, p.seen, p.n
			d.i = start + l
			return start, false
		}
	}
	if len(m.by) > 0 {
		end := min(len(d.b), start+memoMaxRaw+len(cut))
		if k := bytes.Index(d.b[start:end], []byte(cut)); k > 0 {
			if p, ok := m.by[string(d.b[start:start+k])]; ok {
				*v, *seen, *n = p.v, p.seen, p.n
				d.i = start + k
				m.found++
				if ring {
					// The ring learns what it missed, as it did
					// before by: what comes again soon is its.
					m.ring.keep(d.b[start:d.i], p)
				}
				return start, false
			}
		}
	}
	return start, true
}

// prefixKeep remembers the members from start to at (where the varying
// member begins, before its ','), with the state before it: in the ring
// while it is on, and in by when cut follows them (the encoder's
// spelling; by is searched by it).
func prefixKeep[T any](d *decoder, m *leadMemo[T], cut string, start, at int, v T, seen uint32, n int) {
	if d.bad || at <= start || at-start > memoMaxRaw {
		return
	}
	l := lead[T]{v, seen, n}
	if m.ring.off == 0 {
		m.ring.keep(d.b[start:at], l)
	}
	if bytes.HasPrefix(d.b[at:], []byte(cut)) {
		if m.by == nil || len(m.by) >= leadMax {
			m.by = make(map[string]lead[T], 64)
		}
		m.by[string(d.b[start:at])] = l
	}
}
