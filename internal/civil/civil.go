// Package civil turns Unix seconds into a proleptic Gregorian date and a
// time of day by integer arithmetic: the days-to-civil-date conversion of
// H. Hinnant's "chrono-Compatible Low-Level Date Algorithms". The EVTX
// parser and the store's encoder render every event's times with it,
// where time.Time's Date and Clock cost several hundred instructions an
// event. Written here because the standard library offers the conversion
// only through time.Time.
package civil

// Split returns the date and the second of the day of sec, Unix seconds
// (UTC), for any sec whose year fits an int64.
func Split(sec int64) (year, month, day, secOfDay int64) {
	days, sod := sec/86400, sec%86400
	if sod < 0 {
		days, sod = days-1, sod+86400
	}
	// Days since 0000-03-01, in eras of 400 years (146,097 days): the
	// leap day ends each year, which makes a year's day its own.
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day, sod
}

// DaysIn is the number of days of month (1–12) in year, proleptic
// Gregorian as time counts: the check of a parsed date's day that the
// parsers and the store's timestamp reader share.
func DaysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
