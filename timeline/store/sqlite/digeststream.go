package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"
)

// rowDigest is the first part of Digest (the rows of event_rows) hashed as
// Write inserts the rows, so that the custody entry of a first ingest does
// not read every row back (a third of a syslog analyze's work after the
// walk). Digest writes the rows in rowid order; a bulk run appends them to
// an empty table, so the rows of its batches in the order written are the
// rows in rowid order, as long as each batch's rows all got in, with the
// next rowids. Write checks that of every insert (RowsAffected and
// LastInsertId) and FinishDigest that the table holds exactly those rowids
// at the end; anything else (a repeat removed, a row another connection
// added, a failed batch) breaks the stream, and the digest is read back.
type rowDigest struct {
	w      io.Writer
	buf    []byte
	rows   int64  // rows hashed: rowids 1 to rows
	broken string // why the rows hashed may not be the table's; "" while they are
}

// fail breaks the stream; the first reason stays.
func (d *rowDigest) fail(format string, a ...any) {
	if d.broken == "" {
		d.broken = fmt.Sprintf(format, a...)
	}
}

// add hashes rows once an insert of them into block blk of run returned
// last as its last rowid and inserted n rows, each column as Write binds
// it, in Digest's order.
func (d *rowDigest) add(rows []row, run, blk, n, last int64) {
	if d.broken != "" {
		return
	}
	switch m := int64(len(rows)); {
	case n != m:
		d.fail("%d of %d rows inserted", n, m)
		return
	case last != d.rows+m:
		d.fail("rows got rowids up to %d, not %d to %d", last, d.rows+1, d.rows+m)
		return
	}
	// As appendValue writes what Write binds (row.values), without making
	// an interface value of each: the tests compare the bytes with
	// Digest's.
	buf := d.buf[:0]
	for i := range rows {
		r := &rows[i]
		buf = appendField(append(buf, 5), r.id[:])
		if r.far {
			buf = binary.BigEndian.AppendUint64(append(buf, 3), math.Float64bits(float64(farTS)))
		} else {
			buf = binary.BigEndian.AppendUint64(append(buf, 2), uint64(r.ts))
		}
		buf = appendText(buf, r.action)
		buf = appendText(buf, r.parser)
		buf = appendText(buf, r.addr)
		buf = binary.BigEndian.AppendUint64(append(buf, 2), uint64(run))
		buf = binary.BigEndian.AppendUint64(append(buf, 2), uint64(blk))
		buf = binary.BigEndian.AppendUint64(append(buf, 2), uint64(r.slot))
	}
	d.buf = buf
	if _, err := d.w.Write(buf); err != nil {
		d.fail("hash: %v", err)
		return
	}
	d.rows += int64(len(rows))
}

// appendText appends a text column as appendValue does: "" is bound as
// NULL (nullable).
func appendText(buf []byte, s string) []byte {
	if s == "" {
		return append(buf, 1)
	}
	buf = binary.BigEndian.AppendUint64(append(buf, 4), uint64(len(s)))
	return append(buf, s...)
}

// DigestRows makes this run's writes hash the rows of event_rows into w as
// Digest writes them, for FinishDigest, and reports whether they do. Only
// a bulk run can (see BeginRun: the first run into a store without events),
// asked before its first write; otherwise w is left alone and the caller
// computes Digest.
func (s *Store) DigestRows(w io.Writer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.bulk || !s.deferred || s.written != 0 {
		return false
	}
	s.dig = &rowDigest{w: w}
	return true
}

// FinishDigest completes into the writer given to DigestRows what Digest
// would write, once the run's writes are finished (FinishWrites), and
// returns the number of events. The blocks are read from the file: the
// rows were hashed as written, so only the block table is read back (a
// few thousand rows where event_rows has a million).
//
// ok is false, and nothing more written, when the rows hashed may not be
// those stored: no DigestRows, writes not finished, a batch that failed or
// did not all get in, repeated events removed by FinishWrites (or by
// another process that opened the store), or a table that holds other
// rowids than 1 to n now. The caller then computes Digest from the file.
//
// A row changed in place by another connection between its insert and this
// call is not seen here: the digest then holds what this run wrote, and
// verify, which recomputes Digest from the file, reports the change.
func (s *Store) FinishDigest(ctx context.Context) (n int64, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dig
	s.dig = nil
	if d == nil || d.broken != "" || s.deferred || s.bulk {
		return 0, false, nil
	}
	// Two queries: each alone is one that SQLite answers without reading
	// every row (a count of the smallest index's cells; the last rowid),
	// together a scan that cost half a second at 10M rows. On a pooled
	// connection, as the blocks are read below: the count reads a whole
	// index, and w's page cache (32 MiB) had no need to fill with it.
	var count, last int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM event_rows`).Scan(&count); err != nil {
		return 0, false, fmt.Errorf("store digest: %w", err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM event_rows`).Scan(&last); err != nil {
		return 0, false, fmt.Errorf("store digest: %w", err)
	}
	if count != d.rows || last != d.rows {
		return 0, false, nil
	}
	aw := newAsyncWriter(d.w)
	aw.Write([]byte(digestBlocksMark))
	_, err = digestTable(ctx, s.db, aw, digestBlocksQuery)
	if cerr := aw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, false, fmt.Errorf("store digest of blocks: %w", err)
	}
	return d.rows, true, nil
}

