package fs_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// benchTgz builds a tar.gz of a real 800 KB sshd auth.log under ten
// names (8 MB), the shape of a collected /var/log: real text, so inflate
// works at a real log's compression ratio (about 10:1).
func benchTgz(b *testing.B) (tgz []byte, size int64) {
	log := readCorpus(b, "more/linux/auth/elastic_examples_auth.log")
	var ms []member
	for i := range 10 {
		ms = append(ms, member{name: fmt.Sprintf("var/log/auth.log.%d", i), data: log})
		size += int64(len(log))
	}
	return makeGzip(b, "", makeTar(b, ms...)), size
}

// BenchmarkWalkTgz: MB/s of log content delivered from a tar.gz on disk,
// every entry read in full.
func BenchmarkWalkTgz(b *testing.B) {
	tgz, size := benchTgz(b)
	ev := filepath.Join(b.TempDir(), "logs.tgz")
	write(b, ev, tgz)
	w := open(b, ev, jfs.Options{})
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		err := w.Walk(context.Background(), func(ctx context.Context, e *jfs.Entry) error {
			rc, err := e.Open()
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			return err
		}, func(p *jfs.Problem) { b.Fatal(p) })
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInflate is why the walker inflates with klauspost/compress.
func BenchmarkInflate(b *testing.B) {
	tgz, size := benchTgz(b)
	for _, tc := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"stdlib", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"klauspost", func(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				r, err := tc.open(bytes.NewReader(tgz))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
