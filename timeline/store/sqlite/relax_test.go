package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// syncOf is the synchronous setting of a connection (0 OFF, 1 NORMAL).
func syncOf(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A bulk run into a store holding nothing else writes unsynced until
// FinishWrites, which syncs the file and turns syncing back on, for the
// writer and the pooled connections a warning was stored through.
func TestBulkRunIntoNewStoreRelaxed(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if got := syncOf(t, s.w); got != 1 {
		t.Fatalf("before the run: synchronous=%d, want 1", got)
	}
	if _, err := s.StartRun(ctx, RunStart{Started: time.Now(), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if got := syncOf(t, s.w); got != 0 {
		t.Fatalf("bulk run into a new store: synchronous=%d, want 0", got)
	}
	s.WriteBehind()
	if _, err := s.Write(ctx, events(3000, "aa")); err != nil {
		t.Fatal(err)
	}
	ws := []timeline.Warning{{Kind: timeline.WarnSkipped, Evidence: "aa", Path: "x", Offset: -1, Message: "m"}}
	if err := s.AddWarnings(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	if got := syncOf(t, s.w); got != 1 {
		t.Fatalf("after FinishWrites: synchronous=%d, want 1", got)
	}
	// Every pooled connection is back to NORMAL (they are handed out in
	// turn: take several at once).
	var conns []*sql.Conn
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if got := syncOf(t, c); got != 1 {
			t.Errorf("pooled connection after the run: synchronous=%d, want 1", got)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	if err := s.AddWarnings(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if s.relaxed {
		t.Error("still relaxed after FinishWrites")
	}
	n, err := s.Count(ctx, timeline.Query{})
	if err != nil || n != 3000 {
		t.Fatalf("count %d, %v", n, err)
	}
}

// A store holding anything older than the run (here another run's record
// and its warning) stays synced: a power loss could damage what it held.
func TestRunIntoUsedStoreSynced(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.StartRun(ctx, RunStart{Started: time.Now(), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddWarnings(ctx, []timeline.Warning{{Kind: timeline.WarnSkipped, Evidence: "aa", Path: "x", Offset: -1, Message: "m"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, time.Now(), RunFailed, "boom", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(ctx, RunStart{Started: time.Now(), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if !s.bulk {
		t.Fatal("no bulk run: the test wants one into a store without events")
	}
	if got := syncOf(t, s.w); got != 1 {
		t.Fatalf("bulk run into a store holding an older run: synchronous=%d, want 1", got)
	}
}
