package sqlite

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestSearchTieOrder: Search and SearchTransient give the events of runs
// of equal timestamps in ID order, as "ORDER BY ts, id" does, for runs
// held in memory and for runs longer than maxTieRun (read again with
// their own query), with and without a time range; SearchTransient's
// events are Search's without Related.
func TestSearchTieOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := events(3000, "aa")
	base := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	for i, e := range evs {
		// Runs of 1, 5, 40 and 300 equal timestamps.
		switch {
		case i < 100:
			e.Timestamp = base.Add(time.Duration(i) * time.Second)
		case i < 600:
			e.Timestamp = base.Add(time.Duration(1000+i/5) * time.Second)
		case i < 2000:
			e.Timestamp = base.Add(time.Duration(2000+i/40) * time.Second)
		default:
			e.Timestamp = base.Add(time.Duration(3000+i/300) * time.Second)
		}
		e.Jejak.ID = ""
		e.Finalize()
	}
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	saved := maxTieRun
	defer func() { maxTieRun = saved }()
	for _, q := range []timeline.Query{{}, {From: base.Add(1100 * time.Second), To: base.Add(3005 * time.Second)}} {
		// What SQLite's own sort gives.
		w, args := where(q)
		rows, err := s.db.QueryContext(ctx, "SELECT id FROM event_rows"+w+" ORDER BY ts, id", args...)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for rows.Next() {
			var id []byte
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			want = append(want, hex.EncodeToString(id))
		}
		rows.Close()
		if len(want) < 1000 {
			t.Fatalf("%+v: only %d rows", q, len(want))
		}
		for _, run := range []int{1 << 16, 50, 7, 1} {
			maxTieRun = run
			for name, search := range map[string]func(context.Context, timeline.Query, func(*timeline.Event) error) error{
				"Search": s.Search, "SearchTransient": s.SearchTransient,
			} {
				var got []string
				err := search(ctx, q, func(e *timeline.Event) error {
					got = append(got, e.Jejak.ID)
					if name == "SearchTransient" && e.Related != nil {
						return fmt.Errorf("event %s has Related", e.Jejak.ID)
					}
					if name == "Search" && e.Related == nil {
						return fmt.Errorf("event %s has no Related", e.Jejak.ID)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("%s %+v, runs of %d: %v", name, q, run, err)
				}
				if len(got) != len(want) {
					t.Fatalf("%s %+v, runs of %d: %d events, want %d", name, q, run, len(got), len(want))
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s %+v, runs of %d: row %d is %s, want %s", name, q, run, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestTSKeyEquality: stored timestamps group as SQLite compares them.
func TestTSKeyEquality(t *testing.T) {
	scan := func(v any) tsKey {
		var k tsKey
		if err := k.Scan(v); err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, c := range []struct {
		a, b any
		eq   bool
	}{
		{int64(5), float64(5), true},
		{int64(5), float64(5.5), false},
		{float64(9.3e18), float64(9.3e18), true},
		{float64(9.3e18), int64(1<<63 - 1), false},
		{float64(-9.3e18), int64(-1 << 63), false},
		{"x", []byte("x"), true},
		{"5", int64(5), false},
	} {
		if got := scan(c.a) == scan(c.b); got != c.eq {
			t.Errorf("%v == %v: %v, want %v", c.a, c.b, got, c.eq)
		}
	}
	var k tsKey
	if err := k.Scan(nil); err == nil {
		t.Error("a NULL timestamp scanned")
	}
}

// TestSearchByRowid: a search reads the rows of several files whose
// events interleave in time (rowids far apart in events_ts's order, runs
// of nearby rowids with rows between that the range does not select,
// rowids deleted from the table) in (ts, id) order, over batches of every
// size byRowid reads.
func TestSearchByRowid(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	base := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	rnd := rand.New(rand.NewPCG(1, 2))
	const files, per = 4, 2500
	for f := range files {
		evs := events(per, fmt.Sprintf("f%d", f))
		for i, e := range evs {
			// Mostly in time order within a file, each file over the
			// same hours, with some events out of order and some ties.
			e.Timestamp = base.Add(time.Duration(i*files+f+rnd.IntN(40)) * time.Second)
			e.Jejak.ID = ""
			e.Finalize()
		}
		if _, err := s.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM events WHERE rowid % 97 = 5"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []timeline.Query{
		{},
		{From: base.Add(1000 * time.Second), To: base.Add(7000 * time.Second)},
	} {
		// The same search with a limit takes another path (SQLite sorts
		// by ts and id, and names each row's document itself): the
		// events, documents included, must be the same.
		n, err := s.Count(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if n < 4*firstResolve {
			t.Fatalf("%+v: only %d rows", q, n)
		}
		key := func(e *timeline.Event) string {
			return fmt.Sprintf("%s %s %d %s", e.Jejak.ID, e.Timestamp.Format(time.RFC3339Nano), e.Jejak.Provenance.Record, e.Message)
		}
		var want, got []string
		limited := q
		limited.Limit = int(n) + 1
		if err := s.Search(ctx, limited, func(e *timeline.Event) error {
			want = append(want, key(e))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := s.SearchTransient(ctx, q, func(e *timeline.Event) error {
			got = append(got, key(e))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(want) != int(n) || !slices.Equal(got, want) {
			t.Fatalf("%+v: %d events, want %d (of %d) in (ts, id) order", q, len(got), len(want), n)
		}
	}
}

// TestCompareID: compareID orders IDs as bytes.Compare does, IDs that
// differ only in their last 8 bytes included.
func TestCompareID(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	ids := make([]rowRef, 200)
	for i := range ids {
		for j := range ids[i].id {
			ids[i].id[j] = byte(rnd.IntN(4) * 85) // 0x00, 0x55, 0xaa, 0xff
		}
		if i%2 == 1 {
			copy(ids[i].id[:8], ids[i-1].id[:8])
		}
	}
	for _, a := range ids {
		for _, b := range ids {
			if got, want := compareID(a, b), bytes.Compare(a.id[:], b.id[:]); got != want {
				t.Fatalf("compareID(%x, %x) = %d, want %d", a.id, b.id, got, want)
			}
		}
	}
}

// TestSearchSwitchesReads: a case where one file is read alone, then four
// side by side, then the first alone again, is read directly, by ranges
// and directly again, changing reads at batch ends; the events are those
// of the LIMIT path (SQLite's sort) in every mix of reads, ties across the
// changes included. It fails when a change of read repeats or skips the
// rows of the timestamp it happens at.
func TestSearchSwitchesReads(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	base := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	const alone, side = 3000, 2000
	// File a: alone, at one event a second (runs of three equal timestamps),
	// before and after the others.
	a := events(2*alone, "a")
	for i, e := range a {
		sec := i / 3
		if i >= alone {
			sec = alone + 4*side + (i-alone)/3
		}
		e.Timestamp = base.Add(time.Duration(sec) * time.Second)
		e.Jejak.ID = ""
		e.Finalize()
	}
	if _, err := s.Write(ctx, a); err != nil {
		t.Fatal(err)
	}
	for f := range 4 {
		evs := events(side, fmt.Sprintf("s%d", f))
		for i, e := range evs {
			// Every file at every second: runs of four equal timestamps.
			e.Timestamp = base.Add(time.Duration(alone+i*2) * time.Second)
			e.Jejak.ID = ""
			e.Finalize()
		}
		if _, err := s.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	savedRuns, savedDone, savedFirst, savedMax := directRuns, searchDone, firstBatch, maxBatch
	defer func() { directRuns, searchDone, firstBatch, maxBatch = savedRuns, savedDone, savedFirst, savedMax }()
	firstBatch, maxBatch = 101, 397 // batch ends inside runs of ties too
	key := func(e *timeline.Event) string {
		return fmt.Sprintf("%s %s %s", e.Jejak.ID, e.Timestamp.Format(time.RFC3339Nano), e.Message)
	}
	for _, q := range []timeline.Query{
		{},
		{From: base.Add(1000 * time.Second), To: base.Add((alone + 4*side + 500) * time.Second)},
	} {
		n, err := s.Count(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		limited := q
		limited.Limit = int(n) + 1
		if err := s.Search(ctx, limited, func(e *timeline.Event) error {
			want = append(want, key(e))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			runs     int
			switches bool // the read must change at least twice
		}{{1 << 30, false}, {-1, false}, {2, true}, {1, true}} {
			directRuns = c.runs
			var src *timeRows
			searchDone = func(t *timeRows) { src = t }
			var got []string
			if err := s.SearchTransient(ctx, q, func(e *timeline.Event) error {
				got = append(got, key(e))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(want) != int(n) || !slices.Equal(got, want) {
				t.Fatalf("%+v, directRuns %d: %d events, want %d (of %d) in (ts, id) order", q, c.runs, len(got), len(want), n)
			}
			t.Logf("%+v, directRuns %d: %d batches direct, %d ranged, %d changes", q, c.runs, src.directs, src.ranged, src.switches)
			switch {
			case c.runs < 0 && src.directs != 1:
				t.Errorf("directRuns %d: %d batches read directly, want the first alone", c.runs, src.directs)
			case c.runs > 1<<20 && src.ranged != 0:
				t.Errorf("directRuns %d: %d batches read by ranges", c.runs, src.ranged)
			case c.switches && (src.switches < 2 || src.ranged == 0):
				t.Errorf("directRuns %d: %d changes of read, %d ranged batches", c.runs, src.switches, src.ranged)
			}
		}
	}
}

// TestSortRun: sortRun gives runs of every length compareID's order, IDs
// equal in their first 8 bytes included, with the rows' other fields
// carried along.
func TestSortRun(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	var keys []uint64
	var sorted []rowRef
	for _, n := range []int{2, 12, 13, 40, 1000} {
		run := make([]rowRef, n)
		for i := range run {
			for j := range run[i].id {
				run[i].id[j] = byte(rnd.IntN(3) * 127)
			}
			run[i].blk, run[i].slot = int64(i), int64(binary.BigEndian.Uint64(run[i].id[8:]))
		}
		want := slices.Clone(run)
		slices.SortStableFunc(want, func(a, b rowRef) int { return bytes.Compare(a.id[:], b.id[:]) })
		sortRun(run, &keys, &sorted)
		for i := range run {
			if run[i].id != want[i].id || run[i].slot != int64(binary.BigEndian.Uint64(run[i].id[8:])) {
				t.Fatalf("run of %d: row %d is %x (slot %d), want %x", n, i, run[i].id, run[i].slot, want[i].id)
			}
		}
	}
}

// TestSearchLongRunOneSnapshot: a run longer than maxTieRun is read again
// in the search's own read transaction, so rows written meanwhile are not
// among its events (they were when its query went through the pool).
func TestSearchLongRunOneSnapshot(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	base := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	at := func(evs []*timeline.Event, from time.Time, step time.Duration) []*timeline.Event {
		for i, e := range evs {
			e.Timestamp = from.Add(time.Duration(i) * step)
			e.Jejak.ID = ""
			e.Finalize()
		}
		return evs
	}
	// Many rows before the run, more than the search reads ahead of fn,
	// so that its run's query starts after the write below (with 5,000
	// the old read saw the write 3 times in 10); then a run of 10 equal
	// timestamps.
	if _, err := s.Write(ctx, at(events(60000, "aa"), base, time.Second)); err != nil {
		t.Fatal(err)
	}
	runTS := base.Add(time.Hour * 24)
	if _, err := s.Write(ctx, at(events(10, "bb"), runTS, 0)); err != nil {
		t.Fatal(err)
	}
	saved := maxTieRun
	defer func() { maxTieRun = saved }()
	maxTieRun = 4
	var n int
	wrote := false
	err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		n++
		if !wrote {
			wrote = true
			// Written after the search began: not in its snapshot.
			if _, err := s.Write(ctx, at(events(5, "cc"), runTS, 0)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 60010 {
		t.Fatalf("%d events, want the 60010 stored when the search began", n)
	}
	// The write made during the search did land: it is the read that
	// must not see it.
	if c, err := s.Count(ctx, timeline.Query{}); err != nil || c != 60015 {
		t.Fatalf("store holds %d events (%v), want 60015", c, err)
	}
}

// TestSortNeeds: sortNeeds orders needs by rowid, each with its place,
// packed into words and, for rowids or places too large to pack, by the
// comparison sort.
func TestSortNeeds(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	var keys []uint64
	for _, top := range []int64{1 << 20, 1 << 40, 1<<40 + 5, 1 << 62} {
		needs := make([]rowNeed, 3000)
		seen := map[int64]bool{}
		for i := range needs {
			r := rnd.Int64N(top)
			for seen[r] {
				r = rnd.Int64N(top)
			}
			seen[r] = true
			needs[i] = rowNeed{r, i}
		}
		want := slices.Clone(needs)
		slices.SortFunc(want, func(a, b rowNeed) int { return cmp.Compare(a.rowid, b.rowid) })
		sortNeeds(needs, &keys)
		if !slices.Equal(needs, want) {
			t.Fatalf("rowids below %d: sortNeeds gave %v..., want %v...", top, needs[:3], want[:3])
		}
	}
}
