package mft

import (
	"sync"
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

// blockSlab is how many fresh blocks are allocated at once: 52 blocks of
// 624 bytes are 32,448, within the allocator's largest small size class
// (32 KiB). At 300k entries a volume has some 900k events: allocated one
// entry's worth at a time, with a map each made from nothing, they were a
// third of the timeline's CPU with the collector's share.
const blockSlab = 52

// recycled holds the blocks of events the ingest has stored and given
// back (Parser.Recycle), for any worker's next events.
var recycled sync.Pool // *eventBlock

// Recycle implements timeline.Recycler: ev, which Parse emitted, has been
// stored and nothing reads it or anything it points to any more; its
// block, map included, makes a later event of any $MFT.
func (*Parser) Recycle(ev *timeline.Event) {
	recycled.Put((*eventBlock)(unsafe.Pointer(ev)))
}

// builder is what one goroutine building events keeps from entry to
// entry: the scratch the entry's text is written in, and its slab.
type builder struct {
	text   []byte
	blocks slab.Slab[eventBlock]
}

// block returns a block with a zero event: a recycled one, its map
// emptied, when the ingest gave one back, else a fresh one (map nil).
func (b *builder) block() *eventBlock {
	if v := recycled.Get(); v != nil {
		blk := v.(*eventBlock)
		m := blk.data
		*blk = eventBlock{}
		clear(m)
		blk.data = m
		return blk
	}
	return b.blocks.New(blockSlab)
}
