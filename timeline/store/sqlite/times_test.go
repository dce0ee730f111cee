package sqlite

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

func TestTimeBounds(t *testing.T) {
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	last := time.Unix(0, math.MaxInt64)
	for _, c := range []struct {
		name            string
		q               timeline.Query
		lo, hi          int64
		bounded, anyHit bool
	}{
		{"none", timeline.Query{}, 0, 0, false, true},
		{"from 1500 clamps to the epoch", timeline.Query{From: year(1500)}, 0, math.MaxInt64, true, true},
		{"from 2024", timeline.Query{From: year(2024)}, year(2024).UnixNano(), math.MaxInt64, true, true},
		{"to 2024 excludes its instant", timeline.Query{To: year(2024)}, 0, year(2024).UnixNano() - 1, true, true},
		{"to 2400 clamps to the last nanosecond", timeline.Query{To: year(2400)}, 0, math.MaxInt64, true, true},
		{"to the last nanosecond excludes it", timeline.Query{To: last}, 0, math.MaxInt64 - 1, true, true},
		{"from the last nanosecond", timeline.Query{From: last}, math.MaxInt64, math.MaxInt64, true, true},
		{"from 2263", timeline.Query{From: year(2263)}, 0, 0, true, false},
		{"to the epoch", timeline.Query{To: time.Unix(0, 0)}, 0, 0, true, false},
		{"to 1500", timeline.Query{To: year(1500)}, 0, 0, true, false},
		{"from after to", timeline.Query{From: year(2025), To: year(2024)}, 0, 0, true, false},
		{"from equals to", timeline.Query{From: year(2024), To: year(2024)}, 0, 0, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			lo, hi, bounded, ok := timeBounds(c.q)
			if bounded != c.bounded || ok != c.anyHit || (ok && (lo != c.lo || hi != c.hi)) {
				t.Errorf("timeBounds = [%d, %d] bounded %v ok %v, want [%d, %d] bounded %v ok %v",
					lo, hi, bounded, ok, c.lo, c.hi, c.bounded, c.anyHit)
			}
		})
	}
}

// TestFarTimesColumn reads the ts column back with plain SQL: a time
// outside date_nanos is the REAL farTS (SQLite did not turn it into an
// integer, which would sort it among, or before, the others), the edges
// of date_nanos are integers, and a hand-written range ending at
// MaxInt64 leaves the far ones out.
func TestFarTimesColumn(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	times := []struct {
		at   time.Time
		want any // int64 or float64
	}{
		{time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), float64(farTS)},
		{time.Unix(0, -1), float64(farTS)},
		{time.Unix(0, 0), int64(0)},
		{time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC), time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC).UnixNano()},
		{time.Unix(0, math.MaxInt64), int64(math.MaxInt64)},
		{time.Unix(0, math.MaxInt64).Add(time.Nanosecond), float64(farTS)},
		{time.Date(2300, 6, 1, 12, 0, 0, 0, time.UTC), float64(farTS)},
	}
	evs := events(len(times), "aa")
	for i, c := range times {
		evs[i].Timestamp = c.at
		evs[i].Jejak.ID = ""
		evs[i].Finalize()
	}
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range times {
		var typ string
		var v any
		err := s.db.QueryRowContext(ctx, `SELECT typeof(ts), ts FROM event_rows WHERE id = unhex(?)`, evs[i].Jejak.ID).Scan(&typ, &v)
		if err != nil {
			t.Fatal(err)
		}
		wantTyp := "integer"
		if _, ok := c.want.(float64); ok {
			wantTyp = "real"
		}
		if typ != wantTyp || v != c.want {
			t.Errorf("%v: ts = %s %v, want %s %v", c.at, typ, v, wantTyp, c.want)
		}
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM event_rows WHERE ts BETWEEN 0 AND 9223372036854775807`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("ts BETWEEN 0 AND MaxInt64 counts %d rows, want the 3 within date_nanos", n)
	}
}
