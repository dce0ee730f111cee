package zeros

import (
	"bytes"
	"testing"
)

// naive is the byte-at-a-time loop All replaced in each package.
func naive(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestAll(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"nil", nil, true},
		{"empty", []byte{}, true},
		{"one zero", []byte{0}, true},
		{"one nonzero", []byte{1}, false},
		{"a word of zeros", make([]byte, 8), true},
		{"zeros, odd length", make([]byte, 1023), true},
		{"nonzero in the first word", append([]byte{0, 0, 0x80}, make([]byte, 20)...), false},
		{"nonzero in the tail", append(make([]byte, 16), 0, 0, 1), false},
		{"nonzero last of a word", append(make([]byte, 15), 1), false},
		{"FILE signature", []byte("FILE0\x00\x03\x00"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := All(tc.b); got != tc.want {
				t.Errorf("All(% x) = %v, want %v", tc.b, got, tc.want)
			}
		})
	}
	// Each position of a single set byte, in every length around a word.
	for n := 1; n <= 33; n++ {
		for i := range n {
			b := make([]byte, n)
			b[i] = 1
			if All(b) {
				t.Fatalf("All: byte %d of %d set, reported zero", i, n)
			}
		}
	}
}

func FuzzAll(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, 9))
	f.Add(append(make([]byte, 12), 7))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := All(b), naive(b); got != want {
			t.Fatalf("All(% x) = %v, the loop says %v", b, got, want)
		}
		if All(b) != (len(bytes.Trim(b, "\x00")) == 0) {
			t.Fatalf("All(% x) disagrees with bytes.Trim", b)
		}
	})
}

// TestAllAcrossPages sets one byte at the edges of All's page-sized steps.
func TestAllAcrossPages(t *testing.T) {
	for _, n := range []int{len(zero) - 1, len(zero), len(zero) + 1, 3*len(zero) + 5, 64 << 10} {
		if !All(make([]byte, n)) {
			t.Fatalf("All: %d zero bytes reported non-zero", n)
		}
		for _, i := range []int{0, len(zero) - 1, len(zero), n - 1} {
			if i < 0 || i >= n {
				continue
			}
			b := make([]byte, n)
			b[i] = 0x10
			if All(b) {
				t.Fatalf("All: byte %d of %d set, reported zero", i, n)
			}
		}
	}
}

func BenchmarkAllChunk(b *testing.B) {
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		if !All(chunk) {
			b.Fatal("zero chunk reported non-zero")
		}
	}
}
