package sqlite

import (
	"math"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// The ts column holds an event's time in Unix nanoseconds, within what
// Elasticsearch's date_nanos holds: 1970-01-01 to 2262-04-11T23:47:16.854775807Z,
// the int64 nanoseconds from 0 up. Elasticsearch indexes no time outside
// that, so such an event comes after every other one (among themselves in
// ID order) and no time bound selects it; the query package's KQL rule
// (timeline/query dateLeaf: ts BETWEEN lo AND hi, lo >= 0, hi <= MaxInt64)
// says the same. SQLite agrees when such an event's ts is farTS: a REAL
// one past the largest int64. SQLite keeps it REAL in the INTEGER column
// (it fits no int64), compares it exactly with the integers, so ORDER BY
// ts, id puts those events last, by ID, and every time condition, which
// ends at MaxInt64 at most, leaves them out. An int64 sentinel could not:
// MaxInt64 is itself a time date_nanos holds, and a KQL range up to it
// would select it.
const farTS = 0x1p63

var (
	minNanos = time.Unix(0, 0)
	maxNanos = time.Unix(0, math.MaxInt64)
)

// inNanos says whether t is a time the ts column holds as an integer.
func inNanos(t time.Time) bool {
	return !t.Before(minNanos) && !t.After(maxNanos)
}

// tsNanos is t in Unix nanoseconds for the ts column, or far when t is
// outside date_nanos (where time.UnixNano is undefined or negative) and
// the column gets farTS.
func tsNanos(t time.Time) (ns int64, far bool) {
	if !inNanos(t) {
		return 0, true
	}
	return t.UnixNano(), false
}

// tsArg is the value bound to the ts column. Boxed only here, when bound,
// so that encoding a chunk still allocates nothing.
func (r *row) tsArg() any {
	if r.far {
		return float64(farTS)
	}
	return r.ts
}

// timeBounds is the closed range of ts that q's From/To select, clamped
// to date_nanos as the Elasticsearch store's rangeQuery clamps them: a
// From before 1970 is 1970, a To after 2262 is the last nanosecond. ok is
// false when no time can match (From after 2262, To at or before 1970).
// With neither bound, bounded is false and every event matches, those
// stored at farTS too.
func timeBounds(q timeline.Query) (lo, hi int64, bounded, ok bool) {
	if q.From.IsZero() && q.To.IsZero() {
		return 0, 0, false, true
	}
	lo, hi = 0, math.MaxInt64
	if !q.From.IsZero() {
		if q.From.After(maxNanos) {
			return 0, 0, true, false
		}
		if q.From.After(minNanos) {
			lo = q.From.UnixNano()
		}
	}
	if !q.To.IsZero() {
		if !q.To.After(minNanos) {
			return 0, 0, true, false
		}
		if !q.To.After(maxNanos) {
			hi = q.To.UnixNano() - 1 // To is exclusive
		}
	}
	if hi < lo {
		return 0, 0, true, false
	}
	return lo, hi, true, true
}
