package slab

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Pool hands out values of T from chunks of n, as Slab does, and takes
// them back: a chunk whose every value was released (Release) and whose
// Source is done with it (Source.Close) is reused, its values zeroed again
// as they are handed out. A parser whose events are released once stored
// then allocates (almost) nothing per record in a steady ingest: with
// Slab, a syslog ingest allocated and zeroed a fresh 32 KiB chunk every 31
// lines (10.8 GB for a 1 GB log) and the collector scanned them all.
//
// Values nobody releases (a caller that keeps its events, a test) are
// simply collected with their chunk, as with Slab. Chunks waiting for
// reuse sit in a sync.Pool, which the collector empties: nothing is held
// after an ingest ends.
//
// A Pool is safe for concurrent use: Sources draw from it on the parsing
// goroutines while values are released on the writer's.
type Pool[T any] struct {
	n     int
	free  sync.Pool // *chunk[T], every value released
	reset func(*T)
}

// cell is what a chunk holds: the value handed out, first, so that a *T
// is a *cell[T] (Release relies on it), and the chunk it belongs to.
type cell[T any] struct {
	v T
	c *chunk[T]
}

type chunk[T any] struct {
	cells []cell[T]
	// live counts the values not released: all n while a Source draws
	// from the chunk, as the ones it has not handed out are released by
	// its Close. At zero the chunk goes back to the pool.
	live atomic.Int32
	// used: the chunk was handed out before, so its values must be
	// zeroed again (a fresh chunk's are). A value at a time, as it is
	// handed out: readying a whole chunk when a Source takes it, and
	// releasing a batch's values a chunk at a time, were no faster (an
	// ingest of the 1 GB bench log without a store, 3-6 alternating runs).
	used bool
}

// NewPool returns a Pool that allocates n values at a time. Choose n so
// that n*CellSize[T]() stays within a size class (FitCells): a chunk
// is still allocated whole when nothing is released.
func NewPool[T any](n int) *Pool[T] {
	if n <= 0 {
		panic("slab: NewPool with n <= 0")
	}
	return &Pool[T]{n: n}
}

// NewPoolReset is NewPool whose values are made ready for reuse by reset
// rather than zeroed: reset must leave *v as a zeroed value would be for
// every use, and may keep what can be reused empty (a map cleared), so
// that it is not allocated again.
func NewPoolReset[T any](n int, reset func(v *T)) *Pool[T] {
	p := NewPool[T](n)
	p.reset = reset
	return p
}

// CellSize is the memory one value of a Pool[T] takes: the value and a
// pointer to its chunk.
func CellSize[T any]() uintptr { return unsafe.Sizeof(cell[T]{}) }

// LargestSmall is the Go allocator's largest small size class: a chunk
// past it is a large object, allocated and zeroed on its own.
const LargestSmall = 32 << 10

// FitCells is the most values of T a chunk holds within LargestSmall:
// the n to give NewPool, which the parsers' tests check their chunk sizes
// against, so that a change of the event model that grows a value is
// noticed.
func FitCells[T any]() int { return LargestSmall / int(CellSize[T]()) }

func (p *Pool[T]) get() *chunk[T] {
	if c, ok := p.free.Get().(*chunk[T]); ok {
		c.live.Store(int32(p.n))
		return c
	}
	c := &chunk[T]{cells: make([]cell[T], p.n)}
	for i := range c.cells {
		c.cells[i].c = c
	}
	c.live.Store(int32(p.n))
	return c
}

func (p *Pool[T]) put(c *chunk[T], k int32) {
	if c.live.Add(-k) == 0 {
		c.used = true
		p.free.Put(c)
	}
}

// Release takes back a value a Source of this pool handed out, once
// nothing reads it or anything it points into any more. Releasing a value
// twice, or one that did not come from this pool, panics where it can be
// told (a value whose chunk pointer is not its own).
func (p *Pool[T]) Release(v *T) {
	cl := (*cell[T])(unsafe.Pointer(v))
	c := cl.c
	if c == nil || len(c.cells) != p.n ||
		uintptr(unsafe.Pointer(cl)) < uintptr(unsafe.Pointer(&c.cells[0])) ||
		uintptr(unsafe.Pointer(cl)) > uintptr(unsafe.Pointer(&c.cells[p.n-1])) {
		panic(fmt.Sprintf("slab: Release of a %T this pool did not hand out", v))
	}
	if poisoning.Load() {
		poison(v)
	}
	p.put(c, 1)
}

// Source hands out a Pool's values to one goroutine (a parser's builder
// for one file); the zero Source is not usable, take one with
// Pool.Source. Close it when done, so that the values of its last chunk it
// did not hand out count as released.
type Source[T any] struct {
	p *Pool[T]
	c *chunk[T]
	i int
}

// Source returns a Source drawing from p.
func (p *Pool[T]) Source() Source[T] { return Source[T]{p: p} }

// New returns a zeroed *T.
func (s *Source[T]) New() *T {
	if s.c == nil || s.i == len(s.c.cells) {
		s.c, s.i = s.p.get(), 0
	}
	cl := &s.c.cells[s.i]
	s.i++
	if s.c.used {
		if s.p.reset != nil {
			s.p.reset(&cl.v)
		} else {
			var zero T
			cl.v = zero
		}
	}
	return &cl.v
}

// Close gives back the values of the current chunk not handed out. The
// Source may be used again after, from a new chunk.
func (s *Source[T]) Close() {
	if s.c == nil {
		return
	}
	if k := len(s.c.cells) - s.i; k > 0 {
		s.p.put(s.c, int32(k))
	}
	s.c, s.i = nil, 0
}
