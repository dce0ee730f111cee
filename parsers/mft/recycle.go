package mft

import (
	"unsafe"

	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/timeline"
)

// eventBlock is one event of the MFT timeline and what it points to: its
// file and size, and its jejak.data map, which the block keeps when it is
// reused. The event is the first field (a compile-time check that its
// offset is 0): Parser.Recycle finds the block from the event.
type eventBlock struct {
	ev   timeline.Event
	file timeline.File
	size int64
	data map[string]string
}

var _ = [1]struct{}{}[unsafe.Offsetof(eventBlock{}.ev)]

// blockSlab is how many fresh blocks are allocated at once: 51 blocks of
// 624 bytes, each with its pool's chunk pointer, are 32,232 bytes, within
// the allocator's largest small size class (32 KiB). At 300k entries a
// volume has some 900k events: allocated one entry's worth at a time, with
// a map each made from nothing, they were a third of the timeline's CPU
// with the collector's share.
const blockSlab = 51

// blockPool is where every builder takes its blocks from, and where
// Parser.Recycle gives them back once the ingest has stored their events
// (the mechanism parsers/syslog's blocks use too): a chunk of blocks is
// reused once all of its events are given back, each block's map emptied
// and kept (reset).
var blockPool = slab.NewPoolReset(blockSlab, reset)

// reset readies a recycled block for its next event: zeroed, but for its
// map, emptied and kept.
func reset(blk *eventBlock) {
	m := blk.data
	*blk = eventBlock{}
	if m != nil {
		clear(m)
		blk.data = m
	}
}

// Recycle implements timeline.Recycler: ev, which Parse emitted, has been
// stored and nothing reads it or anything it points to any more; its
// block, map included, makes a later event of any $MFT.
func (*Parser) Recycle(ev *timeline.Event) {
	blockPool.Release((*eventBlock)(unsafe.Pointer(ev)))
}

// builder is what one goroutine building events keeps from entry to
// entry: the scratch the entry's text is written in, and where its blocks
// come from. Close it when done.
type builder struct {
	text   []byte
	blocks slab.Source[eventBlock]
}

func newBuilder() *builder { return &builder{blocks: blockPool.Source()} }

// Close gives back the blocks of its last chunk it did not hand out.
func (b *builder) Close() { b.blocks.Close() }

// block returns a block with a zero event and its map emptied: a recycled
// one keeps its map, a fresh one has none (nil).
func (b *builder) block() *eventBlock { return b.blocks.New() }
