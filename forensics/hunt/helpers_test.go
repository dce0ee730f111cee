package hunt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/ingest"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// buildCase ingests real files (corpus-relative, or absolute paths) into a
// fresh SQLite case store, as 'jejak ingest' does, one evidence item each.
func buildCase(t testing.TB, paths ...string) *sqlite.Store {
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
		w, err := jfs.Open(ctx, p, jfs.Options{TempDir: dir})
		if err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		items = append(items, ingest.Item{SHA256: evidenceHash(t, p), Name: filepath.Base(p), Walker: w})
	}
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: dir}, items, st)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events == 0 {
		t.Fatalf("no events from %v", paths)
	}
	return st
}

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

// hunt runs the built-in rules (plus extra) over a store.
func hunt(t testing.TB, st timeline.Store, cfg Config, extra ...*Rule) []Finding {
	t.Helper()
	if cfg.Rules == nil {
		b, err := Builtin()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Rules = append(b, extra...)
	}
	fs, err := Hunt(context.Background(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func byRule(fs []Finding, id string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.RuleID == id {
			out = append(out, f)
		}
	}
	return out
}

func ruleByID(t testing.TB, id string) *Rule {
	t.Helper()
	b, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range b {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no built-in rule %s", id)
	return nil
}
