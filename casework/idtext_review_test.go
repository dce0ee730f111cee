package casework

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// TestReviewTextIDStoreDigest: the events digest of a store whose IDs
// (written for format 6's TEXT IDs, kept for format 5's BLOBs) hold NULs and bytes >= 0x80 at the first,
// middle and last places is the same streamed as the run writes, read back
// through the store, and read from a read-only immutable copy (the path
// verify takes on write-protected media); a byte changed after a NUL of
// one ID changes it.
func TestReviewTextIDStoreDigest(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	stream := streamEvents(s)
	var evs []*timeline.Event
	var ids [][]byte
	seen := map[string]bool{}
	for _, p := range []int{0, 7, 8, 15} {
		for _, v := range []byte{0x00, 0x80, 0xc3, 0xff} {
			for _, fill := range []byte{0x00, 0xa9} {
				id := bytes.Repeat([]byte{fill}, 16)
				id[p] = v
				if seen[string(id)] {
					continue
				}
				seen[string(id)] = true
				e := &timeline.Event{
					Timestamp: time.Date(2024, 2, 14, 12, 0, len(evs), 0, time.UTC), TimestampDesc: "Last Written Time",
					Message: fmt.Sprintf("event %d", len(evs)),
					Jejak: timeline.Jejak{Provenance: timeline.Provenance{
						EvidenceSHA256: "ee", EvidenceName: "auth.log", Path: "auth.log", Offset: int64(len(evs)), Parser: "syslog",
					}},
				}
				e.Finalize()
				e.Jejak.ID = hex.EncodeToString(id)
				evs = append(evs, e)
				ids = append(ids, id)
			}
		}
	}
	if st, err := s.Write(ctx, evs); err != nil || st.Inserted != len(evs) {
		t.Fatalf("Write: %+v, %v", st, err)
	}
	if _, err := s.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	n, streamed, err := stream.digest(ctx, s)
	if err != nil || !stream.streamed || n != int64(len(evs)) {
		t.Fatalf("streamed digest: %d events, %v (streamed %v)", n, err, stream.streamed)
	}
	d, err := StoreDigest(ctx, s.DB(), "events")
	if err != nil || d.SHA256 != streamed || d.Events != n {
		t.Fatalf("read-back digest %+v, %v; streamed %s", d, err, streamed)
	}
	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := sql.Open("sqlite", sqlite.URI(path, "mode=ro&immutable=1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.CheckSchema(ctx, ro, path); err != nil {
		t.Fatal(err)
	}
	d2, err := StoreDigest(ctx, ro, "events")
	ro.Close()
	if err != nil || d2.SHA256 != streamed {
		t.Fatalf("immutable copy's digest %+v, %v; want %s", d2, err, streamed)
	}
	rw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	changed := bytes.Clone(ids[0]) // a NUL first
	changed[15] ^= 0x01
	if _, err := rw.ExecContext(ctx, `UPDATE event_rows SET id = ? WHERE id = ?`, changed, ids[0]); err != nil {
		t.Fatal(err)
	}
	d3, err := StoreDigest(ctx, rw, "events")
	if err != nil || d3.SHA256 == streamed {
		t.Errorf("digest after changing an ID's last byte: %+v, %v; the recorded one was %s", d3, err, streamed)
	}
}

// TestReviewAuditOlderFormat: an audit of a case.db of an older store
// format that Open does not convert (6; 5 and 7 it converts, and reads
// as they are on a read-only copy) is refused as Open refuses it — the format named, what to do
// — also on a write-protected copy, which is opened read-only without
// Open: its views are the older format's, and the schema check called the store
// "altered" ("restore case.db from a copy whose custody digest
// verifies"), a false report of tampering. Checked by hand on a
// read-only bind mount too (jejak verify).
func TestReviewAuditOlderFormat(t *testing.T) {
	ctx := context.Background()
	older := 6
	fixture, err := os.ReadFile(filepath.Join("..", "timeline", "store", "sqlite", "testdata", fmt.Sprintf("format%d-case.db", older)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "case.db")
	if err := os.WriteFile(path, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	var ve *sqlite.VersionError
	_, _, err = openStoreForAudit(ctx, path, func() bool { return true })
	if !errors.As(err, &ve) || ve.Found != older {
		t.Errorf("audit of a format %d store: %v, want its VersionError", older, err)
	}
	// The read-only path itself (Open failing otherwise, as on
	// write-protected media).
	ro, err := sql.Open("sqlite", sqlite.URI(path, "mode=ro&immutable=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = sqlite.CheckFormat(ctx, ro, path)
	if !errors.As(err, &ve) || ve.Found != older || !strings.Contains(err.Error(), "analyze the evidence again") {
		t.Errorf("read-only format %d store: %v, want its VersionError", older, err)
	}
	// A store of this format, and an older one without events, pass to
	// the schema check as before.
	cur := filepath.Join(t.TempDir(), "case.db")
	s, err := sqlite.Open(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	empty := filepath.Join(t.TempDir(), "case.db")
	if err := os.WriteFile(empty, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	rw, err := sql.Open("sqlite", empty)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Exec(`DELETE FROM event_rows`); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	for _, p := range []string{cur, empty} {
		db, err := sql.Open("sqlite", sqlite.URI(p, "mode=ro&immutable=1"))
		if err != nil {
			t.Fatal(err)
		}
		if err := sqlite.CheckFormat(ctx, db, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		db.Close()
	}
	// A newer format is refused by name too.
	newer := filepath.Join(t.TempDir(), "case.db")
	s, err = sqlite.Open(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(fmt.Sprintf(`PRAGMA user_version=%d`, sqlite.FormatVersion+1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", sqlite.URI(newer, "mode=ro&immutable=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlite.CheckFormat(ctx, db, newer); !errors.As(err, &ve) || !strings.Contains(err.Error(), "written by a newer jejak") {
		t.Errorf("newer store: %v", err)
	}
}
