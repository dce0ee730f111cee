package evidence

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkHashFile measures one-pass SHA-256+SHA-1+MD5 throughput on a
// generated 256 MiB file (the page cache holds it after the first pass, so
// this is the hashing cost, not the disk's).
func BenchmarkHashFile(b *testing.B) {
	const size = 256 << 20
	p := filepath.Join(b.TempDir(), "image.raw")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.NewChaCha8([32]byte{'j', 'e', 'j', 'a', 'k'})
	chunk := make([]byte, 1<<20)
	for range size / len(chunk) {
		rng.Read(chunk)
		w.Write(chunk)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	buf := make([]byte, hashBufSize)
	b.SetBytes(size)
	for b.Loop() {
		d, _, err := hashFile(context.Background(), p, buf, 0, -1, nil)
		if err != nil || d.Size != size {
			b.Fatal(d.Size, err)
		}
	}
}