// asyncBuf is the size of the buffers an asyncWriter hands over.
const asyncBuf = 256 << 10

// asyncWriter passes what is written to it on to w from another goroutine,
// in buffers of asyncBuf bytes, so that a digest's hashing runs beside the
// reading of the store instead of after each row (a third of the time of
// reading the blocks back). Write never fails; Close returns w's first
// error once everything was passed on.
type asyncWriter struct {
	w          io.Writer
	buf        []byte
	full, free chan []byte
	done       chan error
}

func newAsyncWriter(w io.Writer) *asyncWriter {
	// Three buffers take turns: free has room for all of them, so that the
	// goroutine never waits to hand one back.
	a := &asyncWriter{w: w, buf: make([]byte, 0, asyncBuf),
		full: make(chan []byte, 2), free: make(chan []byte, 3), done: make(chan error, 1)}
	for range 2 {
		a.free <- make([]byte, 0, asyncBuf)
	}
	go func() {
		var err error
		for b := range a.full {
			if err == nil {
				_, err = a.w.Write(b)
			}
			a.free <- b[:0]
		}
		a.done <- err
	}()
	return a
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	a.buf = append(a.buf, p...)
	if len(a.buf) >= asyncBuf {
		a.full <- a.buf
		a.buf = <-a.free
	}
	return len(p), nil
}

// Close passes on what is left and waits for w.
func (a *asyncWriter) Close() error {
	if len(a.buf) > 0 {
		a.full <- a.buf
		a.buf = nil
	}
	close(a.full)
	return <-a.done
}

// digestBroken is why the stream started by DigestRows no longer stands,
// for tests: "" while it does or when there is none.
func (s *Store) digestBroken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dig == nil {
		return ""
	}
	return s.dig.broken
}

// warnColumns are the columns of the view warnings after its rowid (and
// of format 7's table), the order a digest that reads back every column
// (casework's tableDigest, which leaves the view's rowid out) hashes them
// in; WarnDigest hashes that order, so a view with other columns or in
// another order is read back.
var warnColumns = []string{"run", "kind", "evidence", "chain", "path", "parser", "offset", "record", "message"}

// WarnDigest hashes the rows of the view warnings as the run inserts them
// (AddWarningsDigest), in rowid order (warn_rows'), each column in warnColumns' order as
// casework's tableDigest does: a 1 (no column is nullable), the length of
// the value's text as 8 bytes big-endian and the text, integers in
// decimal. The 300k warnings of an image of 300k small files took a second
// of CPU to read back for the custody entry of its ingest.
//
// As with DigestRows, the stream stands only where the rows hashed are
// provably the table's: a table empty when the stream began; each
// committed batch's rows inserted with the rowids following those hashed
// before (RowsAffected and LastInsertId of each INSERT; a multi-row INSERT
// numbers its rows in order, one above the largest rowid); no failed
// write; and at Finish the table holding exactly rowids 1 to n, with the
// columns hashed. Anything else (a warning another connection added or
// removed, a refused run's warnings deleted by EndRun) makes Finish report
// false, and the caller reads the table back.
type WarnDigest struct {
	db     *sql.DB
	mu     sync.Mutex
	w      io.Writer
	rows   int64  // rows hashed: rowids 1 to rows
	broken string // why the rows hashed may not be the table's; "" while they are
	done   bool   // Finish was called
	// spare is the buffer of the last batch hashed, for the next: a
	// batch's rows grown from nothing cost a fifth of a second of
	// growslice and memmove on the 300k image.
	spare []byte
}

