package sqlite

import (
	"context"
	"sync"

	"github.com/jejak-forensics/jejak/timeline"
)

// Encoding ahead (timeline.EncodingSink): the ingest's workers encode and
// compress each event into the store's chunks as they emit it, while its
// strings and maps are in their core's caches, instead of Write encoding
// the whole batch later on the store's goroutines, when they have left
// them. The chunks, blocks and bytes are those Write makes of the same
// batch: a chunk holds encodeChunk of the batch's events, cut into blocks
// by chunk.add as encode cuts them.

var _ timeline.EncodingSink = (*Store)(nil)

// encoding is a batch encoded ahead: its chunks in order, the last one
// being filled while cur is set.
type encoding struct {
	s      *Store
	b      *behind // the write-behind that counts it open, if any
	chunks []*chunk
	cur    *chunk
	n      int
	fast   bool  // modelMatches()
	err    error // the first event that could not be encoded
}

var encodings = sync.Pool{New: func() any { return new(encoding) }}

// NewEncoding starts the encoding of a batch ahead of WriteEncoded.
func (s *Store) NewEncoding() timeline.Encoding {
	en := encodings.Get().(*encoding)
	en.s, en.fast = s, modelMatches()
	if b := s.behindNow.Load(); b != nil {
		b.open.Add(1)
		en.b = b
	}
	return en
}

// Add encodes e into the batch's last chunk, starting a chunk every
// encodeChunk events. After an event that cannot be encoded, nothing
// more is: WriteEncoded fails the batch with its error.
func (en *encoding) Add(e *timeline.Event) {
	en.n++
	if en.err != nil {
		return
	}
	c := en.cur
	if c == nil {
		c = en.s.pooledChunk()
		c.start()
		en.cur = c
		en.chunks = append(en.chunks, c)
	}
	if !c.add(e, en.fast) {
		en.err = c.err
		en.cur = nil
		return
	}
	if len(c.rows) == encodeChunk {
		c.finish()
		en.cur = nil
	}
}

// Len is how many events were added.
func (en *encoding) Len() int { return en.n }

// Discard hands the chunks back and ends the encoding.
func (en *encoding) Discard() {
	for _, c := range en.chunks {
		if c != nil {
			c.pooled = false
			en.s.chunks.Put(c)
		}
	}
	en.release()
}

// release ends the encoding, its chunks handed on.
func (en *encoding) release() {
	if en.b != nil {
		en.b.open.Add(-1)
	}
	clear(en.chunks)
	*en = encoding{chunks: en.chunks[:0]}
	encodings.Put(en)
}

// pooledChunk returns a chunk of the store's pool, or a new one.
func (s *Store) pooledChunk() *chunk {
	if c, ok := s.chunks.Get().(*chunk); ok {
		return c
	}
	return &chunk{}
}

// WriteEncoded is Write of a batch encoded ahead (NewEncoding): it only
// inserts. An encoding that is not this store's, or does not hold the
// batch's number of events, is discarded and the batch written by Write.
func (s *Store) WriteEncoded(ctx context.Context, batch []*timeline.Event, enc timeline.Encoding) (timeline.WriteStats, error) {
	en, ok := enc.(*encoding)
	if !ok || en.s != s || en.n != len(batch) || len(batch) == 0 {
		if ok {
			en.Discard()
		}
		return s.Write(ctx, batch)
	}
	if en.cur != nil {
		en.cur.finish()
		en.cur = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.behind != nil {
		if s.deferred {
			return s.writeBehindEncoded(ctx, batch, en)
		}
		// Not a bulk run any more: the rows written behind go first.
		if err := s.stopBehind(); err != nil {
			en.Discard()
			return timeline.WriteStats{}, err
		}
	}
	chunks := en.chunks
	defer en.Discard() // what was not inserted
	return s.insertNow(ctx, func(yield func(*chunk) bool) {
		for i, c := range chunks {
			if !yield(c) {
				return
			}
			chunks[i] = nil
		}
	}, func(c *chunk) { s.chunks.Put(c) })
}
