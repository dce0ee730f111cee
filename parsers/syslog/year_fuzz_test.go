package syslog

import (
	"strings"
	"testing"
	"time"
)

// FuzzDate holds yearGuess.date's hand-written UTC path to time.Date, on
// the values parse3164 lets through (hour up to 23, minute 59, second 60,
// day 1 to 31 in any month, years around 0 as without an mtime), placed
// one after another so the cached midnight is reused and replaced.
func FuzzDate(f *testing.F) {
	f.Add(2024, 2, 29, 23, 59, 60, 999999999, 3)
	f.Add(2023, 2, 29, 0, 0, 0, 0, 0)
	f.Add(0, 12, 31, 23, 59, 59, 1, 1)
	f.Add(-1, 1, 1, 0, 0, 0, 0, 2)
	f.Fuzz(func(t *testing.T, year, month, day, hour, min, sec, nsec, steps int) {
		norm := func(v, lo, n int) int { return lo + ((v%n)+n)%n }
		y := newYearGuess(time.Time{}, time.UTC)
		y.year = norm(year, -2, 4000)
		st := stamp{month: norm(month, 1, 12), day: norm(day, 1, 31), hour: norm(hour, 0, 24),
			min: norm(min, 0, 60), sec: norm(sec, 0, 61), nsec: norm(nsec, 0, 1e9)}
		for i := range norm(steps, 1, 5) {
			got := y.date(&st)
			want := time.Date(y.year, time.Month(st.month), st.day, st.hour, st.min, st.sec, st.nsec, time.UTC)
			if !got.Equal(want) || got.Location() != want.Location() {
				t.Fatalf("step %d: %+v in %d: got %v, time.Date gives %v", i, st, y.year, got, want)
			}
			// The next line: later the same day, or the next day.
			st.sec = (st.sec + 37) % 61
			if i%2 == 1 {
				st.day = st.day%31 + 1
			}
		}
	})
}

func FuzzLastFrom(f *testing.F) {
	for _, s := range []string{"", " from ", "root from 1.2.3.4 port 22 ssh2", "a from b from c", " from  from", "x from", "from x", "  from "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := lastFrom(s), strings.LastIndex(s, " from "); got != want {
			t.Fatalf("%q: %d, strings.LastIndex gives %d", s, got, want)
		}
	})
}
