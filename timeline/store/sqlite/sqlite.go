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

// The events table is keyed by the first 64 bits of the event ID so that
// de-duplication rides on the rowid B-tree and costs no extra index; the full
// 128-bit ID is kept beside it and a key collision is resolved by probing.
const schema = `
CREATE TABLE IF NOT EXISTS events (
	k INTEGER PRIMARY KEY,
	id TEXT NOT NULL,
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
CREATE INDEX IF NOT EXISTS events_ts ON events(ts, id);
CREATE INDEX IF NOT EXISTS events_action ON events(action, ts) WHERE action IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_user ON events(user_name, ts) WHERE user_name IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_source_ip ON events(source_ip, ts) WHERE source_ip IS NOT NULL;
CREATE TABLE IF NOT EXISTS runs (
	id INTEGER PRIMARY KEY,
	started TEXT NOT NULL,
	finished TEXT,
	tool_version TEXT NOT NULL,
	summary TEXT
);
CREATE TABLE IF NOT EXISTS warnings (
	run INTEGER NOT NULL,
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

	mu     sync.Mutex
	ins    *sql.Stmt
	lookup *sql.Stmt
}

var _ timeline.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path.
func Open(ctx context.Context, path string) (*Store, error) {
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=cache_size(-65536)&_pragma=temp_store(MEMORY)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// DB exposes the handle for case-level tables (runs, warnings) and tests.
func (s *Store) DB() *sql.DB { return s.db }

// BeginRun records the start of an ingest run; events written afterwards
// carry its number.
func (s *Store) BeginRun(ctx context.Context, started time.Time, version string) (int64, error) {
	res, err := s.db.ExecContext(ctx, `INSERT INTO runs(started, tool_version) VALUES(?, ?)`,
		started.UTC().Format(time.RFC3339Nano), version)
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	s.run, err = res.LastInsertId()
	return s.run, err
}

// FinishRun stores the run's summary.
func (s *Store) FinishRun(ctx context.Context, finished time.Time, summary any) error {
	b, err := json.Marshal(summary)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `UPDATE runs SET finished=?, summary=? WHERE id=?`,
		finished.UTC().Format(time.RFC3339Nano), string(b), s.run)
	return err
}

// Warning is a stored, reportable parse problem.
type Warning struct {
	Evidence string
	Chain    []string
	Path     string
	Parser   string
	Offset   int64
	Record   int64
	Message  string
}

// AddWarnings stores warnings of the current run.
func (s *Store) AddWarnings(ctx context.Context, ws []Warning) error {
	if len(ws) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO warnings(run, evidence, chain, path, parser, offset, record, message) VALUES(?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	for _, w := range ws {
		chain, _ := json.Marshal(w.Chain)
		if _, err := st.ExecContext(ctx, s.run, w.Evidence, string(chain), w.Path, w.Parser, w.Offset, w.Record, w.Message); err != nil {
			return err
		}
	}
	return tx.Commit()
}

type row struct {
	key int64
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
	rows, err := encodeRows(batch)
	if err != nil {
		return st, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return st, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	ins := tx.StmtContext(ctx, s.insertStmt(ctx))
	look := tx.StmtContext(ctx, s.lookupStmt(ctx))
	if ins == nil || look == nil {
		return st, errors.New("prepare insert")
	}
	for _, r := range rows {
		inserted, err := s.insertOne(ctx, ins, look, r)
		if err != nil {
			return st, err
		}
		if inserted {
			st.Inserted++
		} else {
			st.Duplicates++
		}
	}
	if err := tx.Commit(); err != nil {
		return st, fmt.Errorf("commit: %w", err)
	}
	return st, nil
}

func (s *Store) insertOne(ctx context.Context, ins, look *sql.Stmt, r row) (bool, error) {
	e := r.ev
	var action, outcome, user, ip, host any
	if e.Event.Action != "" {
		action = e.Event.Action
	}
	if e.Event.Outcome != "" {
		outcome = e.Event.Outcome
	}
	if e.User != nil && e.User.Name != "" {
		user = e.User.Name
	}
	if e.Source != nil && e.Source.IP != "" {
		ip = e.Source.IP
	}
	if e.Host != nil && e.Host.Name != "" {
		host = e.Host.Name
	}
	key := r.key
	for probe := 0; probe < 64; probe++ {
		res, err := ins.ExecContext(ctx, key, e.Jejak.ID, e.Timestamp.UnixNano(), e.Jejak.Provenance.Parser,
			e.Jejak.Provenance.EvidenceSHA256, action, outcome, user, ip, host, s.run, r.doc)
		if err != nil {
			return false, fmt.Errorf("insert event %s: %w", e.Jejak.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return true, nil
		}
		var existing string
		if err := look.QueryRowContext(ctx, key).Scan(&existing); err != nil {
			return false, fmt.Errorf("look up event key %d: %w", key, err)
		}
		if existing == e.Jejak.ID {
			return false, nil
		}
		key++ // 64-bit prefix collision between different IDs: probe on
	}
	return false, fmt.Errorf("event %s: no free key after 64 probes", e.Jejak.ID)
}

func (s *Store) insertStmt(ctx context.Context) *sql.Stmt {
	if s.ins == nil {
		s.ins, _ = s.db.PrepareContext(ctx, `INSERT INTO events(k, id, ts, parser, evidence, action, outcome, user_name, source_ip, host_name, run, doc)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(k) DO NOTHING`)
	}
	return s.ins
}

func (s *Store) lookupStmt(ctx context.Context) *sql.Stmt {
	if s.lookup == nil {
		s.lookup, _ = s.db.PrepareContext(ctx, `SELECT id FROM events WHERE k = ?`)
	}
	return s.lookup
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
				k, err := keyOf(e.Jejak.ID)
				if err != nil {
					errs[w] = err
					return
				}
				rows[i] = row{key: k, ev: e, doc: doc}
			}
		}(w, lo, hi)
	}
	wg.Wait()
	return rows, errors.Join(errs...)
}

func keyOf(id string) (int64, error) {
	if len(id) < 16 {
		return 0, fmt.Errorf("event id %q too short", id)
	}
	b, err := hex.DecodeString(id[:16])
	if err != nil {
		return 0, fmt.Errorf("event id %q: %w", id, err)
	}
	var k uint64
	for _, x := range b {
		k = k<<8 | uint64(x)
	}
	return int64(k), nil
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
	if s.ins != nil {
		s.ins.Close()
	}
	if s.lookup != nil {
		s.lookup.Close()
	}
	_, _ = s.db.Exec("PRAGMA optimize")
	return s.db.Close()
}
