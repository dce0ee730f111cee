package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestFormat7Migrated: testdata/format7-case.db is the store of a case
// made by jejak at b9d6353 ('jejak analyze' of a folder of five files no
// parser takes, one with quotes, <&> and é in its name, and a syslog;
// then journal_mode DELETE, page_size 1024 and VACUUM with the sqlite3
// tool, rowids unchanged). Read-only it is read as it is (CheckFormat,
// CheckSchema); Open makes it format 8, the view warnings giving every
// warning back with its rowid and values, the events untouched; a new
// run then stores its warnings after them.
func TestFormat7Migrated(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile(filepath.Join("testdata", "format7-case.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "case.db")
	if err := os.WriteFile(path, fixture, 0o644); err != nil {
		t.Fatal(err)
	}
	ro, err := sql.Open("sqlite", URI(path, "mode=ro"))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckFormat(ctx, ro, path); err != nil {
		t.Errorf("CheckFormat of format 7: %v", err)
	}
	if err := CheckSchema(ctx, ro, path); err != nil {
		t.Errorf("CheckSchema of format 7: %v", err)
	}
	before := storedWarnings(t, ro)
	ro.Close()
	if len(before) != 6 {
		t.Fatalf("the fixture holds %d warnings, want 6", len(before))
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of format 7: %v", err)
	}
	defer s.Close()
	if v := pragma(t, s.DB(), "user_version"); v != fmt.Sprint(FormatVersion) {
		t.Errorf("user_version %s after Open, want %d", v, FormatVersion)
	}
	if after := storedWarnings(t, s.DB()); !reflect.DeepEqual(after, before) {
		t.Errorf("warnings after Open:\n%q\nbefore:\n%q", after, before)
	}
	if n, err := s.Count(ctx, timeline.Query{}); err != nil || n != 9 {
		t.Errorf("Count = %d, %v; want 9", n, err)
	}
	var got []timeline.Warning
	if err := s.Warnings(ctx, false, func(w timeline.Warning) error { got = append(got, w); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[1].Path != `d ir/we"ird<&>é.txt` || got[5].Chain != nil || got[5].Kind != timeline.WarnZoneAssumed {
		t.Errorf("Warnings read back %+v", got)
	}
	if _, err := s.BeginRun(ctx, time.Unix(2, 0), "test"); err != nil {
		t.Fatal(err)
	}
	ws := warningsOf(3)
	if err := s.AddWarnings(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if after := storedWarnings(t, s.DB()); len(after) != 9 || !reflect.DeepEqual(after[:6], before) {
		t.Errorf("warnings after a new run's: %q", after)
	}
}

// TestWarningsCompact: an image's skipped files are stored a path per row,
// chain and message given by their shape, and read back as stored.
func TestWarningsCompact(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
		t.Fatal(err)
	}
	ws := make([]timeline.Warning, 1000)
	for i := range ws {
		p := fmt.Sprintf("dir%04d/file%07d.txt", i/100, i)
		ws[i] = timeline.Warning{Kind: timeline.WarnSkipped, Evidence: "2f1e5db6c8d89aff4f5b7ad7998ecf6515c1915a5b2707dce1c159227b24f2eb",
			Chain: []string{"raw:", "ntfs:" + p}, Path: p, Offset: -1,
			Message: "no parser recognises the content: text in no known log format (tried 37 formats; none accepted any of 1 sampled lines)"}
	}
	ws[500].Message = "empty file: 0 bytes, nothing to parse"
	if err := s.AddWarnings(ctx, ws); err != nil {
		t.Fatal(err)
	}
	var own, shapes int
	if err := s.DB().QueryRow(`SELECT count(*) FROM warn_rows WHERE chain IS NOT NULL OR message IS NOT NULL`).Scan(&own); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().QueryRow(`SELECT count(*) FROM warn_shapes`).Scan(&shapes); err != nil {
		t.Fatal(err)
	}
	// The one empty file's message is its own.
	if own != 1 || shapes != 2 {
		t.Errorf("%d rows hold their chain or message, %d shapes; want 1 and 2", own, shapes)
	}
	var back []timeline.Warning
	if err := s.Warnings(ctx, false, func(w timeline.Warning) error { back = append(back, w); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ws) {
		t.Error("warnings read back differ from those stored")
	}
}
