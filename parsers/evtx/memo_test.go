package evtx

import (
	"bytes"
	"testing"
)

// TestSameBytes holds sameBytes to bytes.Equal for every length up to
// 40 (the sizes it compares in registers and the others), with the two
// differing at each position in turn, and in length alone.
func TestSameBytes(t *testing.T) {
	for n := 0; n <= 40; n++ {
		a := make([]byte, n)
		for i := range a {
			a[i] = byte(i*37 + n)
		}
		b := bytes.Clone(a)
		if !sameBytes(a, b) {
			t.Fatalf("length %d: equal bytes differ", n)
		}
		for i := range n {
			for _, bit := range []byte{1, 0x80} {
				b[i] ^= bit
				if sameBytes(a, b) || sameBytes(b, a) {
					t.Fatalf("length %d: byte %d differing by %#x not told", n, i, bit)
				}
				b[i] ^= bit
			}
		}
		if n > 0 && (sameBytes(a, b[:n-1]) || sameBytes(a[:n-1], b)) {
			t.Fatalf("length %d: a shorter prefix is equal", n)
		}
	}
}
