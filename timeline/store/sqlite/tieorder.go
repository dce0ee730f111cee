package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"slices"
)

// A search returns events in (ts, id) order. events_ts indexes ts alone,
// so "ORDER BY ts, id" makes SQLite feed every row through a temporary
// B-tree that sorts each run of equal timestamps by ID, even where every
// timestamp differs (a syslog case: 500k rows, 500k timestamps). That
// sorter was about a third of the query's cost (sqlite3 CLI on the 50 MB
// auth.log case: 0.27 s with it, 0.17 s for "ORDER BY ts"). tieOrdered
// reads "ORDER BY ts" and sorts the runs of equal timestamps by ID here,
// which gives the same order: IDs are unique 16-byte blobs, which SQLite
// compares as bytes.Compare does.
//
// A run is held in memory while it is sorted: maxTieRun rows at most. A
// longer run (an image whose files share one timestamp, say) is read
// again with its own "WHERE ts = ? ORDER BY id", so memory stays bounded.
var maxTieRun = 1 << 16 // a variable for the tests

// rowRef is one row of a search: its event ID and where its document is.
type rowRef struct {
	ts        tsKey
	id        [16]byte
	blk, slot int64
}

// tsKey is a stored ts as SQLite compares it: equal keys are equal
// values. A time outside int64 nanoseconds is stored as a REAL; a REAL
// with an exact integer value is that integer (SQLite finds 5 = 5.0).
type tsKey struct {
	kind uint8 // 0 integer, 1 real, 2 text or blob
	i    int64
	f    float64
	s    string
}

// Scan implements sql.Scanner.
func (k *tsKey) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*k = tsKey{i: v}
	case float64:
		*k = tsKey{kind: 1, f: v}
		if v >= -(1<<63) && v < 1<<63 {
			if i := int64(v); float64(i) == v {
				*k = tsKey{i: i}
			}
		}
	case string:
		*k = tsKey{kind: 2, s: v}
	case []byte:
		*k = tsKey{kind: 2, s: string(v)}
	default:
		return fmt.Errorf("stored timestamp %v (%T) is not a number", src, src)
	}
	return nil
}

// value is k as a query argument.
func (k tsKey) value() any {
	switch k.kind {
	case 1:
		return k.f
	case 2:
		return k.s
	}
	return k.i
}

// storedID is an event_rows.id as read: 16 bytes, or a damaged store.
func storedID(id []byte) ([16]byte, error) {
	if len(id) != 16 {
		return [16]byte{}, fmt.Errorf("stored event ID %x is not 16 bytes", id)
	}
	return [16]byte(id), nil
}

// rowIter yields the rows of a search in order: ok false at the end.
type rowIter func() (r rowRef, ok bool, err error)

// plainRows iterates rows of (id, blk, slot) as the query ordered them.
func plainRows(rows *sql.Rows) rowIter {
	var (
		id sql.RawBytes
		r  rowRef
	)
	return func() (rowRef, bool, error) {
		if !rows.Next() {
			return rowRef{}, false, rows.Err()
		}
		if err := rows.Scan(&id, &r.blk, &r.slot); err != nil {
			return rowRef{}, false, err
		}
		var err error
		if r.id, err = storedID(id); err != nil {
			return rowRef{}, false, err
		}
		return r, true, nil
	}
}

