package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestMain doubles as the watcher process the kill test starts: with
// JEJAK_WATCH_CHILD=DIR:FILE it follows FILE into DIR's store until
// SIGTERM, then prints its summary as JSON.
func TestMain(m *testing.M) {
	if v := os.Getenv("JEJAK_WATCH_CHILD"); v != "" {
		os.Exit(child(v))
	}
	os.Exit(m.Run())
}

func child(v string) int {
	dir, file := filepath.Clean(v), os.Getenv("JEJAK_WATCH_FILE")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "case.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer st.Close()
	if _, err := st.StartRun(ctx, sqlite.RunStart{Started: time.Now(), ToolVersion: "test"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := st.FinishWrites(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := baseConfig(dir, st)
	cfg.Follow = []string{file}
	cfg.NoHunt = true
	cfg.BatchSize = 50 // many small batches: a kill lands between a store and its offset commit
	w, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "ready")
	sum, err := w.Run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(sum)
	return 0
}

// TestKillRestart kills the watching process outright (SIGKILL) while
// lines are being written and stored, restarts it, and stops it with
// SIGTERM: every line is stored once, the lines read again after the kill
// counted as duplicates by the store.
func TestKillRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, 0, 200)
	start := func() (*exec.Cmd, *os.File) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "JEJAK_WATCH_CHILD="+dir, "JEJAK_WATCH_FILE="+path)
		out, err := os.CreateTemp(dir, "out")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = out
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out
	}
	caughtUp := func(n int) bool {
		var size int64
		for i := 0; i < n; i++ {
			size += int64(len(syslogLine(i)))
		}
		return waitFor(20*time.Second, func() bool {
			o, err := loadOffsets(filepath.Join(dir, "watch", "offsets.json"))
			if err != nil {
				return false
			}
			s, ok := o.get(path)
			return ok && s.Offset == size
		})
	}

	committedLine := func() int64 {
		o, err := loadOffsets(filepath.Join(dir, "watch", "offsets.json"))
		if err != nil {
			return 0
		}
		s, _ := o.get(path)
		return s.Line
	}

	cmd, _ := start()
	// Write while the watcher stores, and kill it in the middle: once it
	// has committed lines the writer appended. The writer waits for the
	// kill before its last thousand lines, so that the kill falls while
	// lines are still coming however slow the child is to start (a fixed
	// sleep before the kill raced with that).
	killed := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 200; i < 3000; i += 20 {
			if i == 2000 {
				<-killed
			}
			appendLines(t, path, i, i+20)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	storing := waitFor(20*time.Second, func() bool { return committedLine() > 200 })
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(killed)
	<-done
	if !storing {
		t.Fatalf("the watcher committed none of the appended lines in 20 s (line %d)", committedLine())
	}
	o, _ := loadOffsets(filepath.Join(dir, "watch", "offsets.json"))
	killedAt, _ := o.get(path)
	t.Logf("killed after committing line %d of 3000", killedAt.Line)
	if killedAt.Line >= 3000 {
		t.Fatalf("the watcher had read everything before the kill: the test proves nothing")
	}

	cmd, out := start()
	if !caughtUp(3000) {
		t.Fatal("the restarted watcher did not reach the end of the file")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watcher after SIGTERM: %v", err)
	}
	b, _ := os.ReadFile(out.Name())
	var sum Summary
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatalf("summary %q: %v", b, err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wantTokens(t, tokens(t, st), 3000)
	// The restart read from the last committed offset: at most the lines
	// of the batch in flight at the kill again, each a duplicate.
	if got := sum.Total.Lines; got != 3000-killedAt.Line {
		t.Errorf("restart read %d lines, want %d (from the committed offset)", got, 3000-killedAt.Line)
	}
	t.Logf("restart: %d lines, %d duplicates", sum.Total.Lines, sum.Total.Duplicates)
}

// TestCrashBeforeCommit: a watcher that stored lines but died before
// saving their offsets (the window a kill can hit) reads them again on
// restart; the store refuses them as duplicates, so each is stored once.
func TestCrashBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, 0, 200)
	st := openStore(t, dir)
	defer st.Close()
	cfg := baseConfig(dir, st)
	cfg.Follow = []string{path}
	cfg.NoHunt = true
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	if !waitFor(5*time.Second, func() bool { return committed(w, path).Line == 200 }) {
		t.Fatalf("line %d of 200 committed", committed(w, path).Line)
	}
	stop()
	// Put the committed offset back to line 150, as if the last batch's
	// commit never happened.
	offs := filepath.Join(cfg.Dir, "offsets.json")
	o, err := loadOffsets(offs)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := o.get(path)
	s.Offset, s.Line = 0, 0
	for i := 0; i < 150; i++ {
		s.Offset += int64(len(syslogLine(i)))
	}
	s.Line = 150
	o.set(path, s)
	if err := o.save(); err != nil {
		t.Fatal(err)
	}
	w, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = started(t, w)
	// The 50 lines read again are stored (as duplicates) once their
	// offsets are committed.
	if !waitFor(5*time.Second, func() bool { return committed(w, path).Line == 200 }) {
		t.Fatalf("after the restart line %d of 200 committed", committed(w, path).Line)
	}
	sum := stop()
	if sum.Total.Lines != 50 || sum.Total.Duplicates != 50 {
		t.Errorf("restart read %d lines, %d duplicates; want 50 and 50", sum.Total.Lines, sum.Total.Duplicates)
	}
	wantTokens(t, tokens(t, st), 200)
}