// DigestWarnings starts a WarnDigest writing into w when the warnings table
// is empty and has the columns WarnDigest hashes; else (or when the store
// cannot say) it returns nil, and the caller reads the table back. Call it
// before the run's first warning is stored.
func (s *Store) DigestWarnings(ctx context.Context, w io.Writer) *WarnDigest {
	if ok, err := warnTableHashable(ctx, s.db); err != nil || !ok {
		return nil
	}
	var last int64
	if err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM warn_rows`).Scan(&last); err != nil || last != 0 {
		return nil
	}
	return &WarnDigest{db: s.db, w: w}
}

// warnTableHashable reports whether the view warnings has its rowid and
// warnColumns, in that order, and no other.
func warnTableHashable(ctx context.Context, db *sql.DB) (bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info('warnings') ORDER BY cid`)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return false, err
		}
		cols = append(cols, n)
	}
	if err := rows.Err(); err != nil {
		return false, err
	}
	return len(cols) > 0 && cols[0] == "rowid" && slices.Equal(cols[1:], warnColumns), nil
}

// fail breaks the stream; the first reason stays. d may be nil.
func (d *WarnDigest) fail(format string, a ...any) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken == "" {
		d.broken = fmt.Sprintf(format, a...)
	}
}

// commit hashes the rows of a committed transaction into w, if they follow
// those hashed before. d may be nil.
func (d *WarnDigest) commit(h *warnHashed) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.broken != "":
		return
	case d.done:
		d.broken = "warnings stored after Finish"
	case h.broken != "":
		d.broken = h.broken
	case h.n > 0 && h.base != d.rows:
		d.broken = fmt.Sprintf("warnings got rowids from %d, not %d", h.base+1, d.rows+1)
	}
	if d.broken != "" {
		return
	}
	if _, err := d.w.Write(h.buf); err != nil {
		d.broken = fmt.Sprintf("hash: %v", err)
		return
	}
	d.rows += h.n
	d.spare = h.buf[:0]
}

// buffer is a buffer for a batch's rows: the last batch's. d may be nil.
func (d *WarnDigest) buffer() []byte {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.spare
	d.spare = nil
	return b
}

// Broken is why the stream no longer stands, "" while it does.
func (d *WarnDigest) Broken() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.broken
}

// Finish reports whether what was written into w is the whole table's
// digest, once the run stored its last warning; ok false (and nothing
// more written) when it may not be, and the caller then reads the table
// back. The stream ends here: later warnings break it.
//
// As for FinishDigest, a row changed in place by another connection is
// not seen: verify, which reads the table back, reports the change.
func (d *WarnDigest) Finish(ctx context.Context) (n int64, ok bool, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.done = true
	if d.broken != "" {
		return 0, false, nil
	}
	if ok, err := warnTableHashable(ctx, d.db); err != nil || !ok {
		d.broken = "the warnings table's columns are not those hashed"
		return 0, false, err
	}
	// As in FinishDigest: two queries SQLite answers without reading
	// every row.
	var count, last int64
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM warn_rows`).Scan(&count); err != nil {
		return 0, false, fmt.Errorf("warnings digest: %w", err)
	}
	if err := d.db.QueryRowContext(ctx, `SELECT coalesce(max(rowid), 0) FROM warn_rows`).Scan(&last); err != nil {
		return 0, false, fmt.Errorf("warnings digest: %w", err)
	}
	if count != d.rows || last != d.rows {
		d.broken = fmt.Sprintf("the table holds %d warnings up to rowid %d, not the %d hashed", count, last, d.rows)
		return 0, false, nil
	}
	return d.rows, true, nil
}

// warnHashed is what one AddWarningsDigest call inserted, hashed, until its
// transaction commits.
type warnHashed struct {
	buf    []byte
	base   int64 // the rowid before the first row inserted
	last   int64 // the last row's rowid
	n      int64 // rows inserted
	broken string
}

// AppendTableText appends a value that is not NULL as the digests of
// whole tables hash it (casework's tableDigest, and WarnDigest beside it):
// a 1, the length of its text as 8 bytes big-endian, the text. One
// definition for both, since a stream and its read-back must agree byte
// for byte.
func AppendTableText[T string | []byte](buf []byte, text T) []byte {
	buf = binary.BigEndian.AppendUint64(append(buf, 1), uint64(len(text)))
	return append(buf, text...)
}

// appendWarnInt appends an integer value as casework's tableDigest hashes
// it: its decimal text, as sql.NullString's Scan gives it.
func appendWarnInt(buf []byte, v int64) []byte {
	var t [20]byte
	return AppendTableText(buf, strconv.AppendInt(t[:0], v, 10))
}
