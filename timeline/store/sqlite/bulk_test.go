package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

func indexNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='event_rows' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	return names
}

var allIndexes = []string{"events_id", "events_source_ip", "events_ts"}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow(`PRAGMA ` + name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRuns: a first run into an empty store ends with every index built and
// the file back in WAL mode; a second run keeps the indexes while it writes.
func TestRuns(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, s.DB()); len(got) != 0 {
		t.Errorf("indexes during a first run: %v, want none", got)
	}
	if _, err := s.Write(ctx, events(3000, "aa")); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, time.Unix(2, 0), map[string]int{"events": 3000}); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, s.DB()); !slices.Equal(got, allIndexes) {
		t.Errorf("indexes after the first run: %v, want %v", got, allIndexes)
	}
	if m := pragma(t, s.DB(), "journal_mode"); m != "wal" {
		t.Errorf("journal mode after the first run: %s, want wal", m)
	}
	var stats int
	s.DB().QueryRow(`SELECT count(DISTINCT idx) FROM sqlite_stat1 WHERE tbl='event_rows'`).Scan(&stats)
	if stats != len(allIndexes) {
		t.Errorf("planner statistics for %d indexes after the first run, want %d", stats, len(allIndexes))
	}
	if _, err := s.BeginRun(ctx, time.Unix(3, 0), "test"); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, s.DB()); !slices.Equal(got, allIndexes) {
		t.Errorf("indexes during a second run: %v, want %v", got, allIndexes)
	}
	st, err := s.Write(ctx, append(events(3000, "aa")[2000:], events(500, "bb")...))
	if err != nil || st.Inserted != 500 || st.Duplicates != 1000 {
		t.Fatalf("second run: %+v, %v; want 500 new, 1000 duplicates", st, err)
	}
	if err := s.FinishRun(ctx, time.Unix(4, 0), nil); err != nil {
		t.Fatal(err)
	}
	var runs, finished int
	s.DB().QueryRow(`SELECT count(*), count(finished) FROM runs`).Scan(&runs, &finished)
	if runs != 2 || finished != 2 {
		t.Errorf("runs: %d recorded, %d finished; want 2, 2", runs, finished)
	}
	var perRun string
	s.DB().QueryRow(`SELECT group_concat(n) FROM (SELECT count(*) AS n FROM events GROUP BY run ORDER BY run)`).Scan(&perRun)
	if perRun != "3000,500" {
		t.Errorf("events per run: %s, want 3000,500", perRun)
	}
}

