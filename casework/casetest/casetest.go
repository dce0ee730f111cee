// Package casetest builds real case stores for tests: real files run
// through the ingest pipeline and every parser into a fresh SQLite store, as
// 'jejak ingest' does, one evidence item per path.
package casetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// Build ingests paths (relative to ../shared/corpus, or absolute; a missing
// absolute path skips the test) into a new store closed at the end of the
// test, and returns it with the ingest summary. It fails the test when no
// event comes out.
func Build(t testing.TB, paths ...string) (*sqlite.Store, ingest.Summary) {
	t.Helper()
	return build(t, jfs.Open, paths)
}

// BuildDisk is Build for disk images opened as 'jejak ingest' opens
// evidence (disk.OpenEvidence: partitions and file systems found), where
// Build reads an image as one plain file.
func BuildDisk(t testing.TB, images ...string) (*sqlite.Store, ingest.Summary) {
	t.Helper()
	return build(t, disk.OpenEvidence, images)
}

func build(t testing.TB, open func(context.Context, string, jfs.Options) (jfs.Walker, error), paths []string) (*sqlite.Store, ingest.Summary) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var items []ingest.Item
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			p = parsertest.Corpus(t, p)
		} else if _, err := os.Stat(p); err != nil {
			t.Skipf("%s: %v", p, err)
		}
		w, err := open(ctx, p, jfs.Options{TempDir: dir})
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		items = append(items, ingest.Item{SHA256: evidenceHash(t, p), Name: filepath.Base(p), Walker: w})
	}
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: dir}, items, st)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if sum.Events == 0 {
		t.Fatalf("no events from %v", paths)
	}
	return st, sum
}

// evidenceHash is a file's SHA-256, or for a folder a stand-in derived from
// its path: tests need distinct, stable evidence IDs, not the tree hash.
func evidenceHash(t testing.TB, p string) string {
	h := sha256.New()
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			t.Fatal(err)
		}
	} else {
		h.Write([]byte("dir:" + p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
