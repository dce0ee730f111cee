//go:build unix

package evidence

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/internal/cputime"
)

// BenchmarkHashFile measures SHA-256+SHA-1+MD5 throughput on a generated
// 1 GiB file (the page cache holds it after the first pass, so this is the
// hashing cost, not the disk's): hashFile, which runs the three side by
// side, and for comparison the three fed one after another from one
// goroutine, as hashFile did before.
func BenchmarkHashFile(b *testing.B) {
	const size = 1 << 30
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
	// Written back before timing starts: the kernel flushing a gigabyte
	// of dirty pages would otherwise slow whichever case runs first.
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	f.Close()

	buf := make([]byte, hashBufSize)
	want, err := hashSequential(p, buf) // also brings the file into the page cache
	if err != nil {
		b.Fatal(err)
	}
	b.Run("side by side", func(b *testing.B) {
		b.SetBytes(size)
		defer reportCPU(b, size)()
		for b.Loop() {
			d, _, err := hashFile(context.Background(), p, buf, allHashes, 0, -1, nil)
			if err != nil || d != want {
				b.Fatalf("%+v, %v; one after another gave %+v", d, err, want)
			}
		}
	})
	b.Run("one after another", func(b *testing.B) {
		b.SetBytes(size)
		defer reportCPU(b, size)()
		for b.Loop() {
			d, err := hashSequential(p, buf)
			if err != nil || d != want {
				b.Fatalf("%+v, %v; before timing %+v", d, err, want)
			}
		}
	})
}

// hashSequential is the three hashes fed in turn from one goroutine.
func hashSequential(p string, buf []byte) (Digests, error) {
	f, err := os.Open(p)
	if err != nil {
		return Digests{}, err
	}
	defer f.Close()
	s256, s1, m5 := sha256.New(), sha1.New(), md5.New()
	n, err := io.CopyBuffer(io.MultiWriter(s256, s1, m5), f, buf)
	if err != nil {
		return Digests{}, err
	}
	return Digests{Size: n, SHA256: hex.EncodeToString(s256.Sum(nil)),
		SHA1: hex.EncodeToString(s1.Sum(nil)), MD5: hex.EncodeToString(m5.Sum(nil))}, nil
}

// reportCPU starts measuring the process's CPU time; the function it
// returns reports it as CPU-seconds per GiB (the machine may be shared:
// wall time then says more about the neighbours than about the hashing).
func reportCPU(b *testing.B, size int64) func() {
	cpu := cputime.Process
	start := cpu()
	return func() {
		b.ReportMetric((cpu()-start).Seconds()/float64(b.N)/(float64(size)/(1<<30)), "cpu-s/GiB")
	}
}
