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
// A row that goes back in time is a random insert into a B-tree larger
// than the bulk run's page cache. A few are cheap: a log's own file times
// (filestat events) come after its lines and before its last one. Many
// are not, so once more than lateRows plus one in lateShare of the rows
// came late, the index is dropped and FinishWrites builds it as before:
// an NTFS volume's events, or several files' (interleaved by the
// parallel walk), drop it within their first chunks.
//
// Whether the index is kept or not, it says the same once the run ends:
// SQLite maintains an index that exists, and a missing one is built.
type liveTS struct {
	on bool
	// last is the greatest (far, ts) written so far in the run.
	last    int64
	lastFar bool
	// rows counts the rows written, late those before last.
	rows, late int64
}

// How many rows may come late before events_ts is dropped: lateRows and
// one in lateShare of the rows written.
const (
	lateRows  = 1024
	lateShare = 64
)

// start begins a bulk run with events_ts kept.
func (l *liveTS) start() { *l = liveTS{on: true} }

// keep counts rows, the next ones written, and reports whether events_ts
// is still worth keeping up to date.
func (l *liveTS) keep(rows []row) bool {
	for i := range rows {
		r := &rows[i]
		switch {
		case r.far:
			l.lastFar = true // farTS is after every integer ts
		case l.lastFar || r.ts < l.last:
			l.late++
		default:
			l.last = r.ts
		}
	}
	l.rows += int64(len(rows))
	return l.late <= lateRows+l.rows/lateShare
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
