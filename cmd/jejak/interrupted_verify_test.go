package main

import (
	"os"
	"strings"
	"testing"
)

// TestInterruptedIngestVerifies: an ingest stopped by SIGINT while its
// batches are written behind (sqlite.Store.WriteBehind) leaves a case
// 'jejak verify' finds intact (its custody entry records that no store
// digest was computed on the cancelled run), and the ingest that
// completes the case records a digest that covers every row and verifies.
func TestInterruptedIngestVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests a large generated log")
	}
	st := stopIngest(t, os.Interrupt)
	cs, stored, lines := st.cs, st.stored, st.lines
	if st.code != exitInterrupted {
		t.Fatalf("ingest after SIGINT: exit %d, want %d\n%s", st.code, exitInterrupted, st.out)
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
	// computed on a cancelled run); the completing run's digest covers
	// every row since, is recomputed and matches: the store check is ok,
	// and still says which entry recorded none.
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, "timeline store:") {
			if !strings.HasPrefix(strings.TrimSpace(l), "ok") || !strings.Contains(l, "as recorded at entry") ||
				!strings.Contains(l, "could not record its digest") {
				t.Errorf("verify of the completed case, store check: %s", l)
			}
			return
		}
	}
	t.Errorf("verify of the completed case does not check the timeline store:\n%s", stdout)
}
