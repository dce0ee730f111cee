package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
)

// OutOfRange returns finalised events whose times Elasticsearch's
// date_nanos cannot hold (before 1970, after 2262-04-11), as parsers
// keep them (flagged jejak.time.out_of_range, never clamped): a FILETIME
// of zero, a time just before the epoch, a far-future garbage time.
func OutOfRange() []*timeline.Event {
	times := []time.Time{
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2300, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	evs := Many(len(times))
	for i, e := range evs {
		e.Timestamp = times[i]
		e.TimestampDesc = "Creation Time"
		e.Jejak.Time = &timeline.TimeNote{OutOfRange: true}
		e.Finalize()
	}
	return evs
}

// testOutOfRange holds both stores to what the query package documents
// for such events and Elasticsearch can do: they are stored and read back
// whole, they come after every other event (among themselves in ID
// order), and no time bound, From/To or a KQL condition on @timestamp,
// selects them. A bound outside date_nanos is no error.
func testOutOfRange(t *testing.T, s store.Store) {
	in := Events()
	out := OutOfRange()
	write(t, s, append(slices.Clone(out), in...))
	ins := sorted(in)
	outs := slices.Clone(out)
	slices.SortFunc(outs, func(a, b *timeline.Event) int { return strings.Compare(a.Jejak.ID, b.Jejak.ID) })
	all := append(slices.Clone(ins), outs...)

	got := search(t, s, timeline.Query{})
	if !slices.Equal(ids(got), ids(all)) {
		t.Errorf("Search order:\n got  %v\n want %v (out-of-range times last, by ID)", ids(got), ids(all))
	}
	for _, g := range got {
		for _, w := range out {
			if g.Jejak.ID == w.Jejak.ID && (!g.Timestamp.Equal(w.Timestamp) || g.Jejak.Time == nil || !g.Jejak.Time.OutOfRange) {
				t.Errorf("event %s read back at %v (%+v), want %v, out of range", w.Jejak.ID, g.Timestamp, g.Jejak.Time, w.Timestamp)
			}
		}
	}
	if n := count(t, s, timeline.Query{}); n != int64(len(all)) {
		t.Errorf("Count = %d, want %d", n, len(all))
	}
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	between := func(from, to time.Time) []*timeline.Event {
		return filter(ins, func(e *timeline.Event) bool {
			return (from.IsZero() || !e.Timestamp.Before(from)) && (to.IsZero() || e.Timestamp.Before(to))
		})
	}
	for _, c := range []struct {
		name string
		q    timeline.Query
		want []*timeline.Event
	}{
		{"from base", timeline.Query{From: base}, between(base, time.Time{})},
		{"to base", timeline.Query{To: base}, between(time.Time{}, base)},
		{"from 1500", timeline.Query{From: year(1500)}, ins},
		{"to 2400", timeline.Query{To: year(2400)}, ins},
		{"1500 to 2400", timeline.Query{From: year(1500), To: year(2400)}, ins},
		{"from 2263", timeline.Query{From: year(2263)}, nil},
		{"to 1960", timeline.Query{To: year(1960)}, nil},
		{"to the epoch", timeline.Query{To: time.Unix(0, 0)}, nil},
		{"limit into the tail", timeline.Query{Limit: len(ins) + 1}, all[:len(ins)+1]},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := search(t, s, c.q); !slices.Equal(ids(got), ids(c.want)) {
				t.Errorf("Search:\n got  %v\n want %v", ids(got), ids(c.want))
			}
			if n := count(t, s, c.q); n != int64(len(c.want)) {
				t.Errorf("Count = %d, want %d", n, len(c.want))
			}
		})
	}
	for _, c := range []struct {
		kql  string
		want []*timeline.Event
	}{
		{`@timestamp < "2000-01-01"`, nil},
		{`@timestamp >= "1900-01-01"`, ins},
		{`@timestamp <= "2500-01-01"`, ins},
		{`user.name:u0001 or user.name:operator1`, filter(all, func(e *timeline.Event) bool {
			return userName(e) == "u0001" || userName(e) == "operator1"
		})},
	} {
		t.Run(c.kql, func(t *testing.T) {
			f := compile(t, c.kql)
			if got := runQuery(t, s, f, timeline.Query{}); !slices.Equal(ids(got), ids(c.want)) {
				t.Errorf("Query:\n got  %v\n want %v", ids(got), ids(c.want))
			}
			if n := queryCount(t, s, f, timeline.Query{}); n != int64(len(c.want)) {
				t.Errorf("QueryCount = %d, want %d", n, len(c.want))
			}
		})
	}
}

// testFarBounds: time bounds far outside date_nanos (and outside the
// nanoseconds an int64 holds, 1678 to 2262) on a timeline of ordinary
// events: a bound before every event selects them all, one after every
// event none, and neither is an error.
func testFarBounds(t *testing.T, s store.Store) {
	evs := Events()
	write(t, s, evs)
	all := sorted(evs)
	year := func(y int) time.Time { return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC) }
	for _, c := range []struct {
		name string
		q    timeline.Query
		want []*timeline.Event
	}{
		{"from 1500", timeline.Query{From: year(1500)}, all},
		{"from 1601", timeline.Query{From: year(1601)}, all},
		{"to 2400", timeline.Query{To: year(2400)}, all},
		{"1500 to 2400", timeline.Query{From: year(1500), To: year(2400)}, all},
		{"1500 to base", timeline.Query{From: year(1500), To: base}, filter(all, func(e *timeline.Event) bool { return e.Timestamp.Before(base) })},
		{"from 2263", timeline.Query{From: year(2263)}, nil},
		{"to 1960", timeline.Query{To: year(1960)}, nil},
		{"to 1500", timeline.Query{To: year(1500)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := search(t, s, c.q); !slices.Equal(ids(got), ids(c.want)) {
				t.Errorf("Search:\n got  %v\n want %v", ids(got), ids(c.want))
			}
			if n := count(t, s, c.q); n != int64(len(c.want)) {
				t.Errorf("Count = %d, want %d", n, len(c.want))
			}
			f := compile(t, `*`)
			if got := runQuery(t, s, f, c.q); !slices.Equal(ids(got), ids(c.want)) {
				t.Errorf("Query(*):\n got  %v\n want %v", ids(got), ids(c.want))
			}
			if n := queryCount(t, s, f, c.q); n != int64(len(c.want)) {
				t.Errorf("QueryCount(*) = %d, want %d", n, len(c.want))
			}
		})
	}
}
