package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestFirstRunBesideAReader: another process reading the store when a first
// run begins keeps it in WAL mode; the run still works, and the reader is
// not blocked by it.
func TestFirstRunBesideAReader(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reader, err := other.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, events(2000, "aa")); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("reader's snapshot: %d events, %v; want 0", n, err)
	}
	reader.Rollback()
	if err := s.FinishRun(ctx, time.Unix(2, 0), nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("run beside a reader took %v", time.Since(start))
	if c, err := s.Count(ctx, timeline.Query{}); err != nil || c != 2000 {
		t.Errorf("Count = %d, %v; want 2000", c, err)
	}
	if m := pragma(t, s.DB(), "journal_mode"); m != "wal" {
		t.Errorf("journal mode %s, want wal", m)
	}
}
