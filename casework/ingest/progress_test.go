//go:build unix

package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
)

// TestProgressCurrent checks what a run's record keeps as its last file
// (Progress.Current, the run's LastFile): nothing before the first file,
// then "<item>: <path>" of the file seen last, whichever worker parsed it.
func TestProgressCurrent(t *testing.T) {
	cases := []struct {
		name  string
		files []string // written in this order; the walk goes by name
		want  string
	}{
		{"none", nil, ""},
		{"one", []string{"only.txt"}, "evidence: only.txt"},
		{"last by walk order", []string{"b/two.txt", "a/one.txt", "c.txt"}, "evidence: c.txt"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ev := filepath.Join(root, "evidence")
			if err := os.MkdirAll(ev, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.files {
				p := filepath.Join(ev, f)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte("no log in here\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			w, err := jfs.Open(ctx, ev, jfs.Options{TempDir: root})
			if err != nil {
				t.Fatal(err)
			}
			var last ingest.Progress
			done := 0
			_, err = ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: root,
				Progress: func(p ingest.Progress) {
					if p.Done {
						done++
						last = p
					}
				}},
				[]ingest.Item{{SHA256: "e", Name: "evidence", Walker: w}}, &countSink{})
			if err != nil {
				t.Fatal(err)
			}
			if done != 1 {
				t.Fatalf("%d final progress reports, want 1", done)
			}
			if last.Current != tc.want {
				t.Errorf("Current = %q, want %q", last.Current, tc.want)
			}
			if last.Files != int64(len(tc.files)) {
				t.Errorf("Files = %d, want %d", last.Files, len(tc.files))
			}
		})
	}
}
