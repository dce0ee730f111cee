package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJejakProcess is no test of its own: the completeness tests run the
// test binary again with JEJAK_PROCESS=1, and it then is the jejak command
// with the arguments in JEJAK_ARGS (JSON), in a process of its own that a
// test can interrupt or kill.
func TestJejakProcess(t *testing.T) {
	if os.Getenv("JEJAK_PROCESS") != "1" {
		t.Skip("the jejak command, run as a subprocess by the completeness tests")
	}
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv("JEJAK_ARGS")), &args); err != nil {
		t.Fatal(err)
	}
	// os.Exit(0) inside a test is reported as a failure: returning exits 0.
	if code := run(append([]string{"jejak"}, args...), strings.NewReader(""), os.Stdout, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// startJejak runs jejak in a subprocess; done is closed once it has ended
// and been waited for.
func startJejak(t *testing.T, args ...string) (cmd *exec.Cmd, out *childOutput, done chan struct{}) {
	t.Helper()
	a, _ := json.Marshal(args)
	cmd = exec.Command(os.Args[0], "-test.run=^TestJejakProcess$")
	cmd.Env = append(os.Environ(), "JEJAK_PROCESS=1", "JEJAK_ARGS="+string(a))
	// Callers read out while the child still writes it (a wait for a
	// line, a failure's message): a strings.Builder there was a data race.
	out = &childOutput{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	return cmd, out, done
}

// bigSyslog writes n classic syslog lines: enough that an ingest is still
// writing when the test stops it.
func bigSyslog(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		s := i % 86400
		fmt.Fprintf(w, "Feb 14 %02d:%02d:%02d tabulasi-01 CRON[%d]: (root) CMD (/usr/local/bin/rekap --batch %d)\n",
			s/3600, s/60%60, s%60, 1000+i%30000, i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// storeDB opens case.db read-only beside a running ingest: no index build
// or journal mode change, as the store's own Open would do.
func storeDB(t *testing.T, cs string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(cs, "case.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// waitWriting waits until the ingest into case cs has recorded its run and
// progress and committed events to the store, so that stopping it now
// leaves a partial timeline. No sleep decides it: the store does. It
// returns false when the ingest ended first.
func waitWriting(t *testing.T, cs string, done <-chan struct{}) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(cs, "case.db")); err == nil {
			db := storeDB(t, cs)
			var state, progress sql.NullString
			var events bool
			err := db.QueryRow(`SELECT state, progress FROM runs ORDER BY id DESC LIMIT 1`).Scan(&state, &progress)
			if err == nil && state.String == "running" && progress.Valid {
				if db.QueryRow(`SELECT EXISTS(SELECT 1 FROM events)`).Scan(&events) == nil && events {
					db.Close()
					return true
				}
			}
			db.Close()
		}
		select {
		case <-done:
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("ingest wrote no events within 2 minutes")
	return false
}

type runRow struct {
	state    string
	finished bool
	files    int64
	lastFile string
}

func lastRun(t *testing.T, cs string) runRow {
	t.Helper()
	var r runRow
	var finished, progress sql.NullString
	if err := storeDB(t, cs).QueryRow(`SELECT state, finished, progress FROM runs ORDER BY id DESC LIMIT 1`).Scan(&r.state, &finished, &progress); err != nil {
		t.Fatal(err)
	}
	r.finished = finished.Valid
	var p struct {
		Files    int64  `json:"files"`
		LastFile string `json:"last_file"`
	}
	if !progress.Valid { // a refused run read nothing
		return r
	}
	if err := json.Unmarshal([]byte(progress.String), &p); err != nil {
		t.Fatalf("progress %q: %v", progress.String, err)
	}
	r.files, r.lastFile = p.Files, p.LastFile
	return r
}

// stoppedIngest is an ingest stopped part way by stopIngest.
type stoppedIngest struct {
	dir, cs string // the test folder, the case in it
	lines   int    // lines of the log ingested
	stored  int64  // events the stopped run left in the store
	code    int    // the process's exit code (-1: killed)
	out     *childOutput
}

// stopIngest ingests a generated log in a process of its own and sends it
// sig as soon as the store holds events. On a fast machine the run may
// still have written them all by the time it stops: then it is tried again
// on a larger log. It fails the test unless the run left some but not all
// of the log's events.
func stopIngest(t *testing.T, sig os.Signal) stoppedIngest {
	t.Helper()
	var st stoppedIngest
	for attempt, n := range []int{120000, 400000, 1200000} {
		st = stoppedIngest{lines: n, dir: t.TempDir()}
		logPath := filepath.Join(st.dir, "auth.log")
		bigSyslog(t, logPath, n)
		st.cs = filepath.Join(st.dir, "case")
		mustRun(t, exitOK, "case", "init", st.cs, "--examiner", "T. Tester", "--tz", "UTC")
		mustRun(t, exitOK, "evidence", "add", st.cs, logPath)

		cmd, out, done := startJejak(t, "ingest", st.cs, "--quiet")
		if waitWriting(t, st.cs, done) {
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
		}
		<-done
		st.code, st.out = cmd.ProcessState.ExitCode(), out
		if err := storeDB(t, st.cs).QueryRow(`SELECT count(*) FROM events`).Scan(&st.stored); err != nil {
			t.Fatal(err)
		}
		if st.code != exitOK && st.stored < int64(n) {
			break
		}
		t.Logf("attempt %d: the run had read all %d lines when it stopped (exit %d); again on a larger log", attempt+1, n, st.code)
	}
	if st.stored == 0 || st.stored >= int64(st.lines) {
		t.Fatalf("%d events stored by the stopped run, want some of %d", st.stored, st.lines)
	}
	return st
}

// TestStoppedIngestMarksTheCaseIncomplete stops an ingest part way, by
// SIGINT and by SIGKILL, in a process of its own as an examiner's Ctrl-C or
// an OOM kill would. Every command that reads the timeline must then say it
// is incomplete and exit 3, the report must state the run (and not call a
// case holding events "never ingested"), the manifests must carry it; an
// ingest that completes clears it, and the timeline then holds one event
// per line written (the generator's count, not jejak's).
func TestStoppedIngestMarksTheCaseIncomplete(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests a large generated log several times")
	}
	for _, tc := range []struct {
		name   string
		signal os.Signal
		state  string // of the run as recorded
		shown  string // its state as the commands show it
	}{
		{"sigint", os.Interrupt, "interrupted", "was interrupted"},
		{"sigkill", os.Kill, "running", "never ended: its process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := stopIngest(t, tc.signal)
			dir, cs, stored, lines := st.dir, st.cs, st.stored, st.lines
			switch tc.signal {
			case os.Interrupt:
				if st.code != exitInterrupted {
					t.Fatalf("ingest after SIGINT: exit %d, want %d\n%s", st.code, exitInterrupted, st.out)
				}
				if !strings.Contains(st.out.String(), "INCOMPLETE") {
					t.Errorf("the interrupted ingest's summary does not say INCOMPLETE:\n%s", st.out)
				}
			case os.Kill:
				if st.code != -1 {
					t.Fatalf("ingest after SIGKILL: exit %d, want killed\n%s", st.code, st.out)
				}
			}
			r := lastRun(t, cs)
			if r.state != tc.state || r.finished != (tc.state != "running") || r.files < 1 || r.lastFile == "" {
				t.Fatalf("run recorded as %+v, want state %s with progress", r, tc.state)
			}

			// Every reader of the timeline says so, first and last, exit 3.
			reads := [][]string{
				{"hunt", cs, "--after", "2024-02-14T00:00:00Z"},
				{"timeline", cs, "--limit", "1"},
				{"search", cs, "event.dataset:*", "--limit", "1"},
				{"export", cs, "--format", "csv", "-o", filepath.Join(dir, "partial.csv")},
				{"report", cs, "-o", filepath.Join(dir, "partial.md")},
			}
			for _, args := range reads {
				_, stderr, code := jejak(t, args...)
				if code != exitWarnings || !strings.Contains(stderr, "INCOMPLETE TIMELINE") || !strings.Contains(stderr, tc.shown) ||
					!strings.Contains(stderr, "INCOMPLETE (ingest run 1 ") {
					t.Errorf("jejak %s on the partial case: exit %d, want 3 and the run %q named\n%s", args[0], code, tc.shown, stderr)
				}
			}
			rep, err := os.ReadFile(filepath.Join(dir, "partial.md"))
			if err != nil {
				t.Fatal(err)
			}
			top := string(rep)
			if i := strings.Index(top, "## 1. Case"); i > 0 {
				top = top[:i]
			}
			if !strings.Contains(top, "**INCOMPLETE TIMELINE") || !strings.Contains(top, tc.shown) {
				t.Errorf("the report does not open with the incomplete run:\n%s", top)
			}
			if strings.Contains(string(rep), "never ingested") {
				t.Errorf("the report of a case holding %d events says it was never ingested", stored)
			}
			if tc.state == "running" && !strings.Contains(string(rep), fmt.Sprintf("the case timeline holds %d events", stored)) {
				t.Errorf("the report does not state the %d events the store holds", stored)
			}
			// The interrupted run logged its partial counts: section 4 says
			// they stop where it stopped.
			if tc.state == "interrupted" && !strings.Contains(string(rep), "**This run did not complete: it was interrupted (Ctrl-C or SIGTERM).") {
				t.Errorf("the report's counts of the interrupted run do not say it did not complete")
			}
			for _, f := range []string{"partial.csv", "partial.md"} {
				m := readManifest(t, filepath.Join(dir, f))
				if m.Timeline == nil || m.Timeline.Complete || len(m.Timeline.Incomplete) != 1 || m.Timeline.Incomplete[0].Run != 1 {
					t.Errorf("%s manifest timeline %+v, want run 1 incomplete", f, m.Timeline)
				} else if st := m.Timeline.Incomplete[0].State; (tc.state == "running" && st != "killed") || (tc.state != "running" && st != tc.state) {
					t.Errorf("%s manifest: run state %q", f, st)
				}
			}

			// A run that completes clears it.
			mustRun(t, exitOK, "ingest", cs, "--quiet")
			if r := lastRun(t, cs); r.state != "complete" || !r.finished {
				t.Fatalf("re-ingest recorded as %+v", r)
			}
			var syslogEvents int64
			if err := storeDB(t, cs).QueryRow(`SELECT count(*) FROM events WHERE json_extract(doc, '$.jejak.provenance.parser') = 'syslog'`).Scan(&syslogEvents); err != nil {
				t.Fatal(err)
			}
			if syslogEvents != int64(lines) {
				t.Errorf("%d syslog events after the completed run, want one per line written: %d", syslogEvents, lines)
			}
			for _, args := range reads {
				_, stderr, code := jejak(t, args...)
				if code != exitOK || strings.Contains(stderr, "INCOMPLETE") {
					t.Errorf("jejak %s after a completed ingest: exit %d\n%s", args[0], code, stderr)
				}
			}
			rep, _ = os.ReadFile(filepath.Join(dir, "partial.md"))
			if !strings.Contains(string(rep), "Complete: 2 ingest run(s) recorded") || strings.Contains(string(rep), "INCOMPLETE") {
				t.Errorf("the report after a completed ingest does not say complete")
			}
			if m := readManifest(t, filepath.Join(dir, "partial.csv")); m.Timeline == nil || !m.Timeline.Complete {
				t.Errorf("export manifest after a completed ingest: timeline %+v", m.Timeline)
			}
		})
	}
}

// TestCompletenessOfRuns covers the cases no signal is needed for: items
// registered and never ingested, an item added after a completed run, and
// a refused run (nothing read, nothing changed).
func TestCompletenessOfRuns(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	b := filepath.Join(dir, "b.log")
	bigSyslog(t, a, 10)
	bigSyslog(t, b, 20)
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "T. Tester", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, a)

	// Registered, never ingested: nothing was read, and hunt says so.
	stdout, stderr, code := jejak(t, "hunt", cs, "--after", "2024-02-14", "--json")
	if code != exitWarnings || !strings.Contains(stderr, "read by no completed ingest run") {
		t.Errorf("hunt before any ingest: exit %d\n%s", code, stderr)
	}
	var hj struct {
		Timeline struct {
			Complete    bool     `json:"complete"`
			NotIngested []string `json:"not_ingested"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(stdout), &hj); err != nil || hj.Timeline.Complete || len(hj.Timeline.NotIngested) != 1 {
		t.Errorf("hunt --json timeline %+v (%v), want a not complete with one item never ingested", hj.Timeline, err)
	}
	report := filepath.Join(dir, "r.md")
	jejak(t, "report", cs, "-o", report)
	if rep, _ := os.ReadFile(report); !strings.Contains(string(rep), "The case was never ingested") {
		t.Errorf("report of an empty case does not say it was never ingested:\n%s", rep)
	}

	mustRun(t, exitOK, "ingest", cs, "--quiet")
	mustRun(t, exitOK, "hunt", cs, "--after", "2024-02-14")

	// An item added since: the timeline lacks it until an ingest reads it.
	mustRun(t, exitOK, "evidence", "add", cs, b)
	_, stderr, code = jejak(t, "timeline", cs, "--limit", "1")
	if code != exitWarnings || !strings.Contains(stderr, filepath.Base(b)) {
		t.Errorf("timeline with an item never ingested: exit %d\n%s", code, stderr)
	}

	// A refused run (the item changed since registration) reads nothing:
	// it leaves the case as it was, here incomplete for b only.
	if err := os.WriteFile(b, []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, code := jejak(t, "ingest", cs, "--quiet"); code == exitOK {
		t.Fatal("ingest of a changed item succeeded")
	}
	// It leaves the store as it was: run 1 is the last, and the custody
	// checks of the store still pass.
	if r := lastRun(t, cs); r.state != "complete" {
		t.Fatalf("after a refused ingest the last run is %q, want run 1 complete", r.state)
	}
	var runs int
	if err := storeDB(t, cs).QueryRow(`SELECT count(*) FROM runs`).Scan(&runs); err != nil || runs != 1 {
		t.Fatalf("%d runs after a refused one (%v), want 1", runs, err)
	}
	if stdout, stderr, _ := jejak(t, "verify", cs); strings.Contains(stdout+stderr, "table runs differs") || !strings.Contains(stdout+stderr, "timeline store") {
		t.Errorf("a refused ingest changed the store's runs, or verify did not check the store:\n%s%s", stdout, stderr)
	}
	_, stderr, _ = jejak(t, "export", cs, "-o", filepath.Join(dir, "x.csv"))
	if strings.Contains(stderr, "ingest run 2") || !strings.Contains(stderr, filepath.Base(b)) {
		t.Errorf("export after a refused run: the refused run is blamed, or b is not named\n%s", stderr)
	}
	m := readManifest(t, filepath.Join(dir, "x.csv"))
	if m.Timeline == nil || m.Timeline.Complete || len(m.Timeline.NotIngested) != 1 || len(m.Timeline.Incomplete) != 0 {
		t.Errorf("manifest timeline %+v, want b alone not ingested", m.Timeline)
	}
}

// TestKilledRunOfAnotherProcess: a run left "running" by a process that no
// longer exists reads as killed; by a live process, as running.
func TestKilledRunOfAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	bigSyslog(t, a, 10)
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "T. Tester", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, a)
	mustRun(t, exitOK, "ingest", cs, "--quiet")

	// A real process that has ended: its pid is free.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Skip("no true(1) to get a pid from:", err)
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Skip("no sleep(1):", err)
	}
	defer func() { _ = live.Process.Kill(); _ = live.Wait() }()
	host, _ := os.Hostname()
	for _, tc := range []struct {
		pid  int
		want string
	}{
		{done.Process.Pid, "killed"},
		{live.Process.Pid, "running"},
	} {
		db, err := sql.Open("sqlite", "file:"+filepath.Join(cs, "case.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`UPDATE runs SET state='running', finished=NULL, pid=?, host=? WHERE id=(SELECT max(id) FROM runs)`, tc.pid, host); err != nil {
			t.Fatal(err)
		}
		db.Close()
		out := filepath.Join(dir, tc.want+".csv")
		_, stderr, code := jejak(t, "export", cs, "-o", out)
		m := readManifest(t, out)
		if code != exitWarnings || m.Timeline == nil || len(m.Timeline.Incomplete) != 1 || m.Timeline.Incomplete[0].State != tc.want {
			t.Errorf("pid %d: exit %d, timeline %+v, want state %s\n%s", tc.pid, code, m.Timeline, tc.want, stderr)
		}
	}
}

// TestReportNamesRunsAfterTheHunt: findings are of the timeline as it was
// when the hunt ran; a run since (here one completing a killed run's work)
// is named in the report, so partial findings do not pass for whole ones.
func TestReportNamesRunsAfterTheHunt(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	bigSyslog(t, a, 10)
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "T. Tester", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, a)
	mustRun(t, exitOK, "ingest", cs, "--quiet")
	mustRun(t, exitOK, "hunt", cs, "--after", "2024-02-14")
	out := filepath.Join(dir, "r.md")
	mustRun(t, exitOK, "report", cs, "-o", out)
	if rep, _ := os.ReadFile(out); strings.Contains(string(rep), "Not hunted") {
		t.Errorf("report of a hunt after the only run names a later run")
	}
	mustRun(t, exitOK, "ingest", cs, "--quiet")
	mustRun(t, exitOK, "report", cs, "-o", out)
	if rep, _ := os.ReadFile(out); !strings.Contains(string(rep), "ingest run(s) 2, started after this hunt") {
		t.Errorf("report does not name run 2, started after the hunt:\n%s", rep)
	}
}

// TestTimelineStateRules works out completeness from run records written
// straight into case.db, one history per row: which runs a later complete
// run clears (the same items or more, matched by hash or by ID), runs from
// before states and items were recorded, and items no run read.
func TestTimelineStateRules(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	bigSyslog(t, a, 3)
	bigSyslog(t, b, 4)
	csDir := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", csDir, "--examiner", "T. Tester", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", csDir, a, b)
	e := &env{stdout: io.Discard, stderr: io.Discard, now: time.Now}
	cs, store, err := e.openCase(context.Background(), csDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	items, err := cs.Evidence()
	if err != nil || len(items) != 2 {
		t.Fatalf("items %v (%v)", items, err)
	}
	item := func(i int) string {
		return fmt.Sprintf(`{"id":%q,"name":%q,"sha256":%q}`, items[i].ID, items[i].Name, items[i].SHA256)
	}
	A, B := item(0), item(1)
	// A registered again with other bytes hashed (its segments, say): same ID.
	A2 := fmt.Sprintf(`{"id":%q,"name":%q,"sha256":"%064d"}`, items[0].ID, items[0].Name, 7)
	later := items[1].AddedAt.Add(time.Second).UTC().Format(time.RFC3339Nano)
	type run struct{ state, items string } // items "" is NULL (not recorded)
	for _, tc := range []struct {
		name        string
		runs        []run
		incomplete  []string // "run state"
		notIngested int
	}{
		{"none", nil, nil, 2},
		{"complete", []run{{"complete", "[" + A + "," + B + "]"}}, nil, 0},
		{"one item read", []run{{"complete", "[" + A + "]"}}, nil, 1},
		{"interrupted, then complete over less", []run{{"interrupted", "[" + A + "," + B + "]"}, {"complete", "[" + A + "]"}}, []string{"1 interrupted"}, 0},
		{"interrupted, then complete", []run{{"interrupted", "[" + A + "," + B + "]"}, {"complete", "[" + A + "," + B + "]"}}, nil, 0},
		{"complete, then failed", []run{{"complete", "[" + A + "," + B + "]"}, {"failed", "[" + A + "]"}}, []string{"2 failed"}, 0},
		{"killed run of an older jejak", []run{{"", ""}}, []string{"1 killed"}, 0},
		{"complete run of an older jejak", []run{{"complete-legacy", ""}}, nil, 0},
		{"killed, then complete over the same ID", []run{{"running", "[" + A + "]"}, {"complete", "[" + A2 + "," + B + "]"}}, nil, 0},
		{"killed, then complete over the other item", []run{{"running", "[" + A + "]"}, {"complete", "[" + B + "]"}}, []string{"1 killed"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := store.DB()
			if _, err := db.Exec(`DELETE FROM runs`); err != nil {
				t.Fatal(err)
			}
			for _, r := range tc.runs {
				var state, finished, its any
				switch r.state {
				case "":
				case "complete-legacy":
					finished = later
				default:
					state = r.state
					if r.state != "running" {
						finished = later
					}
				}
				if r.items != "" {
					its = r.items
				}
				if _, err := db.Exec(`INSERT INTO runs(started, finished, tool_version, state, items, pid) VALUES(?, ?, 'test', ?, ?, 0)`,
					later, finished, state, its); err != nil {
					t.Fatal(err)
				}
			}
			c, err := timelineState(context.Background(), cs, store)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range c.Incomplete {
				got = append(got, fmt.Sprintf("%d %s", r.Run, r.State))
			}
			if strings.Join(got, ";") != strings.Join(tc.incomplete, ";") || len(c.NotIngested) != tc.notIngested ||
				c.Complete != (len(tc.incomplete) == 0 && tc.notIngested == 0) {
				t.Errorf("incomplete %v, not ingested %v, complete %v; want %v and %d items", got, c.NotIngested, c.Complete, tc.incomplete, tc.notIngested)
			}
		})
	}
}
