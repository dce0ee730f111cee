package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
)

// The events view is what jejak reads through (KQL queries, the timeline
// view, the view's DELETE and UPDATE triggers), and the custody digest is
// taken over event_rows. A view or trigger changed in case.db — "events"
// redefined to leave some rows out, a trigger added on event_rows — would
// change what jejak shows without changing a digested row. So the views
// and triggers must be exactly the ones this package creates; anything
// else is refused by name (SchemaError), on Open and before a digest.

// SchemaError is a case store whose views or triggers are not the ones
// jejak creates.
type SchemaError struct {
	Path     string
	Problems []string
}

func (e *SchemaError) Error() string {
	return fmt.Sprintf("case store %s has been altered: %s; jejak reads the timeline through these, so the store is not used (restore case.db from a copy whose custody digest verifies)",
		e.Path, strings.Join(e.Problems, "; "))
}

var (
	wantCodeOnce sync.Once
	wantCode     map[string]string
	wantCodeErr  error
)

// expectedCode is the text SQLite records for each view and trigger of
// the schema (it drops "IF NOT EXISTS"), read from a database made in
// memory with the same statements, so the two cannot drift apart.
func expectedCode(ctx context.Context) (map[string]string, error) {
	wantCodeOnce.Do(func() {
		db, err := sql.Open("sqlite", "file:jejak-schema-check?mode=memory")
		if err != nil {
			wantCodeErr = err
			return
		}
		defer db.Close()
		db.SetMaxOpenConns(1)
		if _, err := db.ExecContext(ctx, schema); err != nil {
			wantCodeErr = err
			return
		}
		wantCode, wantCodeErr = storedCode(ctx, db)
	})
	return wantCode, wantCodeErr
}

// warnViewCode names the view and triggers of format 8's warnings, as
// storedCode keys them.
var warnViewCode = []string{"view warnings", "trigger warnings_insert", "trigger warnings_delete", "trigger warnings_update"}

// userVersion is the store's format version (PRAGMA user_version).
func userVersion(ctx context.Context, q querier) (int, error) {
	rows, err := q.QueryContext(ctx, `PRAGMA user_version`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	v := 0
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
	}
	return v, rows.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func storedCode(ctx context.Context, q querier) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT type, name, coalesce(sql, '') FROM sqlite_master WHERE type IN ('view', 'trigger')`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var typ, name, code string
		if err := rows.Scan(&typ, &name, &code); err != nil {
			return nil, err
		}
		out[typ+" "+name] = code
	}
	return out, rows.Err()
}

// CheckSchema refuses a store whose views or triggers differ from the
// ones this package creates: one changed, one missing, or one added.
func CheckSchema(ctx context.Context, db *sql.DB, path string) error {
	return checkSchema(ctx, db, path)
}

func checkSchema(ctx context.Context, q querier, path string) error {
	want, err := expectedCode(ctx)
	if err != nil {
		return fmt.Errorf("schema check: %w", err)
	}
	got, err := storedCode(ctx, q)
	if err != nil {
		return fmt.Errorf("schema check of %s: %w", path, err)
	}
	// A store of format 5 or 7 read as it is (a read-only copy: Open
	// converts one) keeps its warnings in a table, without the view
	// warnings and its triggers.
	if v, err := userVersion(ctx, q); err != nil {
		return fmt.Errorf("schema check of %s: %w", path, err)
	} else if v == format5 || v == format7 {
		want = maps.Clone(want)
		for _, k := range warnViewCode {
			delete(want, k)
		}
	}
	var problems []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			problems = append(problems, k+" is missing")
		case g != w:
			problems = append(problems, k+" is not the one jejak creates")
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			problems = append(problems, k+" was added")
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return &SchemaError{Path: path, Problems: problems}
}
