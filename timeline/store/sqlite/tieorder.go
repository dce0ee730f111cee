package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
// A run of more than maxTieRun equal timestamps is read again through db,
// the read transaction src reads in (one snapshot: rows written since the
// read began are none of its events), with "WHERE ts = ? ORDER BY id".
// stop closes a long run's query left open.
func tieOrdered(ctx context.Context, db querier, src rowIter) (it rowIter, stop func()) {
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
		keys    []uint64 // sortRun's scratch
		sorted  []rowRef
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
			sortRun(run, &keys, &sorted)
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
// row costs a seek into the table. Where consecutive entries are
// rows next to each other (one log, written in time order) the seek is
// SQLite's step to the next row, and this direct read is the cheapest
// there is. Where many files cover the same hours consecutive entries
// are rows far apart: at 1000 EVTX files (2.26M rows, a 114 MB table)
// each seek is cache misses from the root down, and the stepping took a
// quarter of the hunt's CPU against a sixth at 40 files. There the index
// is read alone (it holds ts and rowid: no table access), and the rows of
// a batch of its entries are read from the table in rowid order, each run
// of nearby rowids by one range query: at 1000 files a batch's rows are a
// run of each file's, and the table is read front to back, page after
// page (the stepping's SQLite part fell from about 4.2 to 1.1 CPU-s in the
// sqlite3 shell on that case). That ranged read costs a second row read
// per entry, though, which on a single log is 9 % more instructions for
// the whole hunt (callgrind, 50 MB syslog: 15.99 -> 17.51 G).
//
// So each batch is read the way the last one's rows say pays: the direct
// read while a batch's rows fall in at most directRuns places of the
// table (runs of nearby rowids, or for a direct batch of consecutive
// blocks: a few files side by side, whose rows' pages stay in cache),
// ranged past that. A read changes between the two at a batch's end, where
// the timestamp changes: the other query starts at that timestamp, so no
// row is read twice or left out. Measured with callgrind (hunt --after
// 2000-01-01 --json): 50 MB syslog 17.51 G instructions ranged, 16.06
// direct, 16.27 this way; 40 EVTX files 4.53, 4.31, 4.38. At 1000 EVTX
// files every batch after the first is ranged.
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

// directRuns is the most places a batch may read for the next to be read
// directly. It, and firstBatch and maxBatch (firstResolve and
// maxResolve), are variables for the tests; searchDone (nil) sees each
// time-ordered read's source at its end.
var (
	directRuns           = 64
	searchDone           func(*timeRows)
	firstBatch, maxBatch = firstResolve, maxResolve
)

// timeOrdered returns the rows of event_rows matching where (a WHERE
// clause of where(), and its args) in (ts, id) order. stop ends the read:
// call it once the iterator is no longer used.
//
// The entries and rows are read through the driver's own rows, on a
// connection of the read's own (sql.Conn.Raw, a batch at a time), as
// ForEachRow reads: database/sql's locks and conversions of each value
// were about as much as SQLite's step at 1000 EVTX files, where every
// entry is read twice (hunt of 1000 copies, 3 pairs: 12.70/13.32/13.13 →
// 11.34/11.81/12.37 CPU-s; callgrind, 40 copies 3.888 → 3.783 G
// instructions, 50 MB syslog 16.13 → 15.65 G).
func (s *Store) timeOrdered(ctx context.Context, where string, args []any) (it rowIter, stop func(), err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	src := &timeRows{ctx: ctx, conn: conn, where: where, size: firstBatch, direct: true}
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("search: %w", err)
		}
		src.args = append(src.args, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	// One read transaction, so that the index and the table are read in
	// one snapshot. It is not tied to ctx, which would give every range
	// query a goroutine watching it: the index's query watches ctx, and
	// the batches check it.
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(driver.ConnBeginTx)
		if !ok {
			return fmt.Errorf("sqlite driver connection %T cannot begin a transaction", dc)
		}
		var err error
		src.tx, err = b.BeginTx(context.WithoutCancel(ctx), driver.TxOptions{})
		return err
	})
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	// A long run's own query goes through database/sql on the same
	// connection: inside the transaction.
	it, stopTies := tieOrdered(ctx, conn, src.next)
	return it, func() {
		stopTies()
		conn.Raw(func(any) error {
			src.close()
			src.tx.Rollback()
			return nil
		})
		conn.Close()
		if searchDone != nil {
			searchDone(src)
		}
	}, nil
}

