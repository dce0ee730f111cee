package casework

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// eventsDigestSQL is the store digest as it was computed before
// sqlite.ScanDocs: the view's doc, decompressed by the SQL function
// jejak_doc, row by row. Custody entries of existing cases hold digests
// made this way, so eventsDigest must give the same value.
func eventsDigestSQL(ctx context.Context, t *testing.T, db *sql.DB) (int64, string) {
	t.Helper()
	h := sha256.New()
	rows, err := db.QueryContext(ctx, `SELECT id, run, doc FROM events ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var (
		id, doc []byte
		run     sql.NullInt64
		buf     []byte
		n       int64
	)
	for rows.Next() {
		if err := rows.Scan(&id, &run, &doc); err != nil {
			t.Fatal(err)
		}
		buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(id)))
		buf = append(buf, id...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(run.Int64))
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(doc)))
		h.Write(buf)
		h.Write(doc)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n, hex.EncodeToString(h.Sum(nil))
}

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

// TestEventsDigestSameAsSQL: the digest read with sqlite.ScanDocs equals
// the one read through SQL, on a corpus case (many parsers, so many
// dictionaries and documents without one), far times, an empty store,
// and rows an examiner's SQL changed (a document rewritten through the
// view, which jejak_compress stores without a dictionary; a deleted row).
func TestEventsDigestSameAsSQL(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		store func(t *testing.T) *sqlite.Store
		min   int64 // fewest events the case must have
	}{
		{"corpus", func(t *testing.T) *sqlite.Store {
			st, _ := casetest.Build(t, "logs/linux", "logs/syslog", "logs/web", "logs/db", "logs/loghub")
			// The case must exercise documents compressed against a
			// dictionary, not only the plain frames of small parsers.
			var dicts int
			if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM dicts`).Scan(&dicts); err != nil || dicts == 0 {
				t.Fatalf("corpus case has %d dictionaries (%v), want some", dicts, err)
			}
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
			wantN, want := eventsDigestSQL(ctx, t, st.DB())
			n, got, err := eventsDigest(ctx, st.DB())
			if err != nil {
				t.Fatal(err)
			}
			if n != wantN || got != want {
				t.Errorf("eventsDigest = %d events %s, through SQL %d events %s", n, got, wantN, want)
			}
			if n < c.min {
				t.Errorf("%d events, want at least %d", n, c.min)
			}
			// A read-only pool opened without sqlite.Open, as OpenStoreForAudit
			// opens a write-protected copy.
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

// TestEventsDigestChanges: the digest is not a constant of the store's
// shape: changing one document's bytes changes it.
func TestEventsDigestChanges(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if _, err := st.Write(ctx, farEvents()); err != nil {
		t.Fatal(err)
	}
	_, before, err := eventsDigest(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `UPDATE events SET doc = replace(doc, '203.0.113.7', '203.0.113.8') WHERE rowid = 2`); err != nil {
		t.Fatal(err)
	}
	_, after, err := eventsDigest(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	if before == after {
		t.Errorf("digest %s unchanged after a document was edited", before)
	}
}
