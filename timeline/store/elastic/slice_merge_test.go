package elastic

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// feed makes a finished slice reader that hands over evs in pages of the
// given size, then ends with err.
func feed(evs []*timeline.Event, page int, err error) *sliceReader {
	r := &sliceReader{out: make(chan []*timeline.Event, len(evs)/max(page, 1)+1), done: make(chan struct{})}
	for lo := 0; lo < len(evs); lo += page {
		r.out <- evs[lo:min(lo+page, len(evs))]
	}
	r.err = err
	close(r.out)
	close(r.done)
	return r
}

// TestMergeSlices: the k-way merge, without a cluster, over events dealt
// at random to k slices (each in order, as the cluster returns them), with
// runs of equal timestamps whose order is the ID's: the merged stream is
// the events in (@timestamp, jejak.id) order, for every k and page size,
// and a limit cuts it exactly; a slice's error ends the merge with it.
func TestMergeSlices(t *testing.T) {
	all := storetest.Many(5000)
	want := slices.Clone(all)
	slices.SortFunc(want, func(a, b *timeline.Event) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Jejak.ID, b.Jejak.ID)
	})
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range []int{1, 2, 3, 7, 16} {
		for _, page := range []int{1, 100, 1000} {
			t.Run(fmt.Sprintf("k=%d/page=%d", k, page), func(t *testing.T) {
				parts := make([][]*timeline.Event, k)
				for _, e := range want {
					i := rng.IntN(k)
					parts[i] = append(parts[i], e)
				}
				mk := func(err error) []*sliceReader {
					rs := make([]*sliceReader, k)
					for i, p := range parts {
						rs[i] = feed(p, page, err)
					}
					return rs
				}
				var got []*timeline.Event
				if err := mergeSlices(context.Background(), mk(nil), 0, func(e *timeline.Event) error {
					got = append(got, e)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("merged %d events, not the %d in (@timestamp, jejak.id) order", len(got), len(want))
				}
				got = got[:0]
				if err := mergeSlices(context.Background(), mk(nil), 1234, func(e *timeline.Event) error {
					got = append(got, e)
					return nil
				}); err != nil || !slices.Equal(got, want[:1234]) {
					t.Fatalf("limit 1234: %d events, err %v", len(got), err)
				}
				boom := errors.New("slice failed")
				if err := mergeSlices(context.Background(), mk(boom), 0, func(*timeline.Event) error { return nil }); !errors.Is(err, boom) {
					t.Fatalf("a failing slice: merge = %v, want its error", err)
				}
			})
		}
	}
}