// timeRows reads the entries of events_ts in order, a batch at a time,
// each batch directly or by rowid ranges.
type timeRows struct {
	ctx   context.Context
	conn  *sql.Conn
	dc    any // conn's driver connection, inside fill
	tx    driver.Tx
	where string
	args  []driver.NamedValue
	cur   driver.Rows // the open read of events_ts, direct or not
	vals  []driver.Value
	get   driver.Stmt // rowid BETWEEN ? AND ?, once a batch is ranged
	gvals [4]driver.Value
	// direct: cur is (or the next opened will be) the direct read.
	direct bool
	// from, when set, is the timestamp the next read opened starts at.
	from    tsKey
	hasFrom bool
	// peek is the entry read after a batch's last, of the next batch;
	// its rowid is peekRowid.
	peek      rowRef
	peekRowid int64
	hasPeek   bool

	batch []rowRef // in the index's order, from pos on
	pos   int
	needs []rowNeed // the batch's rowids (blocks, when direct), and where each goes
	size  int
	end   bool
	r     rowRef // the entry read last
	rowid int64
	runs  int      // of the last batch
	keys  []uint64 // sortNeeds' scratch
	// Batches read by ranges and directly, and changes of read (tests).
	ranged, directs, switches int
}

func (t *timeRows) next() (rowRef, bool, error) {
	if t.pos == len(t.batch) {
		if t.end {
			return rowRef{}, false, nil
		}
		if err := t.conn.Raw(func(dc any) error {
			t.dc = dc
			defer func() { t.dc = nil }()
			return t.fill()
		}); err != nil {
			t.end, t.batch, t.pos = true, t.batch[:0], 0
			return rowRef{}, false, err
		}
		if len(t.batch) == 0 {
			return rowRef{}, false, nil
		}
	}
	t.pos++
	return t.batch[t.pos-1], true, nil
}

// open starts the read of events_ts the next batch is read by.
func (t *timeRows) open() error {
	cols := "ts, rowid"
	if t.direct {
		cols = "ts, id, blk, slot"
	}
	q, args := "SELECT "+cols+" FROM event_rows"+t.where, t.args
	if t.hasFrom {
		if t.where == "" {
			q += " WHERE ts >= ?"
		} else {
			q += " AND ts >= ?"
		}
		args = append(slices.Clip(args), driver.NamedValue{Ordinal: len(args) + 1, Value: t.from.value()})
	}
	qc, ok := t.dc.(driver.QueryerContext)
	if !ok {
		return fmt.Errorf("search: sqlite driver connection %T cannot query", t.dc)
	}
	var err error
	if t.cur, err = qc.QueryContext(t.ctx, q+" ORDER BY ts", args); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	t.vals = make([]driver.Value, len(t.cur.Columns()))
	return nil
}

// rowInt is an integer column as the driver read it.
func rowInt(v driver.Value, what string) (int64, error) {
	if i, ok := v.(int64); ok {
		return i, nil
	}
	return 0, fmt.Errorf("search: stored %s %v (%T) is not an integer", what, v, v)
}

// rowID is an id column as the driver read it.
func rowID(v driver.Value) ([16]byte, error) {
	switch b := v.(type) {
	case []byte:
		return storedID(b)
	case string:
		return storedID([]byte(b))
	}
	return [16]byte{}, fmt.Errorf("stored event ID %v (%T) is not 16 bytes", v, v)
}

// read reads cur's next entry into t.r, and its rowid into t.rowid when
// ranged (when direct, id, blk and slot instead).
func (t *timeRows) read() (bool, error) {
	v := t.vals
	if err := t.cur.Next(v); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	r := &t.r
	if err := r.ts.Scan(v[0]); err != nil {
		return false, err
	}
	var err error
	if !t.direct {
		t.rowid, err = rowInt(v[1], "rowid")
		return err == nil, err
	}
	if r.id, err = rowID(v[1]); err != nil {
		return false, err
	}
	if r.blk, err = rowInt(v[2], "block"); err != nil {
		return false, err
	}
	r.slot, err = rowInt(v[3], "slot")
	return err == nil, err
}

