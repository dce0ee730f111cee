package sqlite

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// firstRun opens an empty store, starts a bulk run with its digest
// stream, and turns write-behind on or not.
func firstRun(t *testing.T, behind bool) (*Store, *bytes.Buffer) {
	t.Helper()
	s := open(t)
	if _, err := s.BeginRun(context.Background(), time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	var streamed bytes.Buffer
	if !s.DigestRows(&streamed) {
		t.Fatal("DigestRows refused the first run into an empty store")
	}
	if behind && !s.WriteBehind() {
		t.Fatal("WriteBehind refused the first run into an empty store")
	}
	return s, &streamed
}

// TestWriteBehindStoresTheSame: a first run written behind stores the
// same rows and blocks, byte for byte (Digest), as the same batches
// written in line, counts the same, and its streamed digest is Digest's;
// repeats within the run are reported by FinishWrites in both.
func TestWriteBehindStoresTheSame(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		batches func() [][]*timeline.Event
		repeats int
	}{
		{"batches of every type", func() [][]*timeline.Event {
			return [][]*timeline.Event{events(700, "aa"), farAndBare(), events(1, "bb"), events(12000, "cc"), mixedParsers(), events(2100, "ee")}
		}, 0},
		{"more chunks in one batch than write-behind holds", func() [][]*timeline.Event {
			return [][]*timeline.Event{events(behindChunks*encodeChunk+3000, "aa")}
		}, 0},
		{"repeats", func() [][]*timeline.Event {
			return [][]*timeline.Event{events(300, "aa"), events(10, "aa")}
		}, 10},
		{"nothing", func() [][]*timeline.Event { return nil }, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var digests [2][]byte
			var streams [2]string
			for i, behind := range []bool{false, true} {
				s, streamed := firstRun(t, behind)
				want := 0
				for _, b := range c.batches() {
					st, err := s.Write(ctx, b)
					if err != nil {
						t.Fatal(err)
					}
					if st.Inserted != len(b) || st.Duplicates != 0 {
						t.Errorf("behind %v: Write of %d = %+v", behind, len(b), st)
					}
					want += len(b)
				}
				finish(t, s, c.repeats)
				n, ok, err := s.FinishDigest(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var read bytes.Buffer
				stored, err := Digest(ctx, s.DB(), &read)
				if err != nil {
					t.Fatal(err)
				}
				if stored != int64(want-c.repeats) {
					t.Errorf("behind %v: %d events stored, want %d", behind, stored, want-c.repeats)
				}
				if ok != (c.repeats == 0) {
					t.Fatalf("behind %v: FinishDigest ok = %v", behind, ok)
				}
				if ok {
					if n != stored || !bytes.Equal(streamed.Bytes(), read.Bytes()) {
						t.Errorf("behind %v: streamed digest (%d events, %d bytes) is not Digest's (%d, %d bytes)",
							behind, n, streamed.Len(), stored, read.Len())
					}
					streams[i] = "streamed"
				}
				digests[i] = read.Bytes()
				if !slicesEqual(indexNames(t, s.DB()), storeIndexes) {
					t.Errorf("behind %v: indexes %v after FinishWrites", behind, indexNames(t, s.DB()))
				}
			}
			if !bytes.Equal(digests[0], digests[1]) {
				t.Errorf("the store written behind differs from the one written in line at byte %d", firstDiff(digests[0], digests[1]))
			}
			if streams[0] != streams[1] {
				t.Errorf("streamed in line %q, behind %q", streams[0], streams[1])
			}
		})
	}
}

func slicesEqual(got, want []string) bool {
	g := map[string]bool{}
	for _, n := range got {
		g[n] = true
	}
	for _, n := range want {
		if !g[n] {
			return false
		}
	}
	return true
}

