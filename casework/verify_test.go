package casework

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// ntfsImage makes an NTFS volume with ntfs-3g's mkntfs and copies files
// into it with ntfscp (no mount needed): name in the volume to the local
// file.
func ntfsImage(t *testing.T, files map[string]string) string {
	t.Helper()
	ntfscp := oracle.Tool(t, "ntfscp", "ntfs-3g")
	img := filepath.Join(t.TempDir(), "ntfs.img")
	ntfstest.Format(t, img, 16<<20)
	for dst, src := range files {
		oracle.Run(t, ntfscp, "-q", img, src, dst)
	}
	return img
}

// lastIngestStore is the "store" details of the case's last ingest entry,
// with its sequence number.
func lastIngestStore(t *testing.T, c *Case) (map[string]any, int64) {
	t.Helper()
	entries, err := c.Evidence.VerifyCustody()
	if err != nil {
		t.Fatal(err)
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Action == "ingest" {
			store, _ := entries[i].Details["store"].(map[string]any)
			return store, entries[i].Seq
		}
	}
	t.Fatal("no ingest entry")
	return nil, 0
}

// lastIngestDigest is the events digest the case's last ingest entry
// records: its count (as written) and SHA-256.
func lastIngestDigest(t *testing.T, c *Case) (string, string) {
	t.Helper()
	store, seq := lastIngestStore(t, c)
	sum, _ := store["sha256"].(string)
	if sum == "" {
		t.Fatalf("ingest entry %d records no events digest: %v", seq, store)
	}
	return fmt.Sprint(store["events"]), sum
}

// lastIngestTable is the digest of table the case's last ingest entry
// records.
func lastIngestTable(t *testing.T, c *Case, table string) string {
	t.Helper()
	store, seq := lastIngestStore(t, c)
	tables, _ := store["tables"].(map[string]any)
	sum, _ := tables[table].(string)
	if sum == "" {
		t.Fatalf("ingest entry %d records no %s digest: %v", seq, table, store)
	}
	return sum
}

// storeCheck is the timeline store line of verify.
func storeCheck(t *testing.T, c *Case) evidence.Check {
	t.Helper()
	for _, ch := range c.Verify(context.Background(), evidence.AuditOptions{}).Checks {
		if ch.Name == "timeline store" {
			return ch
		}
	}
	t.Fatal("verify has no timeline store check")
	return evidence.Check{}
}

