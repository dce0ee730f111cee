package sqlite

import (
	"sync"
	"unsafe"
)

// The documents a time-ordered read's windows copy out of blocks (up to
// liveWindows × windowMax, 192 MB, at 1000 EVTX files) were slabs of the
// Go heap, pooled. Heap that is live counts twice against the process's
// memory: the collector lets the heap grow by as much as is live before it
// collects (gcpolicy), so a hunt of 1000 EVTX files, holding about 300 MB
// live, peaked at 700–880 MB RSS (with the slabs and blocks outside the
// heap: 696–727 → 553–570 MB, CPU unchanged within the noise). The slabs
// are plain bytes with a lifetime the read knows exactly (a window's slabs come back when its
// last chunk is decoded, and none is used once the read's workers have
// stopped), so they are mapped outside the heap where the system allows
// (readslab_mmap.go): each read maps what it needs, reuses it from window
// to window, and unmaps it all at its end. So are the blocks a read
// decompresses, which its carry holds from window to window (up to 192 MB
// at the start of a read of many files).

// blockBufBytes is the room of a read's block buffers: a stored block
// holds up to blockBytes of documents and their lengths, give or take its
// last document; a larger one is decompressed into the heap's memory.
const blockBufBytes = blockBytes + 64<<10

// slabPool is one read's document slabs (or, with size blockBufBytes, its
// decompressed blocks' memory): those free for the next window, at most
// maxFreeBytes of them, and every one it mapped, unmapped by release.
// Beyond that bound a slab given back is unmapped at once: the carry of a
// read of many files holds a block of each at first (1000 decompressed
// blocks at 1000 EVTX files), the windows' documents later, and memory
// kept for one phase would stay resident through the other.
type slabPool struct {
	size   int // of a slab; 0 is slabBytes
	mu     sync.Mutex
	free   []*[]byte
	mapped map[*byte]bool // by the first byte of the slab
}

// maxFreeBytes bounds the blocks a block pool keeps free: 32 MB cost a
// 1000-file hunt 2.7 % more CPU (blocks unmapped and mapped anew, their
// pages faulted in again), 128 MB nothing measurable. A document pool
// keeps all its slabs: a window gives back its documents' slabs together,
// up to windowMax bytes, and the next window takes as many again (bounded,
// the same churn cost a second of system time).
const maxFreeBytes = 128 << 20

func (p *slabPool) slabSize() int {
	if p.size == 0 {
		return slabBytes
	}
	return p.size
}

// get returns an empty slab of at least the pool's size.
func (p *slabPool) get() *[]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		*s = (*s)[:0]
		return s
	}
	b := mapSlab(p.slabSize())[:0]
	if p.mapped == nil {
		p.mapped = map[*byte]bool{}
	}
	p.mapped[&b[:1][0]] = true
	return &b
}

// put gives slabs back for the read's next windows.
func (p *slabPool) put(slabs []*[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	keep := maxFreeBytes / p.slabSize()
	if p.size == 0 {
		keep = len(p.free) + len(slabs)
	}
	for _, s := range slabs {
		if len(p.free) < keep {
			p.free = append(p.free, s)
			continue
		}
		b := (*s)[:cap(*s)]
		if k := &b[:1][0]; p.mapped[k] {
			delete(p.mapped, k)
			unmapSlab(b)
		}
	}
}

// putBlock gives a decoded block's memory back for the read's next blocks
// (a block decompressed past its slab's room is in the heap's memory, and
// reused as well while not too large).
func (p *slabPool) putBlock(b *block) {
	if b.shared || cap(b.raw) < p.slabSize() || cap(b.raw) > 4*blockBytes {
		return
	}
	raw := b.raw[:0]
	p.put([]*[]byte{&raw})
}

// release unmaps every slab the read mapped: its workers have stopped, and
// the events they decoded hold strings of their own.
func (p *slabPool) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.mapped {
		unmapSlab(unsafe.Slice(k, p.slabSize()))
	}
	p.free, p.mapped = nil, nil
}
