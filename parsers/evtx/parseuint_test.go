package evtx

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// parseUint must return what strconv.ParseUint(s, 10, bits) returns,
// value and whether it failed, for whatever text an EventID or
// EventRecordID holds.
func TestParseUintMatchesStrconv(t *testing.T) {
	cases := []string{"", "0", "4624", "00004624", "4294967295", "4294967296", "999999999", "1000000000",
		"18446744073709551615", "18446744073709551616", "9999999999999999999", "-1", "+1", "1_000", "0x10",
		" 1", "1 ", "12a", "١٢", "99999999999999999999999"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		n := r.Uint64() >> r.UintN(64)
		s := strconv.FormatUint(n, 10)
		if r.IntN(4) == 0 {
			s = "0" + s
		}
		cases = append(cases, s)
	}
	for _, s := range cases {
		for _, bits := range []int{32, 64} {
			got, gerr := parseUint(s, bits)
			want, werr := strconv.ParseUint(s, 10, bits)
			if got != want || (gerr == nil) != (werr == nil) {
				t.Fatalf("parseUint(%q, %d) = %d, %v; ParseUint %d, %v", s, bits, got, gerr, want, werr)
			}
		}
	}
}
