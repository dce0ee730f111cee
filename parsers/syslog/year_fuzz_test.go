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
			// == as well as Equal: the same Time representation (wall,
			// ext, location), as events are compared and encoded.
			if got != want || !got.Equal(want) || got.Location() != want.Location() {
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

// FuzzLateAfter: place's "lands after the file mtime" test, t.After(mtime
// plus a day), answers as the t.Sub(mtime) > a day it replaced, for times
// from the same second to thousands of years apart (where Sub saturates),
// before and after the mtime.
func FuzzLateAfter(f *testing.F) {
	f.Add(int64(0), int64(0), int64(86400), int64(0))
	f.Add(int64(1700000000), int64(5), int64(86400), int64(6))
	f.Add(int64(1700000000), int64(0), int64(86400), int64(0))
	f.Add(int64(1700000000), int64(0), int64(86399), int64(999999999))
	f.Add(int64(-62135596800), int64(0), int64(400*365*86400), int64(1))
	f.Add(int64(253402300799), int64(999999999), int64(-500*365*86400), int64(0))
	f.Fuzz(func(t *testing.T, mtimeSec, mtimeNsec, delta, nsec int64) {
		norm := func(v, n int64) int64 { return ((v % n) + n) % n }
		// Years 0 to 9999 for the mtime; the record up to 10,000 years off.
		mtime := time.Unix(-62167219200+norm(mtimeSec, 10000*366*86400), norm(mtimeNsec, 1e9)).UTC()
		rec := mtime.Add(time.Duration(delta%(10000*366*86400))*time.Second + time.Duration(norm(nsec, 1e9)))
		y := newYearGuess(mtime, time.UTC)
		if got, want := rec.After(y.lateAfter), rec.Sub(y.mtime) > daySeconds*time.Second; got != want {
			t.Fatalf("record %v, mtime %v: After(mtime+day) %v, Sub > day %v", rec, mtime, got, want)
		}
	})
}

// TestMonthNumber holds monthNumber to the loop over monthNames it
// replaced, for every three lowercase bytes a header can start with.
func TestMonthNumber(t *testing.T) {
	loop := func(a, b, c byte) int {
		for i, name := range monthNames {
			if a == name[0] && b == name[1] && c == name[2] {
				return i + 1
			}
		}
		return 0
	}
	word := "abcdefghijklmnopqrstuvwxyz0123456789_\x7f"
	for i := 0; i < len(word); i++ {
		for j := 0; j < len(word); j++ {
			for k := 0; k < len(word); k++ {
				a, b, c := word[i], word[j], word[k]
				if got, want := monthNumber(a, b, c), loop(a, b, c); got != want {
					t.Fatalf("monthNumber(%q) = %d, want %d", []byte{a, b, c}, got, want)
				}
			}
		}
	}
}

// FuzzStampShapes: a line has at most one of the four stamp shapes, so
// parseLine may ask them in any order (it asks RFC 3164 first).
func FuzzStampShapes(f *testing.F) {
	for _, s := range []string{"Jan  1 00:00:01 h t: m", "Wed 2024-02-14 19:05:01 WIB h t: m", "2020-05-31T00:00:45.698463+00:00 h t: m",
		"1707912301.000000 h t: m", "123 45 12:00:00 x", "Mon 12 2024-02-14 19:05:01 WIB x", "Jan 123 00:00:01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := 0
		for _, ok := range []bool{looks3164(s), looks3339(s), looksUnix(s), looksFull(s)} {
			if ok {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%q has %d stamp shapes (3164 %v, 3339 %v, unix %v, full %v)", s, n, looks3164(s), looks3339(s), looksUnix(s), looksFull(s))
		}
	})
}

// FuzzFixed3164: where fixed3164 reads a stamp, looks3164 takes the line
// and parse3164 reads the same stamp and length without error; where it
// does not, it has left the stamp alone.
func FuzzFixed3164(f *testing.F) {
	for _, s := range []string{"Jan  1 00:00:01 tabulasi-01 sshd[1]: x", "Dec 31 23:59:60 h t: m", "dec 09 12:00:00:x", "Feb 30 00:00:00 h",
		"Jan  0 00:00:01 h", "Jan 32 00:00:01 h", "Jan  1 24:00:00 h", "Jan  1 00:60:00 h", "Jan  1 00:00:61 h", "Foo  1 00:00:01 h",
		"Jan  1 00:00:01.123 h", "Jan  1 00:00:01.x", "Jan 1 00:00:01 h", "Jan  1 00:00:01", "JAN 01 00:00:01 h", "J_n  1 00:00:01 h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var fast, slow stamp
		if !fixed3164(s, &fast) {
			if fast != (stamp{}) {
				t.Fatalf("%q: fixed3164 false but wrote %+v", s, fast)
			}
			return
		}
		if !looks3164(s) {
			t.Fatalf("%q: fixed3164 read it, looks3164 does not take it", s)
		}
		n, err := parse3164(s, &slow)
		if err != nil || n != 15 || fast != slow {
			t.Fatalf("%q: fixed3164 %+v (15 bytes), parse3164 %+v (%d bytes, %v)", s, fast, slow, n, err)
		}
	})
}
