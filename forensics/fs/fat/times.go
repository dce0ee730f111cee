package fat

import "time"

// DOS dates and times, as FAT and exFAT store them: a date is
// day(5) month(4) year-1980(7) from the low bit, a time seconds/2(5)
// minute(6) hour(5).

func isDate(d uint16) bool {
	m, day := (d>>5)&0x0F, d&0x1F
	return m >= 1 && m <= 12 && day >= 1
}

func isTime(t uint16) bool {
	return t&0x1F <= 29 && (t>>5)&0x3F <= 59 && t>>11 <= 23
}

// dosTime converts a DOS date and time with its 10 ms increment (0-199,
// up to 1.99 s) to a time in loc. An invalid date (zero: never set) is the
// zero time, as TSK leaves it at 0.
func dosTime(date, tm uint16, tens uint8, loc *time.Location) time.Time {
	if !isDate(date) {
		return time.Time{}
	}
	sec := int(tm&0x1F)*2 + int(tens)/100
	ns := int(tens%100) * 10_000_000
	return time.Date(1980+int(date>>9), time.Month((date>>5)&0x0F), int(date&0x1F),
		int(tm>>11), int((tm>>5)&0x3F), sec, ns, loc)
}

// exfatTime converts an exFAT timestamp (DOS time in the low 16 bits, date
// in the high), its 10 ms increment and its UTC offset byte. When the
// offset's valid bit (0x80) is set the time is exact; otherwise it is a
// local time read in loc and exact is false.
func exfatTime(ts uint32, tens, off uint8, loc *time.Location) (t time.Time, exact bool) {
	if off&0x80 != 0 {
		// Seven-bit two's complement, in 15-minute steps.
		q := int(int8(off<<1) >> 1)
		loc = time.FixedZone("", q*15*60)
		exact = true
	}
	t = dosTime(uint16(ts>>16), uint16(ts), tens, loc)
	if t.IsZero() {
		exact = false
	}
	return t, exact
}
