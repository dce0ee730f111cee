package image

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// benchRaw is the raw media the benchmark acquires: Debian's NTFS sample
// image (photos, documents: real data) when forensics-samples-ntfs is
// installed, else the corpus bytes.
func benchRaw(b *testing.B) string {
	if _, err := os.Stat(filepath.Join(oracle.SamplesDir, "fs.ntfs.xz")); err != nil {
		return corpusRaw(b)
	}
	return oracle.Sample(b, "ntfs")
}

// readThrough reads img front to back in ReadAt calls of len(buf), as the
// sequential-read benchmarks do, and returns its size; an error other than
// the io.EOF of the last call fails the benchmark.
func readThrough(b *testing.B, img Image, buf []byte) int64 {
	size := img.Size()
	for off := int64(0); off < size; off += int64(len(buf)) {
		if _, err := img.ReadAt(buf, off); err != nil && err != io.EOF {
			b.Fatal(err)
		}
	}
	return size
}

// BenchmarkEWFSequentialRead reads a compressed E01 front to back in 64 KiB
// ReadAt calls, and reports ewfexport's throughput on the same file.
func BenchmarkEWFSequentialRead(b *testing.B) {
	e01 := ewfacquire(b, benchRaw(b), "-c", "deflate:best")
	img, err := OpenEWF(e01)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	buf := make([]byte, 64<<10)
	b.SetBytes(img.Size())
	b.ResetTimer()
	for range b.N {
		img.cache = newChunkCache(chunkCacheSize)
		readThrough(b, img, buf)
	}
	b.StopTimer()
	target := filepath.Join(b.TempDir(), "x")
	start := time.Now()
	oracle.Run(b, "ewfexport", "-q", "-u", "-f", "raw", "-t", target, e01)
	b.ReportMetric(float64(img.Size())/1e6/time.Since(start).Seconds(), "ewfexport-MB/s")
}
