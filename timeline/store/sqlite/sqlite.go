// Package sqlite is the embedded case store: one SQLite file in the case
// folder, written through the pure-Go modernc driver so the binary
// cross-compiles without cgo.
//
// Each event's ECS JSON is stored compressed, in blocks of consecutive
// events (the table blocks; event_rows.blk and slot say where, see
// compress.go). Through this driver in a jejak process, the view events
// gives it back as text in its column doc (json_extract works on it; DELETE
// and UPDATE of doc on the view change the table), and the view "timeline"
// lays out the fields one usually wants as columns, e.g.
//
//	SELECT timestamp, parser, message FROM timeline
//	WHERE ts BETWEEN unixepoch('2024-02-14') * 1000000000 AND 9223372036854775807
//	ORDER BY ts, id;
//
// ts is Unix nanoseconds, except for a time outside 1970 to 2262-04-11
// (what Elasticsearch's date_nanos holds): its ts is the REAL 2^63, so it
// sorts last and a range ending at the largest int64 leaves it out, as
// the store's own time bounds do (see times.go).
//
// The sqlite3 tool can read every column but doc (it lacks the function
// jejak_doc, and the blocks are zstd frames without their magic number);
// 'jejak search' and 'jejak export' give the documents.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// uniqueIndex de-duplicates events: Write inserts OR IGNORE against it.
// Event IDs share a per-file prefix (see timeline.ComputeID), so it grows
// locally while a file is ingested; it still costs more per row than the
// table itself, which is why a first run defers it too (see BeginRun).
//
// Its key is the ID's 16 bytes as TEXT (format 7), the column stays a
// BLOB: SQLite's sorter compares TEXT keys with one memcmp, BLOB keys
// through its general record comparison, and building the index of a
// 200 MB syslog (1.9M rows) took 1.21 CPU-s against 1.53. TEXT compares
// bytes as BLOB does (memcmp, then the length), so the same IDs are equal
// and repeats ignored; only the index holds the TEXT, which no dump or
// reader of the tables sees (see the id column's note below). A lookup by
// ID must name the same expression to use it: IDKey.
const uniqueIndex = `CREATE UNIQUE INDEX IF NOT EXISTS events_id ON event_rows(CAST(id AS TEXT))`

// IDKey is the key events_id holds for the id column; a query that looks
// an event up by ID compares it to CAST(? AS TEXT), so that SQLite reads
// the index (an ID bound as a BLOB is never equal to TEXT).
const IDKey = `CAST(id AS TEXT)`

// indexes serve time-range and field queries. A first ingest into an empty
// store drops them and builds them once at the end (FinishWrites): sorting
// a finished table is far cheaper than keeping four B-trees in order row by
// row. A store opened after a crash mid-ingest gets them back in Open.
//
// Each index entry holds its key and the rowid, and costs about as much as
// a compressed document's share of the table: only those reads need are
// kept (format version 4 dropped events_user and events_action, and ts's
// entries no longer repeat the 16-byte ID). ORDER BY ts, id reads
// events_ts in order and sorts only the runs of equal timestamps by ID.
// events_source_ip serves the per-source read-back of first-seen findings
// (one lookup per source). The zone check's logon pass tests the stored
// action column as it reads the timeline in order.
//
// events_ts is built first, and the times a bulk run held back (farHeld)
// put back through it, in the transaction that builds them (see
// buildIndexes).
var indexes = []string{
	`CREATE INDEX IF NOT EXISTS events_ts ON event_rows(ts)`,
	fixFar,
	`CREATE INDEX IF NOT EXISTS events_source_ip ON event_rows(source_ip) WHERE source_ip IS NOT NULL`,
}

// storeIndexes lists the indexes a complete store has, events_id included.
var storeIndexes = []string{"events_id", "events_ts", "events_source_ip"}

const dropIndexes = `
DROP INDEX IF EXISTS events_id;
DROP INDEX IF EXISTS events_ts;
DROP INDEX IF EXISTS events_source_ip;
`

