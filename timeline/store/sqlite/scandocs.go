package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// ScanDocs calls fn with every event's ID, run and document (the JSON the
// view events gives as doc), in storage order (rowid). It reads the
// compressed rows of event_rows and decompresses them in Go with the
// store's own codec, not through the SQL function jejak_doc: going through
// SQL cost a store digest of 500k events 2.4 CPU-s more (each document was
// copied into a SQLite value, converted to a Go string and back). The
// documents are byte for byte those of the view, so a digest over them
// equals one made through SQL.
//
// db is any connection pool to a case.db, also one opened read-only
// without Open (a write-protected copy): the store's dictionaries are read
// here. A store without event_rows (a format before 4 that could not be
// upgraded, read-only) is read through its table events.
//
// id and doc are valid only during the call; fn keeps a copy if it needs one.
func ScanDocs(ctx context.Context, db *sql.DB, fn func(id []byte, run int64, doc []byte) error) error {
	var n int
	if err := db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('event_rows', 'dicts')`).Scan(&n); err != nil {
		return fmt.Errorf("scan documents: %w", err)
	}
	if n < 2 {
		return scanDocsSQL(ctx, db, fn)
	}
	if err := registerStoredDicts(ctx, db); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT id, run, z FROM event_rows ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("scan documents: %w", err)
	}
	defer rows.Close()
	var (
		id, z   sql.RawBytes
		run     int64
		doc     []byte
		scratch []byte
	)
	for rows.Next() {
		if err := rows.Scan(&id, &run, &z); err != nil {
			return fmt.Errorf("scan documents: %w", err)
		}
		doc, err = decompress(doc[:0], z, id, &scratch)
		if err != nil {
			return fmt.Errorf("scan documents: event %x: %w", []byte(id), err)
		}
		if err := fn(id, run, doc); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan documents: %w", err)
	}
	return nil
}

// registerStoredDicts adds the store's dictionaries to the process's
// decoder. Store.loadDicts does it for an opened Store; ScanDocs has only
// the connection pool, and needs the dictionaries for reading only.
func registerStoredDicts(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT id, content FROM dicts ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("read document dictionaries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var content []byte
		if err := rows.Scan(&id, &content); err != nil {
			return fmt.Errorf("read document dictionaries: %w", err)
		}
		if err := registerDict(uint32(id), content); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read document dictionaries: %w", err)
	}
	return nil
}

// scanDocsSQL is ScanDocs on a store whose events is a table of plain
// documents.
func scanDocsSQL(ctx context.Context, db *sql.DB, fn func(id []byte, run int64, doc []byte) error) error {
	rows, err := db.QueryContext(ctx, `SELECT id, run, doc FROM events ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("scan documents: %w", err)
	}
	defer rows.Close()
	var (
		id, doc sql.RawBytes
		run     sql.NullInt64
	)
	for rows.Next() {
		if err := rows.Scan(&id, &run, &doc); err != nil {
			return fmt.Errorf("scan documents: %w", err)
		}
		if err := fn(id, run.Int64, doc); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan documents: %w", err)
	}
	return nil
}
