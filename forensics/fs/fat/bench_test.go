package fat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// BenchmarkWalk walks a FAT32 image of 5,000 files in 50 folders plus one
// 64 MiB file (mkfs.vfat, mtools' mcopy -s), reading every file, and
// reports entries/s and content MB/s, with The Sleuth Kit's `fls -r -m /`
// on the same image timed in the same run.
func BenchmarkWalk(b *testing.B) {
	oracle.Tool(b, "mkfs.vfat", "dosfstools")
	oracle.Tool(b, "mcopy", "mtools")
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	for d := range 50 {
		sub := filepath.Join(src, fmt.Sprintf("folder %02d", d))
		os.MkdirAll(sub, 0o755)
		for f := range 100 {
			os.WriteFile(filepath.Join(sub, fmt.Sprintf("tabulation log %03d.txt", f)), []byte("x\n"), 0o644)
		}
	}
	os.WriteFile(filepath.Join(src, "big.bin"), bytes.Repeat([]byte("0123456789abcdef"), 4<<20), 0o644)
	img := filepath.Join(dir, "bench.img")
	for _, c := range [][]string{
		{"mkfs.vfat", "-C", "-F", "32", img, "262144"},
		{"mcopy", "-s", "-i", img, filepath.Join(src, "*"), "::/"},
	} {
		cmd := exec.Command("sh", "-c", fmt.Sprintf("%q %s", c[0], shellArgs(c[1:])))
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	f, size := fstest.OpenFile(b, img)
	w, err := NewWalker(f, size, []string{"raw:"}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	flsTime := fstest.FlsTime(img)
	b.ResetTimer()
	n, bytesRead := 0, int64(0)
	for range b.N {
		n, bytesRead = 0, 0
		err := w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
			n++
			if e.Mode.IsRegular() {
				rc, err := e.Open()
				if err != nil {
					return err
				}
				k, _ := io.Copy(io.Discard, rc)
				rc.Close()
				bytesRead += k
			}
			return nil
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(n)/per.Seconds(), "entries/s")
	b.ReportMetric(float64(bytesRead)/1e6/per.Seconds(), "MB/s")
	if flsTime > 0 {
		b.ReportMetric(float64(flsTime.Milliseconds()), "fls-ms")
	}
}

// shellArgs quotes args for sh, leaving a trailing glob unquoted.
func shellArgs(args []string) string {
	s := ""
	for _, a := range args {
		if filepath.Base(a) == "*" {
			s += fmt.Sprintf(" %q/*", filepath.Dir(a))
			continue
		}
		s += fmt.Sprintf(" %q", a)
	}
	return s
}
