// Package sqlite is the embedded case store: one SQLite file in the case
// folder, written through the pure-Go modernc driver so the binary
// cross-compiles without cgo.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
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

// Rows are appended in rowid order (cheap: only the last pages change) and
// de-duplicated by a unique index on the 16-byte event ID. Event IDs share a
// per-file prefix (see timeline.ComputeID), so that index also grows locally
// while a file is ingested. The columns beside the document are the fields
// queries filter on; the document itself is the ECS JSON, stored verbatim.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	id BLOB NOT NULL UNIQUE,
	ts INTEGER NOT NULL,
	parser TEXT NOT NULL,
	evidence TEXT NOT NULL,
	action TEXT,
	outcome TEXT,
	user_name TEXT,
	source_ip TEXT,
	host_name TEXT,
	run INTEGER NOT NULL,
	doc BLOB NOT NULL
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
`

// Store is the SQLite case store. Writes must come from one goroutine; reads
// may run concurrently with them (WAL mode).
type Store struct {
	db  *sql.DB
	run int64

	mu  sync.Mutex
	ins map[int]*sql.Stmt // multi-row inserts by row count
}

var _ timeline.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path.
func Open(ctx context.Context, path string) (*Store, error) {
	// page_size only takes effect before the file is first written, so it
	// comes first; large pages mean fewer writes for the same rows.
	dsn := "file:" + path + "?_pragma=page_size(16384)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(8192)&_pragma=cache_size(-262144)&_pragma=temp_store(MEMORY)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema+indexes); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// DB exposes the handle for case-level tables (runs, warnings) and tests.
func (s *Store) DB() *sql.DB { return s.db }

// BeginRun records the start of an ingest run; events written afterwards
// carry its number. Into an empty store, the run writes without secondary
// indexes; FinishRun builds them.
func (s *Store) BeginRun(ctx context.Context, started time.Time, version string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs(started, tool_version) VALUES(?, ?)`,
		started.UTC().Format(time.RFC3339Nano), version)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	s.run, err = res.LastInsertId()
	if err != nil {
		return 0, err
	}
	var empty bool
	if err := s.db.QueryRowContext(ctx, `SELECT NOT EXISTS(SELECT 1 FROM events)`).Scan(&empty); err != nil {
		return 0, err
	}
	if empty {
		if _, err := s.db.ExecContext(ctx, dropIndexes); err != nil {
			return 0, fmt.Errorf("defer indexes: %w", err)
		}
	}
	return s.run, nil
}

// BuildIndexes creates any index a bulk run deferred.
func (s *Store) BuildIndexes(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, indexes); err != nil {
		return fmt.Errorf("build indexes: %w", err)
	}
	return nil
}

