package query_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/ingest"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// caseFiles are the corpus files of the test case: sshd syslog, a real
// brute-forced auth.log, a Windows Security log and an Apache access log.
var caseFiles = []string{
	"logs/syslog/syslog_ssh.log",
	"more/linux/auth/elastic_examples_auth.log",
	"logs/windows/security.evtx",
	"logs/web/apache_access.log",
}

// buildCase ingests caseFiles into a fresh SQLite case store as 'jejak
// ingest' does: one evidence item per file, every parser, real files.
func buildCase(t testing.TB) *sqlite.Store {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var items []ingest.Item
	for _, rel := range caseFiles {
		p := parsertest.Corpus(t, rel)
		w, err := fs.Open(ctx, p, fs.Options{TempDir: dir})
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		items = append(items, ingest.Item{SHA256: fileSHA256(t, p), Name: filepath.Base(p), Walker: w})
	}
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: dir}, items, st)
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if sum.Events < 7000 {
		t.Fatalf("only %d events from %v", sum.Events, caseFiles)
	}
	return st
}

func fileSHA256(t testing.TB, p string) string {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
