package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// streams are the two ways a file's bytes are hashed: side by side
// (hashStream) and on one goroutine (hashAside, the late pass's).
var streams = []struct {
	name string
	hash func(context.Context, io.Reader, []byte, hashSet, func(int64)) (Digests, error)
}{{"side by side", hashStream}, {"aside", hashAside}, {"in line", func(ctx context.Context, r io.Reader, buf []byte, want hashSet, progress func(int64)) (Digests, error) {
	return hashStream(context.WithValue(ctx, besideKey{}, true), r, buf, want, progress)
}}}

// TestHashStreamSizes hashes streams of every size around the buffer and
// ring boundaries, read whole or in short reads, with the caller's buffer
// small (many blocks in flight) and of the size the package uses (the
// pooled ring), and checks the three digests against sha256sum, sha1sum
// and md5sum, and the progress reports.
func TestHashStreamSizes(t *testing.T) {
	const small = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for _, bufSize := range []int{small, hashBufSize} {
		for _, size := range []int{0, 1, bufSize - 1, bufSize, bufSize + 1, 2 * bufSize, hashRing*bufSize + 7, 3*hashRing*bufSize + 1} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			p := filepath.Join(dir, fmt.Sprintf("%d-%d", bufSize, size))
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			want := Digests{Size: int64(size), SHA256: coreutilsSum(t, "sha256sum", p),
				SHA1: coreutilsSum(t, "sha1sum", p), MD5: coreutilsSum(t, "md5sum", p)}
			for _, half := range []bool{false, true} {
				for _, s := range streams {
					var rd io.Reader = bytes.NewReader(data)
					if half {
						rd = iotest.HalfReader(rd)
					}
					var last int64
					got, err := s.hash(context.Background(), rd, make([]byte, bufSize), allHashes, func(n int64) {
						if n <= last {
							t.Errorf("%s, buffer %d, size %d: progress %d after %d", s.name, bufSize, size, n, last)
						}
						last = n
					})
					if err != nil || got != want {
						t.Fatalf("%s, buffer %d, size %d, short reads %v: %+v, %v; coreutils say %+v", s.name, bufSize, size, half, got, err, want)
					}
					if last != int64(size) {
						t.Errorf("%s, buffer %d, size %d: last progress %d", s.name, bufSize, size, last)
					}
				}
			}
		}
	}
}

// A stream cancelled while it is hashed side by side (or aside) ends with
// the context's error, and a read error with that error.
func TestHashStreamStops(t *testing.T) {
	data := make([]byte, 64*asidePart)
	for _, s := range streams {
		ctx, cancel := context.WithCancel(context.Background())
		_, err := s.hash(ctx, bytes.NewReader(data), make([]byte, 4096), allHashes, func(n int64) {
			if n >= 8*asidePart {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s, cancelled: %v", s.name, err)
		}
		boom := errors.New("boom")
		if _, err = s.hash(context.Background(), iotest.ErrReader(boom), make([]byte, 4096), allHashes, nil); !errors.Is(err, boom) {
			t.Errorf("%s, read error: %v", s.name, err)
		}
	}
	_, err := hashStream(context.Background(), iotest.TimeoutReader(iotest.HalfReader(iotest.DataErrReader(bytes.NewReader(data)))), make([]byte, 4096), allHashes, nil)
	if err == nil {
		t.Error("a failing reader hashed without error")
	}
}
