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
				var rd io.Reader = bytes.NewReader(data)
				if half {
					rd = iotest.HalfReader(rd)
				}
				var last int64
				got, err := hashStream(context.Background(), rd, make([]byte, bufSize), allHashes, func(n int64) {
					if n <= last {
						t.Errorf("buffer %d, size %d: progress %d after %d", bufSize, size, n, last)
					}
					last = n
				})
				if err != nil || got != want {
					t.Fatalf("buffer %d, size %d, short reads %v: %+v, %v; coreutils say %+v", bufSize, size, half, got, err, want)
				}
				if last != int64(size) {
					t.Errorf("buffer %d, size %d: last progress %d", bufSize, size, last)
				}
			}
		}
	}
}

// A stream cancelled while it is hashed side by side ends with the
// context's error, and a read error with that error.
func TestHashStreamStops(t *testing.T) {
	data := make([]byte, 64*4096)
	ctx, cancel := context.WithCancel(context.Background())
	_, err := hashStream(ctx, bytes.NewReader(data), make([]byte, 4096), allHashes, func(n int64) {
		if n >= 8*4096 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	boom := errors.New("boom")
	_, err = hashStream(context.Background(), iotest.TimeoutReader(iotest.HalfReader(iotest.DataErrReader(bytes.NewReader(data)))), make([]byte, 4096), allHashes, nil)
	if err == nil {
		t.Error("a failing reader hashed without error")
	}
	_, err = hashStream(context.Background(), iotest.ErrReader(boom), make([]byte, 4096), allHashes, nil)
	if !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}
