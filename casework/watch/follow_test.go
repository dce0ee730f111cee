package watch

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func syslogLine(i int) string {
	return fmt.Sprintf("Dec  6 07:%02d:%02d tabsrv entry[%d]: result batch %d saved tok=f-%d\n", i/60%60, i%60, 1000+i, i, i)
}

func appendLines(t testing.TB, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i := from; i < to; i++ {
		if _, err := f.WriteString(syslogLine(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// logrotate runs the real logrotate on path with the given directive
// (create: rename + create; copytruncate).
func logrotate(t testing.TB, path, how string) {
	t.Helper()
	bin, err := exec.LookPath("logrotate")
	if err != nil {
		t.Skip("logrotate not installed (apt-get install logrotate): rotation is tested with the tool that does it")
	}
	dir := filepath.Dir(path)
	conf := filepath.Join(dir, "rotate-"+how+".conf")
	body := fmt.Sprintf("%s {\n  rotate 9\n  %s\n  nocompress\n  missingok\n}\n", path, how)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-f", "-s", filepath.Join(dir, "logrotate.state"), conf).CombinedOutput()
	if err != nil {
		t.Fatalf("logrotate %s: %v\n%s", how, err, out)
	}
}

func wantTokens(t testing.TB, got map[string]int, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if c := got[fmt.Sprintf("tok=f-%d", i)]; c != 1 {
			t.Errorf("line %d stored %d times, want once", i, c)
		}
	}
	if len(got) != n {
		t.Errorf("%d distinct lines stored, want %d", len(got), n)
	}
}

// TestFollowRotationRestart follows a file across logrotate's two ways of
// rotating (rename + create, copytruncate), live and while the watcher is
// stopped, and checks that every line written is stored exactly once.
func TestFollowRotationRestart(t *testing.T) {
	dir := t.TempDir()
	logs := filepath.Join(dir, "log")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(logs, "app.log")
	appendLines(t, path, 0, 100)
	st := openStore(t, dir)
	defer st.Close()
	count := func() int { return len(tokens(t, st)) }

	cfg := baseConfig(dir, st)
	cfg.Follow = []string{path}
	cfg.NoHunt = true
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, w)
	if !waitFor(5*time.Second, func() bool { return count() == 100 }) {
		t.Fatalf("%d of the first 100 lines stored", count())
	}
	// A line written in two parts is one line. The sleep is the gap
	// between the parts, on purpose: longer than the poll (50 ms) and the
	// latency (200 ms), so the watcher reads the first part alone.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	line := syslogLine(100)
	f.WriteString(line[:20])
	time.Sleep(300 * time.Millisecond)
	f.WriteString(line[20:])
	f.Close()
	appendLines(t, path, 101, 150)
	logrotate(t, path, "create") // app.log → app.log.1, new app.log
	appendLines(t, path, 150, 200)
	if !waitFor(5*time.Second, func() bool { return count() == 200 }) {
		t.Fatalf("%d of 200 lines stored across a rename rotation", count())
	}
	sum := stop()
	if sum.Sources[0].Rotations != 1 || sum.Sources[0].Lines != 200 || sum.Sources[0].Events != 200 {
		t.Errorf("first run: %+v", sum.Sources[0])
	}

	// Stopped: lines written, then a copytruncate, then more lines.
	appendLines(t, path, 200, 250)
	logrotate(t, path, "copytruncate")
	appendLines(t, path, 250, 300)

	w, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = started(t, w)
	if !waitFor(5*time.Second, func() bool { return count() == 300 }) {
		t.Fatalf("%d of 300 lines stored after a restart over a copytruncate", count())
	}
	appendLines(t, path, 300, 350)
	if !waitFor(5*time.Second, func() bool { return count() == 350 }) {
		t.Fatalf("%d of 350", count())
	}
	// Live copytruncate right after lines the watcher may not have read.
	appendLines(t, path, 350, 380)
	logrotate(t, path, "copytruncate")
	appendLines(t, path, 380, 400)
	if !waitFor(5*time.Second, func() bool { return count() == 400 }) {
		t.Fatalf("%d of 400 lines stored across a live copytruncate", count())
	}
	sum = stop()
	if s := sum.Sources[0]; s.Lines != 200 || s.Truncations != 1 || s.Dropped != 0 {
		t.Errorf("second run: %+v (want 200 lines read, one truncation seen)", s)
	}

	// A restart with nothing new reads nothing again.
	w, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop = started(t, w)
	// Nothing is to happen, so there is nothing to wait for: the sleep
	// gives the watcher six polls (50 ms each) in which to read wrongly.
	time.Sleep(300 * time.Millisecond)
	sum = stop()
	if sum.Total.Lines != 0 {
		t.Errorf("a restart with nothing new read %d lines", sum.Total.Lines)
	}
	got := tokens(t, st)
	wantTokens(t, got, 400)

	// Provenance: line 100 (written in two parts) is line 101 of the first
	// generation of app.log, at the offset its bytes have in app.log.3
	// (that generation, renamed and shifted by two rotations since).
	for _, ev := range stored(t, st) {
		if ev.Message != "entry[1100]: result batch 100 saved tok=f-100" {
			continue
		}
		p := ev.Jejak.Provenance
		old, err := os.ReadFile(path + ".3")
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		for i := 0; i < 100; i++ {
			off += int64(len(syslogLine(i)))
		}
		if p.Record != 101 || p.Offset != off || string(old[off:off+int64(len(line))]) != line {
			t.Errorf("provenance of line 100: %+v, want record 101 at offset %d", p, off)
		}
	}
}