// dedup deletes every row whose ID an earlier row (lower rowid) has: what
// the unique index would have ignored had it existed when the row came.
const dedup = `
DELETE FROM event_rows WHERE rowid IN (
	SELECT rowid FROM (
		SELECT rowid, row_number() OVER (PARTITION BY id ORDER BY rowid) AS n FROM event_rows)
	WHERE n > 1)`

// FormatVersion is the case store's format, stored in PRAGMA
// user_version. Open refuses a store of any other version that holds
// events (see VersionError); one without events is made again.
//
//   - 0–3: the document stored as JSON text in events.doc (12 times the
//     text of a syslog); up to 2, id declared UNIQUE in the table.
//   - 4: the table event_rows, each document compressed alone (z, zstd
//     with a dictionary per parser kept in the dicts table, the event ID
//     left out); a parser column; indexes events_id, events_ts(ts),
//     events_source_ip(source_ip); the view events with doc and user_name
//     computed, where the table was.
//   - 5: the documents compressed in blocks of up to 64 consecutive events
//     (the table blocks, one zstd frame each, no dictionary; the dicts
//     table is gone); event_rows names each row's block and slot (blk,
//     slot) instead of holding z; the view events joins them; the custody
//     digest covers the stored rows and blocks as they are (sqlite.Digest)
//     instead of the decompressed documents.
//   - 7: events_id keyed on the ID as TEXT (uniqueIndex); nothing else
//     changed, and Open brings a store of format 5 to 7 by building
//     events_id again. (6 was a format with TEXT IDs in the table,
//     6039fa0, reverted; stores of it are refused.)
//   - 8: warnings stored compactly (warn.go): what rows share once in
//     warn_shapes, the rest in warn_rows, and the view warnings giving
//     format 7's table back, column for column and rowid for rowid. Open
//     brings a store of format 5 or 7 to 8 (migrateWarnings); read-only,
//     one is read as it is (its table warnings has the view's columns).
const FormatVersion = 8

// format5 and format7 are the formats Open converts: format 5's
// events_id was keyed on the BLOB, and both kept warnings in a table of
// their own; everything else is as in FormatVersion.
const (
	format5 = 5
	format7 = 7
)

// Rows are appended in rowid order (cheap: only the last pages change) and
// de-duplicated by a unique index on the 16-byte event ID (uniqueIndex).
// Beside where its compressed document is (blk, slot), a row holds the
// indexed columns and the fields that queries run on every ingest test
// without decompressing: the zone check's passes over event.action and
// the parser. The view events computes doc when read, from the row's
// block: the document is stored once. So is
// user_name (a KQL user.name test reads the document; events_user cost
// more than a compressed document, for interactive searches only). A
// column computed from doc costs a decompression and a JSON parse per row
// (17 µs per row on a loaded machine, measured with action so: the zone
// check's pass took 9 CPU-s on 500k events instead of none): nothing a
// query made on every ingest tests, nor any index, may be one. They are a
// view's columns, not generated columns of the table: SQLite computes a
// table's generated columns on every INSERT, which cost the ingest of 500k
// events 5 CPU-s (measured).
//
// id stays a BLOB. Format 6 (6039fa0, reverted) stored the same 16 bytes
// as TEXT, which SQLite's index sort compares with one memcmp (-3.6%
// instructions on a 10 MB syslog's analyze), but a text of raw bytes is
// not text to the tools an examiner opens case.db with: the sqlite3
// tool's .dump cut such an ID at its first NUL (TestReviewTextIDSQLiteDump)
// and Python's sqlite3 module refused to read the column (not UTF-8).
const schema = `
CREATE TABLE IF NOT EXISTS event_rows (
	id BLOB NOT NULL,
	ts INTEGER NOT NULL,
	action TEXT,
	parser TEXT,
	source_ip TEXT,
	run INTEGER NOT NULL,
	blk INTEGER NOT NULL,
	slot INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS blocks (
	id INTEGER PRIMARY KEY,
	z BLOB NOT NULL
);
CREATE VIEW IF NOT EXISTS events AS SELECT
	e.rowid AS rowid, e.id AS id, e.ts AS ts, e.action AS action, e.parser AS parser,
	e.source_ip AS source_ip, e.run AS run, e.blk AS blk, e.slot AS slot,
	jejak_doc(b.z, e.slot, e.id) AS doc,
	json_extract(jejak_doc(b.z, e.slot, e.id), '$.user.name') AS user_name
FROM event_rows e LEFT JOIN blocks b ON b.id = e.blk;
CREATE TRIGGER IF NOT EXISTS events_delete INSTEAD OF DELETE ON events BEGIN
	DELETE FROM event_rows WHERE rowid = OLD.rowid;
END;
CREATE TRIGGER IF NOT EXISTS events_update INSTEAD OF UPDATE OF doc ON events BEGIN
	INSERT INTO blocks(z) VALUES(jejak_block(NEW.doc));
	UPDATE event_rows SET blk = last_insert_rowid(), slot = 0 WHERE rowid = OLD.rowid;
END;
CREATE TABLE IF NOT EXISTS runs (
	id INTEGER PRIMARY KEY,
	started TEXT NOT NULL,
	finished TEXT,
	tool_version TEXT NOT NULL,
	summary TEXT,
	state TEXT,
	items TEXT,
	pid INTEGER,
	host TEXT,
	progress TEXT,
	error TEXT
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
	parser,
	json_extract(doc, '$.jejak.provenance.evidence_sha256') AS evidence,
	json_extract(doc, '$.jejak.provenance.path') AS path,
	lower(hex(id)) AS id,
	ts,
	run,
	doc
FROM events;
` + warnSchema + warnView

