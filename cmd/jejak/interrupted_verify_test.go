package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInterruptedIngestVerifies: an ingest stopped by SIGINT while its
// batches are written behind (sqlite.Store.WriteBehind) logs a custody
// entry whose store digest covers exactly the rows the store holds:
// LeaveIndexes inserts what was queued before the digest is taken, so
// 'jejak verify' of the partial case finds the chain and the store
// intact, and the second ingest that completes the case verifies too.
func TestInterruptedIngestVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests a large generated log")
	}
	var dir, cs string
	var stored int64
	lines := 0
	for attempt, n := range []int{120000, 400000, 1200000} {
		lines = n
		dir = t.TempDir()
		logPath := filepath.Join(dir, "auth.log")
		bigSyslog(t, logPath, lines)
		cs = filepath.Join(dir, "case")
		mustRun(t, exitOK, "case", "init", cs, "--examiner", "T. Tester", "--tz", "UTC")
		mustRun(t, exitOK, "evidence", "add", cs, logPath)
		cmd, out, done := startJejak(t, "ingest", cs, "--quiet")
		if waitWriting(t, cs, done) {
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
		<-done
		code := cmd.ProcessState.ExitCode()
		if err := storeDB(t, cs).QueryRow(`SELECT count(*) FROM events`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if code == exitOK || stored >= int64(lines) {
			t.Logf("attempt %d: the run read all %d lines before it stopped; again on a larger log", attempt+1, lines)
			continue
		}
		if code != exitInterrupted {
			t.Fatalf("ingest after SIGINT: exit %d, want %d\n%s", code, exitInterrupted, out)
		}
		break
	}
	if stored == 0 || stored >= int64(lines) {
		t.Fatalf("%d events stored by the stopped run, want some of %d", stored, lines)
	}
	stdout, stderr, code := jejak(t, "verify", cs)
	if code != exitOK && code != exitWarnings {
		t.Fatalf("verify of the interrupted case: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "MISMATCH") || strings.Contains(strings.ToLower(stdout+stderr), "does not match") {
		t.Fatalf("verify of the interrupted case reports a mismatch:\n%s\n%s", stdout, stderr)
	}
	t.Logf("verify of the interrupted case (%d of %d events): exit %d\n%s", stored, lines, code, stdout)

	// An ingest that completes the case: every line once, and a store
	// digest its custody entry records and verify recomputes.
	if _, stderr, code := jejak(t, "ingest", cs, "--quiet"); code != exitOK && code != exitWarnings {
		t.Fatalf("second ingest: exit %d\n%s", code, stderr)
	}
	var syslogEvents int64
	if err := storeDB(t, cs).QueryRow(`SELECT count(*) FROM events WHERE json_extract(doc, '$.jejak.provenance.parser') = 'syslog'`).Scan(&syslogEvents); err != nil {
		t.Fatal(err)
	}
	if syslogEvents != int64(lines) {
		t.Errorf("after the completing ingest the store holds %d syslog events, want one per line: %d", syslogEvents, lines)
	}
	stdout, stderr, code = jejak(t, "verify", cs)
	if code != exitOK {
		t.Fatalf("verify of the completed case: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// The interrupted run's entry recorded no digest (storeDetails: not
	// computed on a cancelled run), so the store check is "not covered";
	// the completing run's digest is recomputed and matches.
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, "timeline store:") {
			if !strings.HasPrefix(strings.TrimSpace(l), "ok") && !strings.HasPrefix(strings.TrimSpace(l), "not covered") ||
				!strings.Contains(l, "as recorded at entry") {
				t.Errorf("verify of the completed case, store check: %s", l)
			}
			return
		}
	}
	t.Errorf("verify of the completed case does not check the timeline store:\n%s", stdout)
}
