package hunt

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/baseline"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestBaselineBinary: a real baseline of a folder holding Debian's
// /bin/true as a server binary, the binary replaced by /bin/false and a
// config file edited, the diff's events stored as 'jejak baseline diff'
// stores them: JEJAK-BASE-01 reports the binary (high), with its mtime
// set back before the cut-off, and not the config file.
func TestBaselineBinary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(p string, from string, data []byte, mode os.FileMode) {
		t.Helper()
		if from != "" {
			b, err := os.ReadFile(from)
			if err != nil {
				t.Skip(err)
			}
			data = b
		}
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	write("opt/tab/bin/tabulate", "/bin/true", nil, 0o755)
	write("opt/tab/tab.conf", "", []byte("seats=100\n"), 0o644)
	capture := func() *baseline.Source {
		src, err := baseline.OpenSource(ctx, dir, jfs.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	var buf bytes.Buffer
	if _, err := baseline.Capture(ctx, capture(), &buf, baseline.Options{Header: baseline.Header{Name: "certified"}}); err != nil {
		t.Fatal(err)
	}
	b, err := baseline.Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	ref := baseline.FromBaseline(b, "00certified")

	write("opt/tab/bin/tabulate", "/bin/false", nil, 0o755)
	write("opt/tab/tab.conf", "", []byte("seats=900\n"), 0o644)
	old := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC) // set back, before the cut-off
	if err := os.Chtimes(filepath.Join(dir, "opt/tab/bin/tabulate"), old, old); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var evs []*timeline.Event
	if _, err := baseline.Diff(ctx, ref, capture(), func(c baseline.Change) error {
		if c.Status != baseline.Touched {
			evs = append(evs, c.Event(ref, baseline.Later{SHA256: "11later", Name: "server1"}))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d difference events, want 2 (binary, config)", len(evs))
	}
	if _, err := st.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	fs := byRule(hunt(t, st, Config{After: time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)}), "JEJAK-BASE-01")
	if len(fs) != 1 {
		t.Fatalf("%d JEJAK-BASE-01 findings, want 1: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Severity != High || f.Key != "server1:/opt/tab/bin/tabulate" || len(f.Events) != 1 {
		t.Errorf("finding %+v", f)
	}
}
