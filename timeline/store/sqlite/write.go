package sqlite

import (
	"context"
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"unsafe"

	"github.com/jejak-forensics/jejak/timeline"
)

// row is an event ready to bind: its ID decoded, its columns picked out,
// its place in its block.
type row struct {
	id                   [16]byte
	ts                   int64
	far                  bool // ts is farTS: the time is outside date_nanos
	action, parser, addr string
	slot                 int64 // its place in its block
}

// chunk is a run of encoded events, compressed into blocks. Chunks are
// recycled, so that encoding allocates nothing once their buffers have
// grown to size.
type chunk struct {
	rows   []row
	buf    []byte // the documents of the block being filled
	ends   []int  // where each of them ends in buf
	blocks []outBlock
	zbuf   []byte // the blocks' frames
	zlens  []int
	err    error
	done   chan struct{}
	last   bool // the last chunk of its batch (write-behind)
	// pooled: encoded ahead (encoding), so it goes back to the store's
	// pool once inserted, not to a write-behind's free chunks.
	pooled bool
	first  int // the first row of the block being filled (add)
	memo   encMemo
}

// encode finalizes (when needed), encodes and compresses evs into c.
//
// Each block is compressed as soon as its documents are encoded, while
// they are in the CPU's caches, and its JSON is dropped: the chunk holds
// one block's documents (at most blockBytes and a document), not the
// chunk's, which kept a megabyte of JSON per chunk alive until the chunk
// was inserted.
func (c *chunk) encode(evs []*timeline.Event) {
	c.start()
	fast := modelMatches()
	for _, e := range evs {
		if !c.add(e, fast) {
			return
		}
	}
	c.finish()
}

// start empties c for a chunk's events (add, then finish).
func (c *chunk) start() {
	c.rows, c.buf, c.ends, c.err = c.rows[:0], c.openBlock(), c.ends[:0], nil
	c.zbuf, c.blocks, c.zlens = c.zbuf[:0], c.blocks[:0], c.zlens[:0]
	c.first = 0
}

// add encodes the chunk's next event, compressing a block when it is
// full; fast is modelMatches(). It reports false, with c.err set, when e
// cannot be stored: the chunk then fails as a whole.
func (c *chunk) add(e *timeline.Event, fast bool) bool {
	if e.Jejak.ID == "" {
		e.Finalize()
	}
	var r row
	if !decodeID(&r.id, e.Jejak.ID) {
		c.err = fmt.Errorf("event id %q is not 32 hex digits", e.Jejak.ID)
		return false
	}
	start := len(c.buf)
	var err error
	if fast {
		c.buf, err = appendStored(c.buf, e, &c.memo)
	} else {
		c.buf, err = appendMarshal(c.buf, e)
	}
	if err != nil {
		c.err = fmt.Errorf("encode event %s: %w", e.Jejak.ID, err)
		return false
	}
	if !fast {
		doc, err := stripID(c.buf[start:])
		if err != nil {
			c.err = fmt.Errorf("event %x: %w", r.id, err)
			return false
		}
		c.buf = c.buf[:start+len(doc)]
	}
	if n := len(c.buf) - start; n > maxBlockBytes/2 {
		c.err = fmt.Errorf("event %x: a document of %d bytes, more than the store reads back", r.id, n)
		return false
	}
	r.ts, r.far = tsNanos(e.Timestamp)
	r.action = e.Event.Action
	r.parser = e.Jejak.Provenance.Parser
	if e.Source != nil {
		r.addr = e.Source.IP
	}
	r.slot = int64(len(c.rows) - c.first)
	c.rows = append(c.rows, r)
	c.ends = append(c.ends, len(c.buf)-blockHead)
	// A block ends at blockRows documents, or once blockBytes of them
	// are in.
	if len(c.rows)-c.first == blockRows || len(c.buf)-blockHead >= blockBytes {
		c.closeBlock(c.first)
		c.first = len(c.rows)
	}
	return true
}

