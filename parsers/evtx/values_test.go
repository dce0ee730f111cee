package evtx

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// appendTime's arithmetic calendar must render every time as
// appendTimeSlow (time.Time's Date and Clock) does: the edges of FILETIME
// and SYSTEMTIME, leap days, times before 1970 and the epoch, and a
// million random FILETIMEs.
func TestAppendTimeMatchesCalendar(t *testing.T) {
	times := []time.Time{
		{}, time.Unix(0, 0).UTC(), time.Unix(-1, 999_999_999).UTC(),
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 2, 29, 23, 59, 59, 1, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 100, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 2, 28, 23, 59, 59, 999_999_999, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999_999_900, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2016, 7, 8, 18, 12, 51, 681_640_800, time.UTC),
		time.Date(2016, 7, 8, 18, 12, 51, 681_640_800, time.FixedZone("x", 3600)),
	}
	if ft, ok := filetime(math.MaxInt64); ok {
		times = append(times, ft)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		if ft, ok := filetime(r.Uint64N(math.MaxInt64)); ok {
			times = append(times, ft)
		}
	}
	for _, tm := range times {
		for _, digits := range []int{3, 7} {
			if got, want := string(appendTime(nil, tm, digits)), string(appendTimeSlow(nil, tm, digits)); got != want {
				t.Fatalf("appendTime(%v, %d) = %q, want %q", tm, digits, got, want)
			}
		}
	}
}
