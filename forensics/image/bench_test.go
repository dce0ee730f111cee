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
		for off := int64(0); off < img.Size(); off += int64(len(buf)) {
			if _, err := img.ReadAt(buf, off); err != nil && err != io.EOF {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	target := filepath.Join(b.TempDir(), "x")
	start := time.Now()
	oracle.Run(b, "ewfexport", "-q", "-u", "-f", "raw", "-t", target, e01)
	b.ReportMetric(float64(img.Size())/1e6/time.Since(start).Seconds(), "ewfexport-MB/s")
}
