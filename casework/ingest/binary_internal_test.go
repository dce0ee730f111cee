package ingest

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// isBinaryBytes is isBinary as a byte loop, the rule it must keep.
func isBinaryBytes(b []byte) bool {
	bin := 0
	for _, c := range b {
		if c == 0 || (c < 0x20 && c != '\n' && c != '\r' && c != '\t') {
			bin++
		}
	}
	return bin > len(b)/20
}

// TestControlBytesEveryByte holds controlBytes to the byte rule for every
// byte value at every place of a word, among neighbours of every kind
// (a carry or borrow from one byte into the next would show here).
func TestControlBytesEveryByte(t *testing.T) {
	control := func(c byte) bool { return c < 0x20 && c != '\n' && c != '\r' && c != '\t' }
	for _, fill := range []byte{0, '\t', '\n', '\r', 0x1f, ' ', 'x', 0x7f, 0x80, 0x9f, 0xa0, 0xff} {
		for place := range 8 {
			for c := range 256 {
				var w [8]byte
				for i := range w {
					w[i] = fill
				}
				w[place] = byte(c)
				var x uint64
				for i := 7; i >= 0; i-- {
					x = x<<8 | uint64(w[i])
				}
				got := controlBytes(x)
				for i := range w {
					if want := control(w[i]); (got>>(8*i+7)&1 == 1) != want {
						t.Fatalf("% x: byte %d judged %v, want %v (mask %016x)", w, i, !want, want, got)
					}
				}
				if got&^highs != 0 {
					t.Fatalf("% x: bits outside the high ones: %016x", w, got)
				}
			}
		}
	}
}

// TestIsBinaryAsBytes compares isBinary with the byte loop on random
// buffers of every length up to 300, mostly text with some controls.
func TestIsBinaryAsBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 300 {
		for range 200 {
			b := make([]byte, n)
			ctl := r.IntN(12)
			for i := range b {
				switch k := r.IntN(100); {
				case k < ctl:
					b[i] = byte(r.IntN(0x20))
				case k < ctl+3:
					b[i] = byte(0x80 + r.IntN(0x80))
				default:
					b[i] = byte(0x20 + r.IntN(0x5f))
				}
			}
			if got, want := isBinary(b), isBinaryBytes(b); got != want {
				t.Fatalf("% x: isBinary %v, the byte loop %v", b, got, want)
			}
		}
	}
}

func FuzzIsBinary(f *testing.F) {
	f.Add([]byte("xxxxxxxxxxxx\x00\x01"))
	f.Add([]byte("\t\n\r\x1f\x20\x7f\x80\xff\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := isBinary(b), isBinaryBytes(b); got != want {
			t.Fatalf("% x: isBinary %v, the byte loop %v", b, got, want)
		}
	})
}

// TestBinaryWhat holds binaryWhat to the fmt form it replaces.
func TestBinaryWhat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 20 {
		for range 50 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			if got, want := binaryWhat(b), fmt.Sprintf("binary content, first bytes % x", b[:min(8, len(b))]); got != want {
				t.Fatalf("%q, want %q", got, want)
			}
		}
	}
}
