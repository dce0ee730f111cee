package syslog

import (
	"fmt"
	"time"

	"github.com/jejak-forensics/jejak/internal/civil"
)

// yearGuess gives year-less (RFC 3164) records a year from the file's own
// evidence, in one streaming pass and never from the wall clock:
//
//   - The file's mtime (Entry.Times.Modified, read in the case zone) is when
//     its last line was written, so every line is at or before it.
//   - The first record is placed in the mtime's year, or the year before when
//     its month/day/time falls more than a day after the mtime's in the
//     calendar: a rotated log covers less than a year, so the first line lies
//     within the twelve months before the mtime.
//   - Each time the month goes backwards (Dec -> Jan) the year goes up by one.
//     A step back of less than a day (lines written out of order around
//     midnight at a month's end) is not a rollover.
//   - A record that lands more than a day after the mtime says the guess is
//     wrong (the file spans more than a year, or its lines are not in order);
//     it is kept, and its year basis says so.
//
// The day of slack on both mtime tests absorbs a case zone that differs from
// the zone the log was written in. Without an mtime (a container that records
// none) the first record gets year 0 (plaso's convention for "unknown"), so
// such times cannot be mistaken for real ones; the basis says so.
type yearGuess struct {
	zone     *time.Location
	mtime    time.Time // in zone; zero when unknown
	mtimeKey int64     // calendar key of mtime
	mtimeStr string
	// lateAfter is mtime plus a day: a record placed after it lands
	// after the file mtime (see place).
	lateAfter time.Time

	started   bool
	year      int
	prevKey   int64
	prevMonth int
	rollovers int

	// The basis text changes only on a rollover, so it is built then and
	// shared by the records that follow.
	basisRoll  int
	basisAfter bool
	basis      string

	// The midnight of the last day placed, in Unix seconds, when the zone
	// is UTC: see date.
	dayYear, dayMonth, dayDay int
	dayKnown                  bool
	midnight                  int64
}

// date is time.Date(y.year, st's month, day and clock, y.zone), written by
// hand for the UTC case: a log's lines share their day by the thousand,
// so the day's midnight is computed once and each line adds its clock to
// it, where time.Date re-derives the calendar every time. In UTC a day has
// no offset change, so midnight plus the clock is exactly time.Date's
// answer, out-of-range values (Feb 29 in a year without it, second 60)
// included, as time.Date normalises the day and the seconds add up the
// same way. The sum is made in Unix seconds and turned into a Time once
// (time.Unix, then UTC as time.Date leaves it): Time.Add checked the
// monotonic clock and overflow on every line. FuzzDate holds it to
// time.Date, the Time's representation included. Other zones take
// time.Date itself: a day may hold a daylight-saving change there.
func (y *yearGuess) date(st *stamp) time.Time {
	if y.zone != time.UTC {
		return time.Date(y.year, time.Month(st.month), st.day, st.hour, st.min, st.sec, st.nsec, y.zone)
	}
	if st.day != y.dayDay || st.month != y.dayMonth || y.year != y.dayYear || !y.dayKnown {
		y.dayYear, y.dayMonth, y.dayDay, y.dayKnown = y.year, st.month, st.day, true
		y.midnight = time.Date(y.year, time.Month(st.month), st.day, 0, 0, 0, 0, time.UTC).Unix()
	}
	// st.nsec is below a second (frac reads at most nine digits).
	return time.Unix(y.midnight+int64(st.hour*3600+st.min*60+st.sec), int64(st.nsec)).UTC()
}

func newYearGuess(mtime time.Time, zone *time.Location) *yearGuess {
	y := &yearGuess{zone: zone, basisRoll: -1}
	if !mtime.IsZero() {
		y.mtime = mtime.In(zone)
		y.mtimeKey = calendarKey(int(y.mtime.Month()), y.mtime.Day(), y.mtime.Hour(), y.mtime.Minute(), y.mtime.Second())
		y.mtimeStr = mtime.UTC().Format(time.RFC3339)
		y.lateAfter = y.mtime.Add(daySeconds * time.Second)
	}
	return y
}

const daySeconds = 86400

// cumDays is the day of the year each month starts on (non-leap): a key
// built on it compares dates within one year without calling time.Date.
var cumDays = [13]int64{0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334}

func calendarKey(month, day, hour, min, sec int) int64 {
	return (cumDays[month]+int64(day-1))*daySeconds + int64(hour*3600+min*60+sec)
}

// place returns the time of a year-less stamp and the basis text for it.
func (y *yearGuess) place(st *stamp) (time.Time, string) {
	key := calendarKey(st.month, st.day, st.hour, st.min, st.sec)
	switch {
	case !y.started:
		y.started = true
		if !y.mtime.IsZero() {
			y.year = y.mtime.Year()
			if key > y.mtimeKey+daySeconds {
				y.year--
			}
		}
	case st.month < y.prevMonth && y.prevKey-key > daySeconds:
		y.year++
		y.rollovers++
	}
	y.prevKey, y.prevMonth = key, st.month
	t := y.date(st)
	// t.Sub(y.mtime) > a day, as a comparison with mtime plus a day: Sub
	// checks its own overflow with an Add and an Equal on every record.
	// Sub saturates where it would overflow, which keeps the order, so the
	// two answer alike (TestLateAfterAsSub).
	after := !y.mtime.IsZero() && t.After(y.lateAfter)
	basis := y.basisText(after)
	if st.day > civil.DaysIn(st.month, y.year) {
		// Feb 29 in a year that has none: time.Date rolled it into March.
		basis = fmt.Sprintf("%s; %s %d does not exist in %d, read as %s", basis,
			time.Month(st.month).String()[:3], st.day, y.year, t.Format("Jan 2"))
	}
	return t, basis
}

func (y *yearGuess) basisText(after bool) string {
	if y.basisRoll == y.rollovers && y.basisAfter == after {
		return y.basis
	}
	var s string
	if y.mtime.IsZero() {
		s = fmt.Sprintf("no file mtime: relative year 0 (as plaso) + %d year rollover(s) seen in the file", y.rollovers)
	} else {
		s = fmt.Sprintf("file mtime %s: first line within the year before it, + %d year rollover(s) seen in the file", y.mtimeStr, y.rollovers)
	}
	if after {
		s += "; lands after the file mtime, so the file spans more than a year or is out of order: year doubtful"
	}
	y.basisRoll, y.basisAfter, y.basis = y.rollovers, after, s
	return s
}