// fill reads the next batch: size entries, and on to the end of the last
// one's timestamp unless that would double the batch.
func (t *timeRows) fill() error {
	t.batch, t.needs, t.pos = t.batch[:0], t.needs[:0], 0
	if t.cur == nil {
		if err := t.open(); err != nil {
			return err
		}
	}
	// A ranged batch's needs are its rowids; a direct batch's, its rows'
	// blocks, which say as well how many places of the table it read.
	add := func(r *rowRef, rowid int64) {
		if t.direct {
			rowid = r.blk
		}
		t.needs = append(t.needs, rowNeed{rowid, len(t.batch)})
		t.batch = append(t.batch, *r)
	}
	if t.hasPeek {
		add(&t.peek, t.peekRowid)
		t.hasPeek = false
	}
	boundary := false
	for {
		ok, err := t.read()
		if err != nil {
			return err
		}
		if !ok {
			t.end = true
			break
		}
		if n := len(t.batch); n >= t.size {
			if boundary = t.r.ts != t.batch[n-1].ts; boundary || n >= 2*t.size {
				t.peek, t.peekRowid, t.hasPeek = t.r, t.rowid, true
				break
			}
		}
		add(&t.r, t.rowid)
	}
	t.size = min(2*t.size, maxBatch)
	if err := t.ctx.Err(); err != nil {
		return err
	}
	sortNeeds(t.needs, &t.keys)
	t.runs = 0
	gap := int64(resolveGap)
	if t.direct {
		gap = 1 // blocks: runs of rows of consecutive blocks
	}
	for i := 0; i < len(t.needs); {
		j := i + 1
		for j < len(t.needs) && t.needs[j].rowid-t.needs[j-1].rowid <= gap {
			j++
		}
		if !t.direct {
			if err := t.resolve(t.needs[i:j]); err != nil {
				return err
			}
		}
		t.runs++
		i = j
	}
	if t.direct {
		t.directs++
	} else {
		t.ranged++
	}
	// The next batch the way this one's rows say, changing reads where
	// the timestamp changes: the other read starts at the peeked entry's.
	if direct := t.runs <= directRuns; direct != t.direct && boundary {
		t.cur.Close()
		t.cur, t.direct = nil, direct
		t.switches++
		t.from, t.hasFrom, t.hasPeek = t.peek.ts, true, false
	}
	return nil
}

func (t *timeRows) close() {
	if t.get != nil {
		t.get.Close()
	}
	if t.cur != nil {
		t.cur.Close()
	}
}

// rowNeed is a row a batch of timeRows needs: its rowid and its place in
// the batch.
type rowNeed struct {
	rowid int64
	at    int
}