// decodeID decodes the 32 hex digits of id (either case) into dst, as
// hex.Decode does, and reports whether id was 32 hex digits. Eight digits
// at a time: hex.Decode's loop over single digits (a call and two range
// tests each) was about 350 instructions an event, 0.5 % of a syslog
// analyze.
func decodeID(dst *[16]byte, id string) bool {
	if len(id) != 32 {
		return false
	}
	const (
		lows  = 0x0f0f0f0f0f0f0f0f
		lower = 0x2020202020202020
	)
	var bad uint64
	for i := 0; i < 32; i += 8 {
		// Each byte tested as a range without carries between bytes: a
		// byte below 0x80 plus at most 0x50 stays below 0x100, and bytes
		// from 0x80 up fail on their high bit (bad).
		w := load64(id, i)
		digit := (w + ones*(0x80-'0')) &^ (w + ones*(0x7f-'9')) & highs
		l := w | lower
		letter := (l + ones*(0x80-'a')) &^ (l + ones*(0x7f-'f')) & highs
		bad |= (digit | letter) ^ highs | w&highs
		n := w&lows + (letter>>7)*9 // each byte its digit's value
		t := (n<<4 | n>>8) & 0x00ff00ff00ff00ff
		t = (t | t>>8) & 0x0000ffff0000ffff
		t = (t | t>>16) & 0xffffffff
		binary.LittleEndian.PutUint32(dst[i/2:], uint32(t))
	}
	return bad == 0
}

// finish compresses the last block of the chunk's events and slices the
// blocks' frames.
func (c *chunk) finish() {
	if c.first < len(c.rows) {
		c.closeBlock(c.first)
		c.first = len(c.rows)
	}
	// zbuf may have moved while it grew: the frames are sliced now.
	off := 0
	for i := range c.blocks {
		n := c.zlens[i]
		c.blocks[i].z = c.zbuf[off : off+n : off+n]
		off += n
	}
}

// blockHead is the room c.buf keeps before a block's documents for the
// block's header (see appendBlockEnds): the count, at most blockRows (2
// bytes as a uvarint), and each document's length, at most
// maxBlockBytes/2 (4 bytes). The header is written into it, right-aligned,
// once the block is full, so that the block is compressed where its
// documents were written: copying them after a header first moved every
// byte of the store's JSON once more (10 GB for a 1 GB syslog).
const blockHead = 2 + 4*blockRows

// openBlock empties c.buf for a block, keeping blockHead bytes for its
// header.
func (c *chunk) openBlock() []byte {
	if cap(c.buf) < blockHead {
		c.buf = make([]byte, blockHead, blockHead+blockBytes+blockBytes/2)
	}
	return c.buf[:blockHead]
}

// closeBlock compresses the documents in c.buf, the rows from first on,
// into a block, and empties c.buf.
func (c *chunk) closeBlock(first int) {
	var head [blockHead]byte
	h := appendBlockEnds(head[:0], nil, c.ends)
	raw := c.buf[blockHead-len(h):]
	copy(raw, h)
	start := len(c.zbuf)
	c.zbuf = compressRaw(c.zbuf, raw)
	c.zlens = append(c.zlens, len(c.zbuf)-start)
	c.blocks = append(c.blocks, outBlock{first: first, n: len(c.rows) - first})
	c.buf, c.ends = c.openBlock(), c.ends[:0]
}

// appendMarshal is the encoding/json path, for a timeline.Event newer than
// appendEvent.
func appendMarshal(dst []byte, e *timeline.Event) ([]byte, error) {
	j, err := json.Marshal(e)
	if err != nil {
		return dst, err
	}
	return append(dst, j...), nil
}

// encodeChunk is how many events are encoded per chunk.
const encodeChunk = 1024

// encodeAhead encodes batch into chunks on up to GOMAXPROCS goroutines and
// returns them in order. Only GOMAXPROCS+1 chunks take turns: each is
// handed back through release once inserted, which bounds memory whatever
// the batch size. done stops the encoders, waits for them and keeps the
// chunks for the next batch.
func (s *Store) encodeAhead(batch []*timeline.Event) (chunks <-chan *chunk, release func(*chunk), done func()) {
	n := runtime.GOMAXPROCS(0) + 1
	free := make(chan *chunk, n)
	for range n {
		free <- s.pooledChunk()
	}
	out := make(chan *chunk, n)
	stop := make(chan struct{})
	go func() {
		defer close(out)
		for lo := 0; lo < len(batch); lo += encodeChunk {
			var c *chunk
			select {
			case c = <-free:
			case <-stop:
				return
			}
			c.done = make(chan struct{})
			evs := batch[lo:min(lo+encodeChunk, len(batch))]
			go func() {
				c.encode(evs)
				close(c.done)
			}()
			out <- c // never blocks: out has room for every chunk
		}
	}()
	release = func(c *chunk) { free <- c }
	done = func() {
		close(stop)
		for c := range out {
			<-c.done
			free <- c
		}
		// A chunk the caller kept (it stopped on an error) is left to the
		// garbage collector.
		for {
			select {
			case c := <-free:
				s.chunks.Put(c)
			default:
				return
			}
		}
	}
	return out, release, done
}

// rawConn is what Write needs of the modernc driver's connection.
type rawConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
}