// tieOrdered iterates the rows src gives in ts order in (ts, id) order.
// A run of more than maxTieRun equal timestamps is read again through db
// with "WHERE ts = ? ORDER BY id". stop closes a long run's query left
// open.
func tieOrdered(ctx context.Context, db *sql.DB, src rowIter) (it rowIter, stop func()) {
	var (
		id      sql.RawBytes
		run     []rowRef // the current run, sorted, from pos on
		pos     int
		next    rowRef // the first row after run, when have
		have    bool
		end     bool
		long    *sql.Rows // a long run's own query
		longTS  tsKey
		skipTS  bool // rows of longTS from src are skipped: long gives them
		longErr error
	)
	scan := func() (rowRef, bool, error) {
		for {
			r, ok, err := src()
			if err != nil || !ok {
				return rowRef{}, false, err
			}
			if skipTS && r.ts == longTS {
				continue
			}
			skipTS = false
			return r, true, nil
		}
	}
	it = func() (rowRef, bool, error) {
		if long != nil {
			if long.Next() {
				r := rowRef{ts: longTS}
				if err := long.Scan(&id, &r.blk, &r.slot); err != nil {
					return rowRef{}, false, err
				}
				var err error
				if r.id, err = storedID(id); err != nil {
					return rowRef{}, false, err
				}
				return r, true, nil
			}
			longErr = long.Err()
			long.Close()
			long = nil
			if longErr != nil {
				return rowRef{}, false, longErr
			}
		}
		if pos < len(run) {
			pos++
			return run[pos-1], true, nil
		}
		if end {
			return rowRef{}, false, nil
		}
		// Read the next run: rows until the timestamp changes.
		run, pos = run[:0], 0
		if !have {
			r, ok, err := scan()
			if err != nil || !ok {
				end = true
				return rowRef{}, false, err
			}
			next, have = r, true
		}
		run = append(run, next)
		have = false
		for {
			r, ok, err := scan()
			if err != nil {
				return rowRef{}, false, err
			}
			if !ok {
				end = true
				break
			}
			if r.ts != run[0].ts {
				next, have = r, true
				break
			}
			if len(run) == maxTieRun {
				// Too long to hold: the run's own query gives it in
				// order; what is left of it here is skipped.
				longTS, skipTS = r.ts, true
				q, err := db.QueryContext(ctx, "SELECT id, blk, slot FROM event_rows WHERE ts = ? ORDER BY id", longTS.value())
				if err != nil {
					return rowRef{}, false, fmt.Errorf("search: timestamp %v: %w", longTS.value(), err)
				}
				long, run = q, run[:0]
				// Skip the rest of the run in rows and find the row
				// after it.
				r, ok, err := scan()
				if err != nil {
					long.Close()
					long = nil
					return rowRef{}, false, err
				}
				if ok {
					next, have = r, true
				} else {
					end = true
				}
				return it()
			}
			run = append(run, r)
		}
		if len(run) > 1 {
			slices.SortFunc(run, compareID)
		}
		pos = 1
		return run[0], true, nil
	}
	return it, func() {
		if long != nil {
			long.Close()
		}
	}
}

// A search in time order reads events_ts, and each of its entries names a
// row of the table by rowid, where the row's id, blk and slot are. Looked
// up entry by entry ("SELECT ts, id, blk, slot ... ORDER BY ts"), every
// row costs a descent of the table's B-tree, and when many files cover the
// same hours consecutive entries are rows far apart in the table: at 1000
// EVTX files (2.26M rows, a 114 MB table) each descent is cache misses
// from the root down, and the stepping took a quarter of the hunt's CPU
// against a sixth at 40 files. So the index is read alone (it holds ts
// and rowid: no table access), and the rows of a batch of its entries are
// read from the table in rowid order, each run of nearby rowids by one
// range query: at 1000 files a batch's rows are a run of each file's, and
// the table is read front to back, page after page. The stepping's SQLite
// part fell from about 4.2 to 1.1 CPU-s in the sqlite3 shell on that case.
const (
	// firstResolve is the first batch's entries, so that a read's first
	// events come quickly; batches double up to maxResolve.
	firstResolve = 1 << 10
	maxResolve   = 1 << 16
	// resolveGap is the most rows between two a batch needs that one
	// range query reads through rather than starting another: a row read
	// and skipped costs far less than a query.
	resolveGap = 16
)

