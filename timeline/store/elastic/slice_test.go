package elastic_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// reader is what a hunt reads through: PIT and Sliced both.
type reader interface {
	Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error
}

// readIDs reads q through r and returns the event IDs in the order given.
func readIDs(t *testing.T, r reader, q timeline.Query) []string {
	t.Helper()
	var ids []string
	if err := r.Search(context.Background(), q, func(e *timeline.Event) error {
		ids = append(ids, e.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatalf("Search: %v", err)
	}
	return ids
}

// fillCorpus writes the corpus's logs folder through the ingest pipeline
// plus 3,000 synthetic events in runs of three equal timestamps (the ID
// breaks those ties, so the merge's tiebreak is exercised), and returns
// how many events went in.
func fillCorpus(t *testing.T, s *elastic.Store) int {
	t.Helper()
	ctx := context.Background()
	sink := &recordingSink{dst: s, ids: map[string]bool{}}
	items := corpusItems(t)[:1] // logs
	if _, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: t.TempDir(),
		Workers: 2, BatchSize: 5000}, items, sink); err != nil {
		t.Fatalf("ingest the corpus logs: %v", err)
	}
	if _, err := sink.Write(ctx, storetest.Many(3000)); err != nil {
		t.Fatal(err)
	}
	return len(sink.ids)
}

// reshard deletes the store's index and makes it again with n primary
// shards (the template gives one): the template's mapping still applies,
// and slicing then has several shards to cut.
func reshard(t testing.TB, s *elastic.Store, n int) {
	t.Helper()
	c := s.Client()
	res, err := c.Indices.Delete([]string{s.Index()})
	if err != nil || res.IsError() {
		t.Fatalf("delete %s: %v %v", s.Index(), err, res)
	}
	res.Body.Close()
	body := fmt.Sprintf(`{"settings":{"index":{"number_of_shards":%d,"number_of_replicas":0}}}`, n)
	res, err = c.Indices.Create(s.Index(), c.Indices.Create.WithBody(strings.NewReader(body)))
	if err != nil || res.IsError() {
		t.Fatalf("create %s with %d shards: %v %v", s.Index(), n, err, res)
	}
	res.Body.Close()
}

// TestSlicedEqualsSingle reads the same index through the single PIT reader
// and through 2, 3, 5 and 8 slices, on one shard and on three: the IDs and
// their order must be the same, every slice must have read a share (the
// cluster really cut the work), and a limit and a time window cut the
// merged stream exactly where the single reader stops.
func TestSlicedEqualsSingle(t *testing.T) {
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			s := open(t, elastic.Config{URLs: esURLs(t), PageSize: 250})
			if shards != 1 {
				reshard(t, s, shards)
			}
			n := fillCorpus(t, s)
			if n < 3000+1000 {
				t.Fatalf("only %d events written: is the corpus there?", n)
			}
			want := readIDs(t, s.PIT(), timeline.Query{})
			if len(want) != n {
				t.Fatalf("PIT reader gave %d events, %d were written", len(want), n)
			}
			mid := func() timeline.Query {
				// A window and a limit on the merged stream: the events from
				// the 10th percentile on, at most 777 of them.
				var from time.Time
				i := 0
				_ = s.PIT().Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
					if i == len(want)/10 {
						from = e.Timestamp
						return errStop
					}
					i++
					return nil
				})
				return timeline.Query{From: from, Limit: 777}
			}()
			wantMid := readIDs(t, s.PIT(), mid)
			if len(wantMid) != 777 {
				t.Fatalf("PIT reader gave %d events of the window, want 777", len(wantMid))
			}
			// Reads that fit in one page (a hunt's read-back of one instant)
			// take the one-page path: the same events as the PIT reader.
			var instants []timeline.Query
			_ = s.PIT().Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
				if len(instants) < 20 && (len(instants) == 0 || !e.Timestamp.Equal(instants[len(instants)-1].From)) {
					instants = append(instants, timeline.Query{From: e.Timestamp, To: e.Timestamp.Add(1)})
				}
				return nil
			})
			for _, in := range instants {
				if got, want := readIDs(t, s.Sliced(4), in), readIDs(t, s.PIT(), in); !slices.Equal(got, want) || len(want) == 0 {
					t.Errorf("instant %v: 4 slices read %v, the PIT reader %v", in.From, got, want)
				}
			}
			for _, slicesN := range []int{1, 2, 3, 5, 8} {
				counts := make([]int64, slicesN)
				r := elastic.WithSliceCounts(s.Sliced(slicesN), counts)
				got := readIDs(t, r, timeline.Query{})
				if !slices.Equal(got, want) {
					t.Errorf("%d slices: %d events, first difference at %d; want the PIT reader's %d in its order",
						slicesN, len(got), firstDiff(got, want), len(want))
				}
				var sum int64
				for i, c := range counts {
					sum += c
					if slicesN > 1 && c == 0 {
						t.Errorf("%d slices: slice %d read nothing (counts %v): the work was not shared", slicesN, i, counts)
					}
				}
				t.Logf("%d shard(s), %d slices: %d events, per slice %v", shards, slicesN, len(got), counts)
				if sum != int64(len(want)) {
					t.Errorf("%d slices read %d events together (%v), want %d", slicesN, sum, counts, len(want))
				}
				if got := readIDs(t, s.Sliced(slicesN), mid); !slices.Equal(got, wantMid) {
					t.Errorf("%d slices, window and limit: %d events, first difference at %d; want %d",
						slicesN, len(got), firstDiff(got, wantMid), len(wantMid))
				}
			}
		})
	}
}

var errStop = errors.New("stop")

// TestSlicedStopsOnCallbackError: an error of the callback stops every
// slice and comes back as is, after exactly the events it was given.
func TestSlicedStopsOnCallbackError(t *testing.T) {
	s := open(t, elastic.Config{URLs: esURLs(t), PageSize: 100})
	if _, err := s.Write(context.Background(), storetest.Many(2000)); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := s.Sliced(4).Search(context.Background(), timeline.Query{}, func(*timeline.Event) error {
		n++
		if n == 1234 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || n != 1234 {
		t.Fatalf("Search = %v after %d events, want errStop after 1234", err, n)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
