package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestWatchCommand runs 'jejak watch' as a process of its own, follows a
// file and receives syslog over loopback TCP, stops it with SIGTERM, and
// checks the summary, the alert line, the stored events and that the case
// still verifies.
func TestWatchCommand(t *testing.T) {
	dir := t.TempDir()
	cs := filepath.Join(dir, "case")
	mustRun(t, 0, "case", "init", cs, "--examiner", "T")
	logf := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logf, []byte("Dec  6 07:00:00 tabsrv sshd[9]: Accepted publickey for operator from 192.0.2.10 port 50000 ssh2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, out, done, addr := startWatch(t, "watch", cs, "--follow", logf, "--listen", "tcp://127.0.0.1:0", "--latency", "200ms")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the watch: %v\n%s", err, out)
	}
	now := time.Now().UTC()
	for i := 0; i < 7; i++ {
		fmt.Fprintf(c, "<38>1 %s tabsrv sshd 77 - - Failed password for root from 203.0.113.66 port %d ssh2\n", now.Format(time.RFC3339), 40000+i)
	}
	sentAll(t, c)
	waitCommitted(t, cs, logf)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("watch did not stop on SIGTERM")
	}
	if cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("watch exit %d:\n%s", cmd.ProcessState.ExitCode(), out)
	}
	o := out.String()
	for _, want := range []string{`"rule_id":"JEJAK-AUTH-01"`, "follow:" + logf, "syslog-tcp:" + addr, "total"} {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q:\n%s", want, o)
		}
	}
	var total string
	for _, l := range strings.Split(o, "\n") {
		if strings.HasPrefix(l, "total") {
			total = strings.Join(strings.Fields(l), " ")
		}
	}
	// total: parser, lines, bytes, events, warnings, spooled, dropped, alerts
	if f := strings.Fields(total); len(f) != 9 || f[2] != "8" || f[4] != "8" || f[5] != "0" || f[7] != "0" {
		t.Errorf("summary total %q: want 8 lines, 8 events, no warnings, none dropped", total)
	}
	tl := mustRun(t, 0, "timeline", cs, "--limit", "100")
	if n := strings.Count(tl, "Failed password for root from 203.0.113.66"); n != 7 {
		t.Errorf("timeline holds %d of the 7 received failures:\n%s", n, tl)
	}
	if !strings.Contains(tl, "Accepted publickey for operator") {
		t.Errorf("timeline lacks the followed file's line")
	}
	mustRun(t, 0, "verify", cs)
}

// TestWatchToES: with --es every event the watch stores in the case is in
// the index too.
func TestWatchToES(t *testing.T) {
	url := esURL(t)
	dir := t.TempDir()
	cs := filepath.Join(dir, "case")
	mustRun(t, 0, "case", "init", cs, "--examiner", "T")
	index := testIndex(t, url, "jejak-test-watch")
	cmd, out, done, addr := startWatch(t, "watch", cs, "--listen", "tcp://127.0.0.1:0", "--es", url, "--index", index, "--no-hunt")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial the watch: %v\n%s", err, out)
	}
	for i := 0; i < 500; i++ {
		fmt.Fprintf(c, "<86>Dec  6 07:%02d:%02d tabsrv sudo: operator : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/echo %d\n", i/60, i%60, i)
	}
	sentAll(t, c)
	cmd.Process.Signal(syscall.SIGTERM)
	<-done
	if cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("watch exit %d:\n%s", cmd.ProcessState.ExitCode(), out)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(cs, "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	st.Search(ctx, timeline.Query{}, func(ev *timeline.Event) error { ids = append(ids, ev.Jejak.ID); return nil })
	if len(ids) != 500 {
		t.Fatalf("case holds %d events, want 500", len(ids))
	}
	es, err := elastic.Open(ctx, elastic.Config{URLs: []string{url}, Index: index})
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	if miss, err := es.Missing(ctx, ids); err != nil || len(miss) != 0 {
		t.Fatalf("%d of the case's events missing from the index (%v)", len(miss), err)
	}
}

// childOutput is what a jejak child process (startJejak) writes, readable
// while it writes.
type childOutput struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *childOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *childOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// startWatch runs jejak with args (a watch with one --listen of port 0)
// in a subprocess, as startJejak does, and returns the address the
// listener bound, read from its "listening on ADDR" line: a port picked
// by closing a listener on :0 could be taken by another process before
// the watch binds it.
func startWatch(t *testing.T, args ...string) (cmd *exec.Cmd, out *childOutput, done chan struct{}, addr string) {
	t.Helper()
	cmd, out, done = startJejak(t, args...)
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	listening := regexp.MustCompile(`(?m)^listening on (\S+) \(`)
	deadline := time.After(30 * time.Second)
	for {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			return cmd, out, done, m[1]
		}
		select {
		case <-done:
			t.Fatalf("watch ended before it listened:\n%s", out)
		case <-deadline:
			t.Fatalf("watch did not listen in 30 s:\n%s", out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sentAll closes c's sending side and waits for the watch to close the
// connection, which it does once it has read everything sent: the lines
// are then the watch's (queued and stored before it stops), where a
// connection still in the listen backlog at the stop would be lost.
func sentAll(t *testing.T, c net.Conn) {
	t.Helper()
	defer c.Close()
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("waiting for the watch to read what was sent: %v", err)
	}
}

// waitCommitted waits until the watch of case cs has stored the whole of
// the followed file path: its committed offset (watch/offsets.json,
// written after each stored batch) is the file's size.
func waitCommitted(t *testing.T, cs, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		var offs map[string]struct {
			Offset int64 `json:"offset"`
		}
		if b, err := os.ReadFile(filepath.Join(cs, "watch", "offsets.json")); err == nil && json.Unmarshal(b, &offs) == nil {
			if got = offs[path].Offset; got == st.Size() {
				return
			}
		}
	}
	t.Fatalf("the watch committed %d of the %d bytes of %s in 30 s", got, st.Size(), path)
}
