package image

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// BenchmarkVirtualDiskSequentialRead reads QCOW2 and VMDK images of the
// benchmark raw (Debian's NTFS sample) front to back in 64 KiB ReadAt
// calls, each opened afresh so no cache carries over, and reports
// qemu-img's own conversion of the same image to raw, timed in the same
// run, as qemu-img-MB/s.
func BenchmarkVirtualDiskSequentialRead(b *testing.B) {
	raw := benchRaw(b)
	oracle.Tool(b, "qemu-img", "qemu-utils")
	dir := b.TempDir()
	for _, v := range []struct{ name, format, opts string }{
		{"qcow2", "qcow2", ""},
		{"qcow2-zlib", "qcow2", "-c"},
		{"qcow2-zstd", "qcow2", "-c -o compression_type=zstd"},
		{"vmdk-monolithicSparse", "vmdk", "-o subformat=monolithicSparse"},
		{"vmdk-streamOptimized", "vmdk", "-o subformat=streamOptimized"},
		{"vmdk-monolithicFlat", "vmdk", "-o subformat=monolithicFlat"},
	} {
		out := filepath.Join(dir, v.name+"."+v.format)
		args := append(append([]string{"convert", "-f", "raw", "-O", v.format}, strings.Fields(v.opts)...), raw, out)
		oracle.Run(b, "qemu-img", args...)
		b.Run(v.name, func(b *testing.B) {
			buf := make([]byte, 64<<10)
			var size int64
			for range b.N {
				img, err := Open(out)
				if err != nil {
					b.Fatal(err)
				}
				size = readThrough(b, img, buf)
				img.Close()
			}
			b.SetBytes(size)
			b.StopTimer()
			target := filepath.Join(b.TempDir(), "x.raw")
			start := time.Now()
			oracle.Run(b, "qemu-img", "convert", "-O", "raw", out, target)
			b.ReportMetric(float64(size)/1e6/time.Since(start).Seconds(), "qemu-img-MB/s")
		})
	}
}
