package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// ScanDocs calls fn with every event's ID, run and document (the JSON the
// view events gives as doc), in storage order (rowid). It reads the rows
// of event_rows and their blocks and decompresses them in Go, not through
// the SQL function jejak_doc: the documents are byte for byte those of
// the view.
//
// db is any connection pool to a case.db, also one opened read-only
// without Open (a write-protected copy). A store without event_rows (a
// format before 4, read-only) is read through its table events; one of
// format 4 (compressed against dictionaries this jejak no longer reads)
// is refused.
//
// id and doc are valid only during the call; fn keeps a copy if it needs one.
func ScanDocs(ctx context.Context, db *sql.DB, fn func(id []byte, run int64, doc []byte) error) error {
	layout, err := storeLayout(ctx, db)
	if err != nil {
		return fmt.Errorf("scan documents: %w", err)
	}
	switch layout {
	case layoutPlain:
		return scanDocsSQL(ctx, db, fn)
	case layoutNone:
		return nil
	}
	if err := scanBlocks(ctx, db, nil, `SELECT id, blk, slot, run FROM event_rows ORDER BY rowid`, nil, fn); err != nil {
		return fmt.Errorf("scan documents: %w", err)
	}
	return nil
}

const (
	layoutNone   = iota // no events table at all
	layoutPlain         // formats 0–3: documents as text in the table events
	layoutBlocks        // format 5
)

// storeLayout tells how db keeps its events; format 4 is an error.
func storeLayout(ctx context.Context, db *sql.DB) (int, error) {
	has := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name IN ('event_rows', 'blocks', 'events')`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return 0, err
		}
		has[n] = true
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	switch {
	case has["event_rows"] && has["blocks"]:
		return layoutBlocks, nil
	case has["event_rows"]:
		var v int
		if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("case store format %d (documents compressed one by one against dictionaries): this jejak reads format %d only", v, FormatVersion)
	case has["events"]:
		return layoutPlain, nil
	}
	return layoutNone, nil
}

// Digest writes the events as stored to w, for a custody digest: every
// row of event_rows in storage order (rowid), then every block in block
// order, each field length-prefixed so that no two different stores
// write the same bytes by shifting bytes between fields. It reads the
// stored bytes only (no document is decompressed), and returns how many
// events there are. A row or block changed, added or removed, a row
// moved, changes what is written.
//
// A store of a format before 4 writes its documents as text (ScanDocs);
// one of format 4 is refused. db as for ScanDocs.
func Digest(ctx context.Context, db *sql.DB, w io.Writer) (int64, error) {
	layout, err := storeLayout(ctx, db)
	if err != nil {
		return 0, fmt.Errorf("store digest: %w", err)
	}
	var n int64
	switch layout {
	case layoutNone:
		return 0, nil
	case layoutPlain:
		var buf []byte
		err := scanDocsSQL(ctx, db, func(id []byte, run int64, doc []byte) error {
			buf = appendField(buf[:0], id)
			buf = binary.BigEndian.AppendUint64(buf, uint64(run))
			buf = appendField(buf, doc)
			n++
			_, err := w.Write(buf)
			return err
		})
		return n, err
	}
	// Each value as SQLite stores it: NULL, integer, real, text or blob,
	// tagged, so that a column changed from one type to another shows.
	// w (a hash) is written from another goroutine, beside the reads.
	aw := newAsyncWriter(w)
	n, err = digestTable(ctx, db, aw, digestRowsQuery)
	if err != nil {
		err = fmt.Errorf("store digest of event_rows: %w", err)
	} else {
		aw.Write([]byte(digestBlocksMark))
		if _, err = digestTable(ctx, db, aw, digestBlocksQuery); err != nil {
			err = fmt.Errorf("store digest of blocks: %w", err)
		}
	}
	if cerr := aw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	return n, nil
}

// What Digest reads: the rows (their columns in the order Write binds
// them, which rowDigest relies on), a mark between the tables so that rows
// cannot pass for blocks, then the blocks.
const (
	digestRowsQuery   = `SELECT id, ts, action, parser, source_ip, run, blk, slot FROM event_rows ORDER BY rowid`
	digestBlocksMark  = "\x00blocks\x00"
	digestBlocksQuery = `SELECT id, z FROM blocks ORDER BY id`
)

func appendField(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(b)))
	return append(dst, b...)
}

// digestTable writes every value of every row of query to w, each tagged
// with its type (1 NULL, 2 integer, 3 real, 4 text, 5 blob) and
// length-prefixed, and returns the number of rows.
func digestTable(ctx context.Context, db *sql.DB, w io.Writer, query string) (int64, error) {
	var n int64
	var buf []byte
	err := ForEachRow(ctx, db, query, func(vals []driver.Value) error {
		buf = buf[:0]
		var err error
		for _, v := range vals {
			if buf, err = appendValue(buf, v); err != nil {
				return err
			}
		}
		n++
		_, err = w.Write(buf)
		return err
	})
	return n, err
}

// ForEachRow calls fn with the values of each row of query, as the
// driver reads them (int64, float64, string, []byte or nil), through the
// driver's own rows (sql.Conn.Raw): database/sql's conversion of each
// value into an any costs more than a digest's hashing of it. vals is
// reused from row to row.
func ForEachRow(ctx context.Context, db *sql.DB, query string, fn func(vals []driver.Value) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("sqlite driver connection %T cannot query", dc)
		}
		rows, err := qc.QueryContext(ctx, query, nil)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([]driver.Value, len(rows.Columns()))
		for {
			if err := rows.Next(vals); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if err := fn(vals); err != nil {
				return err
			}
		}
	})
}

// appendValue appends a value as digestTable writes it: tagged with its
// type (1 NULL, 2 integer, 3 real, 4 text, 5 blob), then its 8 bytes or its
// length-prefixed bytes. v is as the driver reads it back, or as Write
// binds it (rowDigest): the same types.
func appendValue(buf []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		buf = append(buf, 1)
	case int64:
		buf = binary.BigEndian.AppendUint64(append(buf, 2), uint64(x))
	case float64:
		buf = binary.BigEndian.AppendUint64(append(buf, 3), math.Float64bits(x))
	case string:
		buf = binary.BigEndian.AppendUint64(append(buf, 4), uint64(len(x)))
		buf = append(buf, x...)
	case []byte:
		buf = appendField(append(buf, 5), x)
	default:
		return buf, fmt.Errorf("a stored value of type %T", v)
	}
	return buf, nil
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
