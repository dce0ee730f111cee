package elastic_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// TestCancelFromInside: a read cancelled from inside its callback (as a
// caller stopping on Ctrl-C does) ends with context.Canceled within 64
// events, wherever the cancel falls: in the first page, in the last one
// (which used to end with no error once every event was handed out), in a
// read of one page, and in the merge of a sliced read, whose slices hold
// pages ahead of it (its select between a held page and the cancel picked
// either at random).
func TestCancelFromInside(t *testing.T) {
	const total, page, within = 1000, 128, 64
	s := open(t, elastic.Config{PageSize: page})
	if st, err := s.Write(context.Background(), storetest.Many(total)); err != nil || st.Inserted != total {
		t.Fatalf("Write: %+v, %v", st, err)
	}
	small := timeline.Query{Limit: page}
	// A hunt of total findings with a record (read by ID in pages of
	// 500) and one without (read in pages of 1000).
	fs := make([]store.Finding, total)
	for i := range fs {
		fs[i] = storetest.Finding(fmt.Sprintf("f%04d", i), "r", "low", time.Unix(1700000000, 0), 1)
	}
	if err := s.PutHunt(context.Background(), store.Hunt{Key: "k", Params: json.RawMessage(`{}`),
		Started: time.Unix(1700000000, 0), Finished: time.Unix(1700000090, 0), ToolVersion: "t"}, fs); err != nil {
		t.Fatal(err)
	}
	reads := []struct {
		name string
		n    int // events the read hands out uncancelled
		read func(ctx context.Context, q timeline.Query, fn func() error) error
	}{
		{"Search", total, func(ctx context.Context, q timeline.Query, fn func() error) error {
			return s.Search(ctx, q, func(*timeline.Event) error { return fn() })
		}},
		{"ScanRaw", total, func(ctx context.Context, _ timeline.Query, fn func() error) error {
			return s.ScanRaw(ctx, func(string, []byte) error { return fn() })
		}},
		{"PIT", total, func(ctx context.Context, q timeline.Query, fn func() error) error {
			return s.PIT().Search(ctx, q, func(*timeline.Event) error { return fn() })
		}},
		{"Sliced", total, func(ctx context.Context, q timeline.Query, fn func() error) error {
			return s.Sliced(4).Search(ctx, q, func(*timeline.Event) error { return fn() })
		}},
		{"Sliced one page", page, func(ctx context.Context, _ timeline.Query, fn func() error) error {
			return s.Sliced(4).Search(ctx, small, func(*timeline.Event) error { return fn() })
		}},
		{"Findings", total, func(ctx context.Context, _ timeline.Query, fn func() error) error {
			return s.Findings(ctx, "k", func(store.Finding) error { return fn() })
		}},
	}
	for _, r := range reads {
		for _, at := range []int{1, 10, r.n - 20, r.n} {
			t.Run(fmt.Sprintf("%s/cancel at %d of %d", r.name, at, r.n), func(t *testing.T) {
				for range 5 { // the sliced merge's race was one run in several
					ctx, cancel := context.WithCancel(context.Background())
					n := 0
					err := r.read(ctx, timeline.Query{}, func() error {
						if n++; n == at {
							cancel()
						}
						return nil
					})
					cancel()
					if !errors.Is(err, context.Canceled) || n > at+within {
						t.Fatalf("cancelled at event %d: %v after %d events, want context.Canceled within %d more", at, err, n, within)
					}
				}
			})
		}
	}
}
