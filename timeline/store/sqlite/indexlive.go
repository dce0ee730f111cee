package sqlite

import (
	"context"
	"fmt"
)

// liveTS decides, during a bulk run (see BeginRun), whether events_ts is
// kept up to date row by row instead of being built after the walk.
//
// Rows that come in time order (a log read front to back: one syslog
// file's lines) append to the index: SQLite finds the insert point by
// comparing with the last entry only (its cursorOnLastPage shortcut),
// so each row costs a comparison and a cell on the rightmost leaf. On a
// 200 MB syslog (2M rows) that was 0.39 CPU-s spent in the walk, against
// 0.52-0.67 CPU-s sorting the finished table, run alone after it.
//
// A row earlier than the one before it is an insert into the middle of
// the index: a descent from the root, to a leaf the cache may not hold.
// The rows after it, if in order again, follow it there on hot pages, but
// leave the pages they split half full. So two things are counted: how
// often the time goes back (back), and how many rows went into the middle
// (late: before the latest time written). A log's own file times
// (filestat events) come after its lines, a few steps back; a syslog read
// in a year without Feb 29 has its Mar 1 lines a day before its "Feb 29"
// ones (1 GB syslog: one step back, 86,400 rows late of 10.2M). Once the
// time went back more than backSteps times plus once in backShare rows,
// or more than lateRows plus one in lateShare rows came late, the index
// is dropped and FinishWrites builds it as before: an NTFS volume's
// events, in MFT order with scattered times, drop it within their first
// two chunks; files interleaved by the walk, within their first few
// hundred thousand rows.
//
// Whether the index is kept or not, it says the same once the run ends:
// SQLite maintains an index that exists, and a missing one is built.
type liveTS struct {
	on bool
	// prev is the (far, ts) of the last row written, last the greatest.
	prev, last       int64
	prevFar, lastFar bool
	// rows counts the rows written, back those earlier than the row
	// before them, late those earlier than last.
	rows, back, late int64
}

// How often the time may go back, and how many rows may come late,
// before events_ts is dropped.
const (
	backSteps = 1024
	backShare = 64
	lateRows  = 65536
	lateShare = 8
)

// start begins a bulk run with events_ts kept.
func (l *liveTS) start() { *l = liveTS{on: true} }

// keep counts rows, the next ones written, and reports whether events_ts
// is still worth keeping up to date. farTS is after every integer ts.
func (l *liveTS) keep(rows []row) bool {
	for i := range rows {
		r := &rows[i]
		if !r.far && (l.prevFar || r.ts < l.prev) {
			l.back++
		}
		switch {
		case r.far:
			l.lastFar = true
		case l.lastFar || r.ts < l.last:
			l.late++
		default:
			l.last = r.ts
		}
		l.prev, l.prevFar = r.ts, r.far
	}
	l.rows += int64(len(rows))
	return l.back <= backSteps+l.rows/backShare && l.late <= lateRows+l.rows/lateShare
}

// dropLiveTS drops events_ts in the write transaction on conn, for
// FinishWrites to build. A transaction rolled back keeps the index: it is
// then maintained row by row until the run ends, slower but equally
// correct.
func dropLiveTS(ctx context.Context, conn rawConn) error {
	ds, err := conn.PrepareContext(ctx, `DROP INDEX IF EXISTS events_ts`)
	if err != nil {
		return fmt.Errorf("defer the time index: %w", err)
	}
	defer ds.Close()
	st, ok := ds.(rawStmt)
	if !ok {
		return fmt.Errorf("sqlite driver statement %T cannot take a context", ds)
	}
	if _, err := st.ExecContext(ctx, nil); err != nil {
		return fmt.Errorf("defer the time index: %w", err)
	}
	return nil
}