// resolve reads the rows needs names (in rowid order, close together)
// with one range query and fills in their id, blk and slot in the batch.
func (t *timeRows) resolve(needs []rowNeed) error {
	if t.get == nil {
		pc, ok := t.dc.(driver.ConnPrepareContext)
		if !ok {
			return fmt.Errorf("search: sqlite driver connection %T cannot prepare", t.dc)
		}
		var err error
		if t.get, err = pc.PrepareContext(t.ctx, "SELECT rowid - ?1, id, blk, slot FROM event_rows WHERE rowid BETWEEN ?1 AND ?2"); err != nil {
			return fmt.Errorf("search: %w", err)
		}
	}
	sq, ok := t.get.(driver.StmtQueryContext)
	if !ok {
		return fmt.Errorf("search: sqlite driver statement %T cannot query", t.get)
	}
	// Each block is read as stored, so that a blk that is no integer (a
	// damaged store) fails as one: "blk - ?" (2d42f05, a number near 0
	// that the driver boxes without allocating) read text as a number.
	// Its allocation costs no more than SQLite's test of the type in the
	// query (callgrind, 200 EVTX copies: 17.027 G with "blk - ?", 17.045
	// as stored, 17.203 with a CASE on the type).
	rows, err := sq.QueryContext(context.Background(), []driver.NamedValue{
		{Ordinal: 1, Value: needs[0].rowid}, {Ordinal: 2, Value: needs[len(needs)-1].rowid}})
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	v := t.gvals[:]
	k := 0
	for k < len(needs) {
		if err := rows.Next(v); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		// The query gives each rowid less the first: a number below
		// 256 mostly, which the driver boxes without allocating.
		rowid, err := rowInt(v[0], "rowid")
		if err != nil {
			return err
		}
		rowid += needs[0].rowid
		switch {
		case rowid < needs[k].rowid:
			continue // a row between two needed ones
		case rowid > needs[k].rowid:
			return fmt.Errorf("search: row %d of events_ts is not in event_rows", needs[k].rowid)
		}
		r := &t.batch[needs[k].at]
		if r.id, err = rowID(v[1]); err != nil {
			return err
		}
		if r.blk, err = rowInt(v[2], "block"); err != nil {
			return err
		}
		if r.slot, err = rowInt(v[3], "slot"); err != nil {
			return err
		}
		k++
	}
	if k < len(needs) {
		return fmt.Errorf("search: row %d of events_ts is not in event_rows", needs[k].rowid)
	}
	return nil
}

// sortNeeds sorts needs by rowid. Where every rowid is in [0, 2^40) and
// every place below 2^23 (a batch holds at most 2*maxBatch entries) each
// is sorted as one word, rowid<<23 | at, with the ordered sort: the
// comparison function's calls were about a third of the sort, one of
// 65,536 entries per batch at 1000 EVTX copies.
func sortNeeds(needs []rowNeed, keys *[]uint64) {
	const atBits = 23
	k := (*keys)[:0]
	for _, n := range needs {
		if n.rowid < 0 || n.rowid >= 1<<(63-atBits) || n.at < 0 || n.at >= 1<<atBits {
			slices.SortFunc(needs, func(a, b rowNeed) int { return cmp.Compare(a.rowid, b.rowid) })
			*keys = k
			return
		}
		k = append(k, uint64(n.rowid)<<atBits|uint64(n.at))
	}
	slices.Sort(k)
	for i, x := range k {
		needs[i] = rowNeed{int64(x >> atBits), int(x & (1<<atBits - 1))}
	}
	*keys = k
}

// runAtBits is the low bits of sortRun's keys, which hold a row's place
// in its run.
const runAtBits = 17

// sortRun sorts a run of rows by ID (compareID's order) through keys and
// sorted, scratch kept from run to run: at 1000 EVTX copies every
// timestamp is a run of 1000 rows, and sorting the 72-byte rows
// themselves, each comparison loading both IDs again, was 3 % of the
// hunt's CPU samples (slices.partitionCmpFunc and insertionSortCmpFunc).
// Each row's key is one word, the first 47 bits of its ID and its place
// in the run, sorted by the ordered sort (no comparison function called);
// rows whose IDs share those bits are then sorted among themselves by the
// whole ID. Such rows come in pairs at 200 EVTX copies: the events' IDs
// share their first 8 bytes two by two.
func sortRun(run []rowRef, keys *[]uint64, sorted *[]rowRef) {
	if len(run) <= 12 || len(run) > 1<<runAtBits {
		slices.SortFunc(run, compareID)
		return
	}
	const at = 1<<runAtBits - 1
	k := (*keys)[:0]
	for i := range run {
		k = append(k, binary.BigEndian.Uint64(run[i].id[:8])&^at|uint64(i))
	}
	slices.Sort(k)
	out := (*sorted)[:0]
	for _, x := range k {
		out = append(out, run[x&at])
	}
	for i := 0; i < len(k); {
		j := i + 1
		for j < len(k) && k[j]&^at == k[i]&^at {
			j++
		}
		switch g := out[i:j]; {
		case len(g) == 2:
			if compareID(g[0], g[1]) > 0 {
				g[0], g[1] = g[1], g[0]
			}
		case len(g) > 2:
			slices.SortFunc(g, compareID)
		}
		i = j
	}
	copy(run, out)
	*keys, *sorted = k, out
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
