package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaAlteredRefused: a case.db whose events view leaves rows out,
// whose delete trigger does nothing, or that gained a trigger, is refused by
// Open (and by CheckSchema, which a digest of a read-only copy uses),
// naming what differs; an untouched store opens.
func TestSchemaAlteredRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"view redefined", `DROP VIEW events; CREATE VIEW events AS SELECT rowid AS rowid, id, ts, action, parser, source_ip, run, z,
	jejak_doc(z, id) AS doc, json_extract(jejak_doc(z, id), '$.user.name') AS user_name FROM event_rows WHERE source_ip IS NOT '203.0.113.7'`, "view events is not the one jejak creates"},
		{"trigger redefined", `DROP TRIGGER events_delete; CREATE TRIGGER events_delete INSTEAD OF DELETE ON events BEGIN SELECT 1; END`, "trigger events_delete is not the one jejak creates"},
		{"trigger added", `CREATE TRIGGER hide AFTER INSERT ON event_rows BEGIN DELETE FROM event_rows WHERE rowid = NEW.rowid AND source_ip = '203.0.113.7'; END`, "trigger hide was added"},
		{"untouched", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "case.db")
			s, err := Open(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.sql != "" {
				db, err := sql.Open("sqlite", URI(p, ""))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, tc.sql); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			s, err = Open(ctx, p)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("untouched store refused: %v", err)
				}
				s.Close()
				return
			}
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("Open = %v, want a SchemaError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name %q and the file", err, tc.want)
			}
			db, err := sql.Open("sqlite", URI(p, "mode=ro"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := CheckSchema(ctx, db, p); !errors.As(err, &se) {
				t.Errorf("CheckSchema = %v, want a SchemaError", err)
			}
		})
	}
}
