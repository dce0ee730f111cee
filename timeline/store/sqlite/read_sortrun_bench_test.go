package sqlite

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// BenchmarkSortRun: runs of 40 and 1000 equal timestamps (40 and 1000
// EVTX copies), sorted by sortRun and by slices.SortFunc with compareID.
func BenchmarkSortRun(b *testing.B) {
	for _, n := range []int{40, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchSortRun(b, n) })
	}
}

func benchSortRun(b *testing.B, n int) {
	rnd := rand.New(rand.NewPCG(1, 1))
	src := make([]rowRef, n)
	for i := range src {
		for j := range src[i].id {
			src[i].id[j] = byte(rnd.Uint32())
		}
	}
	run := make([]rowRef, len(src))
	b.Run("sortRun", func(b *testing.B) {
		var keys []uint64
		var sorted []rowRef
		for b.Loop() {
			copy(run, src)
			sortRun(run, &keys, &sorted)
		}
	})
	b.Run("SortFunc", func(b *testing.B) {
		for b.Loop() {
			copy(run, src)
			slices.SortFunc(run, compareID)
		}
	})
}