// Page cache sizes (negative: in KiB). Queries get a large cache. A bulk
// run's appends touch each page once: a small cache keeps the pages SQLite
// recycles in the CPU's caches, and writing 200k events took about 15% less
// time with 2 MiB than with 32 MiB. While indexes are built, the cache size
// also caps the sorter's in-memory runs (never below 250 pages): smaller
// runs let PRAGMA threads sort them on another core while the table is
// still being read, which made the builds about a fifth faster (events_id
// only, now: see buildIndexes).
const (
	cacheSize      = "cache_size(-32768)"
	bulkCacheSize  = "cache_size(-2048)"
	buildCacheSize = "cache_size(-4096)"
)

// Store is the SQLite case store. Writes must come from one goroutine; reads
// may run concurrently with them.
type Store struct {
	db *sql.DB
	// w is the connection every event write goes through: the pragmas of a
	// bulk run (the journal mode) belongs to one connection, and so
	// do the prepared inserts.
	w *sql.Conn
	// run is the current run's number. Atomic, not under mu: the ingest
	// stores warnings (AddWarningsDigest) from another goroutine while a
	// Write holds mu, and the write-behind's inserter reads it too.
	run atomic.Int64

	mu   sync.Mutex
	bulk bool // this run fills an empty store; see BeginRun
	// deferred: the bulk run dropped the unique index too, so Write counts
	// every row as inserted; written is that count (see FinishWrites).
	deferred bool
	written  int64
	// leave: an interrupted run leaves its deferred indexes to the next
	// Open (see LeaveIndexes).
	leave    bool
	ins      map[insertShape]rawStmt // multi-row inserts, prepared on w
	blockIns rawStmt                 // the insert of a block, prepared on w
	blockDel rawStmt                 // and its removal
	chunks   sync.Pool               // *chunk, recycled between batches
	path     string

	fetchMu sync.Mutex
	fetch   *sql.Stmt // see fetchStmt

	dig *rowDigest // see DigestRows

	behind *behind // see WriteBehind
	// behindNow is behind, for callers that do not hold mu (wantGap).
	behindNow atomic.Pointer[behind]
	// txMu is held by each write-behind transaction (see BetweenWrites).
	txMu sync.Mutex
	// unstored counts rows the write-behind reported inserted that its
	// inserts ignored, for FinishWrites.
	unstored int64
	// farLo and farHi are the first and last rowid of the rows whose ts
	// this run's inserts held back (farHeld); farHi 0: none. Written by
	// the inserter, read once it ended.
	farLo, farHi int64
	// behindErr is the write-behind's failure, once it ended.
	behindErr error

	warnShapes warnShapes // see AddWarningsDigest
}

