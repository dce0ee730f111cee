package sqlite

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

// wantJSON is encoding/json's quoting of s.
func wantJSON(t testing.TB, s string) []byte {
	t.Helper()
	w, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestEscMemoSameFingerprint writes strings that share a slot's
// fingerprint (length, first, middle and last words) and differ in one
// byte elsewhere, in turns, so that each is written while the slot holds
// the other: the output must be each string's own.
func TestEscMemoSameFingerprint(t *testing.T) {
	base := []byte("C:\\Windows\\System32\\" + strings.Repeat("x", 40) + "\\end.exe\r\n")
	var variants []string
	for _, at := range []int{9, 10, 17, 30, 45, 50} {
		for _, c := range []byte{'y', '\\', '"', 0xff} {
			v := bytes.Clone(base)
			v[at] = c
			variants = append(variants, string(v))
		}
	}
	variants = append(variants, string(base))
	for round := range 6 {
		for i, s := range variants {
			for range round%3 + 1 { // twice or more in a row: cached
				got := appendString([]byte("x"), s)
				if want := wantJSON(t, s); !bytes.Equal(got[1:], want) || got[0] != 'x' {
					t.Fatalf("round %d, variant %d:\n got  %s\n want x%s", round, i, got, want)
				}
			}
		}
	}
}

// TestEscMemoReusedMemory: a string over a buffer its owner rewrites
// (a parser's reused read buffer) is written as it is now, not as the
// table remembers it.
func TestEscMemoReusedMemory(t *testing.T) {
	buf := []byte("SeTcbPrivilege\r\n\t\t\tSeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege")
	s := unsafe.String(&buf[0], len(buf))
	for range 4 {
		if got, want := appendString(nil, s), wantJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	buf[5] = 'X'
	buf[len(buf)-3] = '<'
	if got, want := appendString(nil, s), wantJSON(t, s); !bytes.Equal(got, want) {
		t.Fatalf("after the buffer changed: got %s, want %s", got, want)
	}
}

// TestEscMemoLengths: strings that need an escape at every length around
// the memo's bounds, each written several times.
func TestEscMemoLengths(t *testing.T) {
	for n := 14; n <= escMemoMax+20; n += 1 + n/50 {
		for _, at := range []int{0, n / 2, n - 1} {
			b := []byte(strings.Repeat("ab", n)[:n])
			b[at] = '\n'
			s := string(b)
			want := wantJSON(t, s)
			for range 3 {
				if got := appendString(nil, s); !bytes.Equal(got, want) {
					t.Fatalf("n %d, escape at %d:\n got  %s\n want %s", n, at, got, want)
				}
			}
			// Written three times in a row, it is the memo's (the
			// comparisons above went through it).
			if held := escMemoHolds(s); held != (n >= 16 && n <= escMemoMax) {
				t.Fatalf("n %d, escape at %d: held by the memo %v", n, at, held)
			}
		}
	}
}

// TestEscMemoConcurrent shares the table between goroutines writing
// strings that collide and repeat (go test -race).
func TestEscMemoConcurrent(t *testing.T) {
	var strs []string
	for i := range 3000 {
		strs = append(strs, fmt.Sprintf("C:\\Program Files\\app%d\\x.exe \"%d\"", i%700, i%13))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			var b []byte
			for i := range strs {
				s := strs[(i*7+g*13)%len(strs)]
				b = appendString(b[:0], s)
				if w, _ := json.Marshal(s); !bytes.Equal(b, w) {
					errs <- fmt.Sprintf("goroutine %d: %s, want %s", g, b, w)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// escMemoHolds reports whether the memo's slot for s holds s.
func escMemoHolds(s string) bool {
	for i := range escMemo.ent {
		if e := escMemo.ent[i].Load(); e != nil && e.s == s {
			return true
		}
	}
	return false
}