// rawStmt is a prepared statement of the modernc driver.
type rawStmt interface {
	driver.Stmt
	driver.StmtExecContext
}

// prepareRaw prepares q on conn; what names it in the error of a failed
// prepare.
func prepareRaw(ctx context.Context, conn rawConn, what, q string) (rawStmt, error) {
	ds, err := conn.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare %s: %w", what, err)
	}
	st, ok := ds.(rawStmt)
	if !ok {
		ds.Close()
		return nil, fmt.Errorf("sqlite driver statement %T cannot take a context", ds)
	}
	return st, nil
}

// A multi-row insert binds what its rows share once (see insertStmt), the
// rows' IDs as one value, and at most insertCols values per row.
const (
	insertRows = blockRows
	insertCols = 4
)

// Write inserts a batch in one transaction. Finalizing, encoding and
// compressing run on all cores, ahead of the inserts, which SQLite runs
// on one.
//
// Each block is inserted, then its rows, one multi-row INSERT: a block
// whose rows were all ignored as duplicates (the same evidence ingested
// again) is removed again. A block some of whose rows were ignored
// keeps their documents; nothing reads them.
//
// In a bulk run (see BeginRun) there is no unique index yet: an event that
// repeats one written earlier in the run is counted as inserted here, and
// FinishWrites reports it.
//
// The inserts talk to the driver's connection directly (sql.Conn.Raw):
// database/sql would convert and copy every argument again, and a
// cancellable context makes the driver start a watcher goroutine per
// statement; ctx is checked between chunks instead.
func (s *Store) Write(ctx context.Context, batch []*timeline.Event) (timeline.WriteStats, error) {
	var st timeline.WriteStats
	if len(batch) == 0 {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.behind != nil {
		if s.deferred {
			return s.writeBehind(ctx, batch)
		}
		// Not a bulk run any more: the rows written behind go first.
		if err := s.stopBehind(); err != nil {
			return st, err
		}
	}
	chunks, release, done := s.encodeAhead(batch)
	defer done()
	return s.insertNow(ctx, func(yield func(*chunk) bool) {
		for c := range chunks {
			<-c.done
			if !yield(c) {
				return
			}
		}
	}, release)
}

// insertNow inserts the chunks of a batch in one transaction (Write
// without write-behind; s.mu is held), handing each to release once
// inserted; the first chunk that failed to encode fails the batch.
func (s *Store) insertNow(ctx context.Context, chunks iter.Seq[*chunk], release func(*chunk)) (timeline.WriteStats, error) {
	var st timeline.WriteStats
	bg := context.Background()
	err := s.w.Raw(func(dc any) error {
		return inRawTx(bg, dc, "", func(conn rawConn) error {
			// Each block is inserted before its rows, which name it by the
			// number SQLite gave it. Nothing is read before the first write:
			// a transaction that has read cannot wait for another
			// connection's write lock (SQLite returns SQLITE_BUSY at once
			// rather than risk a deadlock), and the run's progress and
			// warnings are written on other connections meanwhile.
			ins := s.newInserter(conn)
			for c := range chunks {
				if c.err != nil {
					return c.err
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				if err := ins.chunk(c, &st); err != nil {
					return err
				}
				release(c)
			}
			return nil
		})
	})
	if err != nil {
		if s.dig != nil {
			// Rows hashed may have been rolled back.
			s.dig.fail("a write failed: %v", err)
		}
		return timeline.WriteStats{}, err
	}
	if s.deferred {
		s.written += int64(st.Inserted)
	}
	return st, nil
}

// inserter inserts encoded chunks on the writer's connection, inside a
// transaction its caller holds.
type inserter struct {
	s                  *Store
	conn               rawConn
	blockIns, blockDel rawStmt
	args               []driver.NamedValue
	ids                []byte // the IDs of a block's rows, one after another
	err                error  // preparing the block statements

	// firstBlk and firstRow are the block and the row of event_rows the
	// inserts since the last mark began with (0: none yet): what undo
	// removes.
	firstBlk, firstRow int64

	// holdFar: a far time is bound as farHeld (a bulk run, see
	// farheld.go); held says the block in hand bound one.
	holdFar, held bool
}

func (s *Store) newInserter(conn rawConn) *inserter {
	in := &inserter{s: s, conn: conn, args: make([]driver.NamedValue, 0, 4+insertRows*insertCols), holdFar: s.deferred}
	in.blockIns, in.blockDel, in.err = s.blockStmts(conn)
	return in
}

// chunk inserts c's blocks, then each block's rows, one multi-row INSERT,
// adding what it did to st.
func (in *inserter) chunk(c *chunk, st *timeline.WriteStats) error {
	if in.err != nil {
		return in.err
	}
	s, bg := in.s, context.Background()
	for _, b := range c.blocks {
		part := c.rows[b.first : b.first+b.n]
		shape := insertShape{n: len(part), oneParser: oneParser(part)}
		stmt, err := s.insertStmt(in.conn, shape)
		if err != nil {
			return err
		}
		// The driver copies the blob at once.
		res, err := in.blockIns.ExecContext(bg, []driver.NamedValue{{Ordinal: 1, Value: b.z}})
		if err != nil {
			return fmt.Errorf("insert block of events %x...: %w", part[0].id, err)
		}
		blk, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if in.firstBlk == 0 {
			in.firstBlk = blk
		}
		ids := in.ids[:0]
		for i := range part {
			ids = append(ids, part[i].id[:]...)
		}
		in.ids = ids
		in.held = false
		a := append(in.args[:0],
			driver.NamedValue{Ordinal: 1, Value: s.run.Load()},
			driver.NamedValue{Ordinal: 2, Value: blk})
		if shape.oneParser {
			a = append(a, driver.NamedValue{Ordinal: 3, Value: nullable(part[0].parser)})
		}
		a = append(a, driver.NamedValue{Ordinal: len(a) + 1, Value: ids})
		for i := range part {
			r := &part[i]
			if r.slot != int64(i) {
				return fmt.Errorf("event %x: slot %d of its block, inserted as row %d", r.id, r.slot, i)
			}
			a = append(a,
				driver.NamedValue{Ordinal: len(a) + 1, Value: in.tsBound(r)},
				driver.NamedValue{Ordinal: len(a) + 2, Value: boundString(&r.action)})
			if !shape.oneParser {
				a = append(a, driver.NamedValue{Ordinal: len(a) + 1, Value: boundString(&r.parser)})
			}
			a = append(a, driver.NamedValue{Ordinal: len(a) + 1, Value: boundString(&r.addr)})
		}
		in.args = a[:0]
		res, err = stmt.ExecContext(bg, a)
		if err != nil {
			return fmt.Errorf("insert events %x...: %w", part[0].id, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		st.Inserted += int(n)
		st.Duplicates += len(part) - int(n)
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if in.held && n > 0 {
			s.heldFar(last-n+1, last)
		}
		if in.firstRow == 0 && n > 0 {
			// A statement's rows take the rowids after the largest
			// one, one after another (none is ignored but for a
			// constraint, which takes no rowid).
			in.firstRow = last - n + 1
		}
		if s.dig != nil {
			s.dig.add(part, s.run.Load(), blk, n, last)
		}
		if n == 0 {
			// Every row was there already: so is its document.
			if _, err := in.blockDel.ExecContext(bg, []driver.NamedValue{{Ordinal: 1, Value: blk}}); err != nil {
				return fmt.Errorf("remove block %d: %w", blk, err)
			}
		}
	}
	return nil
}

// inRawTx runs fn in a transaction on dc, the driver's own connection
// (sql.Conn.Raw), and commits it when fn succeeds; otherwise it rolls it
// back. prefix starts the messages of a failed begin or commit.
func inRawTx(ctx context.Context, dc any, prefix string, fn func(rawConn) error) error {
	conn, ok := dc.(rawConn)
	if !ok {
		return fmt.Errorf("sqlite driver connection %T cannot prepare statements", dc)
	}
	tx, err := conn.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return fmt.Errorf("%sbegin: %w", prefix, err)
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	if err := fn(conn); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%scommit: %w", prefix, err)
	}
	committed = true
	return nil
}

// blockStmts returns the prepared INSERT and DELETE of a block.
func (s *Store) blockStmts(conn rawConn) (ins, del rawStmt, err error) {
	if s.blockIns != nil {
		return s.blockIns, s.blockDel, nil
	}
	prep := func(q string) (rawStmt, error) {
		return prepareRaw(context.Background(), conn, fmt.Sprintf("%q", q), q)
	}
	if ins, err = prep(`INSERT INTO blocks(z) VALUES(?)`); err != nil {
		return nil, nil, err
	}
	if del, err = prep(`DELETE FROM blocks WHERE id = ?`); err != nil {
		ins.Close()
		return nil, nil, err
	}
	s.blockIns, s.blockDel = ins, del
	return ins, del, nil
}

// insertShape is what a prepared insert is for: n rows (n ≤ insertRows),
// the rows of one block, that share one parser or not.
type insertShape struct {
	n         int
	oneParser bool
}

// oneParser reports whether every row has the same parser, as the rows of
// a block nearly always do (they come from one file, unless it is small).
func oneParser(rows []row) bool {
	for i := 1; i < len(rows); i++ {
		if rows[i].parser != rows[0].parser {
			return false
		}
	}
	return true
}

// insertStmt returns the prepared INSERT of a block's rows. Multi-row
// INSERTs, because per-statement overhead costs more than SQLite's own
// work for rows this small.
//
// What is the same for every row is bound once: the run and the block as
// ?1 and ?2, and when the rows share their parser, it as ?3 (written first
// in the first row, so that the rows' plain ? are numbered after them); a
// row's slot is its place in the block, a literal. The driver binds each
// parameter with a C call under SQLite's mutex and copies each text: these
// were 4 of the 8 values per row.
//
// The rows' IDs are bound as one blob, the block's 16-byte IDs one after
// another, and each row takes its own with substr (a blob's substr is a
// blob, of bytes): the driver allocates, copies and afterwards unbinds and
// frees every blob or text bound, which cost more than SQLite's substr.
// Measured on the analyze of a 10 MB syslog (callgrind, two runs each):
// 6.98 and 7.06 G instructions before, 6.89 and 7.02 G after.
//
// OR IGNORE rather than ON CONFLICT DO NOTHING: with every constraint set
// to IGNORE, a multi-row INSERT cannot abort half-way, so SQLite keeps no
// statement journal (a copy of every page the statement touches).
func (s *Store) insertStmt(conn rawConn, shape insertShape) (rawStmt, error) {
	if st, ok := s.ins[shape]; ok {
		return st, nil
	}
	var b strings.Builder
	if shape.oneParser {
		b.WriteString(`INSERT OR IGNORE INTO event_rows(run, blk, parser, id, ts, action, source_ip, slot) VALUES `)
	} else {
		b.WriteString(`INSERT OR IGNORE INTO event_rows(run, blk, id, ts, action, parser, source_ip, slot) VALUES `)
	}
	for i := range shape.n {
		if i > 0 {
			b.WriteByte(',')
		}
		if shape.oneParser {
			fmt.Fprintf(&b, "(?1,?2,?3,substr(?4,%d,16),?,?,?,%d)", 1+16*i, i)
		} else {
			fmt.Fprintf(&b, "(?1,?2,substr(?3,%d,16),?,?,?,?,%d)", 1+16*i, i)
		}
	}
	st, err := prepareRaw(context.Background(), conn, "insert", b.String())
	if err != nil {
		return nil, err
	}
	if s.ins == nil {
		s.ins = map[insertShape]rawStmt{}
	}
	s.ins[shape] = st
	return st, nil
}

// closeInserts closes the prepared inserts, on the connection they belong
// to.
func (s *Store) closeInserts() error {
	if len(s.ins) == 0 && s.blockIns == nil {
		return nil
	}
	return s.w.Raw(func(any) error {
		var errs []error
		for n, st := range s.ins {
			errs = append(errs, st.Close())
			delete(s.ins, n)
		}
		if s.blockIns != nil {
			errs = append(errs, s.blockIns.Close(), s.blockDel.Close())
			s.blockIns, s.blockDel = nil, nil
		}
		return errors.Join(errs...)
	})
}

// Binding without boxing. Each value bound per row, made an interface
// the ordinary way, was an allocation (runtime.convT64, convTstring): with
// the collector's assists they charge to it, 4.8 % of a syslog analyze's
// instructions, on the inserter, the one goroutine SQLite's inserts run
// on. The interfaces made here hold a pointer to the row's own field
// instead of to a copy: the row is not changed, nor its chunk reused,
// before the statement they are bound to has run (the driver copies each
// value into SQLite when it binds it, and keeps none of them).

// eface is the layout of an interface with no methods (any).
type eface struct {
	typ, data unsafe.Pointer
}

var (
	int64Type  = (*eface)(unsafe.Pointer(&[]any{int64(0)}[0])).typ
	stringType = (*eface)(unsafe.Pointer(&[]any{""}[0])).typ
)

// boundString is nullable(*p), the interface pointing at *p.
func boundString(p *string) any {
	if *p == "" {
		return nil
	}
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{stringType, unsafe.Pointer(p)}
	return v
}

// tsBound is r.tsBound, or farHeld for a far time when in holds them
// back (farheld.go).
func (in *inserter) tsBound(r *row) any {
	if r.far && in.holdFar {
		in.held = true
		return farHeldArg
	}
	return r.tsBound()
}

// tsBound is tsArg, the interface pointing at r.ts.
func (r *row) tsBound() any {
	if r.far {
		return r.tsArg()
	}
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{int64Type, unsafe.Pointer(&r.ts)}
	return v
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
