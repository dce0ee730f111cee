package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd, out, done := startJejak(t, "watch", cs, "--follow", logf, "--listen", "tcp://"+addr, "--latency", "200ms")
	var c net.Conn
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c == nil {
		t.Fatalf("watch never listened: %v\n%s", err, out)
	}
	now := time.Now().UTC()
	for i := 0; i < 7; i++ {
		fmt.Fprintf(c, "<38>1 %s tabsrv sshd 77 - - Failed password for root from 203.0.113.66 port %d ssh2\n", now.Format(time.RFC3339), 40000+i)
	}
	c.Close()
	time.Sleep(2 * time.Second)
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd, out, done := startJejak(t, "watch", cs, "--listen", "tcp://"+addr, "--es", url, "--index", index, "--no-hunt")
	var c net.Conn
	for i := 0; i < 200 && c == nil; i++ {
		if c, err = net.Dial("tcp", addr); err != nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if c == nil {
		t.Fatalf("watch never listened: %v\n%s", err, out)
	}
	for i := 0; i < 500; i++ {
		fmt.Fprintf(c, "<86>Dec  6 07:%02d:%02d tabsrv sudo: operator : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/echo %d\n", i/60, i%60, i)
	}
	c.Close()
	time.Sleep(2 * time.Second)
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
