package timeline

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
	"testing"
)

// TestAppendNumField: the hand-written digits are strconv's, for every
// magnitude and sign (ComputeID hashes them: an ID must never change).
func TestAppendNumField(t *testing.T) {
	vals := []int64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 12345, 99999, 100000,
		1 << 31, 1<<32 + 7, math.MaxInt64, math.MaxInt64 - 1, -1, -10, -99, -100, math.MinInt64}
	for p := int64(1); p < math.MaxInt64/10; p *= 10 {
		vals = append(vals, p-1, p, p+1, 3*p+7)
	}
	for n := int64(0); n < 20000; n++ {
		vals = append(vals, n, n*7919+3)
	}
	for _, n := range vals {
		d := strconv.FormatInt(n, 10)
		want := binary.BigEndian.AppendUint64([]byte("x"), uint64(len(d)))
		want = append(want, d...)
		if got := appendNumField([]byte("x"), n); !bytes.Equal(got, want) {
			t.Fatalf("appendNumField(%d) = %q, want %q", n, got, want)
		}
	}
}
