package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/jejak-forensics/jejak/timeline"
)

// decodeChunk is how many rows one decoder takes at a time at most.
const decodeChunk = 512

// cancelCheck: how many events a consumer hands out between looks at its
// context (a look costs a mutex; an event's fn, far more).
const cancelCheck = 64

// docChunk is up to decodeChunk rows read in a row, all of one window:
// each one's event ID, its block (an index into win.blocks) and its row
// in that block (winBlock.doc), and their events once decoded.
type docChunk struct {
	rows   []chunkRow
	win    *readWindow
	events []timeline.Event
	err    error
	done   chan struct{}
}

type chunkRow struct {
	id    [16]byte
	block int32
	k     int32
}

// streamRows hands fn the events of rows (columns id, blk and slot each)
// in row order, decoding the JSON on every core: decoding, not SQLite, is
// what a scan of the whole case spends its time on (a hunt over a million
// events, say). The stepper goroutine steps the rows; the reader collects
// them into windows and fetches each window's blocks' frames
// (blockread.go); a dispatcher hands the windows' chunks out in order;
// the workers decompress the blocks and decode the documents.
func (s *Store) streamRows(ctx context.Context, rows *sql.Rows, fn func(*timeline.Event) error) error {
	return s.streamRowsOpts(ctx, plainRows(rows), streamOpts{}, fn)
}

// streamOpts are SearchTransient's differences from Search.
type streamOpts struct {
	// reuse: a chunk's events go back to the workers once fn has seen
	// them, so fn must not keep an *Event (what it points to may be kept).
	reuse bool
	// noRelated leaves Related nil.
	noRelated bool
	// proj (nil: none) leaves out the map entries of Windows records no
	// one reads (proj.go).
	proj *Projection
}

// decodeChunkRows decodes c's rows into c.events, once c's window has its
// blocks decoded; doc is the worker's scratch. The decoded events hold
// strings of their own: the window's memory and doc are reused.
func decodeChunkRows(c *docChunk, in *interner, noRelated bool, pr *projector, doc *[]byte) {
	<-c.win.ready
	for i := range c.rows {
		r := &c.rows[i]
		d, err := c.win.blocks[r.block].doc(r.k)
		if err != nil {
			c.err = fmt.Errorf("event %x: %w", r.id[:], err)
			return
		}
		// Its errors say which event, as the reader's did.
		if err := decodeStoredProj(d, &r.id, &c.events[i], in, noRelated, pr, doc); err != nil {
			c.err = err
			return
		}
	}
}

