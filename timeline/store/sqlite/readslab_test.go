package sqlite

import "testing"

// A read's slabs are reused from window to window, a block pool's past
// maxFreeBytes are unmapped when given back, and release unmaps the rest,
// those still out included (a cancelled read's last windows).
func TestSlabPoolReuseAndRelease(t *testing.T) {
	p := slabPool{size: blockBufBytes}
	a, b := p.get(), p.get()
	if len(*a) != 0 || cap(*a) != blockBufBytes {
		t.Fatalf("slab len %d cap %d, want 0 and %d", len(*a), cap(*a), blockBufBytes)
	}
	*a = append(*a, "document"...)
	(*b)[:cap(*b)][blockBufBytes-1] = 1 // the whole slab is writable
	p.put([]*[]byte{a})
	if c := p.get(); c != a || len(*c) != 0 {
		t.Fatalf("a slab given back is not reused empty")
	}
	if len(p.mapped) != 2 {
		t.Fatalf("%d slabs made, want 2", len(p.mapped))
	}
	// More given back than the pool keeps free: the rest are unmapped.
	keep := maxFreeBytes / blockBufBytes
	var out []*[]byte
	for range keep + 3 {
		out = append(out, p.get())
	}
	p.put(out)
	if len(p.free) != keep || len(p.mapped) != keep+2 {
		t.Fatalf("free %d, mapped %d; want %d and %d", len(p.free), len(p.mapped), keep, keep+2)
	}
	p.release()
	if len(p.mapped) != 0 || len(p.free) != 0 {
		t.Fatalf("release left %d slabs, %d free", len(p.mapped), len(p.free))
	}
	// A document pool keeps every slab given back.
	var q slabPool
	out = out[:0]
	for range 2 * maxFreeBytes / slabBytes {
		out = append(out, q.get())
	}
	if cap(*out[0]) != slabBytes {
		t.Fatalf("document slab: cap %d", cap(*out[0]))
	}
	q.put(out)
	if len(q.free) != len(out) {
		t.Fatalf("document pool kept %d of %d", len(q.free), len(out))
	}
	q.release()
}