// TestIngestDigestStreamed: the events digest a first ingest records,
// hashed as the rows were written, is the digest read back from the file
// (eventsDigest, what verify recomputes), on real evidence of each kind: a
// syslog, EVTX files, an NTFS volume made by mkntfs holding two logs. A
// second ingest (every event a repeat) and one after more evidence was
// added (some repeats) read the digest back, and agree too; repeats within
// one run, removed at its end, are sqlite's TestDigestStream's (real
// evidence does not make them on purpose). After the runs, a row or a block changed on disk
// fails verify, and the row changed back passes again.
func TestIngestDigestStreamed(t *testing.T) {
	ctx := context.Background()
	auth := parsertest.Corpus(t, "more/linux/auth/elastic_examples_auth.log")
	for _, tc := range []struct {
		name     string
		evidence func(t *testing.T) []string
		streamed bool // the first run's digest came from the stream
		later    string
	}{
		{"syslog", func(t *testing.T) []string { return []string{auth} }, true,
			parsertest.Corpus(t, "more/linux/auth/crowdsec_sshd-logs.log")},
		{"evtx", func(t *testing.T) []string {
			return []string{parsertest.Corpus(t, "agpl/evtx")}
		}, true, ""},
		{"ntfs image", func(t *testing.T) []string {
			return []string{ntfsImage(t, map[string]string{"/auth.log": auth,
				"/secure": parsertest.Corpus(t, "more/linux/auth/crowdsec_sshd-logs.log")})}
		}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Init(ctx, filepath.Join(t.TempDir(), "case"), Options{Examiner: "test", Zone: "UTC", ToolVersion: "test"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for _, p := range tc.evidence(t) {
				if _, err := c.AddEvidence(ctx, p, AddOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			ingest := func(what string, wantStreamed bool) {
				t.Helper()
				// The warnings digest streams wherever the table is empty
				// before the run, even when the events' cannot.
				var before int
				if err := c.Store.DB().QueryRowContext(ctx, `SELECT count(*) FROM warnings`).Scan(&before); err != nil {
					t.Fatal(err)
				}
				res, err := c.Ingest(ctx, IngestOptions{Workers: 2})
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if res.digestStreamed != wantStreamed {
					t.Errorf("%s: digest streamed %v, want %v (%d inserted, %d duplicates)",
						what, res.digestStreamed, wantStreamed, res.Inserted, res.Duplicates)
				}
				n, sum := lastIngestDigest(t, c)
				wantN, want, err := eventsDigest(ctx, c.Store.DB())
				if err != nil {
					t.Fatal(err)
				}
				if sum != want || n != strconv.FormatInt(wantN, 10) {
					t.Errorf("%s: custody entry records %v events, %s; the file has %d events, %s", what, n, sum, wantN, want)
				}
				if wantN == 0 {
					t.Errorf("%s: no events", what)
				}
				if res.warnStreamed != (before == 0) {
					t.Errorf("%s: warnings digest streamed %v with %d warnings stored before", what, res.warnStreamed, before)
				}
				var after int
				if err := c.Store.DB().QueryRowContext(ctx, `SELECT count(*) FROM warnings`).Scan(&after); err != nil {
					t.Fatal(err)
				}
				if got, want := lastIngestTable(t, c, "warnings"), tableDigestScan(t, c.Store.DB(), storeTables["warnings"]); got != want {
					t.Errorf("%s: custody entry records warnings %s; the file's %d warnings hash to %s", what, got, after, want)
				}
				if ch := storeCheck(t, c); ch.Status != evidence.CheckOK {
					t.Errorf("%s: verify: %s %s", what, ch.Status, ch.Detail)
				}
				t.Logf("%s: %d events (%d inserted, %d duplicates), streamed %v; %d warnings, streamed %v", what, wantN, res.Inserted, res.Duplicates, res.digestStreamed, after, res.warnStreamed)
			}
			ingest("first ingest", tc.streamed)
			ingest("re-ingest", false)
			if tc.later != "" {
				if _, err := c.AddEvidence(ctx, tc.later, AddOptions{}); err != nil {
					t.Fatal(err)
				}
				ingest("ingest after evidence was added", false)
			}

			db := c.Store.DB()
			var action any
			if err := db.QueryRowContext(ctx, `SELECT action FROM event_rows WHERE rowid = 2`).Scan(&action); err != nil {
				t.Fatal(err)
			}
			for _, step := range []struct {
				what string
				sql  string
				args []any
				ok   bool
			}{
				{"a row's action changed", `UPDATE event_rows SET action = 'tampered' WHERE rowid = 2`, nil, false},
				{"the row changed back", `UPDATE event_rows SET action = ? WHERE rowid = 2`, []any{action}, true},
				{"a block's bytes changed", `UPDATE blocks SET z = z || x'00' WHERE id = (SELECT max(id) FROM blocks)`, nil, false},
			} {
				if _, err := db.ExecContext(ctx, step.sql, step.args...); err != nil {
					t.Fatal(err)
				}
				ch := storeCheck(t, c)
				if (ch.Status == evidence.CheckOK) != step.ok {
					t.Errorf("%s: verify says %s %s", step.what, ch.Status, ch.Detail)
				}
			}
		})
	}
}

// tableDigestScan is tableDigest as it was written on database/sql's Scan
// into sql.NullString, the reference for the digests custody logs hold.
func tableDigestScan(t *testing.T, db *sql.DB, ts tableSpec) string {
	t.Helper()
	ctx := context.Background()
	h := sha256.New()
	query, err := ts.query(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if query == "" {
		return hex.EncodeToString(h.Sum(nil))
	}
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var buf []byte
		for _, v := range vals {
			if !v.Valid {
				buf = append(buf, 0)
				continue
			}
			buf = append(buf, 1)
			buf = binary.BigEndian.AppendUint64(buf, uint64(len(v.String)))
			buf = append(buf, v.String...)
		}
		h.Write(buf)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestTableDigestAsScanned: the digest of each table a custody entry binds
// beside the events (runs, warnings, hunts, findings) is what hashing the
// values scanned into sql.NullString gave, on a real case (an NTFS volume
// whose system files are skipped with a warning each, a hunt with
// findings, runs with NULL columns), and for every type a driver value can
// have.
func TestTableDigestAsScanned(t *testing.T) {
	ctx := context.Background()
	c, err := Init(ctx, filepath.Join(t.TempDir(), "case"), Options{Examiner: "test", Zone: "UTC", ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	auth := parsertest.Corpus(t, "more/linux/auth/elastic_examples_auth.log")
	for _, p := range []string{auth, ntfsImage(t, map[string]string{"/auth.log": auth})} {
		if _, err := c.AddEvidence(ctx, p, AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Ingest(ctx, IngestOptions{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Hunt(ctx, HuntOptions{}); err != nil {
		t.Fatal(err)
	}
	db := c.Store.DB()
	for name, ts := range storeTables {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+ts.table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s: no rows to compare", name)
		}
		got, err := tableDigest(ctx, db, ts)
		if err != nil {
			t.Fatal(err)
		}
		if want := tableDigestScan(t, db, ts); got != want {
			t.Errorf("%s (%d rows): digest %s, scanned %s", name, n, got, want)
		}
	}

	for _, v := range []driver.Value{nil, "", "text", []byte{}, []byte("blob\x00"), int64(0), int64(-42), 1.5, math.Copysign(0, -1), 1e300,
		true, time.Date(2024, 2, 14, 12, 0, 0, 5, time.UTC)} {
		var ns sql.NullString
		if err := ns.Scan(v); err != nil {
			t.Fatal(err)
		}
		want := []byte{0}
		if ns.Valid {
			want = binary.BigEndian.AppendUint64([]byte{1}, uint64(len(ns.String)))
			want = append(want, ns.String...)
		}
		got, err := appendTableValue(nil, v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%T %v: %q (%v), scanned %q", v, v, got, err, want)
		}
	}
}
