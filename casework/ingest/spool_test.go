package ingest

import "testing"

func TestParseSpoolLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4GiB", 4 << 30, true}, {"4G", 4 << 30, true}, {"512 MiB", 512 << 20, true},
		{"1000000", 1000000, true}, {"2GB", 2e9, true}, {"1tib", 1 << 40, true}, {"10 B", 10, true},
		{"none", NoSpoolLimit, true}, {"0", NoSpoolLimit, true}, {" NONE ", NoSpoolLimit, true},
		{"", 0, false}, {"GiB", 0, false}, {"-1", 0, false}, {"4 parsecs", 0, false},
		{"1.5GiB", 0, false}, {"99999999999TiB", 0, false},
	} {
		got, err := ParseSpoolLimit(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseSpoolLimit(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for n, want := range map[int64]string{4 << 30: "4 GiB", 1 << 20: "1 MiB", 1536: "1536 bytes", 3 << 40: "3 TiB"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}