// TestWriteBehindFailures: an event that cannot be encoded fails its
// Write, and the batch is rolled back; an insert that fails after Write
// returned is reported by a later Write or by FinishWrites, its batch
// rolled back and the batches before it kept; the digest stream is then
// refused.
func TestWriteBehindFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("encode", func(t *testing.T) {
		s, _ := firstRun(t, true)
		write(t, s, events(500, "aa"))
		bad := events(300, "bb")
		bad[250].Jejak.ID = "not hex"
		if _, err := s.Write(ctx, bad); err == nil || !strings.Contains(err.Error(), "not 32 hex digits") {
			t.Fatalf("Write of a bad ID: %v", err)
		}
		if _, err := s.FinishWrites(ctx); err == nil || !strings.Contains(err.Error(), "not 32 hex digits") {
			t.Errorf("FinishWrites after a failed batch: %v", err)
		}
		if n := count(t, s); n != 500 {
			t.Errorf("%d rows stored, want the first batch's 500", n)
		}
		if _, ok, _ := s.FinishDigest(ctx); ok {
			t.Error("FinishDigest vouched for a run whose write failed")
		}
	})
	// Both batches wait while another writer holds the gap between
	// transactions: the inserter then takes them into one transaction,
	// and the failed one is taken out alone (undo).
	t.Run("encode, one transaction", func(t *testing.T) {
		s, _ := firstRun(t, true)
		err := s.BetweenWrites(func() error {
			write(t, s, events(500, "aa"))
			write(t, s, events(400, "cc"))
			bad := events(300, "bb")
			bad[250].Jejak.ID = "not hex"
			_, err := s.Write(ctx, bad)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "not 32 hex digits") {
			t.Fatalf("Write of a bad ID: %v", err)
		}
		if _, err := s.FinishWrites(ctx); err == nil || !strings.Contains(err.Error(), "not 32 hex digits") {
			t.Errorf("FinishWrites after a failed batch: %v", err)
		}
		if n := count(t, s); n != 900 {
			t.Errorf("%d rows stored, want the first two batches' 900", n)
		}
		if _, ok, _ := s.FinishDigest(ctx); ok {
			t.Error("FinishDigest vouched for a run whose write failed")
		}
	})
	t.Run("insert", func(t *testing.T) {
		s, _ := firstRun(t, true)
		write(t, s, events(500, "aa"))
		// Refuse the rows of evidence "bb": the trigger is SQLite's own
		// failure of the statement, after Write has returned.
		bb := events(300, "bb")
		// A TEMP trigger is its connection's own: the writer's.
		if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TRIGGER boom BEFORE INSERT ON main.event_rows WHEN NEW.id = X'%x'
			BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`, mustID(t, bb[7]))); err != nil {
			t.Fatal(err)
		}
		var failed error
		if _, err := s.Write(ctx, bb); err != nil {
			failed = err
		}
		for i := 0; failed == nil && i < 50; i++ {
			time.Sleep(10 * time.Millisecond)
			_, failed = s.Write(ctx, events(10, "cc"))
		}
		if _, err := s.FinishWrites(ctx); failed == nil {
			failed = err
		}
		if failed == nil || !strings.Contains(failed.Error(), "refused by the test") {
			t.Fatalf("the failed insert was reported as %v", failed)
		}
		if n := count(t, s); n != 500 {
			t.Errorf("%d rows stored, want the first batch's 500", n)
		}
		if _, ok, _ := s.FinishDigest(ctx); ok {
			t.Error("FinishDigest vouched for a run whose write failed")
		}
	})
}

// TestWriteBehindUndoInTransaction: an insert that fails in a batch the
// inserter took into one transaction with the batches before it (they
// waited while another writer held the gap) takes out that batch's
// blocks and rows alone, those inserted before its failed statement too;
// the batches before it are committed whole, and no block is left
// without rows.
func TestWriteBehindUndoInTransaction(t *testing.T) {
	ctx := context.Background()
	s, _ := firstRun(t, true)
	bb := events(3*blockRows+50, "bb")
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`CREATE TEMP TRIGGER boom BEFORE INSERT ON main.event_rows WHEN NEW.id = X'%x'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`, mustID(t, bb[2*blockRows+9]))); err != nil {
		t.Fatal(err)
	}
	var blocksBefore int
	if err := s.BetweenWrites(func() error {
		write(t, s, events(500, "aa"))
		write(t, s, events(400, "cc"))
		_, err := s.Write(ctx, bb)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.FinishWrites(ctx)
	if err == nil || !strings.Contains(err.Error(), "refused by the test") {
		t.Fatalf("FinishWrites after a failed insert: %v", err)
	}
	if n := count(t, s); n != 900 {
		t.Errorf("%d rows stored, want the first two batches' 900", n)
	}
	if err := s.DB().QueryRow(`SELECT count(*) FROM blocks`).Scan(&blocksBefore); err != nil {
		t.Fatal(err)
	}
	if want := (500+blockRows-1)/blockRows + (400+blockRows-1)/blockRows; blocksBefore != want {
		t.Errorf("%d blocks stored, want the first two batches' %d", blocksBefore, want)
	}
	var orphans, maxRow int
	if err := s.DB().QueryRow(`SELECT count(*) FROM blocks WHERE id NOT IN (SELECT blk FROM event_rows)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d blocks without rows", orphans)
	}
	if err := s.DB().QueryRow(`SELECT max(rowid) FROM event_rows`).Scan(&maxRow); err != nil {
		t.Fatal(err)
	}
	if maxRow != 900 {
		t.Errorf("largest rowid %d, want 900", maxRow)
	}
	if _, ok, _ := s.FinishDigest(ctx); ok {
		t.Error("FinishDigest vouched for a run whose write failed")
	}
}

func mustID(t *testing.T, e *timeline.Event) []byte {
	t.Helper()
	id, err := hex.DecodeString(e.Jejak.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func count(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM event_rows`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWriteBehindOnlyFirstRun: write-behind is refused where Write's
// counts need the unique index (a store holding events) and once the run
// has written; it ends with FinishWrites, after which Write is in line
// again, against the unique index.
func TestWriteBehindOnlyFirstRun(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	write(t, s, events(10, "aa"))
	if s.WriteBehind() {
		t.Error("WriteBehind accepted a run that has written")
	}
	finish(t, s, 0)
	if _, err := s.BeginRun(ctx, time.Unix(2, 0), "test"); err != nil {
		t.Fatal(err)
	}
	if s.WriteBehind() {
		t.Error("WriteBehind accepted a run into a store holding events")
	}
	st, err := s.Write(ctx, events(20, "aa"))
	if err != nil || st.Inserted != 10 || st.Duplicates != 10 {
		t.Errorf("second run's Write = %+v, %v; want 10 inserted, 10 duplicates", st, err)
	}

	s2, _ := firstRun(t, true)
	write(t, s2, events(100, "aa"))
	finish(t, s2, 0)
	if s2.behind != nil {
		t.Error("write-behind still on after FinishWrites")
	}
	st, err = s2.Write(ctx, events(150, "aa"))
	if err != nil || st.Inserted != 50 || st.Duplicates != 100 {
		t.Errorf("Write after FinishWrites = %+v, %v; want 50 inserted, 100 duplicates", st, err)
	}
}

// TestBetweenWrites: warnings stored on another connection through
// BetweenWrites get in while batches are written behind back to back,
// and Close waits for the inserts.
func TestBetweenWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := firstRun(t, true)
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			w := []timeline.Warning{{Kind: timeline.WarnRecord, Evidence: "aa", Path: "x", Parser: "syslog", Offset: int64(i), Message: "m"}}
			if err := s.BetweenWrites(func() error { return s.AddWarnings(ctx, w) }); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range 40 {
		write(t, s, events(2000, string(rune('a'+i%26))+"x"+string(rune('a'+i/26))))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM warnings`).Scan(&n); err != nil || n != 20 {
		t.Errorf("%d warnings stored (%v), want 20", n, err)
	}
	// Close waits for the rows written behind, and builds the indexes.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n := count(t, r); n != 40*2000 {
		t.Errorf("%d rows after Close, want %d", n, 40*2000)
	}
}

// TestLeaveIndexesInsertsWritesBehind: an interrupted run (LeaveIndexes)
// still has every batch its Writes accepted in the store once
// LeaveIndexes returns, as in-line writes would, with no index built.
func TestLeaveIndexesInsertsWritesBehind(t *testing.T) {
	s, _ := firstRun(t, true)
	for i := range 8 {
		write(t, s, events(3000, fmt.Sprintf("e%d", i)))
	}
	s.LeaveIndexes()
	if n := count(t, s); n != 8*3000 {
		t.Errorf("%d rows stored once LeaveIndexes returned, want %d", n, 8*3000)
	}
	if got := indexNames(t, s.DB()); len(got) != 0 {
		t.Errorf("indexes %v built by an interrupted run", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
