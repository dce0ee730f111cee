package image

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// benchRaw is the raw media the benchmark acquires: Debian's NTFS sample
// image (photos, documents: real data) when forensics-samples-ntfs is
// installed, else the corpus bytes.
func benchRaw(b *testing.B) string {
	if _, err := os.Stat(ntfsSampleXZ); err != nil {
		return corpusRaw(b)
	}
	return ntfsSample(b)
}

const ntfsSampleXZ = "/usr/share/forensics-samples/fs.ntfs.xz"

// ntfsSample decompresses Debian's NTFS sample disk into a temp dir.
func ntfsSample(b testing.TB) string {
	b.Helper()
	if _, err := os.Stat(ntfsSampleXZ); err != nil {
		b.Skip("Debian's NTFS sample image is missing: apt-get install -y forensics-samples-ntfs")
	}
	xzPath := ntfsSampleXZ
	needTool(b, "xz", "xz-utils")
	out := filepath.Join(b.TempDir(), "fs.ntfs")
	f, _ := os.Create(out)
	cmd := exec.Command("xz", "-dc", xzPath)
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return out
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
	run(b, "ewfexport", "-q", "-u", "-f", "raw", "-t", target, e01)
	b.ReportMetric(float64(img.Size())/1e6/time.Since(start).Seconds(), "ewfexport-MB/s")
}