// streamRowsOpts is streamRows reading the rows next gives, which the
// stepper goroutine owns.
func (s *Store) streamRowsOpts(ctx context.Context, next rowIter, o streamOpts, fn func(*timeline.Event) error) error {
	st, err := s.fetchStmt(ctx)
	if err != nil {
		return err
	}
	// The caller's context is the one checked before events are handed
	// out: a derived context is cancelled by its parent only after the
	// parent's Done is closed, so a caller woken by that Done (a deadline
	// it waited for inside fn) could see a whole small case, already
	// decoded, delivered before ctx.Err() turned non-nil.
	caller := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	// work carries a window's blocks before its chunks (the reader sends
	// the blocks before it hands the window to the dispatcher), so a
	// worker waiting for a chunk's window waits only for blocks other
	// workers already took.
	work := make(chan readTask, 2*workers)
	ordered := make(chan *docChunk, 4*workers)
	wins := make(chan []*docChunk, 1)
	// A decoded chunk's rows slice goes back to the reader.
	free := make(chan *docChunk, 4*workers+2)
	// With o.reuse, the events of a chunk fn has seen, for the next one
	// (each a 200 KB allocation, zeroed, otherwise).
	freeEvents := make(chan []timeline.Event, 4*workers+2)
	rd := newReadState()

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var (
				in         interner
				doc, frame []byte
			)
			pr := newProjector(o.proj)
			// A transient read's events may share equal sub-objects
			// (decodememo.go): its reader keeps none it changes.
			in.share = o.reuse
			for t := range work {
				if t.blk != nil {
					t.blk.decode(&frame)
					continue
				}
				c := t.chunk
				c.events = nil
				if o.reuse {
					select {
					case evs := <-freeEvents:
						if cap(evs) >= len(c.rows) {
							c.events = evs[:len(c.rows)]
							clear(c.events) // decodeEvent fills a zero Event
						}
					default:
					}
				}
				if c.events == nil {
					c.events = make([]timeline.Event, len(c.rows))
				}
				decodeChunkRows(c, &in, o.noRelated, pr, &doc)
				c.win.chunkDecoded()
				close(c.done)
			}
		}()
	}

	// The stepper owns rows and hands the reader their refs in batches;
	// the reader builds windows and the dispatcher hands their chunks to
	// the workers; the caller's goroutine consumes in order.
	batches, stepped, stepDone := stepRows(ctx, next)
	readErr := make(chan error, 1)
	go func() {
		defer close(wins)
		chunk := func() *docChunk {
			select {
			case c := <-free:
				c.done = make(chan struct{})
				return c
			default:
			}
			return &docChunk{done: make(chan struct{}), rows: make([]chunkRow, 0, decodeChunk)}
		}
		fetch, closeFetch, err := blockFetcher(ctx, s.db, st)
		if err != nil {
			readErr <- err
			return
		}
		defer closeFetch()
		wb := newWindowBuilder(rd, fetch, chunk)
		send := func() error {
			chunks, err := wb.flush(ctx, work)
			if err != nil || chunks == nil {
				return err
			}
			select {
			case wins <- chunks:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		for batch := range batches {
			for i := range batch.rows {
				if wb.add(&batch.rows[i]) {
					if err := send(); err != nil {
						readErr <- err
						return
					}
				}
			}
			stepped.recycle(batch)
		}
		if err := <-stepped.err; err != nil {
			readErr <- err
			return
		}
		readErr <- send()
	}()
	go func() {
		defer close(ordered)
		defer close(work)
		for chunks := range wins {
			for _, c := range chunks {
				if ctx.Err() != nil {
					break
				}
				select {
				case work <- readTask{chunk: c}:
				case <-ctx.Done():
					continue
				}
				select {
				case ordered <- c:
				case <-ctx.Done():
				}
			}
		}
	}()

	for c := range ordered {
		<-c.done
		if err != nil {
			continue // drain so the reader and workers finish
		}
		if c.err != nil {
			err = c.err
			cancel()
			continue
		}
		// The chunks already decoded are not handed out once ctx is done:
		// a cancelled read (Ctrl-C, or the caller's own cancel from inside
		// fn) stops within cancelCheck events, not after the chunks in
		// flight, which can hold the whole of a small case.
		for i := range c.events {
			if i%cancelCheck == 0 {
				if err = caller.Err(); err != nil {
					break
				}
			}
			if err = fn(&c.events[i]); err != nil {
				cancel()
				break
			}
		}
		if o.reuse {
			select {
			case freeEvents <- c.events[:0]:
			default:
			}
		}
		c.events = nil
		c.rows, c.win, c.err = c.rows[:0], nil, nil
		select {
		case free <- c:
		default:
		}
	}
	wg.Wait()
	rd.carry.release()
	// The workers have stopped: no window's documents are read any more.
	rd.slabs.release()
	rd.bufs.release()
	if readDone != nil {
		readDone(rd)
	}
	if rerr := <-readErr; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	if err == nil {
		err = caller.Err()
	}
	// The stepper stops at its next batch, before the caller closes rows.
	cancel()
	<-stepDone
	return err
}

// The rows of a search are stepped by a goroutine of their own, the
// stepper, which hands the reader their refs in batches: stepping
// SQLite's rows (a seek into the table per row, a lock per column read)
// and fetching and accounting the blocks were one goroutine, the longest
// stage of the pipeline on an EVTX hunt (its trace: 530 ms running
// beside 477 and 409 for the two decoding workers), so the workers
// waited for it. Split, the two halves run on both cores.

// stepBatch is how many row refs the stepper hands over at a time.
const stepBatch = 256

type rowBatch struct{ rows []rowRef }

// stepper is the reader's side of the stepper: err gives, once batches
// is closed, the error that ended the rows (nil at their end); free takes
// batches back.
type stepper struct {
	err  chan error
	free chan *rowBatch
}

// stepRows starts the stepper on next. done is closed when it has
// stopped: at the rows' end or error, or once ctx is done.
func stepRows(ctx context.Context, next rowIter) (batches <-chan *rowBatch, st *stepper, done <-chan struct{}) {
	out := make(chan *rowBatch, 4)
	st = &stepper{err: make(chan error, 1), free: make(chan *rowBatch, 6)}
	d := make(chan struct{})
	go func() {
		defer close(d)
		defer close(out)
		for {
			var b *rowBatch
			select {
			case b = <-st.free:
				b.rows = b.rows[:0]
			default:
				b = &rowBatch{rows: make([]rowRef, 0, stepBatch)}
			}
			var err error
			end := false
			for len(b.rows) < stepBatch {
				r, ok, e := next()
				if e != nil || !ok {
					err, end = e, true
					break
				}
				b.rows = append(b.rows, r)
			}
			if len(b.rows) > 0 {
				select {
				case out <- b:
				case <-ctx.Done():
					st.err <- ctx.Err()
					return
				}
			}
			if end {
				st.err <- err
				return
			}
		}
	}()
	return out, st, d
}

// recycle gives a batch the reader is done with back to the stepper.
func (st *stepper) recycle(b *rowBatch) {
	select {
	case st.free <- b:
	default:
	}
}

// ScanRaw streams every event in storage order: the event ID and its ECS
// JSON document, decompressed but undecoded. Copying a case elsewhere
// (jejak index) needs nothing more: decoding and re-encoding every event
// would be most of its cost, and reading the table straight through,
// rather than in time order through an index, takes a quarter less time
// (measured). fn may keep doc.
func (s *Store) ScanRaw(ctx context.Context, fn func(id string, doc []byte) error) error {
	return s.raw(ctx, fn, "SELECT id, blk, slot FROM event_rows")
}

func (s *Store) raw(ctx context.Context, fn func(id string, doc []byte) error, query string, args ...any) error {
	st, err := s.fetchStmt(ctx)
	if err != nil {
		return err
	}
	return scanBlocks(ctx, s.db, st, query, args, func(id []byte, _ int64, doc []byte) error {
		// fn may keep doc: a copy of its own.
		return fn(hex.EncodeToString(id), append([]byte(nil), doc...))
	})
}

// scanBlocks runs query (columns id, blk, slot and optionally run after
// them) through db, blocks read with st (nil: prepared here), and calls fn with each row's ID, run (0 without the
// column) and document, read through a block cache. id and doc are
// valid only during the call.
func scanBlocks(ctx context.Context, db *sql.DB, st *sql.Stmt, query string, args []any, fn func(id []byte, run int64, doc []byte) error) error {
	fetch, closeFetch, err := blockFetcher(ctx, db, st)
	if err != nil {
		return err
	}
	defer closeFetch()
	cache := newBlockCache(readCacheBytes, fetch)
	defer cache.release()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	var (
		id             sql.RawBytes
		blk, slot, run int64
		doc            []byte
	)
	dest := []any{&id, &blk, &slot}
	if len(cols) > 3 {
		dest = append(dest, &run)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		b, err := cache.get(blk)
		if err != nil {
			return fmt.Errorf("event %x: %w", []byte(id), err)
		}
		d, err := b.doc(slot)
		if err == nil {
			doc, err = appendDoc(doc[:0], d, id)
		}
		if err != nil {
			return fmt.Errorf("event %x: %w", []byte(id), err)
		}
		if err := fn(id, run, doc); err != nil {
			return err
		}
	}
	return rows.Err()
}
