package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"

	"github.com/jejak-forensics/jejak/timeline"
)

// decodeChunk is how many stored documents one decoder takes at a time.
const decodeChunk = 256

// docChunk is decodeChunk documents read in a row, one after another in
// buf (document i ends at ends[i]), and their events once decoded.
type docChunk struct {
	buf    []byte
	ends   []int
	ids    [][16]byte
	events []timeline.Event
	err    error
	done   chan struct{}
}

// streamRows hands fn the events of rows (columns id, blk and slot each)
// in row order, decoding the JSON on every core: decoding, not SQLite, is
// what a scan of the whole case spends its time on (a hunt over a million
// events, say). The blocks are read through db and decompressed by the
// reading goroutine, through its cache (readCacheBytes): a tenth of the
// decoding's cost.
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
}

// streamRowsOpts is streamRows reading the rows next gives, which the
// reader goroutine owns.
func (s *Store) streamRowsOpts(ctx context.Context, next rowIter, o streamOpts, fn func(*timeline.Event) error) error {
	st, err := s.fetchStmt(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *docChunk, workers)
	ordered := make(chan *docChunk, 2*workers)
	// The documents' bytes are copied once, into a chunk's buf, and the
	// decoded events hold strings of their own: a decoded chunk's buf goes
	// back to the reader (every row copied into a fresh slice was the
	// largest allocation of a hunt).
	free := make(chan []byte, 3*workers+1)
	// With o.reuse, the events of a chunk fn has seen, for the next one
	// (each a 100 KB allocation, zeroed, otherwise).
	freeEvents := make(chan []timeline.Event, 3*workers+1)

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var in interner
			for c := range work {
				c.events = nil
				if o.reuse {
					select {
					case evs := <-freeEvents:
						if cap(evs) >= len(c.ends) {
							c.events = evs[:len(c.ends)]
							clear(c.events) // decodeEvent fills a zero Event
						}
					default:
					}
				}
				if c.events == nil {
					c.events = make([]timeline.Event, len(c.ends))
				}
				start := 0
				for i, end := range c.ends {
					// The decoded event holds strings of its own: buf is
					// reused.
					if err := decodeEventOpts(c.buf[start:end], &c.events[i], &in, o.noRelated); err != nil {
						c.err = fmt.Errorf("decode stored event: %w", err)
						break
					}
					start = end
				}
				select {
				case free <- c.buf[:0]:
				default:
				}
				c.buf = nil
				close(c.done)
			}
		}()
	}

	// The reader owns rows; the caller's goroutine consumes in order.
	readErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(work)
		chunk := func() *docChunk {
			c := &docChunk{done: make(chan struct{}), ends: make([]int, 0, decodeChunk), ids: make([][16]byte, 0, decodeChunk)}
			select {
			case c.buf = <-free:
			default:
			}
			return c
		}
		c := chunk()
		send := func() bool {
			select {
			case work <- c:
			case <-ctx.Done():
				return false
			}
			select {
			case ordered <- c:
			case <-ctx.Done():
				return false
			}
			c = chunk()
			return true
		}
		fetch, closeFetch, err := blockFetcher(ctx, s.db, st)
		if err != nil {
			readErr <- err
			return
		}
		defer closeFetch()
		cache := newBlockCache(readCacheBytes, fetch)
		defer cache.release()
		for {
			r, ok, err := next()
			if err != nil {
				readErr <- err
				return
			}
			if !ok {
				break
			}
			b, err := cache.get(r.blk)
			if err != nil {
				readErr <- fmt.Errorf("event %x: %w", r.id[:], err)
				return
			}
			doc, err := b.doc(r.slot)
			if err == nil {
				c.buf, err = appendDoc(c.buf, doc, r.id[:])
			}
			if err != nil {
				readErr <- fmt.Errorf("event %x: %w", r.id[:], err)
				return
			}
			c.ids = append(c.ids, r.id)
			c.ends = append(c.ends, len(c.buf))
			if len(c.ends) == decodeChunk && !send() {
				readErr <- ctx.Err()
				return
			}
		}
		if len(c.ends) > 0 && !send() {
			readErr <- ctx.Err()
			return
		}
		readErr <- nil
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
		for i := range c.events {
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
			c.events = nil
		}
	}
	wg.Wait()
	if rerr := <-readErr; err == nil && rerr != nil && rerr != context.Canceled {
		err = rerr
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
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
