package sqlite

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// plainEndLoop is plainEnd's definition, a byte at a time.
func plainEndLoop(b []byte, j int) int {
	for j < len(b) && strPlain[b[j]] {
		j++
	}
	return j
}

// TestPlainEndEveryByte puts every byte value at every place of a plain
// run, at every start and length around a word's and plainEnd16's 16
// bytes, for plainEnd and the word loop under it (the only one with
// -tags purego).
func TestPlainEndEveryByte(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for at := 0; at < n; at++ {
			for c := 0; c < 256; c++ {
				b := make([]byte, n)
				for i := range b {
					b[i] = 'a' + byte(i%26)
				}
				b[at] = byte(c)
				for j := 0; j <= n; j++ {
					want := plainEndLoop(b, j)
					if got := plainEnd(b, j); got != want {
						t.Fatalf("plainEnd(%q, %d) = %d, want %d", b, j, got, want)
					}
					if got := plainEndWords(b, j); got != want {
						t.Fatalf("plainEndWords(%q, %d) = %d, want %d", b, j, got, want)
					}
				}
			}
		}
	}
}

// TestPlainEndRandom: random words, two stopping bytes or more each.
func TestPlainEndRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(0x20 + r.IntN(0x60))
			if r.IntN(8) == 0 {
				b[i] = byte(r.IntN(256))
			}
		}
		j := 0
		if len(b) > 0 {
			j = r.IntN(len(b) + 1)
		}
		if got, want := plainEnd(b, j), plainEndLoop(b, j); got != want {
			t.Fatalf("plainEnd(%q, %d) = %d, want %d", b, j, got, want)
		}
	}
}

func FuzzPlainEnd(f *testing.F) {
	f.Add([]byte(`abc"def\ghi`), 0)
	f.Fuzz(func(t *testing.T, b []byte, j int) {
		if j < 0 || j > len(b) {
			return
		}
		if got, want := plainEnd(b, j), plainEndLoop(b, j); got != want {
			t.Fatalf("plainEnd(%q, %d) = %d, want %d", b, j, got, want)
		}
	})
}

// TestEqTok holds eqTok to bytes.HasPrefix for every length up to 40 and
// a difference at every place.
func TestEqTok(t *testing.T) {
	for n := 1; n <= 40; n++ {
		tok := make([]byte, n)
		for i := range tok {
			tok[i] = byte('a' + i)
		}
		b := append(append([]byte(nil), tok...), "xyz"...)
		if !eqTok(b, tok) {
			t.Fatalf("eqTok(%q, %q) = false", b, tok)
		}
		for at := 0; at < n; at++ {
			c := append([]byte(nil), b...)
			c[at] ^= 0x40
			if eqTok(c, tok) {
				t.Fatalf("eqTok(%q, %q) = true", c, tok)
			}
		}
	}
}

// TestParseTimeZ holds parseTimeZ to time.Time's UnmarshalJSON: the same
// time wherever it takes the text, and never a text UnmarshalJSON refuses.
func TestParseTimeZ(t *testing.T) {
	cases := []string{
		"2026-01-01T00:16:40Z", "2016-07-08T18:12:51.6816408Z", "2024-02-29T23:59:59.999999999Z",
		"2023-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59Z", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-04-31T00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "2024-01-01T00:00:00.Z",
		"2024-01-01T00:00:00.1234567890Z", "2024-01-01T00:00:00.5Z", "2024-01-01t00:00:00Z",
		"2024-01-01T00:00:00z", "2024-01-01T00:00:00+07:00", "2024-01-01 00:00:00Z", "+024-01-01T00:00:00Z",
		"2024-1-01T00:00:00Z", "2024-01-01T0:00:00Z", "2024-01-01T00:00:00.12a4Z", "2024-01-01T00:00:00",
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		b := []byte("2024-02-29T12:34:56.123456789Z")
		b = b[:20+r.IntN(11)]
		b[len(b)-1] = 'Z'
		for k := r.IntN(3); k > 0; k-- {
			b[r.IntN(len(b))] = "0123456789:-.TZ9"[r.IntN(16)]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var want time.Time
		err := want.UnmarshalJSON([]byte(`"` + s + `"`))
		got, ok := parseTimeZ([]byte(s))
		if ok && (err != nil || got != want || !reflect.DeepEqual(got, want)) {
			t.Fatalf("parseTimeZ(%q) = %v; UnmarshalJSON: %v, %v", s, got, want, err)
		}
	}
	if _, ok := parseTimeZ([]byte("2016-07-08T18:12:51.6816408Z")); !ok {
		t.Fatal("an EVTX time is not taken")
	}
}
