package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestSearchStopsItsGoroutines stops reads at every place around the
// stepper's batches, by an error from fn and by cancelling the context
// from inside fn, and checks that fn saw exactly the events up to the
// stop, the read returned the stop's error, and no goroutine of the read
// (workers, reader, stepper) is left running.
func TestSearchStopsItsGoroutines(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := events(3000, "aa")
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	// A full read first: the store's own goroutines are started.
	if err := s.SearchTransient(ctx, timeline.Query{}, func(*timeline.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	for _, at := range []int{0, 1, stepBatch - 1, stepBatch, stepBatch + 1, decodeChunk, 2999} {
		for _, how := range []string{"error", "cancel"} {
			t.Run(fmt.Sprint(how, at), func(t *testing.T) {
				base := runtime.NumGoroutine()
				cctx, cancel := context.WithCancel(ctx)
				defer cancel()
				n := 0
				err := s.SearchTransient(cctx, timeline.Query{}, func(*timeline.Event) error {
					n++
					if n-1 == at {
						if how == "cancel" {
							cancel()
							return nil
						}
						return stop
					}
					return nil
				})
				want := stop
				if how == "cancel" {
					want = context.Canceled
				}
				if !errors.Is(err, want) {
					t.Fatalf("error %v, want %v", err, want)
				}
				// A cancel is seen within cancelCheck events.
				if n < at+1 || (how == "error" && n != at+1) || n > at+1+cancelCheck {
					t.Fatalf("fn saw %d events, stop at %d", n, at)
				}
				deadline := time.Now().Add(5 * time.Second)
				for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				if g := runtime.NumGoroutine(); g > base {
					t.Fatalf("%d goroutines left, %d before", g, base)
				}
			})
		}
	}
}
