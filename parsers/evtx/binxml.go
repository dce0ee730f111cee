package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/jejak-forensics/jejak/internal/slab"
)

// BinXML tokens (MS-EVEN6 2.2.12). Bit 0x40 on an element start says an
// attribute list follows; on other tokens it says more data follows.
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEndElement   = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokCDATA        = 0x07
	tokCharRef      = 0x08
	tokEntityRef    = 0x09
	tokPITarget     = 0x0a
	tokPIData       = 0x0b
	tokTemplate     = 0x0c
	tokSubst        = 0x0d
	tokOptSubst     = 0x0e
	tokFragment     = 0x0f
	tokFlagMore     = 0x40
	maxDepth        = 48
	maxSubstitution = 4096
)

var errTruncated = errors.New("binary XML runs past its data")

// unresolvedName prefixes the name given to an element or attribute of a
// recovered record whose name was overwritten, followed by the name's
// chunk offset.
const unresolvedName = "unresolved_name_"

// Element is one decoded XML element of an event record. Elements live in
// a per-worker arena and are valid only while the record is handed out.
type Element struct {
	Name  string
	Text  string
	Attrs []Attr

	first, last, next *Element
}

// Attr is one attribute with its rendered value.
type Attr struct{ Name, Value string }

// Attr returns the value of the named attribute.
func (e *Element) Attr(name string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// Child returns the first child element with the given name.
func (e *Element) Child(name string) *Element {
	if e == nil {
		return nil
	}
	for k := e.first; k != nil; k = k.next {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// Kids lists the child elements.
func (e *Element) Kids() []*Element {
	var out []*Element
	for k := e.first; k != nil; k = k.next {
		out = append(out, k)
	}
	return out
}

func (e *Element) add(k *Element) {
	if e.last == nil {
		e.first = k
	} else {
		e.last.next = k
	}
	e.last = k
}

// arena recycles what one record's decoding allocates: at 100,000+
// records/s the garbage collector, not the decoding, is otherwise the cost.
type arena struct {
	blocks [][]Element
	cur    []Element // blocks[bi-1], being handed out from (see nextBlock)
	bi, i  int
	attrs  []Attr
	vals   []rawValue
	nodes  []node
	kids   []node  // children and attribute pieces of nested BinXML elements
	tattrs []tattr // their attributes
}

func (a *arena) elem() *Element {
	if a.i == len(a.cur) {
		a.nextBlock()
	}
	e := &a.cur[a.i]
	a.i++
	*e = Element{}
	return e
}

// nextBlock makes the next block of Elements the one elem hands out
// from (cur), allocating it the first time. elem then indexes cur alone,
// not blocks and then the block, for each of the ~30 Elements of a
// record: 1 % of BenchmarkParseRecycled's instructions.
func (a *arena) nextBlock() {
	if a.bi == len(a.blocks) {
		a.blocks = append(a.blocks, make([]Element, 256))
	}
	a.cur, a.i = a.blocks[a.bi], 0
	a.bi++
}

func (a *arena) reset() {
	a.bi, a.i, a.cur = 0, 0, nil
	a.attrs = a.attrs[:0]
	a.vals = a.vals[:0]
	a.nodes = a.nodes[:0]
	a.kids = a.kids[:0]
	a.tattrs = a.tattrs[:0]
}

// scratch is where element gathers an element's children and attributes
// before it knows how many there are, so that each list is allocated once
// at its final size (or not at all, in the arena) instead of grown.
type scratch struct {
	kids  []node
	attrs []tattr
	// Template definitions are compiled once per chunk and kept for it;
	// their lists are carved from slabs, which are reused for the next
	// chunk's definitions once the chunk is done (see expander.reuse):
	// nothing decoded from a chunk points into them after it.
	nodeSlabs  slabs[node]
	attrSlabs  slabs[tattr]
	cattrSlabs slabs[Attr]
	// shared keeps compiled definitions from chunk to chunk.
	shared sharedTemplates
	// memos hands out the substitutions' memos of compiled definitions.
	memos slab.Slab[memo]
}

const slabSize = 512

// slabs hands out lists carved from a few large arrays, kept from chunk to
// chunk: a chunk's template definitions were otherwise about 60 KB of
// garbage per chunk.
type slabs[T any] struct {
	all [][]T
	i   int // the slab being filled
}

// keep copies xs into a slab and returns the copy, capacity capped.
func (s *slabs[T]) keep(xs []T) []T {
	for {
		if s.i == len(s.all) {
			s.all = append(s.all, make([]T, 0, max(slabSize, len(xs))))
		}
		cur := s.all[s.i]
		if len(cur)+len(xs) <= cap(cur) {
			start := len(cur)
			cur = append(cur, xs...)
			s.all[s.i] = cur
			return cur[start:len(cur):len(cur)]
		}
		s.i++
	}
}

// grab returns n zeroed elements of a slab, capacity capped.
func (s *slabs[T]) grab(n int) []T {
	for {
		if s.i == len(s.all) {
			s.all = append(s.all, make([]T, 0, max(slabSize, n)))
		}
		cur := s.all[s.i]
		if len(cur)+n <= cap(cur) {
			start := len(cur)
			cur = cur[:start+n]
			clear(cur[start:])
			s.all[s.i] = cur
			return cur[start : start+n : start+n]
		}
		s.i++
	}
}

// reset makes every slab free again: the lists handed out must be dead.
func (s *slabs[T]) reset() {
	for j := range s.all[:min(s.i+1, len(s.all))] {
		s.all[j] = s.all[j][:0]
	}
	s.i = 0
}

func (sc *scratch) tmplNodes(ns []node) []node { return sc.nodeSlabs.keep(ns) }

// constAttrs returns the attributes as attrValue renders them when every
// piece of every one is text (whatever the values), nil otherwise: a
// template definition's element whose attributes hold no substitution
// (<Data Name="TargetUserName">, a provider's Name and Guid written in
// the definition) gets them once, in the chunk's slabs, instead of once
// per record.
func (sc *scratch) constAttrs(as []tattr) []Attr {
	if len(as) == 0 {
		return nil
	}
	for i := range as {
		for j := range as[i].val {
			if as[i].val[j].kind != nText {
				return nil
			}
		}
	}
	out := sc.cattrSlabs.grab(len(as))
	for i := range as {
		a := &as[i]
		v := ""
		switch len(a.val) {
		case 0:
		case 1:
			v = a.val[0].text
		default:
			var sb strings.Builder
			for j := range a.val {
				sb.WriteString(a.val[j].text)
			}
			v = sb.String()
		}
		out[i] = Attr{Name: a.name, Value: v}
	}
	return out
}

func (sc *scratch) tmplAttrs(as []tattr) []tattr { return sc.attrSlabs.keep(as) }

func (c *chunk) scratch() *scratch {
	if c.sc == nil {
		c.sc = new(scratch)
	}
	return c.sc
}

// keepNodes copies gathered nodes out of the scratch: into the record's
// arena while expanding nested BinXML, else (a template definition, cached
// for the chunk) into their own slice.
func (d *decoder) keepNodes(ns []node) []node {
	if len(ns) == 0 {
		return nil
	}
	if d.a == nil {
		return d.c.scratch().tmplNodes(ns)
	}
	start := len(d.a.kids)
	d.a.kids = append(d.a.kids, ns...)
	return d.a.kids[start:len(d.a.kids):len(d.a.kids)]
}

func (d *decoder) keepAttrs(as []tattr) []tattr {
	if len(as) == 0 {
		return nil
	}
	if d.a == nil {
		return d.c.scratch().tmplAttrs(as)
	}
	start := len(d.a.tattrs)
	d.a.tattrs = append(d.a.tattrs, as...)
	return d.a.tattrs[start:len(d.a.tattrs):len(d.a.tattrs)]
}

// nodeKind tells what a compiled template node is.
type nodeKind uint8

const (
	nElem nodeKind = iota
	nText
	nSubst
	nTemplate
	nOrphan // a slack record's values whose template was overwritten (text: why)
)

// node is a compiled piece of binary XML: a template definition compiles
// once per chunk into nodes, and every record using it only supplies values.
type node struct {
	kind     nodeKind
	optional bool
	vtype    byte
	idx      uint16
	name     string
	text     string
	attrs    []tattr
	// cattrs is an element's attributes as expand gives them when every
	// one is text alone (no substitution), built when the template
	// definition is compiled: every record of the template shares them.
	cattrs []Attr
	kids   []node
	tmpl   *template
	vals   []rawValue
	// memo is a template definition's substitution's last rendered value
	// (nil elsewhere): see expander.renderAt.
	memo *memo
}

// memo remembers the value last rendered at one substitution of a
// compiled template definition. A log's records of one template repeat
// most of their values in the same places (the level, task, keywords,
// provider GUID, computer, the subject's SID, name and domain): comparing
// a value's bytes with the last ones there is cheaper than hashing them
// for the valueCache.
type memo struct {
	set  bool
	typ  byte
	miss uint8  // misses of memo and valueCache in a row (see renderAt)
	data []byte // a copy of the value's bytes
	s    string
}

// memoSlab is how many memos a chunk's scratch allocates at once.
const memoSlab = 64

type tattr struct {
	name string
	val  []node // text and substitution pieces
}

type template struct {
	nodes []node
	err   error
	// notes lists the names this definition (found in slack) refers to
	// that were overwritten; every record using it inherits them.
	notes []string
}

// decoder reads binary XML out of one chunk buffer. Names and template
// definitions are referenced by chunk-relative offsets, so it needs the
// whole chunk, not only the record.
type decoder struct {
	c     *chunk
	b     []byte
	pos   int
	end   int
	depID bool // element starts carry a dependency ID (template definitions only)
	depth int
	a     *arena // nil while compiling a template: those nodes are cached
}

func (d *decoder) need(n int) error {
	if n < 0 || d.pos+n > d.end {
		return errTruncated
	}
	return nil
}

func (d *decoder) u8() (byte, error) {
	if err := d.need(1); err != nil {
		return 0, err
	}
	v := d.b[d.pos]
	d.pos++
	return v, nil
}

func (d *decoder) u16() (uint16, error) {
	if err := d.need(2); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint16(d.b[d.pos:])
	d.pos += 2
	return v, nil
}

func (d *decoder) u32() (uint32, error) {
	if err := d.need(4); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.b[d.pos:])
	d.pos += 4
	return v, nil
}

// name reads a name reference. A name is stored once per chunk (next
// offset, hash, length, UTF-16, NUL) where first used; later uses point back
// to it. When the offset is the current position the name is inline and is
// skipped over.
func (d *decoder) name() (string, error) {
	off, err := d.u32()
	if err != nil {
		return "", err
	}
	e := d.c.nameEntry(off)
	if d.a == nil { // compiling a template definition
		d.c.namesUsed = append(d.c.namesUsed, nameUse{field: uint32(d.pos - 4), off: off, s: e.s})
	}
	s, size, err := e.s, e.size, e.err
	if err != nil {
		if d.c.strict && int(off) != d.pos {
			e.hashOK = false
		} else {
			return "", err
		}
	}
	if d.c.strict && !e.hashOK {
		if int(off) == d.pos {
			return "", fmt.Errorf("inline name at chunk offset %d does not match its hash", off)
		}
		// The record's structure is intact, only the string it points
		// at is gone: name the element by that offset, never a guess.
		d.c.notes = append(d.c.notes, fmt.Sprintf("name at chunk offset %d overwritten", off))
		return unresolvedName + strconv.Itoa(int(off)), nil
	}
	if int(off) == d.pos {
		if err := d.need(size); err != nil {
			return "", err
		}
		d.pos += size
	}
	return s, nil
}

// fragment decodes tokens up to EOF or the end of the data.
func (d *decoder) fragment() ([]node, error) {
	if d.a != nil {
		start := len(d.a.nodes)
		out, err := d.fragmentInto(d.a.nodes)
		d.a.nodes = out
		return out[start:len(out):len(out)], err
	}
	return d.fragmentInto(nil)
}

func (d *decoder) fragmentInto(out []node) ([]node, error) {
	for d.pos < d.end {
		t := d.b[d.pos]
		switch t &^ tokFlagMore {
		case tokEOF:
			d.pos++
			return out, nil
		case tokFragment:
			if err := d.need(4); err != nil {
				return out, err
			}
			d.pos += 4
		case tokOpenStart:
			n, err := d.element()
			if err != nil {
				return out, err
			}
			out = append(out, n)
		case tokTemplate:
			n, err := d.templateInstance()
			if err != nil {
				return out, err
			}
			out = append(out, n)
		case tokValue, tokSubst, tokOptSubst, tokCharRef, tokEntityRef, tokCDATA:
			n, err := d.content()
			if err != nil {
				return out, err
			}
			out = append(out, n)
		case tokPITarget, tokPIData:
			if err := d.skipPI(); err != nil {
				return out, err
			}
		default:
			return out, fmt.Errorf("unknown binary XML token 0x%02x at chunk offset %d", t, d.pos)
		}
	}
	return out, nil
}

func (d *decoder) element() (node, error) {
	n := node{kind: nElem}
	sc := d.c.scratch()
	kidBase, attrBase := len(sc.kids), len(sc.attrs)
	d.depth++
	defer func() {
		d.depth--
		sc.kids, sc.attrs = sc.kids[:kidBase], sc.attrs[:attrBase]
	}()
	if d.depth > maxDepth {
		return n, errors.New("binary XML nested too deep")
	}
	t := d.b[d.pos]
	d.pos++
	if d.depID {
		if err := d.need(2); err != nil {
			return n, err
		}
		d.pos += 2
	}
	if _, err := d.u32(); err != nil { // data size: the end token tells us
		return n, err
	}
	var err error
	if n.name, err = d.name(); err != nil {
		return n, err
	}
	if t&tokFlagMore != 0 {
		if _, err := d.u32(); err != nil { // attribute list size
			return n, err
		}
		for d.pos < d.end && d.b[d.pos]&^tokFlagMore == tokAttribute {
			d.pos++
			var a tattr
			if a.name, err = d.name(); err != nil {
				return n, err
			}
			pieceBase := len(sc.kids)
			for d.pos < d.end && isContent(d.b[d.pos]) {
				p, err := d.content()
				if err != nil {
					return n, err
				}
				sc.kids = append(sc.kids, p)
			}
			a.val = d.keepNodes(sc.kids[pieceBase:])
			sc.kids = sc.kids[:pieceBase]
			sc.attrs = append(sc.attrs, a)
		}
		n.attrs = d.keepAttrs(sc.attrs[attrBase:])
		if d.a == nil {
			n.cattrs = d.c.scratch().constAttrs(n.attrs)
		}
	}
	tok, err := d.u8()
	if err != nil {
		return n, err
	}
	switch tok {
	case tokCloseEmpty:
		return n, nil
	case tokCloseStart:
	default:
		return n, fmt.Errorf("element %q: token 0x%02x where its start should close, chunk offset %d", n.name, tok, d.pos-1)
	}
	for {
		if err := d.need(1); err != nil {
			return n, err
		}
		t := d.b[d.pos]
		switch t &^ tokFlagMore {
		case tokEndElement:
			d.pos++
			n.kids = d.keepNodes(sc.kids[kidBase:])
			return n, nil
		case tokOpenStart:
			k, err := d.element()
			if err != nil {
				return n, err
			}
			sc.kids = append(sc.kids, k)
		case tokTemplate:
			k, err := d.templateInstance()
			if err != nil {
				return n, err
			}
			sc.kids = append(sc.kids, k)
		case tokPITarget, tokPIData:
			if err := d.skipPI(); err != nil {
				return n, err
			}
		default:
			if !isContent(t) {
				return n, fmt.Errorf("element %q: unexpected token 0x%02x at chunk offset %d", n.name, t, d.pos)
			}
			k, err := d.content()
			if err != nil {
				return n, err
			}
			sc.kids = append(sc.kids, k)
		}
	}
}

func isContent(t byte) bool {
	switch t &^ tokFlagMore {
	case tokValue, tokSubst, tokOptSubst, tokCharRef, tokEntityRef, tokCDATA:
		return true
	}
	return false
}

var entities = map[string]string{"amp": "&", "lt": "<", "gt": ">", "quot": `"`, "apos": "'"}

// content reads one text or substitution token. Token 0x05 (value text) is
// what libevtx 20181227 refuses inside attributes; it is plain text here.
func (d *decoder) content() (node, error) {
	t := d.b[d.pos] &^ tokFlagMore
	d.pos++
	switch t {
	case tokValue:
		vt, err := d.u8()
		if err != nil {
			return node{}, err
		}
		if vt != vtString && vt != vtAnsi {
			return node{}, fmt.Errorf("value text of type 0x%02x at chunk offset %d", vt, d.pos-1)
		}
		s, err := d.prefixedString()
		return node{kind: nText, text: s}, err
	case tokCDATA:
		s, err := d.prefixedString()
		return node{kind: nText, text: s}, err
	case tokCharRef:
		r, err := d.u16()
		return node{kind: nText, text: string(rune(r))}, err
	case tokEntityRef:
		nm, err := d.name()
		if err != nil {
			return node{}, err
		}
		if s, ok := entities[nm]; ok {
			return node{kind: nText, text: s}, nil
		}
		return node{kind: nText, text: "&" + nm + ";"}, nil
	default: // substitutions
		idx, err := d.u16()
		if err != nil {
			return node{}, err
		}
		vt, err := d.u8()
		n := node{kind: nSubst, idx: idx, vtype: vt, optional: t == tokOptSubst}
		if d.a == nil { // compiling a template definition, kept for the chunk or longer
			n.memo = d.c.scratch().memos.New(memoSlab)
		}
		return n, err
	}
}

// prefixedString reads a UTF-16 string preceded by its length in characters.
func (d *decoder) prefixedString() (string, error) {
	n, err := d.u16()
	if err != nil {
		return "", err
	}
	if err := d.need(2 * int(n)); err != nil {
		return "", err
	}
	s := utf16String(d.b[d.pos : d.pos+2*int(n)])
	d.pos += 2 * int(n)
	return s, nil
}

func (d *decoder) skipPI() error {
	t := d.b[d.pos] &^ tokFlagMore
	d.pos++
	if t == tokPITarget {
		_, err := d.name()
		return err
	}
	_, err := d.prefixedString()
	return err
}

// templateInstance reads a template reference and its substitution values.
// The definition is compiled once per chunk and cached by its offset.
func (d *decoder) templateInstance() (node, error) {
	d.pos++ // token
	if err := d.need(9); err != nil {
		return node{}, err
	}
	d.pos++ // unknown byte
	tmplID, _ := d.u32()
	defOff, _ := d.u32()
	if d.c.strict {
		// The reference carries the first 4 bytes of the definition's
		// GUID: in slack the definition may since have been overwritten.
		o := int(defOff)
		if o < chunkHeaderSize || o+8 > len(d.b) {
			return node{}, fmt.Errorf("template definition at chunk offset %d outside the chunk", defOff)
		}
		if got := binary.LittleEndian.Uint32(d.b[o+4:]); got != tmplID {
			why := fmt.Sprintf("template 0x%08x at chunk offset %d was overwritten (the definition there is 0x%08x)", tmplID, defOff, got)
			if o == d.pos {
				return node{}, errors.New(why)
			}
			// The values follow in the record itself: keep them, unnamed.
			vals, err := d.values()
			return node{kind: nOrphan, text: why, vals: vals}, err
		}
	}
	var tmpl *template
	if int(defOff) == d.pos {
		// First use in this chunk: the definition follows inline.
		if err := d.need(24); err != nil {
			return node{}, err
		}
		size := int(binary.LittleEndian.Uint32(d.b[d.pos+20:]))
		tmpl = d.c.template(defOff)
		if err := d.need(24 + size); err != nil {
			return node{}, err
		}
		d.pos += 24 + size
	} else {
		tmpl = d.c.template(defOff)
	}
	if tmpl.err != nil {
		return node{}, tmpl.err
	}
	if d.c.strict {
		d.c.notes = append(d.c.notes, tmpl.notes...)
	}
	vals, err := d.values()
	return node{kind: nTemplate, tmpl: tmpl, vals: vals}, err
}

// values reads a template instance's substitution values: their count,
// descriptors (size, type) and data.
func (d *decoder) values() ([]rawValue, error) {
	count, err := d.u32()
	if err != nil {
		return nil, err
	}
	if count > maxSubstitution {
		return nil, fmt.Errorf("template instance with %d substitutions", count)
	}
	if err := d.need(4 * int(count)); err != nil {
		return nil, err
	}
	var all []rawValue
	if d.a != nil {
		all = d.a.vals
	}
	start := len(all)
	descs := d.b[d.pos : d.pos+4*int(count)]
	d.pos += 4 * int(count)
	all = slices.Grow(all, int(count))
	all = all[:start+int(count)]
	// Filled in place: this runs for every value of every record. A
	// chunk is far smaller than 4 GiB, so the offsets fit rawValue's (a
	// larger buffer, which no caller makes, is refused). The loop
	// touches nothing of d, so that its values stay in registers (a
	// value that runs past the data ends it early), and reads each
	// descriptor through a pointer: descs holds 4 bytes for each of vs,
	// and indexing it spent a bounds check and a register on each.
	if d.end > math.MaxUint32 {
		return nil, errTruncated
	}
	pos, end := d.pos, d.end
	vs := all[start:]
	dp := unsafe.Pointer(unsafe.SliceData(descs))
	i := 0
	for ; i < len(vs); i++ {
		dsc := binary.LittleEndian.Uint32(unsafe.Slice((*byte)(unsafe.Add(dp, 4*i)), 4))
		size := int(uint16(dsc))
		if size > end-pos {
			break
		}
		vs[i] = rawValue{off: uint32(pos), n: uint16(dsc), typ: byte(dsc >> 16)}
		pos += size
	}
	d.pos = pos
	if i < len(vs) {
		return nil, errTruncated
	}
	if d.a != nil {
		d.a.vals = all
	}
	return all[start:len(all):len(all)], nil
}

// expander turns compiled nodes plus values into Elements.
type expander struct {
	c     *chunk
	ch    chunk // the chunk being decoded (see newChunk)
	a     arena
	depth int
	work  int // nodes expanded for the current record
	sb    strings.Builder
	vc    valueCache
	msgs  messageCache // the messages of its builder's events (see builder.msgs)
	// ft and fts are the first FILETIME value the current record
	// rendered and its text (ftSet: there was one), which the record
	// carries (Record.ft) so that its event need not parse back the
	// TimeCreated it shows.
	ft    uint64
	fts   string
	ftSet bool
	sc    scratch
	// readBuf is a Parser worker's chunk buffer, kept with the expander
	// from file to file.
	readBuf []byte
	// timeBuf is where FILETIME texts are carved from (see
	// renderFiletime).
	timeBuf []byte
}

// maxWork bounds one record's expansion. A template may use the same
// nested-BinXML value many times, and that value can do the same, so a
// crafted record could otherwise expand exponentially.
const maxWork = 1 << 18

var errTooLarge = errors.New("record expands beyond 262,144 XML nodes (crafted or corrupt substitutions)")

func (x *expander) expand(nodes []node, vals []rawValue, parent *Element) error {
	// depth is restored on every way out (no defer: this runs for every
	// element of every record).
	x.depth++
	if x.depth > maxDepth {
		x.depth--
		return errors.New("binary XML nested too deep")
	}
	var err error
loop:
	for i := range nodes {
		n := &nodes[i]
		if x.work++; x.work > maxWork {
			err = errTooLarge
			break
		}
		switch n.kind {
		case nElem:
			e := x.a.elem()
			e.Name = n.name
			if n.cattrs != nil {
				e.Attrs = n.cattrs
			} else if len(n.attrs) > 0 {
				start := len(x.a.attrs)
				for j := range n.attrs {
					a := &n.attrs[j]
					v, present := x.attrValue(a.val, vals)
					if present {
						x.a.attrs = append(x.a.attrs, Attr{Name: a.name, Value: v})
					}
				}
				e.Attrs = x.a.attrs[start:len(x.a.attrs):len(x.a.attrs)]
			}
			// Most elements hold one substituted value (<Level>,
			// <Data Name=...>): that is what expanding their kids does,
			// done here without the call. A BinXML value, a missing
			// one or too deep a nesting take the general way, which
			// handles them.
			if len(n.kids) == 1 && n.kids[0].kind == nSubst && x.depth < maxDepth {
				k := &n.kids[0]
				if int(k.idx) < len(vals) && vals[k.idx].typ != vtBinXML {
					if x.work++; x.work > maxWork {
						err = errTooLarge
						break loop
					}
					if v := vals[k.idx]; !v.empty() {
						e.Text = x.renderAt(k.memo, v.typ, x.bytes(v))
					}
					parent.add(e)
					continue
				}
			}
			// An element of attributes alone (<Provider>, <TimeCreated>,
			// <Execution>: five a record) needs no call; one nested too
			// deep fails in it as before.
			if len(n.kids) > 0 || x.depth >= maxDepth {
				if err = x.expand(n.kids, vals, e); err != nil {
					break loop
				}
			}
			parent.add(e)
		case nText:
			appendText(parent, n.text)
		case nSubst:
			if int(n.idx) >= len(vals) {
				if n.optional {
					continue
				}
				err = fmt.Errorf("substitution %d of %d", n.idx, len(vals))
				break loop
			}
			v := vals[n.idx]
			if v.empty() {
				continue
			}
			if v.typ == vtBinXML {
				if err = x.nested(v, parent); err != nil {
					break loop
				}
				continue
			}
			appendText(parent, x.renderAt(n.memo, v.typ, x.bytes(v)))
		case nTemplate:
			if err = x.expand(n.tmpl.nodes, n.vals, parent); err != nil {
				break loop
			}
		case nOrphan:
			if x.depth == 1 { // the record's own template: nothing is left to show
				err = errors.New(n.text)
				break loop
			}
			if err = x.orphan(n, parent); err != nil {
				break loop
			}
		}
	}
	x.depth--
	return err
}

// orphan shows the values of a template instance whose definition was
// overwritten as unnamed Data elements, in order, so EventData numbers them
// Data1..n: the values are the record's own bytes, the names are lost.
func (x *expander) orphan(n *node, parent *Element) error {
	x.c.notes = append(x.c.notes, n.text)
	for _, v := range n.vals {
		e := x.a.elem()
		e.Name = "Data"
		if v.typ == vtBinXML && !v.empty() {
			if err := x.nested(v, e); err != nil {
				return err
			}
		} else if !v.empty() {
			e.Text = x.vc.render(v.typ, x.bytes(v))
		}
		parent.add(e)
	}
	return nil
}

// nested decodes a BinXML substitution value (typically EventData or
// UserData of a provider that writes its own fragment). Inside it element
// starts carry no dependency ID.
func (x *expander) nested(v rawValue, parent *Element) error {
	d := &decoder{c: x.c, b: x.c.buf, pos: int(v.off), end: int(v.off) + int(v.n), depth: x.depth, a: &x.a}
	nodes, err := d.fragment()
	if err != nil {
		return err
	}
	return x.expand(nodes, nil, parent)
}

func appendText(e *Element, s string) {
	if e.Text == "" {
		e.Text = s
	} else {
		e.Text += s
	}
}

// attrValue concatenates an attribute's pieces; an attribute whose only
// piece is an empty optional substitution is left out, as Windows does.
func (x *expander) attrValue(pieces []node, vals []rawValue) (string, bool) {
	if len(pieces) == 1 {
		p := &pieces[0]
		switch p.kind {
		case nText:
			return p.text, true
		case nSubst:
			if int(p.idx) >= len(vals) || vals[p.idx].empty() {
				return "", !p.optional
			}
			v := vals[p.idx]
			return x.renderAt(p.memo, v.typ, x.bytes(v)), true
		}
	}
	x.sb.Reset()
	for i := range pieces {
		p := &pieces[i]
		switch p.kind {
		case nText:
			x.sb.WriteString(p.text)
		case nSubst:
			if int(p.idx) < len(vals) && !vals[p.idx].empty() {
				v := vals[p.idx]
				x.sb.WriteString(x.renderAt(p.memo, v.typ, x.bytes(v)))
			}
		}
	}
	return x.sb.String(), true
}

// bytes are v's bytes in the chunk (the decoder that read v checked that
// they are in it).
func (x *expander) bytes(v rawValue) []byte {
	return x.c.buf[v.off : v.off+uint32(v.n)]
}

// renderAt renders the value of type typ and bytes b, substituted where
// m is the memo (nil: none): the
// last string rendered there when v has the same type and bytes, else
// through the valueCache, remembered in m. Times are not remembered, nor
// values longer than maxMemoValue; longer values than the valueCache keeps
// are (see memoable). The record's first
// FILETIME, its TimeCreated in practice, is kept with its text (see
// expander.ft).
func (x *expander) renderAt(m *memo, typ byte, b []byte) string {
	if typ == vtFiletime {
		s := x.renderFiletime(b)
		if !x.ftSet && len(b) == 8 {
			x.ftSet, x.ft, x.fts = true, binary.LittleEndian.Uint64(b), s
		}
		return s
	}
	if m == nil {
		return x.vc.render(typ, b)
	}
	if m.set && m.typ == typ && sameBytes(m.data, b) {
		m.miss = 0
		return m.s
	}
	// An integer new at every record here (its EventRecordID, a logon
	// or thread ID), which missed both the memo and the valueCache 9
	// times in a row, is rendered at once, neither looked up nor kept;
	// every 256th time (m.miss wrapping to 0) it takes the whole way
	// again, in case it settles. One that the valueCache has (an
	// EventID alternating between a few) keeps its text from there: the
	// same string, which the message's parts compare by address.
	if m.miss > 8 && isInt(typ) {
		m.miss++
		return x.vc.fresh(typ, b)
	}
	s, hit := x.vc.lookup(typ, b)
	if hit {
		m.miss = 0
	} else {
		m.miss++
	}
	if memoable(typ, b) {
		m.set, m.typ, m.s = true, typ, s
		m.data = append(m.data[:0], b...)
	}
	return s
}

// isInt says whether values of type typ are integers (see appendInt).
func isInt(typ byte) bool {
	return typ >= vtInt8 && typ <= vtUint64 || typ == vtHexInt32 || typ == vtHexInt64
}

// sameBytes is string(a) == string(b), comparing the sizes most values
// have (1, 2, 4, 8 and 16 bytes: levels, tasks, process IDs, keywords,
// GUIDs) in registers rather than through the runtime's memequal: a
// memo compares about 20 values a record.
func sameBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	switch len(b) {
	case 1:
		return a[0] == b[0]
	case 2:
		return binary.LittleEndian.Uint16(a) == binary.LittleEndian.Uint16(b)
	case 4:
		return binary.LittleEndian.Uint32(a) == binary.LittleEndian.Uint32(b)
	case 8:
		return binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b)
	case 16:
		return binary.LittleEndian.Uint64(a) == binary.LittleEndian.Uint64(b) &&
			binary.LittleEndian.Uint64(a[8:]) == binary.LittleEndian.Uint64(b[8:])
	}
	return string(a) == string(b)
}

// renderFiletime is render(*v) for a FILETIME value, its text carved
// from a block of bytes (timeBuf) shared by the texts of many records
// rather than allocated for each: every record renders one, its
// TimeCreated, which its event keeps (jejak.data.written_time). The bytes
// are only ever appended to, never written again, so each text stays as
// it was rendered, and a block lives as long as any text in it.
func (x *expander) renderFiletime(b []byte) string {
	if len(b) < 8 {
		return render(value{typ: vtFiletime, data: b})
	}
	t, ok := filetime(binary.LittleEndian.Uint64(b))
	if !ok {
		return ""
	}
	if cap(x.timeBuf)-len(x.timeBuf) < 32 {
		x.timeBuf = make([]byte, 0, timeBufSize)
	}
	start := len(x.timeBuf)
	x.timeBuf = appendTime(x.timeBuf, t, 7)
	return unsafe.String(&x.timeBuf[start], len(x.timeBuf)-start)
}

// timeBufSize is the size of the blocks FILETIME texts are carved from:
// 146 texts of 28 bytes.
const timeBufSize = 4096

// text is the element's text, "" for a missing element: a recovered record
// whose names were overwritten may lack any System child.
func (e *Element) text() string {
	if e == nil {
		return ""
	}
	return e.Text
}