var _ timeline.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path.
func Open(ctx context.Context, path string) (*Store, error) {
	// page_size only takes effect before the file is first written, so it
	// comes first; large pages mean fewer writes for the same rows. The
	// journal mode is no DSN pragma: WAL is a property of the file, set
	// once below, and a connection opened during a bulk run must not switch
	// it back in the middle.
	dsn := URI(path, "_pragma=page_size(16384)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_pragma=wal_autocheckpoint(8192)&_pragma="+cacheSize)
	// Each connection without its mutex (nomutex.go).
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	db := sql.OpenDB(noMutexConnector{base})
	s := &Store{db: db, path: path}
	if err := s.open(ctx); err != nil {
		db.Close()
		var ve *VersionError
		if errors.As(err, &ve) {
			return nil, err // it names the file
		}
		return nil, fmt.Errorf("open case store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	var err error
	if s.w, err = s.db.Conn(ctx); err != nil {
		return err
	}
	// First, before anything writes to the file: a store of another
	// format is refused as it is.
	if err := s.checkVersion(ctx); err != nil {
		return err
	}
	// Another process's bulk run may hold the file in rollback mode; it
	// switches back itself, so a busy database is no error here.
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode); err != nil && !isBusy(err) {
		return fmt.Errorf("set WAL mode: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	// CREATE ... IF NOT EXISTS keeps an altered view as it is: checked.
	if err := checkSchema(ctx, s.w, s.path); err != nil {
		return err
	}
	if err := s.addRunColumns(ctx); err != nil {
		return err
	}
	// A first run that crashed left its deferred indexes unbuilt.
	if _, err := s.buildIndexes(ctx); err != nil {
		return err
	}
	return nil
}

func (s *Store) hasIndex(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='index' AND name=?`, name).Scan(&n)
	return n > 0, err
}

// VersionError is Open's refusal of a case store of another format.
type VersionError struct {
	Path      string
	Found     int // the store's format version
	Supported int // FormatVersion
}

func (e *VersionError) Error() string {
	if e.Found > e.Supported {
		return fmt.Sprintf("case store %s is format version %d, written by a newer jejak; this one reads version %d only: open the case with the jejak that wrote it, or a newer one",
			e.Path, e.Found, e.Supported)
	}
	return fmt.Sprintf("case store %s is format version %d; this jejak reads version %d only (compressed documents) and does not convert older stores: analyze the evidence again into a new case, or open this one with the jejak that wrote it",
		e.Path, e.Found, e.Supported)
}

// rowQuerier is what formatOf reads through: a connection or a pool.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// formatOf reads the store's format version v and, when it is an older
// one, which of the tables that held events in older formats it has (all
// empty). A newer format, or an older one that holds events, is a
// *VersionError.
func formatOf(ctx context.Context, db rowQuerier, path string) (v int, old []string, err error) {
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, nil, err
	}
	if v == FormatVersion || v == format5 || v == format7 {
		return v, nil, nil // formats 5 and 7 are read as they are (see checkVersion)
	}
	if v > FormatVersion {
		return v, nil, &VersionError{Path: path, Found: v, Supported: FormatVersion}
	}
	// Formats up to 3 kept the events in a table named events (a view
	// since 4); format 4 in event_rows, with other columns.
	for _, table := range []string{"events", "event_rows"} {
		var tables int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?`, table).Scan(&tables); err != nil {
			return v, nil, err
		}
		if tables == 0 {
			continue
		}
		var empty bool
		if err := db.QueryRowContext(ctx, `SELECT NOT EXISTS(SELECT 1 FROM `+table+`)`).Scan(&empty); err != nil {
			return v, nil, err
		}
		if !empty {
			return v, nil, &VersionError{Path: path, Found: v, Supported: FormatVersion}
		}
		old = append(old, table)
	}
	return v, old, nil
}

// CheckFormat refuses, as Open does, a store of another format that holds
// events (or of a newer one), for a handle opened without Open: the
// read-only copy an audit opens on write-protected media. An older store
// without events passes, as Open would make it again.
func CheckFormat(ctx context.Context, db *sql.DB, path string) error {
	_, _, err := formatOf(ctx, db, path)
	return err
}

// checkVersion refuses a store of another format that holds events,
// makes an older one without events again, brings one of format 5 or 7
// to FormatVersion (the events as they are, the warnings moved to format
// 8's tables), and stamps a new store.
//
// Other older stores are refused rather than converted: converting means
// decoding and compressing every document, as costly as the ingest that
// wrote them, and the evidence (not the old store) is what a timeline is
// re-made from.
func (s *Store) checkVersion(ctx context.Context) error {
	v, old, err := formatOf(ctx, s.w, s.path)
	if err != nil || v == FormatVersion {
		return err
	}
	var stmts []string
	if v == format5 {
		// Its events_id is keyed on the BLOB: dropped here, open builds
		// it again with the indexes a crashed run left (buildIndexes),
		// which also removes repeated IDs should the old one be missing.
		stmts = append(stmts, `DROP INDEX IF EXISTS events_id`)
	}
	// The warnings table of any older format becomes format 8's tables;
	// open creates the view warnings over them.
	var warnTable int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='table' AND name='warnings'`).Scan(&warnTable); err != nil {
		return err
	}
	if warnTable > 0 {
		stmts = append(stmts, migrateWarnings...)
	}
	// Without events to lose (formats before 5), the tables, views and
	// triggers of events are made anew below; runs keeps its table
	// (addRunColumns updates it).
	for _, table := range old {
		stmts = append(stmts, `DROP VIEW IF EXISTS timeline`)
		if table == "event_rows" {
			stmts = append(stmts, `DROP VIEW IF EXISTS events`, `DROP TABLE IF EXISTS dicts`)
		}
		stmts = append(stmts, `DROP TABLE `+table)
	}
	stmts = append(stmts, fmt.Sprintf(`PRAGMA user_version=%d`, FormatVersion))
	// BEGIN IMMEDIATE: the write lock first, so that a reader's
	// concurrent Open waits (busy_timeout) instead of failing halfway.
	if _, err := s.w.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return fmt.Errorf("make the store format %d: %w", FormatVersion, err)
	}
	for _, q := range stmts {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			_, _ = s.w.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
			return fmt.Errorf("make the store format %d (%s): %w", FormatVersion, firstLine(q), err)
		}
	}
	if _, err := s.w.ExecContext(ctx, `COMMIT`); err != nil {
		_, _ = s.w.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return fmt.Errorf("make the store format %d: %w", FormatVersion, err)
	}
	return nil
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
// FinishWrites:
//   - without any index, not even the unique one on the event ID: rows are
//     plain appends, and FinishWrites builds each index in one sort. Until
//     then Write cannot see that an event repeats one written earlier in
//     the run; FinishWrites removes such rows and says how many there were.
//   - with a rollback journal instead of WAL. New rows go to new pages at
//     the end of the file, which a rollback journal need not copy, so each
//     page is written once; WAL writes every page twice (log, then
//     checkpoint). A crash still rolls back only the transaction in flight
//     (with write-behind, up to a second of batches: see insertBehind), and
//     the next Open builds the indexes (removing repeats first).
//
// synchronous stays NORMAL: turning it OFF as well saved no measurable time
// and would let a power loss damage the file.
//
// If another connection has the file open (a reader in another process),
// the run keeps WAL mode: slower, equally correct.
func (s *Store) BeginRun(ctx context.Context, started time.Time, version string) (int64, error) {
	return s.StartRun(ctx, RunStart{Started: started, ToolVersion: version})
}

// StartRun is BeginRun recording the run as running, with the items it is
// given and its process: the record is committed before the call returns,
// so a run killed at any later point is seen as incomplete (see RunState).
func (s *Store) StartRun(ctx context.Context, rs RunStart) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Items nil (BeginRun) is stored as NULL, read back as nil: not known,
	// as for runs recorded before items were.
	var items any
	if rs.Items != nil {
		b, err := json.Marshal(rs.Items)
		if err != nil {
			return 0, err
		}
		items = string(b)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO runs(started, tool_version, state, items, pid, host) VALUES(?, ?, ?, ?, ?, ?)`,
		rs.Started.UTC().Format(time.RFC3339Nano), rs.ToolVersion, string(RunRunning), items, rs.PID, nullable(rs.Host))
	if err != nil {
		return 0, fmt.Errorf("record run: %w", err)
	}
	run, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	s.run.Store(run)
	s.dig = nil // an earlier run's; this one's starts with DigestRows
	var empty bool
	if err := s.w.QueryRowContext(ctx, `SELECT NOT EXISTS(SELECT 1 FROM event_rows)`).Scan(&empty); err != nil {
		return 0, err
	}
	if !empty || s.bulk {
		return run, nil
	}
	if _, err := s.w.ExecContext(ctx, dropIndexes); err != nil {
		return 0, fmt.Errorf("defer indexes: %w", err)
	}
	s.bulk = true
	s.deferred, s.written = true, 0
	// Idle pooled connections keep the WAL open, which would refuse the
	// switch: let them go.
	s.db.SetMaxIdleConns(0)
	s.db.SetMaxIdleConns(2)
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode=TRUNCATE`).Scan(&mode); err != nil && !isBusy(err) {
		return 0, fmt.Errorf("bulk journal mode: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA `+bulkCacheSize); err != nil {
		return 0, err
	}
	return run, nil
}

