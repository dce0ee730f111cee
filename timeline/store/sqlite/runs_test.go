package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestRunStates follows a run's record through its life, and a run whose
// process never ended it (the store closed and opened again, as after a
// kill -9): it stays "running", with the last progress recorded.
func TestRunStates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	items := []RunItem{{ID: "aaaa", Name: "auth.log", SHA256: "aaaa00"}, {ID: "bbbb", Name: "logs", SHA256: "bbbb00"}}

	// Run 1 ends complete.
	if _, err := s.StartRun(ctx, RunStart{Started: t0, ToolVersion: "v1", Items: items, PID: 4242, Host: "h"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, events(10, "aaaa00")); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, t0.Add(time.Minute), RunComplete, "", map[string]int{"events": 10}); err != nil {
		t.Fatal(err)
	}
	// Run 2 is interrupted after some progress.
	if _, err := s.StartRun(ctx, RunStart{Started: t0.Add(2 * time.Minute), ToolVersion: "v1", Items: items[:1], PID: 4243, Host: "h"}); err != nil {
		t.Fatal(err)
	}
	p := RunProgress{Files: 3, Events: 7, Bytes: 900, LastFile: "var/log/auth.log.1", At: t0.Add(3 * time.Minute)}
	if err := s.SetRunProgress(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, t0.Add(4*time.Minute), RunInterrupted, "context canceled", nil); err != nil {
		t.Fatal(err)
	}
	// Run 3 never ends: the store is closed under it.
	if _, err := s.StartRun(ctx, RunStart{Started: t0.Add(5 * time.Minute), ToolVersion: "v1", Items: items[1:], PID: 4244, Host: "h"}); err != nil {
		t.Fatal(err)
	}
	p3 := RunProgress{Files: 1, Events: 2, LastFile: "x", At: t0.Add(6 * time.Minute)}
	if err := s.SetRunProgress(ctx, p3); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 {
		t.Fatalf("%d runs, want 3: %+v", len(runs), runs)
	}
	want := []struct {
		state RunState
		items int
		pid   int
		err   string
		prog  RunProgress
		ended bool
	}{
		{RunComplete, 2, 4242, "", RunProgress{}, true},
		{RunInterrupted, 1, 4243, "context canceled", p, true},
		{RunRunning, 1, 4244, "", p3, false},
	}
	for i, w := range want {
		r := runs[i]
		if r.State != w.state || len(r.Items) != w.items || r.PID != w.pid || r.Host != "h" || r.Error != w.err ||
			r.Progress.Files != w.prog.Files || r.Progress.Events != w.prog.Events || r.Progress.LastFile != w.prog.LastFile ||
			!r.Progress.At.Equal(w.prog.At) || r.Finished.IsZero() == w.ended {
			t.Errorf("run %d: %+v, want %+v", r.ID, r, w)
		}
	}
	if runs[2].Items[0] != items[1] {
		t.Errorf("run 3 items %+v, want %+v", runs[2].Items, items[1:])
	}
}

// TestRunsOfAnOlderStore opens a store whose runs table predates run
// states: its columns are added, a run with a finish time reads as
// complete and one without as running (killed, since nothing ends it now).
func TestRunsOfAnOlderStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT NOT NULL, finished TEXT, tool_version TEXT NOT NULL, summary TEXT)`,
		`INSERT INTO runs(started, finished, tool_version, summary) VALUES('2024-02-14T12:00:00Z', '2024-02-14T12:01:00Z', 'v0', '{}')`,
		`INSERT INTO runs(started, tool_version) VALUES('2024-02-14T12:02:00Z', 'v0')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].State != RunComplete || runs[1].State != RunRunning || runs[0].Items != nil || runs[1].PID != 0 {
		t.Fatalf("runs of an older store: %+v", runs)
	}
}

// TestLatestWarningsSkipRefusedRuns: a refused run read nothing, so it
// leaves no record, and the latest run's warnings ('jejak warnings', the
// report) stay those of the run before it.
func TestLatestWarningsSkipRefusedRuns(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.StartRun(ctx, RunStart{Started: time.Unix(1, 0), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddWarnings(ctx, []timeline.Warning{{Kind: timeline.WarnRecord, Evidence: "aa", Path: "x", Message: "run 1"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, time.Unix(2, 0), RunComplete, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartRun(ctx, RunStart{Started: time.Unix(3, 0), ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndRun(ctx, time.Unix(4, 0), RunRefused, "evidence changed", nil); err != nil {
		t.Fatal(err)
	}
	var latest []timeline.Warning
	if err := s.Warnings(ctx, true, func(w timeline.Warning) error { latest = append(latest, w); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1 || latest[0].Message != "run 1" {
		t.Errorf("latest warnings after a refused run: %+v, want run 1's", latest)
	}
	// Started without items: they read back as not known (nil), not as none.
	if runs, err := s.Runs(ctx); err != nil || len(runs) != 1 || runs[0].Items != nil || runs[0].State != RunComplete {
		t.Errorf("runs after a refused one %+v (%v), want run 1 alone", runs, err)
	}
	// A store from an earlier build may hold a refused run: its warnings
	// are not the latest either.
	if _, err := s.DB().Exec(`INSERT INTO runs(started, finished, tool_version, state) VALUES('1970-01-01T00:00:05Z', '1970-01-01T00:00:06Z', 'old', 'refused')`); err != nil {
		t.Fatal(err)
	}
	latest = nil
	if err := s.Warnings(ctx, true, func(w timeline.Warning) error { latest = append(latest, w); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(latest) != 1 || latest[0].Message != "run 1" {
		t.Errorf("latest warnings after a stored refused run: %+v, want run 1's", latest)
	}
}
