package sqlite

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
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
