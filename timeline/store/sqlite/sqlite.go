// Package sqlite is the embedded case store: one SQLite file in the case
// folder, written through the pure-Go modernc driver so the binary
// cross-compiles without cgo.
//
// An examiner can open case.db with the sqlite3 tool: events.doc holds each
// event's ECS JSON as text (json_extract works on it), and the view
// "timeline" lays out the fields one usually wants as columns, e.g.
//
//	SELECT timestamp, parser, message FROM timeline
//	WHERE ts >= unixepoch('2024-02-14') * 1000000000 ORDER BY ts, id;
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// indexes serve time-range and field queries. A first ingest into an empty
// store drops them and builds them once at the end (FinishRun): sorting a
// finished table is far cheaper than keeping four B-trees in order row by
// row. A store opened after a crash mid-ingest gets them back in Open.
const indexes = `
CREATE INDEX IF NOT EXISTS events_ts ON events(ts, id);
CREATE INDEX IF NOT EXISTS events_action ON events(action, ts) WHERE action IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_user ON events(user_name, ts) WHERE user_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_source_ip ON events(source_ip, ts) WHERE source_ip IS NOT NULL;
`

const dropIndexes = `
DROP INDEX IF EXISTS events_ts;
DROP INDEX IF EXISTS events_action;
DROP INDEX IF EXISTS events_user;
DROP INDEX IF EXISTS events_source_ip;
`

// schemaVersion is stored in PRAGMA user_version. Version 0 stores (the
// first drafts) also kept parser, evidence, outcome and host_name as
// columns, which no query used; Open drops them (see migrate).
const schemaVersion = 2

// Rows are appended in rowid order (cheap: only the last pages change) and
// de-duplicated by a unique index on the 16-byte event ID. Event IDs share a
// per-file prefix (see timeline.ComputeID), so that index also grows locally
// while a file is ingested. Beside the document, a row holds only what the
// indexes need: every stored byte is written once more by the index builds
// and, in WAL mode, twice to disk. The document is the ECS JSON as text,
// verbatim; the timeline view reads other fields out of it.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	id BLOB NOT NULL UNIQUE,
	ts INTEGER NOT NULL,
	action TEXT,
	user_name TEXT,
	source_ip TEXT,
	run INTEGER NOT NULL,
	doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
	id INTEGER PRIMARY KEY,
	started TEXT NOT NULL,
	finished TEXT,
	tool_version TEXT NOT NULL,
	summary TEXT
);
CREATE TABLE IF NOT EXISTS warnings (
	run INTEGER NOT NULL,
	kind TEXT NOT NULL,
	evidence TEXT NOT NULL,
	chain TEXT NOT NULL,
	path TEXT NOT NULL,
	parser TEXT NOT NULL,
	offset INTEGER NOT NULL,
	record INTEGER NOT NULL,
	message TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS timeline AS SELECT
	json_extract(doc, '$."@timestamp"') AS timestamp,
	json_extract(doc, '$.timestamp_desc') AS timestamp_desc,
	json_extract(doc, '$.message') AS message,
	action,
	json_extract(doc, '$.event.outcome') AS outcome,
	user_name,
	source_ip,
	json_extract(doc, '$.host.name') AS host_name,
	json_extract(doc, '$.jejak.provenance.parser') AS parser,
	json_extract(doc, '$.jejak.provenance.evidence_sha256') AS evidence,
	json_extract(doc, '$.jejak.provenance.path') AS path,
	lower(hex(id)) AS id,
	ts,
	run,
	doc
FROM events;
`

// Store is the SQLite case store. Writes must come from one goroutine; reads
// may run concurrently with them.
type Store struct {
	db *sql.DB
	// w is the connection every event write goes through: the pragmas of a
	// bulk run (the journal mode) belongs to one connection, and so
	// do the prepared inserts.
	w   *sql.Conn
	run int64

	mu     sync.Mutex
	bulk   bool            // this run fills an empty store; see BeginRun
	ins    map[int]rawStmt // multi-row inserts by row count, prepared on w
	chunks sync.Pool       // *chunk, recycled between batches
}

var _ timeline.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path.
func Open(ctx context.Context, path string) (*Store, error) {
	// page_size only takes effect before the file is first written, so it
	// comes first; large pages mean fewer writes for the same rows. The
	// journal mode is no DSN pragma: WAL is a property of the file, set
	// once below, and a connection opened during a bulk run must not switch
	// it back in the middle.
	dsn := "file:" + path + "?_pragma=page_size(16384)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(8192)&_pragma=cache_size(-32768)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.open(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.w, err = s.db.Conn(ctx); err != nil {
		return err
	}
	// Another process's bulk run may hold the file in rollback mode; it
	// switches back itself, so a busy database is no error here.
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode); err != nil && !isBusy(err) {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, schema+indexes); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	return nil
}

// migrate brings a store written by an older jejak to schemaVersion.
func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.w.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return err
	}
	if v >= schemaVersion {
		return nil
	}
	var cols []string
	rows, err := s.w.QueryContext(ctx, `SELECT name FROM pragma_table_info('events')`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	stmts := []string{}
	for _, c := range []string{"parser", "evidence", "outcome", "host_name"} {
		if contains(cols, c) {
			stmts = append(stmts, `ALTER TABLE events DROP COLUMN `+c)
		}
	}
	stmts = append(stmts, fmt.Sprintf(`PRAGMA user_version=%d`, schemaVersion))
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("migrate schema (%s): %w", q, err)
		}
	}
	return tx.Commit()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// isBusy reports whether err is SQLite's "database is locked" (with any
// extended code).
func isBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// DB exposes the handle for case-level tables (runs, warnings) and tests.
func (s *Store) DB() *sql.DB { return s.db }

// BeginRun records the start of an ingest run; events written afterwards
// carry its number.
//
// A run into an empty store is a bulk run, written for speed until
// FinishRun:
//   - without secondary indexes, which FinishRun builds in one sort each;
//   - with a rollback journal instead of WAL. New rows go to new pages at
//     the end of the file, which a rollback journal need not copy, so each
//     page is written once; WAL writes every page twice (log, then
//     checkpoint). A crash still rolls back only the batch in flight.
//
// synchronous stays NORMAL: turning it OFF as well saved no measurable time
// and would let a power loss damage the file.
//
// If another connection has the file open (a reader in another process),
// the run keeps WAL mode: slower, equally correct.
func (s *Store) BeginRun(ctx context.Context, started time.Time, version string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.w.ExecContext(ctx, `INSERT INTO runs(started, tool_version) VALUES(?, ?)`,
		started.UTC().Format(time.RFC3339Nano), version)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	s.run, err = res.LastInsertId()
	if err != nil {
		return 0, err
	}
	var empty bool
	if err := s.w.QueryRowContext(ctx, `SELECT NOT EXISTS(SELECT 1 FROM events)`).Scan(&empty); err != nil {
		return 0, err
	}
	if !empty {
		return s.run, nil
	}
	if _, err := s.w.ExecContext(ctx, dropIndexes); err != nil {
		return 0, fmt.Errorf("defer indexes: %w", err)
	}
	s.bulk = true
	// Idle pooled connections keep the WAL open, which would refuse the
	// switch: let them go.
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(2)
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode=TRUNCATE`).Scan(&mode); err != nil && !isBusy(err) {
		return 0, fmt.Errorf("bulk journal mode: %w", err)
	}
	return s.run, nil
}

