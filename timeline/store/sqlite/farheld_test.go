package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// farEvents are n events of which every 97th (and the first) has a time
// outside date_nanos.
func farEvents(n int, evidence string) []*timeline.Event {
	evs := events(n, evidence)
	for i := 0; i < n; i += 97 {
		evs[i].Timestamp = time.Date(1601, 1, 1, 0, 0, 0, i, time.UTC)
		evs[i].Jejak.ID = ""
		evs[i].Finalize()
	}
	return evs
}

// checkFarTS fails unless every far time of db's event_rows is the REAL
// farTS again (none held back as farHeld) and the others integers, want
// of them far.
func checkFarTS(t *testing.T, db *sql.DB, want int) {
	t.Helper()
	var held, far, ints, other int
	err := db.QueryRow(`SELECT count(*) FILTER (WHERE ts < 0), count(*) FILTER (WHERE typeof(ts) = 'real' AND ts = ?),
		count(*) FILTER (WHERE typeof(ts) = 'integer' AND ts >= 0), count(*) FILTER (WHERE typeof(ts) NOT IN ('integer', 'real'))
		FROM event_rows`, float64(farTS)).Scan(&held, &far, &ints, &other)
	if err != nil {
		t.Fatal(err)
	}
	if held != 0 || far != want || other != 0 {
		t.Errorf("ts: %d held back, %d farTS, %d integers, %d else; want 0 held back, %d farTS", held, far, ints, other, want)
	}
}

// heldNow counts the rows whose ts is held back, on a connection of its
// own.
func heldNow(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM event_rows WHERE ts < 0`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFarHeldFirstRun: a bulk run inserts far times held back (farHeld,
// so that events_ts is sorted as integers) and FinishWrites puts farTS
// back; its streamed digest is still the table's; time order puts them
// last.
func TestFarHeldFirstRun(t *testing.T) {
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
	var streamed hashBuf
	if !s.DigestRows(&streamed) {
		t.Fatal("DigestRows refused a first run")
	}
	evs := farEvents(3000, "aa")
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	far := (3000 + 96) / 97
	if n := heldNow(t, path); n != far {
		t.Errorf("%d ts held back during the run, want %d", n, far)
	}
	if _, err := s.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	checkFarTS(t, s.DB(), far)
	if _, ok, err := s.FinishDigest(ctx); err != nil || !ok {
		t.Fatalf("FinishDigest: %v, %v", ok, err)
	}
	var read hashBuf
	if _, err := Digest(ctx, s.DB(), &read); err != nil {
		t.Fatal(err)
	}
	if string(streamed) != string(read) {
		t.Error("the digest streamed differs from the table's")
	}
	var last []float64
	rows, err := s.DB().Query(`SELECT ts FROM event_rows ORDER BY ts DESC LIMIT ?`, far+1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v float64
		rows.Scan(&v)
		last = append(last, v)
	}
	rows.Close()
	for i, v := range last {
		if (i < far) != (v == farTS) {
			t.Errorf("ts in time order from the end: %v, want %d farTS first", last, far)
			break
		}
	}
	if v := pragma(t, s.DB(), "integrity_check"); v != "ok" {
		t.Errorf("integrity_check: %s", v)
	}
}

// TestFarHeldLeaveIndexes: a run that leaves its indexes puts the far
// times back itself; so does a write-behind one.
func TestFarHeldLeaveIndexes(t *testing.T) {
	for _, behind := range []bool{false, true} {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "case.db")
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginRun(ctx, time.Unix(1, 0), "interrupted"); err != nil {
			t.Fatal(err)
		}
		if behind && !s.WriteBehind() {
			t.Fatal("no write-behind")
		}
		if _, err := s.Write(ctx, events(500, "bb")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(ctx, farEvents(2000, "aa")); err != nil {
			t.Fatal(err)
		}
		s.LeaveIndexes()
		checkFarTS(t, s.DB(), (2000+96)/97)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if n := heldNow(t, path); n != 0 {
			t.Errorf("behind %v: %d ts held back after Close", behind, n)
		}
	}
}

// TestFarHeldCrash: a store whose first run was killed before its
// indexes were built holds far times back; the next Open puts them back
// as it builds the indexes.
func TestFarHeldCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "case.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "killed"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, farEvents(2000, "aa")); err != nil {
		t.Fatal(err)
	}
	// The file as a kill -9 leaves it: the batch committed (rollback
	// journal, truncated), the indexes not built.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	killed := filepath.Join(dir, "killed.db")
	if err := os.WriteFile(killed, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := heldNow(t, killed); n == 0 {
		t.Fatal("no ts held back in the killed run's store")
	}
	k, err := Open(ctx, killed)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	checkFarTS(t, k.DB(), (2000+96)/97)
	n, err := k.Count(ctx, timeline.Query{From: time.Unix(0, 0), To: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2000 - (2000+96)/97); n != want {
		t.Errorf("%d events within date_nanos, want %d", n, want)
	}
}

// hashBuf collects what a digest writes.
type hashBuf []byte

func (h *hashBuf) Write(p []byte) (int, error) {
	*h = append(*h, p...)
	return len(p), nil
}
