package ext4

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// BenchmarkWalk walks an ext4 image of 20,000 files in 200 folders (made
// with mke2fs -d) and reports entries/s, with The Sleuth Kit's
// `fls -r -m /` on the same image timed in the same run for comparison.
func BenchmarkWalk(b *testing.B) {
	oracle.Tool(b, "mke2fs", "e2fsprogs")
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	for d := range 200 {
		sub := filepath.Join(src, fmt.Sprintf("dir%03d", d))
		os.MkdirAll(sub, 0o755)
		for f := range 100 {
			os.WriteFile(filepath.Join(sub, fmt.Sprintf("file%03d.log", f)), []byte("x\n"), 0o644)
		}
	}
	img := filepath.Join(dir, "bench.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-N", "40000", "-d", src, img, "256M").CombinedOutput(); err != nil {
		b.Fatalf("mke2fs: %v\n%s", err, out)
	}
	f, size := fstest.OpenFile(b, img)
	w, err := NewWalker(f, size, []string{"raw:"})
	if err != nil {
		b.Fatal(err)
	}
	flsTime := fstest.FlsTime(img)
	b.ResetTimer()
	n := 0
	for range b.N {
		n = 0
		if err := w.Walk(context.Background(), func(context.Context, *jfs.Entry) error { n++; return nil }, nil); err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(n)/per.Seconds(), "entries/s")
	b.ReportMetric(float64(w.Info().Inodes)/per.Seconds(), "inodes-scanned/s")
	if flsTime > 0 {
		b.ReportMetric(float64(flsTime.Milliseconds()), "fls-ms")
		b.ReportMetric(flsTime.Seconds()/per.Seconds(), "x-faster-than-fls")
	}
}