// FinishRun stores the run's summary.
func (s *Store) FinishRun(ctx context.Context, finished time.Time, summary any) error {
	if err := s.BuildIndexes(ctx); err != nil {
		return err
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE runs SET finished=?, summary=? WHERE id=?`,
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

type row struct {
	id  []byte
	ev  *timeline.Event
	doc []byte
}

// Write inserts a batch in one transaction. JSON encoding is spread over the
// cores; the inserts themselves are sequential, as SQLite requires.
func (s *Store) Write(ctx context.Context, batch []*timeline.Event) (timeline.WriteStats, error) {
	var st timeline.WriteStats
	if len(batch) == 0 {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()

	// JSON encoding (over the cores) of the next chunk overlaps SQLite's
	// inserts (on one) of this one.
	type encoded struct {
		rows []row
		err  error
	}
	chunks := make(chan encoded, 2)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(chunks)
		for lo := 0; lo < len(batch); lo += encodeChunk {
			rows, err := encodeRows(batch[lo:min(lo+encodeChunk, len(batch))])
			select {
			case chunks <- encoded{rows, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// Multi-row INSERTs: per-statement overhead (database/sql, binding)
	// costs more than SQLite's own work for rows this small.
	stmts := map[int]*sql.Stmt{}
	args := make([]any, 0, insertRows*insertCols)
	for c := range chunks {
		if c.err != nil {
			return st, c.err
		}
		rows := c.rows
		for lo := 0; lo < len(rows); lo += insertRows {
			chunk := rows[lo:min(lo+insertRows, len(rows))]
			args = args[:0]
			for _, r := range chunk {
				e := r.ev
				args = append(args, r.id, e.Timestamp.UnixNano(), e.Jejak.Provenance.Parser,
					e.Jejak.Provenance.EvidenceSHA256, nullable(e.Event.Action), nullable(e.Event.Outcome),
					nullable(userName(e)), nullable(sourceIP(e)), nullable(hostName(e)), s.run, r.doc)
			}
			stmt := stmts[len(chunk)]
			if stmt == nil {
				prepared, err := s.insertStmt(ctx, len(chunk))
				if err != nil {
					return st, err
				}
				stmt = tx.StmtContext(ctx, prepared)
				stmts[len(chunk)] = stmt
			}
			res, err := stmt.ExecContext(ctx, args...)
			if err != nil {
				return st, fmt.Errorf("insert events %s...: %w", chunk[0].ev.Jejak.ID, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return st, err
			}
			st.Inserted += int(n)
			st.Duplicates += len(chunk) - int(n)
		}
	}
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("commit: %w", err)
	}
	return st, nil
}

// encodeChunk is how many events are encoded ahead of the inserts.
const encodeChunk = 2048

const (
	insertRows = 64
	insertCols = 11
)

// insertStmt returns the prepared INSERT for n rows (n ≤ insertRows).
func (s *Store) insertStmt(ctx context.Context, n int) (*sql.Stmt, error) {
	if st, ok := s.ins[n]; ok {
		return st, nil
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO events(id, ts, parser, evidence, action, outcome, user_name, source_ip, host_name, run, doc) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?)")
	}
	b.WriteString(` ON CONFLICT(id) DO NOTHING`)
	st, err := s.db.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, fmt.Errorf("prepare insert: %w", err)
	}
	if s.ins == nil {
		s.ins = map[int]*sql.Stmt{}
	}
	s.ins[n] = st
	return st, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func userName(e *timeline.Event) string {
	if e.User == nil {
		return ""
	}
	return e.User.Name
}

func sourceIP(e *timeline.Event) string {
	if e.Source == nil {
		return ""
	}
	return e.Source.IP
}

func hostName(e *timeline.Event) string {
	if e.Host == nil {
		return ""
	}
	return e.Host.Name
}

func encodeRows(batch []*timeline.Event) ([]row, error) {
	rows := make([]row, len(batch))
	workers := runtime.GOMAXPROCS(0)
	if len(batch) < 512 {
		workers = 1
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	per := (len(batch) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(batch))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(w, lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				e := batch[i]
				if e.Jejak.ID == "" {
					e.Finalize()
				}
				doc, err := json.Marshal(e)
				if err != nil {
					errs[w] = fmt.Errorf("encode event %s: %w", e.Jejak.ID, err)
					return
				}
				id, err := hex.DecodeString(e.Jejak.ID)
				if err != nil || len(id) != 16 {
					errs[w] = fmt.Errorf("event id %q is not 32 hex digits", e.Jejak.ID)
					return
				}
				rows[i] = row{id: id, ev: e, doc: doc}
			}
		}(w, lo, hi)
	}
	wg.Wait()
	return rows, errors.Join(errs...)
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
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return err
		}
		var e timeline.Event
		if err := json.Unmarshal(doc, &e); err != nil {
			return fmt.Errorf("decode stored event: %w", err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return rows.Err()
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

// Close flushes and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.ins {
		st.Close()
	}
	_, _ = s.db.Exec("PRAGMA optimize")
	return s.db.Close()
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
