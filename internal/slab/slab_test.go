package slab

import "testing"

// TestNew: values are zeroed, distinct, and come n to an allocation.
func TestNew(t *testing.T) {
	var s Slab[[4]int]
	seen := map[*[4]int]bool{}
	for i := range 10 {
		v := s.New(4)
		if *v != [4]int{} || seen[v] {
			t.Fatalf("value %d: %v, seen before %v", i, *v, seen[v])
		}
		seen[v] = true
		v[0] = i + 1
	}
	allocs := testing.AllocsPerRun(100, func() {
		for range 8 {
			s.New(8)
		}
	})
	if allocs != 1 {
		t.Errorf("%v allocations for 8 values of a slab of 8, want 1", allocs)
	}
}
