//go:build linux

package evidence

import (
	"context"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSparseHash hashes sparse files (holes at the start, between runs of
// data, at the end, runs that straddle the hash ring's parts) and checks
// the digests against coreutils, which read the holes, and that the holes
// were not read where the file system reports them.
func TestSparseHash(t *testing.T) {
	const mib = 1 << 20
	type run struct{ off, n int64 }
	layouts := map[string]struct {
		size int64
		data []run
	}{
		"dense":         {3*mib + 5, []run{{0, 3*mib + 5}}},
		"hole only":     {5*mib + 3, nil},
		"hole first":    {4 * mib, []run{{3 * mib, mib}}},
		"hole last":     {6*mib + 100, []run{{0, mib + 17}}},
		"holes between": {16*mib + 1, []run{{0, 4096}, {2*mib - 7, 300 * 1024}, {9 * mib, 3*mib + 1}, {16 * mib, 1}}},
		// Smaller than the hash buffer: read as it is, holes and all.
		"small": {mib - 1, []run{{300 * 1024, 5}}},
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	for name, l := range layouts {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(l.size); err != nil {
				t.Fatal(err)
			}
			var data int64
			for _, r := range l.data {
				b := make([]byte, r.n)
				for i := range b {
					b[i] = byte(rng.Uint32() | 1) // no zeros: a run of data is no hole
				}
				if _, err := f.WriteAt(b, r.off); err != nil {
					t.Fatal(err)
				}
				data += r.n
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want := Digests{Size: l.size, SHA256: coreutilsSum(t, "sha256sum", p),
				SHA1: coreutilsSum(t, "sha1sum", p), MD5: coreutilsSum(t, "md5sum", p)}
			for _, bufSize := range []int{4096, hashBufSize} {
				got, _, err := hashFile(context.Background(), p, make([]byte, bufSize), allHashes, 0, -1, nil)
				if err != nil || got != want {
					t.Fatalf("buffer %d: %+v, %v; coreutils say %+v", bufSize, got, err, want)
				}
			}
			// And as BeginEvidence's SHA-256 pass, in line.
			got, _, err := hashFile(context.WithValue(context.Background(), besideKey{}, true), p, make([]byte, hashBufSize), allHashes, 0, -1, nil)
			if err != nil || got != want {
				t.Fatalf("in line: %+v, %v; coreutils say %+v", got, err, want)
			}
			// And the late pass's way, on one goroutine (its parts of the
			// holes hashed from the run of zeros).
			got, _, err = hashFileBy(context.Background(), hashAside, p, make([]byte, asidePart), allHashes, 0, -1, nil)
			if err != nil || got != want {
				t.Fatalf("aside: %+v, %v; coreutils say %+v", got, err, want)
			}

			f, err = os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if l.size < hashBufSize {
				if rd := holesSkipped(f, l.size); rd != io.Reader(f) {
					t.Errorf("a file of %d bytes is read through %T", l.size, rd)
				}
				return
			}
			sr := holesSkipped(f, l.size).(*sparseReader)
			n, err := io.Copy(io.Discard, struct{ io.Reader }{sr})
			if err != nil || n != l.size {
				t.Fatalf("read %d bytes, %v; the file has %d", n, err, l.size)
			}
			if sr.read < data {
				t.Errorf("%d bytes read from the file, it holds %d of data", sr.read, data)
			}
			if first, err := f.Seek(0, unix.SEEK_HOLE); err == nil && first < l.size && sr.read >= l.size {
				t.Errorf("the file system reports a hole at %d, and all %d bytes were read", first, sr.read)
			}
			t.Logf("%d of %d bytes read", sr.read, l.size)
		})
	}
}
