package fs_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func readCorpus(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(parsertest.Corpus(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

type member struct {
	name  string
	data  []byte
	store bool // zip: stored instead of deflated
}

var buildTime = time.Date(2024, 11, 5, 7, 30, 0, 0, time.UTC)

func makeZip(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range ms {
		h := &zip.FileHeader{Name: m.name, Method: zip.Deflate, Modified: buildTime}
		if m.store {
			h.Method = zip.Store
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeTar(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Mode: 0o640, Size: int64(len(m.data)), ModTime: buildTime, Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func makeGzip(t testing.TB, name string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Name = name
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(t testing.TB, path string, opts jfs.Options) jfs.Walker {
	t.Helper()
	w, err := jfs.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func byChain(items []fstest.Item) map[string]fstest.Item {
	m := map[string]fstest.Item{}
	for _, it := range items {
		m[it.Key()] = it
	}
	return m
}

// members drops the expanded containers a walk delivers before their
// members, for tests about the members.
func members(items []fstest.Item) []fstest.Item {
	var out []fstest.Item
	for _, it := range items {
		if !it.Container {
			out = append(out, it)
		}
	}
	return out
}

func keys(items []fstest.Item) []string {
	var k []string
	for _, it := range items {
		k = append(k, it.Key())
	}
	return k
}

func key(chain ...string) string { return strings.Join(chain, " > ") }

// findProblem returns the first problem with cause and chain.
func findProblem(probs []*jfs.Problem, cause error, chain ...string) *jfs.Problem {
	for _, p := range probs {
		if errors.Is(p.Err, cause) && slices.Equal(p.Chain, chain) {
			return p
		}
	}
	return nil
}

func dumpProblems(t testing.TB, probs []*jfs.Problem) {
	t.Helper()
	for _, p := range probs {
		t.Logf("problem chain=%q path=%q off=%d: %v", p.Chain, p.Path, p.Offset, p.Err)
	}
}
