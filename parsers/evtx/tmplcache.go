package evtx

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// sharedTemplates keeps a worker's compiled template definitions from one
// chunk to the next. Every chunk repeats the definitions of the events it
// holds (a log of one channel has a few dozen), and compiling them again
// in every chunk was a sixteenth of the parser's CPU.
//
// A definition compiled in one chunk is reused in another only when its
// compiled form cannot differ. Compiled nodes hold no offsets; what they
// depend on is the definition's bytes and the names it refers to, by chunk
// offset. So the new definition must have the same template GUID and size
// and the same bytes except in its name references; each of those must
// point at the same place relative to the definition when the old one
// pointed inside the definition (an inline name or one repeated from
// earlier in it), or else outside it in both, and the name must read the
// same in the new chunk. Definitions that hold template
// instances (whose values are bytes of their chunk) are not kept, nor is
// anything while carving slack (chunk.strict), where a definition's names
// are checked against their hashes.
type sharedTemplates struct {
	byKey map[sharedKey]*sharedTemplate
}

type sharedKey struct {
	guid [16]byte
	size uint32
}

type sharedTemplate struct {
	body []byte    // the definition's bytes after its 24-byte header
	refs []nameRef // its name references, in body order
	t    *template
}

// nameRef is a name reference of a kept definition: where its 4-byte
// offset sits in the body, and either the name's offset relative to the
// definition (inside) or the name itself (outside).
type nameRef struct {
	field  int
	inside bool
	rel    int
	s      string
	// raw is an outside name's UTF-16 (its character count's worth of
	// bytes): the same bytes at the new offset are the same name, read
	// without decoding it. sealed: an inside name none of whose bytes are
	// a reference field, which the body comparison skips, so that the
	// body's bytes being the same makes it the same name.
	raw    []byte
	sealed bool
}

// maxShared bounds the cache: past it, it starts again empty.
const maxShared = 256

func defKey(c *chunk, o, size int) sharedKey {
	k := sharedKey{size: uint32(size)}
	copy(k.guid[:], c.buf[o+4:o+20])
	return k
}

// lookup returns the template compiled from the definition at chunk
// offset o, size bytes long, if an earlier chunk compiled one that reads
// the same (see sharedTemplates).
func (sh *sharedTemplates) lookup(c *chunk, o, size int) *template {
	if sh.byKey == nil {
		return nil
	}
	e := sh.byKey[defKey(c, o, size)]
	if e == nil {
		return nil
	}
	body := c.buf[o+24 : o+24+size]
	at := 0
	for _, r := range e.refs {
		if !bytes.Equal(body[at:r.field], e.body[at:r.field]) {
			return nil
		}
		off := int(binary.LittleEndian.Uint32(body[r.field:]))
		if r.inside && off-o != r.rel || !r.inside && off >= o && off < o+24+size {
			return nil
		}
		switch {
		case r.sealed:
		case r.raw != nil && rawNameIs(c.buf, off, r.raw):
		default:
			// Inside too: a crafted reference field could overlap the
			// name.
			if ne := c.nameEntry(uint32(off)); ne.err != nil || ne.s != r.s {
				return nil
			}
		}
		at = r.field + 4
	}
	if !bytes.Equal(body[at:], e.body[at:]) {
		return nil
	}
	return e.t
}

// store keeps t, compiled from the definition at o, for later chunks and
// returns the kept copy (nil when t is not kept). used are the name
// references its compilation resolved.
func (sh *sharedTemplates) store(c *chunk, o, size int, t *template, used []nameUse) *template {
	if !selfContained(t.nodes) || len(t.notes) > 0 {
		return nil
	}
	lo, hi := o+24, o+24+size
	refs := make([]nameRef, 0, len(used))
	for _, n := range used {
		f := int(n.field)
		if f < lo || f+4 > hi || (len(refs) > 0 && f-lo < refs[len(refs)-1].field+4) {
			return nil // not read in order from inside the body: keep nothing
		}
		ne := c.nameEntry(n.off)
		off := int(n.off)
		r := nameRef{field: f - lo, s: n.s}
		switch {
		case off >= lo && off+ne.size <= hi:
			r.inside, r.rel = true, off-o
		case off+ne.size > lo && off < hi:
			return nil // a name straddling the body's edge
		case ne.err == nil && ne.size >= 10:
			r.raw = slices.Clone(c.buf[off+8 : off+ne.size-2])
		}
		refs = append(refs, r)
	}
	for i := range refs {
		r := &refs[i]
		if !r.inside {
			continue
		}
		// The name's bytes, relative to the body (the 24-byte header
		// before it is compared as the key).
		start, end := r.rel-24, r.rel-24+c.nameEntry(uint32(o+r.rel)).size
		r.sealed = start >= 0
		for _, f := range refs {
			if f.field < end && f.field+4 > start {
				r.sealed = false
			}
		}
	}
	if sh.byKey == nil || len(sh.byKey) >= maxShared {
		sh.byKey = make(map[sharedKey]*sharedTemplate, 64)
	}
	kept := &template{nodes: deepCopyNodes(t.nodes)}
	sh.byKey[defKey(c, o, size)] = &sharedTemplate{body: slices.Clone(c.buf[lo:hi]), refs: refs, t: kept}
	return kept
}

// rawNameIs says whether the name at chunk offset off has the UTF-16
// bytes raw (as counted by its character count).
func rawNameIs(buf []byte, off int, raw []byte) bool {
	if off < 0 || off+8 > len(buf) || int(binary.LittleEndian.Uint16(buf[off+6:]))*2 != len(raw) || off+8+len(raw)+2 > len(buf) {
		return false
	}
	return bytes.Equal(buf[off+8:off+8+len(raw)], raw)
}

// selfContained reports whether compiled nodes hold nothing of their
// chunk but what their definition's bytes and names determine.
func selfContained(nodes []node) bool {
	for i := range nodes {
		n := &nodes[i]
		if n.kind == nTemplate || n.kind == nOrphan || n.vals != nil || n.tmpl != nil {
			return false
		}
		if !selfContained(n.kids) {
			return false
		}
		for _, a := range n.attrs {
			if !selfContained(a.val) {
				return false
			}
		}
	}
	return true
}

// deepCopyNodes copies nodes out of the chunk's slabs, which the next
// chunk reuses.
func deepCopyNodes(nodes []node) []node {
	if nodes == nil {
		return nil
	}
	out := slices.Clone(nodes)
	for i := range out {
		n := &out[i]
		n.kids = deepCopyNodes(n.kids)
		if n.cattrs != nil {
			n.cattrs = slices.Clip(slices.Clone(n.cattrs))
		}
		if n.attrs != nil {
			attrs := slices.Clone(n.attrs)
			for j := range attrs {
				attrs[j].val = deepCopyNodes(attrs[j].val)
			}
			n.attrs = attrs
		}
	}
	return out
}
