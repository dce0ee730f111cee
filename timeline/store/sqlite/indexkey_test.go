package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
)

func indexSQL(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var code string
	if err := db.QueryRow(`SELECT coalesce(sql, '') FROM sqlite_master WHERE type='index' AND name=?`, name).Scan(&code); err != nil {
		t.Fatalf("index %s: %v", name, err)
	}
	return code
}

// TestIDIndexKeyedAsText: events_id holds the ID as TEXT, after a bulk run
// as after writes into a store that has it; a jejak.id query reads it and
// finds the one event; repeats are ignored against it as before.
func TestIDIndexKeyedAsText(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	evs := events(2000, "aa")
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishWrites(ctx); err != nil {
		t.Fatal(err)
	}
	if code := indexSQL(t, s.DB(), "events_id"); !strings.Contains(code, IDKey) || !strings.Contains(code, "UNIQUE") {
		t.Fatalf("events_id is %q, want a UNIQUE index on %s", code, IDKey)
	}
	// Repeats are ignored against it.
	st, err := s.Write(ctx, evs[:10])
	if err != nil || st.Inserted != 0 || st.Duplicates != 10 {
		t.Fatalf("repeated write = %+v, %v; want 10 duplicates", st, err)
	}

	// IDs equal up to a NUL byte are different keys: TEXT compares every
	// byte of its length, as BLOB does.
	if _, err := s.DB().Exec(`INSERT INTO event_rows(id, ts, run, blk, slot) VALUES
		(x'61000000000000000000000000000001', 1, 1, 0, 0), (x'61000000000000000000000000000002', 1, 1, 0, 0)`); err != nil {
		t.Errorf("two IDs that differ after a NUL byte: %v", err)
	}
	if _, err := s.DB().Exec(`INSERT INTO event_rows(id, ts, run, blk, slot) VALUES (x'61000000000000000000000000000001', 2, 1, 0, 0)`); err == nil {
		t.Errorf("a repeated ID with a NUL byte was inserted")
	}
	if _, err := s.DB().Exec(`DELETE FROM event_rows WHERE blk = 0`); err != nil {
		t.Fatal(err)
	}

	want := evs[1234]
	f, err := query.New("jejak.id:"+want.Jejak.ID, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := s.Query(ctx, f, timeline.Query{}, func(e *timeline.Event) error {
		got = append(got, e.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != want.Jejak.ID {
		t.Fatalf("jejak.id query found %v, want [%s]", got, want.Jejak.ID)
	}

	id, _ := hex.DecodeString(want.Jejak.ID)
	rows, err := s.DB().Query(`EXPLAIN QUERY PLAN SELECT id, blk, slot FROM events WHERE `+IDKey+` = CAST(? AS TEXT)`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var a, b, c int
		var detail string
		if err := rows.Scan(&a, &b, &c, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX events_id") {
		t.Errorf("lookup by ID plans %q, want events_id", p)
	}
}

// TestFormat5Converted: a store of format 5 (events_id keyed on the BLOB)
// is read as it is by CheckFormat, and Open makes it FormatVersion, building
// events_id again over the same rows.
func TestFormat5Converted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "case.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	evs := events(500, "aa")
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`DROP INDEX events_id; CREATE UNIQUE INDEX events_id ON event_rows(id); PRAGMA user_version=5`); err != nil {
		t.Fatal(err)
	}
	s.Close()

	db, err := sql.Open("sqlite", URI(path, "mode=ro"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFormat(ctx, db, path); err != nil {
		t.Errorf("CheckFormat of format 5: %v", err)
	}
	db.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of format 5: %v", err)
	}
	defer s.Close()
	if v := pragma(t, s.DB(), "user_version"); v != fmt.Sprint(FormatVersion) {
		t.Errorf("user_version %s after Open, want %d", v, FormatVersion)
	}
	if code := indexSQL(t, s.DB(), "events_id"); !strings.Contains(code, IDKey) {
		t.Errorf("events_id after Open is %q, want it on %s", code, IDKey)
	}
	if n, err := s.Count(ctx, timeline.Query{}); err != nil || n != 500 {
		t.Errorf("Count = %d, %v; want 500", n, err)
	}
	st, err := s.Write(ctx, evs[:20])
	if err != nil || st.Inserted != 0 || st.Duplicates != 20 {
		t.Errorf("write of stored events after the conversion = %+v, %v; want 20 duplicates", st, err)
	}
}
