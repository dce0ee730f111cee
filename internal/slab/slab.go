// Package slab hands out zeroed values of one type from arrays allocated
// n at a time: a parser that builds one large object per record (an
// event's block of sub-structures) pays one allocation per n records
// instead of one per record. The cost: a value kept alive keeps its
// array's other values' memory too, which ingest's batches (stored, then
// dropped together) seldom notice.
package slab

// Slab is a source of *T; the zero Slab is ready to use. Not safe for
// concurrent use: each parser's builder has its own.
type Slab[T any] struct {
	free []T
}

// New returns a zeroed *T, allocating n of them at once when none is
// left.
func (s *Slab[T]) New(n int) *T {
	if len(s.free) == 0 {
		s.free = make([]T, n)
	}
	v := &s.free[0]
	s.free = s.free[1:]
	return v
}
