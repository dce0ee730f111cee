package query

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// isoDate is Elasticsearch's strict_date_optional_time (a space is also
// taken for the 'T', as examiners type it): the omitted fields say how
// precise the date is.
var isoDate = regexp.MustCompile(`^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$`)

// parseDate reads a date as the inclusive range of nanoseconds it names:
// "2024-02-14" is the whole day, "2024-02-14T12:00" the whole minute,
// as Elasticsearch rounds a date for a term query (and rounds up the upper
// bound of lte/gt). A date without an offset is read in zone.
func parseDate(s string, zone *time.Location) (lo, hi int64, err error) {
	m := isoDate.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, 0, fmt.Errorf("cannot read %q as a date: use ISO 8601, e.g. 2024-02-14, 2024-02-14T12:00:00Z or 2024-02-14T19:00:00+07:00 (date math such as now-1d is not supported)", s)
	}
	num := func(i, def int) int {
		if m[i] == "" {
			return def
		}
		n, _ := strconv.Atoi(m[i])
		return n
	}
	year, month, day := num(1, 0), num(2, 1), num(3, 1)
	hour, minute, sec := num(4, 0), num(5, 0), num(6, 0)
	nano := 0
	if m[7] != "" {
		nano, _ = strconv.Atoi((m[7] + "000000000")[:9])
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 59 {
		return 0, 0, fmt.Errorf("%q is not a valid date", s)
	}
	loc := zone
	if z := m[8]; z != "" {
		if z == "Z" {
			loc = time.UTC
		} else {
			sign := 1
			if z[0] == '-' {
				sign = -1
			}
			digits := strings.ReplaceAll(z[1:], ":", "")
			h, _ := strconv.Atoi(digits[:2])
			mm := 0
			if len(digits) == 4 {
				mm, _ = strconv.Atoi(digits[2:])
			}
			if h > 18 || mm > 59 {
				return 0, 0, fmt.Errorf("%q has an invalid UTC offset", s)
			}
			loc = time.FixedZone(z, sign*(h*3600+mm*60))
		}
	}
	start := time.Date(year, time.Month(month), day, hour, minute, sec, nano, loc)
	var end time.Time
	switch {
	case m[7] != "":
		end = start
	case m[6] != "":
		end = start.Add(time.Second - 1)
	case m[5] != "":
		end = start.Add(time.Minute - 1)
	case m[4] != "":
		end = start.Add(time.Hour - 1)
	case m[3] != "":
		end = start.AddDate(0, 0, 1).Add(-1)
	case m[2] != "":
		end = start.AddDate(0, 1, 0).Add(-1)
	default:
		end = start.AddDate(1, 0, 0).Add(-1)
	}
	return nanos(start), nanos(end), nil
}

// nanos is t in Unix nanoseconds, saturated where int64 ends (beyond
// which time.UnixNano is undefined).
func nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
