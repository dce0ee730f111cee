package hunt

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// buildCase ingests real files (corpus-relative, or absolute paths) into a
// fresh SQLite case store, as 'jejak ingest' does, one evidence item each.
func buildCase(t testing.TB, paths ...string) *sqlite.Store {
	t.Helper()
	st, _ := casetest.Build(t, paths...)
	return st
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

// evtxFiles lists the EVTX files under each root, in walk order; a root
// that is missing or unreadable adds none (the callers skip when the list
// is empty).
func evtxFiles(roots ...string) []string {
	var out []string
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".evtx") {
				out = append(out, p)
			}
			return nil
		})
	}
	return out
}

// corpusEVTX lists the EVTX files of the test corpus (evtxFiles), and
// skips the test when there is no corpus or no EVTX file in it.
func corpusEVTX(tb testing.TB) []string {
	tb.Helper()
	root, err := parsertest.CorpusDir()
	if err != nil {
		tb.Skipf("no corpus: %v", err)
	}
	evtx := evtxFiles(root)
	if len(evtx) == 0 {
		tb.Skip("no EVTX files in the corpus")
	}
	return evtx
}
