package slab

import (
	"strings"
	"sync"
	"testing"
)

type rec struct {
	name string
	n    int
	arr  [2]string
	tags []string
	m    map[string]string
	p    *int
}

// TestPoolReuses: released values come back, zeroed; a chunk comes back
// only once every value of it is released and its Source closed; a steady
// take-and-release allocates nothing.
func TestPoolReuses(t *testing.T) {
	p := NewPool[rec](4)
	s := p.Source()
	var first []*rec
	for i := range 4 {
		v := s.New()
		*v = rec{name: "x", n: i + 1, tags: []string{"t"}, m: map[string]string{"k": "v"}}
		first = append(first, v)
	}
	// Three of four released: the chunk is not free yet.
	for _, v := range first[:3] {
		p.Release(v)
	}
	if c := p.free.Get(); c != nil {
		t.Fatalf("a chunk came back with a value still live: %v", c)
	}
	p.Release(first[3])
	v := s.New() // the Source's chunk was all handed out: the next one
	var found bool
	for _, f := range first {
		found = found || f == v
	}
	if !found {
		// sync.Pool may drop a chunk (it does, at random, under -race).
		t.Log("the released chunk was not reused")
	}
	if v.name != "" || v.n != 0 || v.tags != nil || v.m != nil {
		t.Errorf("a reused value is not zeroed: %+v", *v)
	}
	s.Close()

	// Close releases what the Source did not hand out.
	s2 := p.Source()
	a := s2.New()
	s2.Close()
	p.Release(a)

	// Steady state: values taken and released allocate nothing.
	s3 := p.Source()
	defer s3.Close()
	allocs := testing.AllocsPerRun(200, func() {
		var vs [8]*rec
		for i := range vs {
			vs[i] = s3.New()
		}
		for _, v := range vs {
			p.Release(v)
		}
	})
	if allocs > 0.1 && !raceEnabled {
		t.Errorf("%v allocations per 8 values taken and released, want none", allocs)
	}
}

// TestPoolConcurrent: values taken on several goroutines and released on
// another (as ingest's parsers and writer do) are each handed to one
// holder at a time. Run with -race.
func TestPoolConcurrent(t *testing.T) {
	p := NewPool[rec](7)
	ch := make(chan *rec, 64)
	var wg sync.WaitGroup
	for g := range 3 {
		wg.Go(func() {
			s := p.Source()
			defer s.Close()
			for i := range 2000 {
				v := s.New()
				if v.n != 0 || v.name != "" {
					t.Errorf("value handed out not zeroed: %+v", *v)
					return
				}
				v.n, v.name = g*10000+i+1, "g"
				ch <- v
			}
		})
	}
	go func() { wg.Wait(); close(ch) }()
	for v := range ch {
		if v.n == 0 || v.name != "g" {
			t.Fatalf("value changed before its release: %+v", *v)
		}
		p.Release(v)
	}
}

// TestPoolReleaseForeign: a value of another pool's chunks is refused.
func TestPoolReleaseForeign(t *testing.T) {
	p, q := NewPool[rec](4), NewPool[rec](3)
	s := q.Source()
	defer s.Close()
	v := s.New()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "did not hand out") {
			t.Errorf("Release of another pool's value: %v, want a panic", r)
		}
	}()
	p.Release(v)
}

// TestPoison: with SetPoison, a released value's every field, arrays and
// unexported fields included, reads as junk; pointers are left alone.
func TestPoison(t *testing.T) {
	restore := SetPoison()
	defer restore()
	p := NewPool[rec](2)
	s := p.Source()
	defer s.Close()
	v := s.New()
	x := 5
	*v = rec{name: "a", n: 1, arr: [2]string{"b", "c"}, tags: []string{"t"}, m: map[string]string{"k": "v"}, p: &x}
	tags, m := v.tags, v.m
	p.Release(v)
	if v.name != Poisoned || v.n != -77 || v.arr != [2]string{Poisoned, Poisoned} || len(v.tags) != 1 || v.tags[0] != Poisoned ||
		v.m[Poisoned] != Poisoned || v.p != &x || x != 5 {
		t.Errorf("poisoned value: %+v (x %d)", *v, x)
	}
	if tags[0] != "t" || m["k"] != "v" {
		t.Errorf("poison wrote through a slice or map it does not own: %v %v", tags, m)
	}
	restore()
	s2 := p.Source()
	defer s2.Close()
	w := s2.New()
	p.Release(w)
	if w.name == Poisoned {
		t.Error("poisoned after SetPoison's restore")
	}
}