// BuildIndexes creates any index a bulk run deferred.
func (s *Store) BuildIndexes(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buildIndexes(ctx)
}

func (s *Store) buildIndexes(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, indexes); err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	return nil
}

// endBulk returns the store to WAL mode after a bulk run.
func (s *Store) endBulk(ctx context.Context) error {
	if !s.bulk {
		return nil
	}
	s.bulk = false
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode); err != nil && !isBusy(err) {
		return fmt.Errorf("back to WAL mode: %w", err)
	}
	return nil
}

// FinishRun builds the indexes a bulk run deferred, returns the store to
// WAL mode and stores the run's summary.
func (s *Store) FinishRun(ctx context.Context, finished time.Time, summary any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	if err := s.buildIndexes(ctx); err != nil {
		return err
	}
	if err := s.endBulk(ctx); err != nil {
		return err
	}
	_, err = s.w.ExecContext(ctx, `UPDATE runs SET finished=?, summary=? WHERE id=?`,
		finished.UTC().Format(time.RFC3339Nano), string(b), s.run)
	return err
}

// AddWarnings stores warnings of the current run.
func (s *Store) AddWarnings(ctx context.Context, ws []timeline.Warning) error {
	if len(ws) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO warnings(run, kind, evidence, chain, path, parser, offset, record, message) VALUES(?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	for _, w := range ws {
		chain, _ := json.Marshal(w.Chain)
		if _, err := st.ExecContext(ctx, s.run, string(w.Kind), w.Evidence, string(chain), w.Path, w.Parser, w.Offset, w.Record, w.Message); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func where(q timeline.Query) (string, []any) {
	var conds []string
	var args []any
	if !q.From.IsZero() {
		conds = append(conds, "ts >= ?")
		args = append(args, q.From.UnixNano())
	}
	if !q.To.IsZero() {
		conds = append(conds, "ts < ?")
		args = append(args, q.To.UnixNano())
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// Search streams matching events in time order.
func (s *Store) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	w, args := where(q)
	query := "SELECT doc FROM events" + w + " ORDER BY ts, id"
	if q.Limit > 0 {
		query += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	return streamRows(ctx, rows, fn)
}

// Count returns how many events match.
func (s *Store) Count(ctx context.Context, q timeline.Query) (int64, error) {
	w, args := where(q)
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM events"+w, args...).Scan(&n)
	if q.Limit > 0 && n > int64(q.Limit) {
		n = int64(q.Limit)
	}
	return n, err
}

// Close flushes and closes the database. A bulk run that never finished
// gets its indexes and WAL mode back, as the next Open would give them.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx := context.Background()
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	keep(s.closeInserts())
	if s.bulk {
		keep(s.buildIndexes(ctx))
		keep(s.endBulk(ctx))
	}
	_, _ = s.w.ExecContext(ctx, "PRAGMA optimize")
	keep(s.w.Close())
	keep(s.db.Close())
	return first
}

// Warnings streams stored warnings in the order they were recorded, of the
// latest run only when latest is set.
func (s *Store) Warnings(ctx context.Context, latest bool, fn func(timeline.Warning) error) error {
	q := `SELECT kind, evidence, chain, path, parser, offset, record, message FROM warnings`
	if latest {
		q += ` WHERE run = (SELECT max(id) FROM runs)`
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("read warnings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var w timeline.Warning
		var kind, chain string
		if err := rows.Scan(&kind, &w.Evidence, &chain, &w.Path, &w.Parser, &w.Offset, &w.Record, &w.Message); err != nil {
			return err
		}
		w.Kind = timeline.WarningKind(kind)
		if err := json.Unmarshal([]byte(chain), &w.Chain); err != nil {
			return fmt.Errorf("stored warning chain %q: %w", chain, err)
		}
		if err := fn(w); err != nil {
			return err
		}
	}
	return rows.Err()
}
