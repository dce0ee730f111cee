package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkVHDCompressedSequentialRead opens each container of this file
// family made from the same raw disk (Debian's NTFS sample when installed)
// and reads it front to back in 64 KiB ReadAt calls; each iteration opens
// the image afresh, so a compressed image's decompression is counted.
// oracle-MB/s is the independent tool's rate on the same file in the same
// run: qemu-img convert -O raw for VHD/VHDX, the compressor's own -dc to a
// file for compressed images.
func BenchmarkVHDCompressedSequentialRead(b *testing.B) {
	raw := benchRaw(b)
	dir := b.TempDir()
	old := defaultTempDir.Load()
	SetDefaultTempDir(dir)
	defer defaultTempDir.Store(old)
	type bench struct {
		name   string
		path   string
		oracle []string
	}
	var cases []bench
	for _, c := range []struct{ name, format, opts string }{
		{"vhd-fixed", "vpc", "subformat=fixed,force_size=on"},
		{"vhd-dynamic", "vpc", "subformat=dynamic,force_size=on"},
		{"vhdx-fixed", "vhdx", "subformat=fixed"},
		{"vhdx-dynamic", "vhdx", "subformat=dynamic"},
	} {
		p := qemuConvert(b, raw, c.format, c.opts, c.name)
		cases = append(cases, bench{c.name, p, []string{"qemu-img", "convert", "-O", "raw", p, filepath.Join(dir, "qemu.raw")}})
	}
	for _, format := range []string{"gzip", "xz", "bzip2", "zstd"} {
		p := compress(b, format, raw, b.TempDir(), "disk."+format)
		cases = append(cases, bench{format, p, []string{compressors[format][0], "-dc", p}})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			buf := make([]byte, 64<<10)
			var size int64
			for range b.N {
				img, err := Open(c.path)
				if err != nil {
					b.Fatal(err)
				}
				if c.name == "xz" || c.name == "gzip" || c.name == "bzip2" || c.name == "zstd" {
					if _, ok := img.(*Compressed); !ok {
						if img, err = OpenCompressed(c.path); err != nil {
							b.Fatal(err)
						}
					}
				}
				size = readThrough(b, img, buf)
				img.Close()
			}
			b.SetBytes(size)
			b.StopTimer()
			out, err := os.Create(filepath.Join(dir, "oracle.out"))
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(c.oracle[0], c.oracle[1:]...)
			cmd.Stdout = out
			start := time.Now()
			if err := cmd.Run(); err != nil {
				b.Fatalf("%v: %v", c.oracle, err)
			}
			b.ReportMetric(float64(size)/1e6/time.Since(start).Seconds(), "oracle-MB/s")
			out.Close()
			os.Remove(out.Name())
			os.Remove(filepath.Join(dir, "qemu.raw"))
		})
	}
}
