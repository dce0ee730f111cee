package sqlite

import (
	"container/list"

	"github.com/klauspost/compress/zstd"
)

// pipeBlocks was the time-ordered read's LRU of the blocks it fetched,
// grown by cacheBound up to readCacheMaxBytes. Reads go by windows now
// (blockread.go) and no longer use it: what is left is what the pipeline
// half of TestBlockCacheBound (compress_test.go, not this file's owner's)
// still exercises. Delete it, and that half of the test, together.
type pipeBlocks struct {
	bound cacheBound
	used  int
	byID  map[int64]*pipeBlock
	lru   list.List // of *pipeBlock, most recent first
	fetch func(id int64) ([]byte, error)
}

// pipeBlock is one block's frame as pipeBlocks holds it.
type pipeBlock struct {
	id   int64
	size int // decoded bytes, from the frame's header (an estimate without)
	z    []byte
	el   *list.Element
}

func newPipeBlocks(max int, fetch func(id int64) ([]byte, error)) *pipeBlocks {
	return &pipeBlocks{bound: newCacheBound(max), byID: map[int64]*pipeBlock{}, fetch: fetch}
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
	}
	return p, nil
}

// release empties the LRU.
func (c *pipeBlocks) release() {
	c.lru.Init()
	clear(c.byID)
	c.used = 0
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