// timeOrdered returns the rows of event_rows matching where (a WHERE
// clause of where(), and its args) in (ts, id) order. stop ends the read:
// call it once the iterator is no longer used.
func (s *Store) timeOrdered(ctx context.Context, where string, args []any) (it rowIter, stop func(), err error) {
	// One read transaction, so that the index and the table are read in
	// one snapshot. It is not tied to ctx, which would give every range
	// query a goroutine watching it: the index's query watches ctx, and
	// byRowid checks it between batches.
	tx, err := s.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	idx, err := tx.QueryContext(ctx, "SELECT ts, rowid FROM event_rows"+where+" ORDER BY ts", args...)
	if err != nil {
		tx.Rollback()
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	get, err := tx.PrepareContext(ctx, "SELECT rowid, id, blk, slot FROM event_rows WHERE rowid BETWEEN ? AND ?")
	if err != nil {
		idx.Close()
		tx.Rollback()
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	it, stopTies := tieOrdered(ctx, s.db, byRowid(ctx, idx, get))
	return it, func() {
		stopTies()
		get.Close()
		idx.Close()
		tx.Rollback()
	}, nil
}

// byRowid iterates the entries idx gives (ts, rowid), in its order, with
// each row's id, blk and slot read through get (rowid BETWEEN ? AND ?)
// in batches.
func byRowid(ctx context.Context, idx *sql.Rows, get *sql.Stmt) rowIter {
	var (
		batch []rowRef // in idx's order, from pos on
		pos   int
		needs []rowNeed
		size  = firstResolve
		end   bool
	)
	fill := func() error {
		batch, needs, pos = batch[:0], needs[:0], 0
		var (
			ts    tsKey
			rowid int64
		)
		for len(batch) < size && idx.Next() {
			if err := idx.Scan(&ts, &rowid); err != nil {
				return err
			}
			needs = append(needs, rowNeed{rowid, len(batch)})
			batch = append(batch, rowRef{ts: ts})
		}
		if len(batch) < size {
			end = true
			if err := idx.Err(); err != nil {
				return err
			}
		}
		size = min(2*size, maxResolve)
		if err := ctx.Err(); err != nil {
			return err
		}
		slices.SortFunc(needs, func(a, b rowNeed) int { return cmp.Compare(a.rowid, b.rowid) })
		for i := 0; i < len(needs); {
			j := i + 1
			for j < len(needs) && needs[j].rowid-needs[j-1].rowid <= resolveGap {
				j++
			}
			if err := resolve(get, needs[i:j], batch); err != nil {
				return err
			}
			i = j
		}
		return nil
	}
	return func() (rowRef, bool, error) {
		if pos == len(batch) {
			if end {
				return rowRef{}, false, nil
			}
			if err := fill(); err != nil {
				end, batch, pos = true, batch[:0], 0
				return rowRef{}, false, err
			}
			if len(batch) == 0 {
				return rowRef{}, false, nil
			}
		}
		pos++
		return batch[pos-1], true, nil
	}
}

// rowNeed is a row a batch of byRowid needs: its rowid and its place in
// the batch.
type rowNeed struct {
	rowid int64
	at    int
}

// resolve reads the rows needs names (in rowid order, close together)
// with one range query through get and fills in their id, blk and slot
// in batch.
func resolve(get *sql.Stmt, needs []rowNeed, batch []rowRef) error {
	rows, err := get.Query(needs[0].rowid, needs[len(needs)-1].rowid)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var (
		rowid, blk, slot int64
		id               sql.RawBytes
	)
	k := 0
	for k < len(needs) && rows.Next() {
		if err := rows.Scan(&rowid, &id, &blk, &slot); err != nil {
			return err
		}
		switch {
		case rowid < needs[k].rowid:
			continue // a row between two needed ones
		case rowid > needs[k].rowid:
			return fmt.Errorf("search: row %d of events_ts is not in event_rows", needs[k].rowid)
		}
		r := &batch[needs[k].at]
		if r.id, err = storedID(id); err != nil {
			return err
		}
		r.blk, r.slot = blk, slot
		k++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if k < len(needs) {
		return fmt.Errorf("search: row %d of events_ts is not in event_rows", needs[k].rowid)
	}
	return nil
}

// compareID orders rows by ID as bytes.Compare does (and SQLite does
// BLOBs), a word at a time: at 1000 EVTX copies every timestamp is a run
// of 1000 rows, and sorting them with bytes.Compare was 2 % of the hunt.
func compareID(a, b rowRef) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a.id[:8]), binary.BigEndian.Uint64(b.id[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a.id[8:]), binary.BigEndian.Uint64(b.id[8:]))
}
