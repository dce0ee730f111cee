package baseline

import (
	"context"
	"io"
	"os"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// BenchmarkCapture captures a folder ($JEJAK_BENCH_TREE, default /usr/bin)
// with all three hashes and reports files/s and MB/s, to set beside
//
//	find TREE -type f -print0 | xargs -0 sha256sum >/dev/null
//
// on the same tree (docs: the numbers in the report of issue 19). The tree
// is read from the page cache after the first iteration, as sha256sum's is.
func BenchmarkCapture(b *testing.B) {
	tree := os.Getenv("JEJAK_BENCH_TREE")
	if tree == "" {
		tree = "/usr/bin"
	}
	if _, err := os.Stat(tree); err != nil {
		b.Skip(err)
	}
	var files, bytes int64
	for i := 0; i < b.N; i++ {
		src, err := OpenSource(context.Background(), tree, jfs.Options{})
		if err != nil {
			b.Fatal(err)
		}
		tr, err := Capture(context.Background(), src, io.Discard, Options{})
		if err != nil {
			b.Fatal(err)
		}
		files, bytes = tr.Files, tr.Bytes
	}
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(files)/s, "files/s")
	b.ReportMetric(float64(bytes)/s/1e6, "MB/s")
}