// BuildIndexes creates any index a bulk run deferred.
func (s *Store) BuildIndexes(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.buildIndexes(ctx)
	return err
}

// buildIndexes creates the indexes that are missing, and returns how many
// rows it removed because they repeated an earlier row's ID.
func (s *Store) buildIndexes(ctx context.Context) (removed int64, err error) {
	var have int
	if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type='index' AND name IN
		('`+strings.Join(storeIndexes, "', '")+`')`).Scan(&have); err != nil {
		return 0, err
	}
	if have >= len(storeIndexes) {
		return 0, nil
	}
	// Each CREATE INDEX reads the whole table, through the page cache, not
	// a memory map: a map of the file counted every page read in the
	// process's resident memory (a 1 GB syslog's analyze peaked at 2.1 GB
	// RSS, all but ~130 MB of it the map), while pages read into the
	// cache are copied into its buildCacheSize and dropped. For threads
	// and cache size, see buildCacheSize.
	threads := min(runtime.GOMAXPROCS(0)-1, 4)
	if _, err := s.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA threads=%d; PRAGMA %s; PRAGMA mmap_size=0`,
		threads, buildCacheSize)); err != nil {
		return 0, err
	}
	defer func() {
		if _, rerr := s.w.ExecContext(context.WithoutCancel(ctx), `PRAGMA threads=0; PRAGMA `+s.cacheSize()); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if removed, err = s.buildUnique(ctx); err != nil {
		return 0, err
	}
	// The sorter's helper thread pays for events_id's 16-byte keys in
	// random order (1 GB syslog, 10.2M rows: 5.7-6.7 s wall, 9.1-10.8
	// CPU-s, against 8.6 s and 8.5 CPU-s alone), not for the time and
	// address indexes: with it they took 11.6 CPU-s for the same 7.3 s
	// wall as 7.1 CPU-s alone.
	if _, err := s.w.ExecContext(ctx, `PRAGMA threads=0`); err != nil {
		return 0, err
	}
	if err := s.buildOthers(ctx); err != nil {
		return 0, fmt.Errorf("build indexes: %w", err)
	}
	// The new indexes want planner statistics (Close would gather them
	// too): reading the table for them is cheaper while its pages are
	// still in the operating system's cache.
	if _, err := s.w.ExecContext(ctx, `PRAGMA optimize`); err != nil {
		return 0, err
	}
	return removed, nil
}

