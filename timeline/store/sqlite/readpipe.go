package sqlite

import (
	"container/list"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// A scan's blocks are decompressed by its decoding workers, not by the
// goroutine stepping SQLite's rows: on a hunt of a million sshd events
// that goroutine spent 1.75 s (SQLite 0.86, zstd 0.54, copying documents
// 0.22) beside 2.2 s of decoding split over two workers, so it was the
// longest of the pipeline's stages and kept the second core idle about a
// third of the time. The reader now only steps rows and fetches each
// block's compressed frame once; a pipeBlock is that frame, decompressed
// by the first worker that needs it (the others wait for it) and shared
// by every chunk that refers to it.
//
// Memory stays bounded as blockCache bounds it: the reader keeps the
// blocks it fetched in an LRU of at most readCacheBytes (decoded sizes,
// from the frames' headers; grown up to readCacheMaxBytes by cacheBound), and a chunk refers to at most
// chunkBlockBytes of blocks, so the chunks in flight hold a bounded
// amount more. A block's memory goes back to blockBufs when neither the
// LRU nor a chunk refers to it any more (refs).

// chunkBlockBytes bounds the decoded bytes of the blocks one chunk refers
// to: a chunk is sent early when its next row would need more.
const chunkBlockBytes = 4 << 20

// pipeBlock is one block of a scan: its frame, fetched by the reader, and
// the block decoded from it by a worker.
type pipeBlock struct {
	id   int64
	size int // decoded bytes, from the frame's header (an estimate without)
	// shared: decoded through sharedBlocks (a reader's first blocks).
	shared bool

	once sync.Once
	z    []byte // the frame, until decoded
	b    *block
	err  error

	// refs counts the LRU's reference and each chunk's (one per chunk,
	// however many of its rows are in the block).
	refs atomic.Int32

	// The reader's own, never read by workers.
	el    *list.Element
	chunk uint64 // sequence number of the last chunk referring to it
	slot  int    // its index in that chunk's blocks
}

// get returns the decoded block, decoding it on the first call; frame is
// the caller's scratch.
func (p *pipeBlock) get(frame *[]byte) (*block, error) {
	p.once.Do(func() {
		if p.shared {
			p.b, _, p.err = sharedBlock(p.z)
		} else {
			var dst []byte
			if b, ok := blockBufs.Get().(*[]byte); ok {
				dst = *b
			}
			p.b, p.err = decodeBlock(p.z, dst, frame)
		}
		if p.err != nil {
			p.err = fmt.Errorf("block %d: %w", p.id, p.err)
		}
		p.z = nil
	})
	return p.b, p.err
}

// unref drops one reference; the last gives the block's memory back.
func (p *pipeBlock) unref() {
	if p.refs.Add(-1) == 0 && p.b != nil {
		// No one refers to p any more and the once has run (b is set
		// inside it, by the worker that dropped a chunk's reference
		// after its get, or by an earlier one: the atomic orders it).
		putBlockBuf(p.b)
	}
}

// frameSize is the decoded size frame z (without its magic) declares, or
// blockBytes when its header does not say.
func frameSize(z []byte) int {
	var buf [4 + 32]byte
	n := copy(buf[4:], z)
	copy(buf[:4], zstdMagic)
	var h zstd.Header
	if err := h.Decode(buf[:4+n]); err != nil || !h.HasFCS || h.FrameContentSize > maxBlockBytes {
		return blockBytes
	}
	return int(h.FrameContentSize)
}

// pipeBlocks is the reader's LRU of the blocks it fetched.
type pipeBlocks struct {
	bound      cacheBound
	used       int
	byID       map[int64]*pipeBlock
	lru        list.List // of *pipeBlock, most recent first
	fetch      func(id int64) ([]byte, error)
	shareFirst int
}

func newPipeBlocks(max int, fetch func(id int64) ([]byte, error)) *pipeBlocks {
	return &pipeBlocks{bound: newCacheBound(max), byID: map[int64]*pipeBlock{}, fetch: fetch, shareFirst: readShared}
}

// get returns block id, fetching its frame when it is not held.
func (c *pipeBlocks) get(id int64) (*pipeBlock, error) {
	if p, ok := c.byID[id]; ok {
		c.lru.MoveToFront(p.el)
		return p, nil
	}
	z, err := c.fetch(id)
	if err != nil {
		return nil, err
	}
	p := &pipeBlock{id: id, z: z, size: frameSize(z)}
	if c.shareFirst > 0 {
		c.shareFirst--
		p.shared = true
	}
	p.refs.Store(1)
	c.bound.missed(id, p.size)
	p.el = c.lru.PushFront(p)
	c.byID[id] = p
	c.used += p.size
	for c.used > c.bound.max && c.lru.Len() > 1 {
		el := c.lru.Back()
		old := el.Value.(*pipeBlock)
		c.lru.Remove(el)
		delete(c.byID, old.id)
		c.used -= old.size
		c.bound.evicted(old.id)
		old.unref()
	}
	return p, nil
}

// release drops the LRU's references.
func (c *pipeBlocks) release() {
	for el := c.lru.Front(); el != nil; el = el.Next() {
		el.Value.(*pipeBlock).unref()
	}
	c.lru.Init()
	clear(c.byID)
	c.used = 0
}
