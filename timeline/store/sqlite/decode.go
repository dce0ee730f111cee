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

// streamRows hands fn the events of rows (columns id and z each)
// in row order, decompressing and decoding the JSON on every core:
// decoding, not SQLite, is what a scan of the whole case spends its time
// on (a hunt over a million events, say).
func streamRows(ctx context.Context, rows *sql.Rows, fn func(*timeline.Event) error) error {
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

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var in interner
			var doc, scratch []byte
			for c := range work {
				c.events = make([]timeline.Event, len(c.ends))
				start := 0
				for i, end := range c.ends {
					var err error
					if doc, err = decompress(doc[:0], c.buf[start:end], c.ids[i][:], &scratch); err != nil {
						c.err = err
						break
					}
					// The decoded event holds strings of its own: doc is
					// reused for the next.
					if err := decodeEventWith(doc, &c.events[i], &in); err != nil {
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
		var id, z sql.RawBytes // valid until the next Next: copied into c
		for rows.Next() {
			if err := rows.Scan(&id, &z); err != nil {
				readErr <- err
				return
			}
			if len(id) != 16 {
				readErr <- fmt.Errorf("stored event ID %x is not 16 bytes", []byte(id))
				return
			}
			c.ids = append(c.ids, [16]byte(id))
			c.buf = append(c.buf, z...)
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
		readErr <- rows.Err()
	}()

	var err error
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
	return s.raw(ctx, fn, "SELECT id, z FROM event_rows")
}

func (s *Store) raw(ctx context.Context, fn func(id string, doc []byte) error, query string, args ...any) error {
	if err := s.loadDicts(ctx, s.db); err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var scratch []byte
	for rows.Next() {
		var id, z sql.RawBytes
		if err := rows.Scan(&id, &z); err != nil {
			return err
		}
		doc, err := decompress(nil, z, id, &scratch)
		if err != nil {
			return fmt.Errorf("event %x: %w", []byte(id), err)
		}
		if err := fn(hex.EncodeToString(id), doc); err != nil {
			return err
		}
	}
	return rows.Err()
}