// buildOthers builds the indexes but events_id, and puts back the far
// times a bulk run held back (farheld.go), in one transaction: a store
// whose events_ts is built holds no ts farHeld, whenever the process
// was killed.
func (s *Store) buildOthers(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range indexes {
		var args []any
		if q == fixFar {
			args = append(args, float64(farTS))
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.farLo, s.farHi = 0, 0
	return nil
}

// cacheSize is the page cache size pragma for the current phase.
func (s *Store) cacheSize() string {
	if s.bulk {
		return bulkCacheSize
	}
	return cacheSize
}

// buildUnique creates events_id. Repeated IDs are rare (the same record
// read twice), so it is tried as is first; only when that fails are the
// later copies deleted, in the same transaction as the second try.
func (s *Store) buildUnique(ctx context.Context) (int64, error) {
	_, err := s.w.ExecContext(ctx, uniqueIndex)
	if err == nil || !isUniqueViolation(err) {
		if err != nil {
			return 0, fmt.Errorf("build unique index: %w", err)
		}
		return 0, nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, dedup)
	if err != nil {
		return 0, fmt.Errorf("remove repeated events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, uniqueIndex); err != nil {
		return 0, fmt.Errorf("build unique index: %w", err)
	}
	return n, tx.Commit()
}

// isUniqueViolation reports whether err is SQLite's UNIQUE constraint
// failure.
func isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// FinishWrites ends the writes of a bulk run: it builds the indexes the run
// deferred and returns the store to WAL mode. It returns how many events
// Write counted as inserted in this run that repeated an event written
// earlier in it (the same record read twice): they were removed, and the
// caller moves them from its inserted count to its duplicates. Outside a
// bulk run, and when called again, it does nothing and returns 0.
//
// Writes may follow; they are checked against the unique index as usual.
func (s *Store) FinishWrites(ctx context.Context) (duplicates int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.finishWrites(ctx)
	return int(n), err
}

func (s *Store) finishWrites(ctx context.Context) (int64, error) {
	if err := s.stopBehind(); err != nil {
		return 0, err
	}
	if !s.bulk || s.leave {
		return 0, nil
	}
	// Another process opening the store mid-run builds the indexes itself
	// (see open), removing repeats this one is not told about; what is
	// left of the run then says how many there were.
	built := false
	if s.deferred {
		var err error
		if built, err = s.hasIndex(ctx, "events_id"); err != nil {
			return 0, err
		}
	}
	removed, err := s.buildIndexes(ctx)
	if err == nil {
		// Built by another connection: the times held back since are
		// put back here.
		err = s.putFarBack(ctx)
	}
	if err != nil {
		if s.dig != nil {
			s.dig.fail("index build failed: %v", err)
		}
		return 0, err
	}
	if built {
		var kept int64
		if err := s.w.QueryRowContext(ctx, `SELECT count(*) FROM event_rows WHERE run=?`, s.run.Load()).Scan(&kept); err != nil {
			return 0, err
		}
		removed = s.written - kept
	} else {
		removed += s.unstored
	}
	s.unstored = 0
	if s.dig != nil {
		switch {
		case built:
			s.dig.fail("another connection built the indexes")
		case removed != 0:
			s.dig.fail("%d repeated events removed", removed)
		}
	}
	s.deferred, s.written = false, 0
	if err := s.endBulk(ctx); err != nil {
		return 0, err
	}
	return removed, nil
}

// LeaveIndexes makes Close leave a bulk run's deferred indexes unbuilt, as
// a crashed run leaves them: the next Open builds them (removing repeated
// events first). An interrupted run then stops at once instead of spending
// seconds indexing a timeline that is partial anyway.
//
// Batches written behind (WriteBehind) are inserted first, as Write would
// have inserted them before returning: whatever reads the store next (the
// custody entry's digest of it) reads every event the run wrote. A failed
// insert is then returned by Close.
func (s *Store) LeaveIndexes() {
	s.mu.Lock()
	s.leave = true
	_ = s.stopBehind()
	// What reads the store next (the custody entry's digest) reads the
	// times as Write was given them (farheld.go). Failing, the next Open
	// puts them back; Close returns the error.
	if err := s.putFarBack(context.Background()); err != nil && s.behindErr == nil {
		s.behindErr = err
	}
	s.mu.Unlock()
}

// endBulk returns the store to WAL mode after a bulk run.
func (s *Store) endBulk(ctx context.Context) error {
	if !s.bulk {
		return nil
	}
	s.bulk = false
	if _, err := s.w.ExecContext(ctx, `PRAGMA `+cacheSize); err != nil {
		return err
	}
	var mode string
	if err := s.w.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode); err != nil && !isBusy(err) {
		return fmt.Errorf("back to WAL mode: %w", err)
	}
	return nil
}

// FinishRun ends the run's writes as FinishWrites does (call that first to
// learn of repeated events: the summary is stored as given) and stores the
// run's summary, recording it complete (EndRun records other ends).
func (s *Store) FinishRun(ctx context.Context, finished time.Time, summary any) error {
	return s.EndRun(ctx, finished, RunComplete, "", summary)
}

// where is the WHERE clause of q's time bounds, clamped to date_nanos
// (see timeBounds). Either bound makes it a closed range of integers,
// so it never selects an event stored at farTS.
func where(q timeline.Query) (string, []any) {
	lo, hi, bounded, ok := timeBounds(q)
	switch {
	case !ok:
		return " WHERE 0", nil
	case !bounded:
		return "", nil
	}
	return " WHERE ts BETWEEN ? AND ?", []any{lo, hi}
}

// Search streams matching events in time order.
func (s *Store) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	return s.search(ctx, q, streamOpts{}, fn)
}

// SearchTransient is Search for a reader that keeps no *Event after fn
// returns and reads no related.* field (a hunt): the Event structs are
// reused chunk to chunk, and Related is nil. What an event points to (its
// strings, maps and sub-structs) may be kept but never changed: values
// that repeat from row to row (host, user, jejak.data, the provenance's
// chain...) are decoded once and shared between events (decodememo.go).
func (s *Store) SearchTransient(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	return s.search(ctx, q, streamOpts{reuse: true, noRelated: true}, fn)
}

func (s *Store) search(ctx context.Context, q timeline.Query, o streamOpts, fn func(*timeline.Event) error) error {
	w, args := where(q)
	if q.Limit > 0 {
		// The first Limit rows in (ts, id) order: SQLite sorts the ties.
		rows, err := s.db.QueryContext(ctx, "SELECT id, blk, slot FROM event_rows"+w+" ORDER BY ts, id"+fmt.Sprintf(" LIMIT %d", q.Limit), args...)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		defer rows.Close()
		return s.streamRowsOpts(ctx, plainRows(rows), o, fn)
	}
	// Ties of ts are put in ID order by tieOrdered (tieorder.go).
	next, stop, err := s.timeOrdered(ctx, w, args)
	if err != nil {
		return err
	}
	defer stop()
	return s.streamRowsOpts(ctx, next, o, fn)
}

// Count returns how many events match.
func (s *Store) Count(ctx context.Context, q timeline.Query) (int64, error) {
	w, args := where(q)
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM event_rows"+w, args...).Scan(&n)
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
	// The write-behind's inserts first: they use the prepared inserts.
	keep(s.stopBehind())
	keep(s.closeInserts())
	s.fetchMu.Lock()
	if s.fetch != nil {
		keep(s.fetch.Close())
		s.fetch = nil
	}
	s.fetchMu.Unlock()
	_, err := s.finishWrites(ctx)
	keep(err)
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
		// The latest complete run, and every run after it: one that failed
		// or was interrupted later (an unreachable Elasticsearch, Ctrl-C)
		// must not hide what the complete run could not read, and adds its
		// own. A refused run read nothing and stores nothing. Without a
		// complete run, every run's.
		q += ` WHERE run >= coalesce((SELECT max(id) FROM runs WHERE state = 'complete' OR (state IS NULL AND finished IS NOT NULL)), 0)`
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

// firstLine is q's first line, for an error naming a statement.
func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		return q[:i] + " ..."
	}
	return q
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
