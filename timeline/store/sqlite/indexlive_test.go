package sqlite

import (
	"context"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestLiveTS: liveTS keeps events_ts while rows come in time order or
// nearly so, and gives up once too many came late.
func TestLiveTS(t *testing.T) {
	at := func(ts ...int64) []row {
		rows := make([]row, len(ts))
		for i, v := range ts {
			if v < 0 {
				rows[i].far = true
			} else {
				rows[i].ts = v
			}
		}
		return rows
	}
	ascending := func(from, n int64) []row {
		rows := make([]row, n)
		for i := range rows {
			rows[i].ts = from + int64(i)
		}
		return rows
	}
	descending := func(from, n int64) []row {
		rows := make([]row, n)
		for i := range rows {
			rows[i].ts = from - int64(i)
		}
		return rows
	}
	// saw alternates a high and a low time: a step back every other row.
	saw := func(n int64) []row {
		rows := make([]row, n)
		for i := range rows {
			rows[i].ts = int64(i % 2)
		}
		return rows
	}
	for _, tc := range []struct {
		name       string
		writes     [][]row
		want       bool
		back, late int64
	}{
		{"in order", [][]row{at(1, 2, 2, 3), at(3, 4)}, true, 0, 0},
		{"far after every time", [][]row{at(5, -1, -1)}, true, 0, 0},
		{"a time after far goes back", [][]row{at(5, -1, 6, 7)}, true, 1, 2},
		{"back in order again", [][]row{at(10, 1, 2, 3, 11)}, true, 1, 3},
		// 1099 steps back in 2200 rows: past 1024 + 2200/64 = 1058
		{"steps back past the allowance", [][]row{saw(2200)}, false, 1099, 1099},
		// one step back, then 100k rows in order, all before the latest:
		// past 65536 + 200001/8 = 90536
		{"late past the allowance", [][]row{ascending(1e9, 100000), ascending(0, 100001)}, false, 1, 100001},
		{"late within the allowance", [][]row{ascending(1e9, 100000), ascending(0, 60000)}, true, 1, 60000},
		{"descending", [][]row{descending(1e6, 2000)}, false, 1999, 1999},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l liveTS
			l.start()
			got := true
			for _, w := range tc.writes {
				got = l.keep(w)
			}
			if got != tc.want || l.back != tc.back || l.late != tc.late {
				t.Errorf("keep: %v with %d back, %d late; want %v with %d back, %d late", got, l.back, l.late, tc.want, tc.back, tc.late)
			}
		})
	}
}

// TestLiveTimeIndex: a first run keeps events_ts while its events come in
// time order and drops it when they do not; either way the finished store
// has every index, sound, and gives the events in time order.
func TestLiveTimeIndex(t *testing.T) {
	for _, tc := range []struct {
		name    string
		order   func([]*timeline.Event)
		kept    bool // events_ts still there before FinishRun
		batches int
	}{
		{"in order", func([]*timeline.Event) {}, true, 4},
		{"a few late", func(evs []*timeline.Event) {
			// the last 600 in reverse: 599 steps back, fewer than backSteps
			n := len(evs)
			slices.Reverse(evs[n-600 : n])
		}, true, 4},
		{"shuffled", func(evs []*timeline.Event) {
			r := rand.New(rand.NewSource(15))
			r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		}, false, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
				t.Fatal(err)
			}
			evs := events(6000, "aa")
			tc.order(evs)
			per := len(evs) / tc.batches
			for lo := 0; lo < len(evs); lo += per {
				if _, err := s.Write(ctx, evs[lo:min(lo+per, len(evs))]); err != nil {
					t.Fatal(err)
				}
			}
			during := indexNames(t, s.DB())
			if kept := slices.Equal(during, []string{"events_ts"}); kept != tc.kept {
				t.Errorf("indexes before the run ends: %v; events_ts kept %v, want %v", during, kept, tc.kept)
			}
			if !tc.kept && len(during) != 0 {
				t.Errorf("indexes before the run ends: %v, want none", during)
			}
			if err := s.FinishRun(ctx, time.Unix(2, 0), nil); err != nil {
				t.Fatal(err)
			}
			if got := indexNames(t, s.DB()); !slices.Equal(got, allIndexes) {
				t.Errorf("indexes after the run: %v, want %v", got, allIndexes)
			}
			if v := pragma(t, s.DB(), "integrity_check"); v != "ok" {
				t.Fatalf("integrity_check: %s", v)
			}
			// Read through events_ts: every row, in time order.
			var n int
			var last int64 = -1
			rows, err := s.DB().Query(`SELECT ts FROM event_rows INDEXED BY events_ts WHERE ts >= 0 ORDER BY ts`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var ts int64
				if err := rows.Scan(&ts); err != nil {
					t.Fatal(err)
				}
				if ts < last {
					t.Fatalf("events_ts gives %d after %d", ts, last)
				}
				last = ts
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if n != len(evs) {
				t.Errorf("events_ts holds %d rows, want %d", n, len(evs))
			}
		})
	}
}
