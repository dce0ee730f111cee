package civil

import (
	"testing"
	"time"
)

func check(t *testing.T, sec int64) {
	t.Helper()
	y, m, d, sod := Split(sec)
	u := time.Unix(sec, 0).UTC()
	wy, wm, wd := u.Date()
	hh, mm, ss := u.Clock()
	if y != int64(wy) || m != int64(wm) || d != int64(wd) || sod != int64(hh*3600+mm*60+ss) {
		t.Errorf("Split(%d) = %d-%d-%d +%ds, want %s", sec, y, m, d, sod, u.Format(time.RFC3339))
	}
}

func TestSplit(t *testing.T) {
	for _, s := range []string{
		"0000-01-01T00:00:00Z", "0000-02-29T23:59:59Z", "0000-03-01T00:00:00Z",
		"1582-10-15T00:00:00Z", "1600-02-29T12:00:00Z", "1601-01-01T00:00:00Z",
		"1899-12-31T23:59:59Z", "1900-02-28T00:00:00Z", "1900-03-01T00:00:00Z",
		"1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2000-02-29T00:00:01Z",
		"2024-02-14T19:00:00Z", "2100-03-01T00:00:00Z", "9999-12-31T23:59:59Z",
	} {
		u, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		check(t, u.Unix())
	}
	// Negative years and eras before 0000-03-01.
	for _, sec := range []int64{-62167219201, -62167219200 - 86400*146097, -1e13, -146097 * 86400 * 3} {
		check(t, sec)
	}
}

// FuzzSplit: Split agrees with time.Time's calendar over years ±1e6.
func FuzzSplit(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(-1))
	f.Add(int64(253402300799))
	f.Add(int64(-62167219200))
	f.Fuzz(func(t *testing.T, sec int64) {
		const lim = 1e6 * 366 * 86400
		if sec > lim || sec < -lim {
			return
		}
		check(t, sec)
	})
}

func TestDaysIn(t *testing.T) {
	for _, year := range []int{-401, -400, -1, 0, 1, 1600, 1700, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999} {
		for month := 1; month <= 12; month++ {
			want := time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
			if got := DaysIn(month, year); got != want {
				t.Errorf("DaysIn(%d, %d) = %d, time says %d", month, year, got, want)
			}
		}
	}
}
