package casework

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// farEvents are events at times outside Elasticsearch's date_nanos (the
// store keeps their ts as the REAL farTS, see sqlite/times.go) and at its
// edges.
func farEvents() []*timeline.Event {
	times := []time.Time{
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, -1),
		time.Unix(0, 0),
		time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC),
		time.Unix(0, 1<<63-1),
		time.Date(2300, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	out := make([]*timeline.Event, len(times))
	for i, at := range times {
		e := &timeline.Event{
			Timestamp: at, TimestampDesc: "Last Written Time",
			Message: "Accepted password for root from 203.0.113.7 port 4022 ssh2",
			Event:   timeline.EventMeta{Kind: "event", Action: "ssh_login", Outcome: "success"},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{
				EvidenceSHA256: "ff", EvidenceName: "far.log", Path: "far.log",
				Offset: int64(i) * 60, Record: int64(i + 1), Parser: "syslog",
			}},
		}
		e.Finalize()
		out[i] = e
	}
	return out
}

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestEventsDigestRead: the digest of a store is the same read through
// the store's pool and through a read-only pool opened without
// sqlite.Open (as OpenStoreForAudit opens a write-protected copy), on a
// corpus case (many parsers), far times (the REAL ts of times outside
// date_nanos), an empty store, and rows an examiner's SQL changed (a
// document rewritten through the view, a deleted row); the event count
// is the rows'.
func TestEventsDigestRead(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		store func(t *testing.T) *sqlite.Store
		min   int64 // fewest events the case must have
	}{
		{"corpus", func(t *testing.T) *sqlite.Store {
			st, _ := casetest.Build(t, "logs/linux", "logs/syslog", "logs/web", "logs/db", "logs/loghub")
			return st
		}, 100},
		{"far times", func(t *testing.T) *sqlite.Store {
			st := openStore(t)
			if _, err := st.Write(ctx, farEvents()); err != nil {
				t.Fatal(err)
			}
			return st
		}, 6},
		{"empty", openStore, 0},
		{"edited by SQL", func(t *testing.T) *sqlite.Store {
			st, _ := casetest.Build(t, "logs/syslog", "logs/linux")
			db := st.DB()
			if _, err := db.ExecContext(ctx, `UPDATE events SET doc = replace(doc, 'ssh', 'SSH') WHERE rowid % 3 = 0`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `DELETE FROM events WHERE rowid % 5 = 1`); err != nil {
				t.Fatal(err)
			}
			return st
		}, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := c.store(t)
			var wantN int64
			if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM event_rows`).Scan(&wantN); err != nil {
				t.Fatal(err)
			}
			n, want, err := eventsDigest(ctx, st.DB())
			if err != nil {
				t.Fatal(err)
			}
			if n != wantN {
				t.Errorf("eventsDigest counts %d events, the table has %d", n, wantN)
			}
			if n < c.min {
				t.Errorf("%d events, want at least %d", n, c.min)
			}
			ro, err := sql.Open("sqlite", sqlite.URI(storePath(t, st), "mode=ro"))
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			if n2, got2, err := eventsDigest(ctx, ro); err != nil || n2 != wantN || got2 != want {
				t.Errorf("read-only: eventsDigest = %d events %s (%v), want %d events %s", n2, got2, err, wantN, want)
			}
		})
	}
}

// storePath is the file of st's main database.
func storePath(t *testing.T, st *sqlite.Store) string {
	t.Helper()
	var file string
	if err := st.DB().QueryRow(`SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestEventsDigestChanges: the digest covers every stored part of the
// events: any change to a row's column (ID, time, action, parser, source
// address, run, block, slot), to a block's bytes or number, a row or
// block added or removed, a document edited through the view, changes it.
// Two stores written alike digest alike.
func TestEventsDigestChanges(t *testing.T) {
	ctx := context.Background()
	build := func(t *testing.T) *sqlite.Store {
		st := openStore(t)
		evs := farEvents()
		// Three blocks or more: 6 far events and 300 more.
		for i := range 300 {
			e := *evs[3]
			e.Jejak.ID = ""
			e.Jejak.Provenance.Record = int64(100 + i)
			e.Jejak.Provenance.Offset = int64(1000 + i)
			e.Finalize()
			evs = append(evs, &e)
		}
		if _, err := st.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		return st
	}
	ref := build(t)
	_, base, err := eventsDigest(ctx, ref.DB())
	if err != nil {
		t.Fatal(err)
	}
	var blocks int
	if err := ref.DB().QueryRowContext(ctx, `SELECT count(*) FROM blocks`).Scan(&blocks); err != nil || blocks < 3 {
		t.Fatalf("%d blocks (%v), want at least 3", blocks, err)
	}
	for _, c := range []struct{ name, sql string }{
		{"same store", ``},
		{"view: document edited", `UPDATE events SET doc = replace(doc, '203.0.113.7', '203.0.113.8') WHERE rowid = 2`},
		{"view: row deleted", `DELETE FROM events WHERE rowid = 2`},
		{"row: id", `UPDATE event_rows SET id = randomblob(16) WHERE rowid = 2`},
		{"row: ts", `UPDATE event_rows SET ts = ts + 1 WHERE rowid = 4`},
		{"row: far ts", `UPDATE event_rows SET ts = 0 WHERE rowid = 1`},
		{"row: action", `UPDATE event_rows SET action = 'ssh_logout' WHERE rowid = 2`},
		{"row: source address", `UPDATE event_rows SET source_ip = '203.0.113.9' WHERE rowid = 2`},
		{"row: source address NULL to empty", `UPDATE event_rows SET source_ip = '' WHERE rowid = 3`},
		{"row: parser", `UPDATE event_rows SET parser = 'other' WHERE rowid = 2`},
		{"row: run", `UPDATE event_rows SET run = run + 1 WHERE rowid = 2`},
		{"row: block", `UPDATE event_rows SET blk = blk + 1 WHERE rowid = 2`},
		{"row: slot", `UPDATE event_rows SET slot = slot + 1 WHERE rowid = 2`},
		{"row: deleted from the table", `DELETE FROM event_rows WHERE rowid = 100`},
		{"row: added", `INSERT INTO event_rows(id, ts, action, parser, source_ip, run, blk, slot)
			SELECT randomblob(16), ts, action, parser, source_ip, run, blk, slot FROM event_rows WHERE rowid = 3`},
		{"rows: swapped", `UPDATE event_rows SET slot = CASE slot WHEN 0 THEN 1 WHEN 1 THEN 0 END WHERE blk = 1 AND slot < 2`},
		{"block: bytes", `UPDATE blocks SET z = (SELECT z FROM blocks WHERE id = 2) WHERE id = 1`},
		{"block: number", `UPDATE blocks SET id = 1000 WHERE id = (SELECT max(id) FROM blocks)`},
		{"block: added", `INSERT INTO blocks(z) SELECT z FROM blocks WHERE id = 1`},
		{"block: deleted", `DELETE FROM blocks WHERE id = 2`},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := build(t)
			if c.sql != "" {
				res, err := st.DB().ExecContext(ctx, c.sql)
				if err != nil {
					t.Fatal(err)
				}
				// A view's INSTEAD OF trigger counts no row as changed.
				if n, _ := res.RowsAffected(); n == 0 && !strings.HasPrefix(c.name, "view:") {
					t.Fatal("the statement changed nothing")
				}
			}
			_, got, err := eventsDigest(ctx, st.DB())
			if err != nil {
				t.Fatal(err)
			}
			if c.sql == "" && got != base {
				t.Errorf("two stores written alike: %s and %s", got, base)
			}
			if c.sql != "" && got == base {
				t.Errorf("digest %s unchanged", got)
			}
		})
	}
}