// TestTimelineView checks what an examiner sees with the sqlite3 tool: the
// document as JSON text, and the view's columns read out of it.
func TestTimelineView(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	evs := storetest.Events()
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rows, err := s.DB().Query(`SELECT id, timestamp, parser, evidence, path, message, coalesce(user_name, ''),
		coalesce(outcome, ''), coalesce(host_name, ''), typeof(doc), json_valid(doc) FROM timeline ORDER BY ts, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	byID := map[string]*timeline.Event{}
	for _, e := range evs {
		byID[e.Jejak.ID] = e
	}
	n := 0
	for rows.Next() {
		var id, ts, parser, evidence, path, msg, user, outcome, host, typ string
		var valid bool
		if err := rows.Scan(&id, &ts, &parser, &evidence, &path, &msg, &user, &outcome, &host, &typ, &valid); err != nil {
			t.Fatal(err)
		}
		e := byID[id]
		if e == nil {
			t.Fatalf("view id %s is no event's ID", id)
		}
		n++
		var wantUser, wantHost string
		if e.User != nil {
			wantUser = e.User.Name
		}
		if e.Host != nil {
			wantHost = e.Host.Name
		}
		p := e.Jejak.Provenance
		if ts != e.Timestamp.Format(time.RFC3339Nano) || parser != p.Parser || evidence != p.EvidenceSHA256 ||
			path != p.Path || msg != e.Message || user != wantUser || outcome != e.Event.Outcome || host != wantHost {
			t.Errorf("view row %s: %q %q %q %q %q %q %q %q", id, ts, parser, evidence, path, msg, user, outcome, host)
		}
		if typ != "text" || !valid {
			t.Errorf("doc of %s is %s, valid JSON %v; want valid JSON text", id, typ, valid)
		}
	}
	if n != len(evs) {
		t.Errorf("view has %d rows, want %d", n, len(evs))
	}
}

// TestRefusesOtherFormats opens stores of other format versions: one with
// events is refused with an error naming the file and both versions, and
// left as it was; an older one without events is made again.
// testdata/format3-case.db was written by the store before format 4
// (commit df4141f, storetest.Events() in one run; then VACUUMed to 1 KiB
// pages with the sqlite3 tool, to keep it small); format4-case.db by the
// store of commit ed0514b the same way (a program opening a store,
// BeginRun, Write, FinishWrites, FinishRun, Close).
func TestRefusesOtherFormats(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile(filepath.Join("testdata", "format3-case.db"))
	if err != nil {
		t.Fatal(err)
	}
	fixture4, err := os.ReadFile(filepath.Join("testdata", "format4-case.db"))
	if err != nil {
		t.Fatal(err)
	}
	newer := func(path string) {
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(ctx, storetest.Events()[:1]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DB().Exec(fmt.Sprintf(`PRAGMA user_version=%d`, FormatVersion+1)); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	emptied := func(path string) {
		if err := os.WriteFile(path, fixture, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// The old table: format 3 has no view events.
		if _, err := db.Exec(`DELETE FROM events`); err != nil {
			t.Fatal(err)
		}
	}
	emptied4 := func(path string) {
		if err := os.WriteFile(path, fixture4, 0o644); err != nil {
			t.Fatal(err)
		}
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`DELETE FROM event_rows`); err != nil {
			t.Fatal(err)
		}
	}
	reads := fmt.Sprintf("reads version %d only", FormatVersion)
	newerV := fmt.Sprintf("format version %d", FormatVersion+1)
	for _, c := range []struct {
		name    string
		make    func(path string)
		found   int
		refused []string // substrings of the error; none: opened
	}{
		{"format 3 with events", func(path string) {
			if err := os.WriteFile(path, fixture, 0o644); err != nil {
				t.Fatal(err)
			}
		}, 3, []string{"format version 3", reads, "does not convert older stores", "analyze the evidence again"}},
		{"format 4 with events", func(path string) {
			if err := os.WriteFile(path, fixture4, 0o644); err != nil {
				t.Fatal(err)
			}
		}, 4, []string{"format version 4", reads, "does not convert older stores", "analyze the evidence again"}},
		{"newer format with events", newer, FormatVersion + 1, []string{newerV, "written by a newer jejak", reads}},
		{"format 3 without events", emptied, 3, nil},
		{"format 4 without events", emptied4, 4, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "case.db")
			c.make(path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(ctx, path)
			if c.refused == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer s.Close()
				if v := pragma(t, s.DB(), "user_version"); v != fmt.Sprint(FormatVersion) {
					t.Errorf("user_version %s, want %d", v, FormatVersion)
				}
				var runs int
				s.DB().QueryRow(`SELECT count(*) FROM runs`).Scan(&runs)
				if runs != 1 {
					t.Errorf("%d runs after the store was made again, want the 1 it had", runs)
				}
				evs := storetest.Events()
				if st, err := s.Write(ctx, evs); err != nil || st.Inserted != len(evs) {
					t.Fatalf("Write: %+v, %v", st, err)
				}
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Found != c.found || ve.Supported != FormatVersion || ve.Path != path {
				t.Errorf("error %v (%#v), want a VersionError for %s, found %d", err, ve, path, c.found)
			}
			for _, want := range append(c.refused, path) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("the refused store was changed")
			}
		})
	}
}

// TestCrashDuringFirstRun kills a process in the middle of a first run (a
// batch in flight, no FinishRun, no Close) and opens what it left: every
// batch it committed is there, nothing of the one in flight, the file is
// sound, and Open gives back the indexes and WAL mode. Each batch also
// repeats events of the one before, which the run had no unique index to
// refuse: Open removes them before it builds that index.
func TestCrashDuringFirstRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := filepath.Join(t.TempDir(), "case.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), "JEJAK_CRASH_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed, mode := 0, ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(sc.Text(), "journal_mode "); ok {
			mode = m
		}
		if strings.HasPrefix(sc.Text(), "committed ") {
			committed++
			if committed == 3 {
				break // the fourth batch is being written now
			}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if committed < 3 {
		t.Fatalf("helper committed %d batches before it ended", committed)
	}
	if mode != "truncate" {
		t.Errorf("the first run wrote in journal mode %q, want the bulk run's truncate", mode)
	}

	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open after crash: %v", err)
	}
	defer s.Close()
	if v := pragma(t, s.DB(), "integrity_check"); v != "ok" {
		t.Fatalf("integrity_check after crash: %s", v)
	}
	n, err := s.Count(ctx, timeline.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if n < int64(3*crashBatch) || n%crashBatch != 0 {
		t.Errorf("%d events after the crash; want whole batches of %d without repeats, at least 3", n, crashBatch)
	}
	var ids int64
	s.DB().QueryRow(`SELECT count(DISTINCT id) FROM events`).Scan(&ids)
	if ids != n {
		t.Errorf("%d events but %d distinct IDs after reopening", n, ids)
	}
	if got := indexNames(t, s.DB()); !slices.Equal(got, allIndexes) {
		t.Errorf("indexes after reopening: %v, want %v", got, allIndexes)
	}
	if m := pragma(t, s.DB(), "journal_mode"); m != "wal" {
		t.Errorf("journal mode after reopening: %s, want wal", m)
	}
}

const crashBatch = 5000

// TestCrashHelper is the process TestCrashDuringFirstRun kills.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv("JEJAK_CRASH_DB")
	if path == "" {
		t.Skip("run by TestCrashDuringFirstRun")
	}
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "crash"); err != nil {
		t.Fatal(err)
	}
	var mode string
	s.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode)
	fmt.Printf("journal_mode %s\n", mode)
	for i := 1; i <= 1000; i++ {
		batch := events(crashBatch, fmt.Sprint("evidence", i))
		if i > 1 {
			batch = append(batch, events(100, fmt.Sprint("evidence", i-1))...)
		}
		if _, err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		fmt.Printf("committed %d\n", i)
	}
	t.Fatal("not killed")
}

// TestRepeatsInFirstRun: a first run has no unique index until
// FinishWrites, so Write counts an event repeated within the run as
// inserted; FinishWrites removes the later copies, keeps the first, and
// returns how many there were, so that the run's totals come out as they
// would have with the index in place.
func TestRepeatsInFirstRun(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	var total timeline.WriteStats
	first := events(3000, "aa")
	for _, batch := range [][]*timeline.Event{
		first,
		append(events(3000, "aa")[1000:2000], events(500, "bb")...),
		{first[0], events(1, "cc")[0], events(1, "aa")[0]},
	} {
		st, err := s.Write(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		total.Add(st)
	}
	// The same ID with other content (a record parsed again differently):
	// the copy written first is the one kept, as INSERT OR IGNORE keeps it.
	changed := events(3000, "aa")[2999]
	changed.Message = "parsed differently"
	st, err := s.Write(ctx, []*timeline.Event{changed})
	if err != nil {
		t.Fatal(err)
	}
	total.Add(st)
	if total.Inserted+total.Duplicates != 3000+1500+3+1 {
		t.Fatalf("Write stats %+v do not count every event", total)
	}
	dups, err := s.FinishWrites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total.Inserted -= dups
	total.Duplicates += dups
	if want := (timeline.WriteStats{Inserted: 3501, Duplicates: 1003}); total != want {
		t.Errorf("run totals after FinishWrites (%d repeats) = %+v, want %+v", dups, total, want)
	}
	if again, err := s.FinishWrites(ctx); err != nil || again != 0 {
		t.Errorf("second FinishWrites = %d, %v; want 0", again, err)
	}
	if n, err := s.Count(ctx, timeline.Query{}); err != nil || n != 3501 {
		t.Errorf("Count = %d, %v; want 3501", n, err)
	}
	var msg string
	id, _ := hex.DecodeString(changed.Jejak.ID)
	s.DB().QueryRow(`SELECT json_extract(doc, '$.message') FROM events WHERE id=?`, id).Scan(&msg)
	if msg != first[2999].Message {
		t.Errorf("kept %q for a repeated ID, want the first copy's %q", msg, first[2999].Message)
	}
	if got := indexNames(t, s.DB()); !slices.Equal(got, allIndexes) {
		t.Errorf("indexes after FinishWrites: %v, want %v", got, allIndexes)
	}
	// Writes after FinishWrites are checked against the unique index.
	st, err = s.Write(ctx, events(10, "aa"))
	if err != nil || st.Inserted != 0 || st.Duplicates != 10 {
		t.Errorf("Write after FinishWrites = %+v, %v; want 10 duplicates", st, err)
	}
	if err := s.FinishRun(ctx, time.Unix(2, 0), total); err != nil {
		t.Fatal(err)
	}
}

// TestRepeatsRemovedByAnotherOpen: a second Store opened on the file while
// a first run is writing builds the deferred indexes itself (as after a
// crash), removing repeats the first Store never sees; FinishWrites still
// reports them.
func TestRepeatsRemovedByAnotherOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	for _, batch := range [][]*timeline.Event{events(2000, "aa"), events(1500, "aa")} {
		if _, err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := s.Write(ctx, events(2500, "aa"))
	if err != nil || st.Inserted != 500 || st.Duplicates != 2000 {
		t.Errorf("Write after the other Open = %+v, %v; want 500 new, 2000 duplicates", st, err)
	}
	dups, err := s.FinishWrites(ctx)
	if err != nil || dups != 1500 {
		t.Errorf("FinishWrites = %d, %v; want the 1500 repeats the other Open removed", dups, err)
	}
	if n, _ := s.Count(ctx, timeline.Query{}); n != 2500 {
		t.Errorf("Count = %d, want 2500", n)
	}
}

// TestLeaveIndexes: an interrupted first run closes without building its
// deferred indexes (so Ctrl-C stops at once), and leaves the store as a
// crashed run does: the next Open removes the run's repeated events and
// builds every index, in WAL mode.
func TestLeaveIndexes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "interrupted"); err != nil {
		t.Fatal(err)
	}
	first := events(crashBatch, "evidence1")
	if _, err := s.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, append(events(crashBatch, "evidence2"), first[:100]...)); err != nil {
		t.Fatal(err)
	}
	s.LeaveIndexes()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, raw); slices.Equal(got, allIndexes) {
		t.Errorf("Close built the indexes after LeaveIndexes: %v", got)
	}
	raw.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n, err := s.Count(ctx, timeline.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2*crashBatch {
		t.Errorf("%d events after reopening, want %d (the 100 repeats removed)", n, 2*crashBatch)
	}
	if got := indexNames(t, s.DB()); !slices.Equal(got, allIndexes) {
		t.Errorf("indexes after reopening: %v, want %v", got, allIndexes)
	}
	if m := pragma(t, s.DB(), "journal_mode"); m != "wal" {
		t.Errorf("journal mode after reopening: %s, want wal", m)
	}
}
