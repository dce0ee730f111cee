package fat

import (
	"testing"
	"time"
)

// TestTimes decodes DOS and exFAT time fields worked out by hand from the
// Microsoft FAT and exFAT specifications' bit layouts.
func TestTimes(t *testing.T) {
	jkt := time.FixedZone("WIB", 7*3600)
	// 2024-02-14 19:30:58: date (44<<9 | 2<<5 | 14), time (19<<11 | 30<<5 | 29).
	date, tm := uint16(44<<9|2<<5|14), uint16(19<<11|30<<5|29)
	for _, c := range []struct {
		name string
		got  time.Time
		want time.Time
	}{
		{"FAT in UTC", dosTime(date, tm, 0, time.UTC), time.Date(2024, 2, 14, 19, 30, 58, 0, time.UTC)},
		{"FAT in the evidence zone", dosTime(date, tm, 0, jkt), time.Date(2024, 2, 14, 12, 30, 58, 0, time.UTC)},
		{"10 ms increment 155: +1.55 s", dosTime(date, tm, 155, time.UTC), time.Date(2024, 2, 14, 19, 30, 59, 550_000_000, time.UTC)},
		{"access date only", dosTime(date, 0, 0, time.UTC), time.Date(2024, 2, 14, 0, 0, 0, 0, time.UTC)},
		{"never set", dosTime(0, 0, 0, time.UTC), time.Time{}},
		{"month 13 is no date", dosTime(44<<9|13<<5|1, 0, 0, time.UTC), time.Time{}},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	ts := uint32(date)<<16 | uint32(tm)
	for _, c := range []struct {
		name  string
		off   uint8
		want  time.Time
		exact bool
	}{
		{"offset +07:00 (0x80|28)", 0x80 | 28, time.Date(2024, 2, 14, 12, 30, 58, 0, time.UTC), true},
		{"offset -05:00 (0x80|0x6C)", 0x80 | 0x6C, time.Date(2024, 2, 15, 0, 30, 58, 0, time.UTC), true},
		{"offset +05:45 (0x80|23)", 0x80 | 23, time.Date(2024, 2, 14, 13, 45, 58, 0, time.UTC), true},
		{"offset not valid: the evidence zone", 28, time.Date(2024, 2, 14, 12, 30, 58, 0, time.UTC), false},
	} {
		got, exact := exfatTime(ts, 0, c.off, jkt)
		if !got.Equal(c.want) || exact != c.exact {
			t.Errorf("%s: %v exact=%v, want %v exact=%v", c.name, got, exact, c.want, c.exact)
		}
	}
}
