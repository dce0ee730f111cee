package sqlite

import (
	"cmp"
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// A time-ordered read (a hunt, an export, the timeline) decodes rows in
// (ts, id) order, and their documents sit in blocks of up to blockRows
// consecutive events of one writer batch. When many files cover the same
// hours (hundreds of hosts' event logs), consecutive rows come from
// different blocks, and a cache of decoded blocks must hold one block of
// every file at once: past its bound, an LRU evicts each block just
// before it is needed again and decompresses a block for nearly every
// row (a hunt of 400 copies of an EVTX: 18 s against 0.4 s for 40). The
// growing cache that replaced the fixed one (cacheBound, c59220d) only
// moved that cliff to 256 MiB of blocks, about 1200 such files, and its
// memory grew with the number of files up to there.
//
// A read now goes by windows: row references are collected in time order
// into a window of about windowStart to windowMax bytes of documents;
// each block the window refers to is fetched and decompressed once for
// the whole window, on the workers, and the documents the window reads
// from it are copied out (or the block kept whole when the window reads
// most of it) before the block's memory is reused; the window's chunks
// then decode those documents in the original row order, which the
// stepper gave (tieOrdered's order of equal timestamps included). A
// block a window read only part of is carried to the next window, in
// what the windows leave of readBudgetBytes, so files read side by side
// decompress each block once while one block of each fits. Memory is at
// most readBudgetBytes of documents and blocks whatever the number of
// files; past what the carry holds, windows grow and a block is
// decompressed once per window that reads it, about files × block size /
// windowMax times, so the cost grows gradually instead of falling off a
// cliff. Measured on copies of the corpus security.evtx, a time-ordered
// read of every event (CPU-s, peak RSS; before → after, same minutes):
// 400 copies 6.3 s 408 MB → 5.7 s 444 MB; 1000 copies 16.3 s 810 MB →
// 14.9 s 643 MB; 1500 copies 153 s 866 MB → 25.6 s 667 MB.
//
// A carried block is read in place by the window that carried it (the
// carry and the window each hold it, and its memory goes back when both
// have let it go): copying the window's few documents of each of 1000
// carried blocks out, from memory long out of cache, cost more than the
// copy saved. Windows grow only when blocks are decompressed again while
// the carry refuses blocks for want of room (each block's first
// decompression, of the whole block for a window's few documents, is no
// reason), and carryBytes leaves the carry room for a block of each of
// 1000 EVTX files beside the smallest windows (about 200 MB): a hunt of
// 1000 copies decompressed 2.84× the documents it read, 1.06× now
// (user+sys 13.18/13.24/13.39 → 12.67/12.80/12.80 CPU-s, peak RSS
// 581–591 → 518–545 MB, 3 pairs).

const (
	// windowStartBytes is the documents a read's window holds at first;
	// the bound doubles, up to windowMaxBytes, while the read decompresses
	// much more than it reads (rows spread over more blocks than a
	// window's boundaries and carryBytes cover: grow).
	windowStartBytes = 8 << 20
	windowMaxBytes   = 96 << 20
	// maxWindowRows bounds a window of small documents; firstWindowRows
	// makes the first events of a read come quickly.
	maxWindowRows   = 1 << 16
	firstWindowRows = 2 * decodeChunk
	// liveWindows: windows whose documents are held at once (one being
	// decoded into events while the next one's blocks are decompressed).
	liveWindows = 2
	// carryBytes is the least room for the decoded blocks a read keeps
	// from one window to the next: blocks a window read only part of (at
	// its end, a log read in writing order has one; files read side by
	// side have one each), which the next window reads on from. The carry
	// has what the windows leave of readBudgetBytes: while it holds one
	// block of every file, windows stay small and each block is
	// decompressed once; past that, windows grow and the carry shrinks.
	// 64 MB: beside windows of windowStartBytes, 240 MB, a block of each
	// of 1000 EVTX files (16 MB: 192 MB, a few short).
	carryBytes      = 64 << 20
	readBudgetBytes = liveWindows*windowMaxBytes + carryBytes
	// frameCacheBytes bounds the compressed frames a read keeps of blocks
	// it may need again in a later window: fetching a frame again from
	// SQLite costs a B-tree lookup and a copy.
	frameCacheBytes = 16 << 20
	// defaultDocBytes is the document size assumed before any block of a
	// read is decoded.
	defaultDocBytes = 1 << 10
)

// The bounds as variables, for the tests; readDone (nil) sees each
// read's counts at its end.
var (
	windowStart, windowMax = windowStartBytes, windowMaxBytes
	carryMax               = readBudgetBytes
	readDone               func(*readState)
)

// carryBound is the carry's bound beside windows of budget bytes.
func carryBound(budget int) int {
	return min(carryMax, max(carryBytes, liveWindows*(windowMax-budget)+carryBytes))
}

// readWindow is one window of a read: its blocks and how many of its
// blocks and chunks are still to be decoded.
type readWindow struct {
	blocks []*winBlock
	// pending counts blocks not decoded yet; ready is closed when it
	// reaches zero.
	pending atomic.Int32
	ready   chan struct{}
	// chunks counts chunks not decoded yet: the last one to be decoded
	// gives the window's memory back (chunkDecoded).
	chunks atomic.Int32
	// slabs hold the documents copied out of blocks, from the end of the
	// last one on.
	mu    sync.Mutex
	slabs []*[]byte
	rd    *readState
}

// winBlock is one block as a window reads it: the slots the window reads
// from it, in the order of the window's rows (row k of the block is slot
// slots[k]), and once decoded those documents.
type winBlock struct {
	win     *readWindow
	id      int64
	z       []byte // the frame, until decoded
	shared  bool   // decoded through sharedBlocks (a read's first blocks)
	firstID [16]byte
	slots   []int64

	// Decoded: the whole block (b, when the window reads most of it or a
	// slot is not in it), or the documents read copied into docs, row
	// k's ending at ends[k].
	b    *block
	docs []byte
	ends []int32
	err  error
}

// readState is what a read's workers share: the blocks carried from one
// window to the next, and counts for the size of its next windows.
type readState struct {
	carry carry
	// blocks, docs and bytes: decompressed; used: bytes of the documents
	// read from them.
	blocks, docs, bytes, used atomic.Int64
	// again: bytes decompressed of blocks this read had decompressed
	// before (seen, under carry.mu).
	again atomic.Int64
	// live is the semaphore of liveWindows, released with a window's
	// memory.
	live chan struct{}
	// slabs hold the documents the read's windows copy out of blocks;
	// bufs, the blocks it decompresses (readslab.go).
	slabs, bufs slabPool
}

func newReadState() *readState {
	rd := &readState{
		carry: carry{max: carryBound(windowStart), byID: map[int64]*block{}},
		live:  make(chan struct{}, liveWindows),
		bufs:  slabPool{size: blockBufBytes},
	}
	rd.carry.bufs = &rd.bufs
	return rd
}

// docBytes is the mean document of the blocks decompressed so far.
func (rd *readState) docBytes() int {
	d := rd.docs.Load()
	if d == 0 {
		return defaultDocBytes
	}
	return max(1, int(rd.bytes.Load()/d))
}

// docsPerBlock is the mean documents of the blocks decompressed so far
// (blockRows before any).
func (rd *readState) docsPerBlock() int {
	b := rd.blocks.Load()
	if b == 0 {
		return blockRows
	}
	return int(rd.docs.Load() / b)
}

// decode decompresses w's frame (or takes the block from the carry) and
// keeps the window's documents; frame is the worker's scratch.
func (w *winBlock) decode(frame *[]byte) {
	defer w.done()
	rd := w.win.rd
	b, ok := rd.carry.take(w.id)
	if !ok {
		var err error
		if w.shared {
			b, _, err = sharedBlock(w.z)
		} else {
			dst := rd.bufs.get()
			b, err = decodeBlock(w.z, *dst, frame)
		}
		if err != nil {
			w.z = nil
			w.err = fmt.Errorf("block %d: %w", w.id, err)
			return
		}
		rd.blocks.Add(1)
		rd.docs.Add(int64(len(b.ends)))
		rd.bytes.Add(int64(len(b.data)))
		if rd.carry.seenBefore(w.id) {
			rd.again.Add(int64(len(b.data)))
		}
	}
	w.z = nil
	used, last := 0, int64(-1)
	for _, s := range w.slots {
		d, err := b.doc(s)
		if err != nil {
			// The row's own error comes from b.doc when it is read.
			w.b = b
			return
		}
		used += len(d)
		last = max(last, s)
	}
	rd.used.Add(int64(used))
	// A block read only up to a slot before its last is likely read on
	// by the next window: carried, and read by this window where it is.
	tail := last < int64(len(b.ends))-1
	if tail && rd.carry.putShared(w.id, b) {
		w.b = b
		return
	}
	if !tail && 2*used >= len(b.data) {
		w.b = b
		return
	}
	w.docs = w.win.alloc(used)
	w.ends = make([]int32, len(w.slots))
	for k, s := range w.slots {
		d, _ := b.doc(s)
		w.docs = append(w.docs, d...)
		w.ends[k] = int32(len(w.docs))
	}
	rd.carry.drop(b)
}

// slabBytes is the size of the slabs the documents a window copies out
// of blocks are kept in: its memory is what it copied, give or take a
// slab, and comes back for the next windows.
const slabBytes = 1 << 20

// alloc returns an empty slice with room for n bytes, from the window's
// slabs.
func (win *readWindow) alloc(n int) []byte {
	if n > slabBytes/4 {
		return make([]byte, 0, n)
	}
	win.mu.Lock()
	defer win.mu.Unlock()
	var cur *[]byte
	if k := len(win.slabs); k > 0 {
		cur = win.slabs[k-1]
	}
	if cur == nil || cap(*cur)-len(*cur) < n {
		cur = win.rd.slabs.get()
		win.slabs = append(win.slabs, cur)
	}
	at := len(*cur)
	*cur = (*cur)[:at+n]
	return (*cur)[at : at : at+n]
}

// done counts w as decoded in its window.
func (w *winBlock) done() {
	if w.win.pending.Add(-1) == 0 {
		close(w.win.ready)
	}
}

// doc is the document of w's row k.
func (w *winBlock) doc(k int32) ([]byte, error) {
	switch {
	case w.err != nil:
		return nil, w.err
	case w.b != nil:
		return w.b.doc(w.slots[k])
	}
	start := int32(0)
	if k > 0 {
		start = w.ends[k-1]
	}
	return w.docs[start:w.ends[k]], nil
}

// chunkDecoded counts one of the window's chunks as decoded; the last
// gives the window's memory back.
func (win *readWindow) chunkDecoded() {
	if win.chunks.Add(-1) != 0 {
		return
	}
	for _, w := range win.blocks {
		if w.b != nil {
			win.rd.carry.drop(w.b)
		}
		w.b, w.docs, w.ends, w.slots = nil, nil, nil, nil
	}
	win.rd.slabs.put(win.slabs)
	win.slabs = nil
	<-win.rd.live
}

// carry is a read's decoded blocks kept from one window for the next, at
// most max bytes. Workers put and take blocks; a block is either in the
// carry or a window's. A block that does not fit is not carried, rather
// than one carried before dropped: read in turns over more files than
// fit, an LRU would drop every block just before it is taken again,
// where a full carry keeps serving the blocks it holds.
type carry struct {
	mu        sync.Mutex
	max, used int
	byID      map[int64]*block
	bufs      *slabPool // the read's block memory, where dropped blocks go
	// refs counts the holders of a block beyond one: a carried block
	// the window that carried it reads as well.
	refs map[*block]int32
	// seen has a bit set for each block ID decompressed so far (IDs
	// past seenMaxID in seenBig).
	seen    []uint64
	seenBig map[int64]struct{}
	// refused counts the blocks putShared found no room for.
	refused atomic.Int64
}

// seenMaxID bounds the bit set of the blocks a read has decompressed.
const seenMaxID = 1 << 28

// seenBefore marks block id as decompressed and says whether it was
// before.
func (c *carry) seenBefore(id int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if id < 0 || id >= seenMaxID {
		if c.seenBig == nil {
			c.seenBig = map[int64]struct{}{}
		}
		_, ok := c.seenBig[id]
		c.seenBig[id] = struct{}{}
		return ok
	}
	w, bit := int(id>>6), uint64(1)<<(id&63)
	if w >= len(c.seen) {
		c.seen = append(c.seen, make([]uint64, w+1-len(c.seen))...)
	}
	ok := c.seen[w]&bit != 0
	c.seen[w] |= bit
	return ok
}

// setMax bounds the carry to max bytes from now on.
func (c *carry) setMax(max int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = max
	for id, b := range c.byID {
		if c.used <= c.max {
			break
		}
		delete(c.byID, id)
		c.used -= len(b.data)
		c.dropLocked(b)
	}
}

// take removes block id from the carry and returns it.
func (c *carry) take(id int64) (*block, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	delete(c.byID, id)
	c.used -= len(b.data)
	return b, true
}

// putShared carries block id, which the caller's window reads as well:
// false (b not carried, still the caller's alone) when the carry holds
// it already (decoded twice, by two windows' workers at once) or has no
// room for it.
func (c *carry) putShared(id int64, b *block) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byID[id]; ok || c.used+len(b.data) > c.max {
		if !ok {
			c.refused.Add(1)
		}
		return false
	}
	c.byID[id] = b
	c.used += len(b.data)
	if c.refs == nil {
		c.refs = map[*block]int32{}
	}
	c.refs[b]++
	return true
}

// drop gives up one holder's hold of b: its memory goes back once no
// window and not the carry holds it.
func (c *carry) drop(b *block) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(b)
}

func (c *carry) dropLocked(b *block) {
	if n, ok := c.refs[b]; ok {
		if n <= 1 {
			delete(c.refs, b)
		} else {
			c.refs[b] = n - 1
		}
		return
	}
	c.bufs.putBlock(b)
}

// release gives the carried blocks' memory back.
func (c *carry) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, b := range c.byID {
		c.dropLocked(b)
	}
	clear(c.byID)
	c.used = 0
}

// readTask is a worker's next job: a window's block to decompress, or a
// chunk of rows to decode.
type readTask struct {
	blk   *winBlock
	chunk *docChunk
}

// windowBuilder collects a read's rows into windows; the reader goroutine
// owns it.
type windowBuilder struct {
	rd     *readState
	win    *readWindow
	byID   map[int64]int32 // block ID → index in win.blocks
	chunks []*docChunk     // the window's chunks, the last being filled
	rows   int
	limit  int // rows of the current window
	budget int // documents' bytes of a window
	first  bool
	shared int // blocks still to decode through sharedBlocks
	frames *frameCache
	chunk  func() *docChunk
	// again and used at the last look (grow).
	lastAgain, lastUsed, lastRefused int64
}

func newWindowBuilder(rd *readState, fetch func(id int64) ([]byte, error), chunk func() *docChunk) *windowBuilder {
	return &windowBuilder{
		rd:     rd,
		byID:   map[int64]int32{},
		budget: windowStart,
		first:  true,
		shared: readShared,
		frames: newFrameCache(frameCacheBytes, fetch),
		chunk:  chunk,
	}
}

// add puts row r in the current window; full says the window should be
// flushed now.
func (wb *windowBuilder) add(r *rowRef) (full bool) {
	if wb.win == nil {
		wb.win = &readWindow{ready: make(chan struct{}), rd: wb.rd}
		wb.limit = firstWindowRows
		if !wb.first {
			wb.limit = max(decodeChunk, min(maxWindowRows, wb.budget/wb.rd.docBytes()))
		}
	}
	win := wb.win
	i, ok := wb.byID[r.blk]
	if !ok {
		i = int32(len(win.blocks))
		wb.byID[r.blk] = i
		win.blocks = append(win.blocks, &winBlock{win: win, id: r.blk, firstID: r.id})
	}
	w := win.blocks[i]
	if len(wb.chunks) == 0 || len(wb.chunks[len(wb.chunks)-1].rows) == decodeChunk {
		c := wb.chunk()
		c.win = win
		wb.chunks = append(wb.chunks, c)
	}
	c := wb.chunks[len(wb.chunks)-1]
	c.rows = append(c.rows, chunkRow{id: r.id, block: i, k: int32(len(w.slots))})
	w.slots = append(w.slots, r.slot)
	wb.rows++
	return wb.rows >= wb.limit
}

// flush fetches the current window's frames, hands its blocks to the
// workers through work, and returns the window's chunks (nil when the
// window is empty), which the caller must hand out in order.
func (wb *windowBuilder) flush(ctx context.Context, work chan<- readTask) ([]*docChunk, error) {
	win := wb.win
	if win == nil {
		return nil, nil
	}
	chunks := wb.chunks
	wb.win, wb.chunks, wb.rows = nil, nil, 0
	clear(wb.byID)
	// Shared: the read's first blocks, in the order of its rows.
	for _, w := range win.blocks {
		if wb.shared == 0 {
			break
		}
		w.shared = true
		wb.shared--
	}
	// Fetched in block order: the blocks table's pages in order.
	order := slices.Clone(win.blocks)
	slices.SortFunc(order, func(a, b *winBlock) int { return cmp.Compare(a.id, b.id) })
	perBlock := wb.rd.docsPerBlock()
	for _, w := range order {
		z, err := wb.frames.get(w.id)
		if err != nil {
			return nil, fmt.Errorf("event %x: %w", w.firstID[:], err)
		}
		w.z = z
		// A block the window reads only part of is likely read again by
		// a later one; one it reads whole (a log read in the order it
		// was written) is not, and is not kept.
		if 4*len(w.slots) < 3*perBlock {
			wb.frames.put(w.id, z)
		}
	}
	// Documents are held for at most liveWindows windows.
	select {
	case wb.rd.live <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	win.pending.Store(int32(len(win.blocks)))
	win.chunks.Store(int32(len(chunks)))
	for _, w := range order {
		select {
		case work <- readTask{blk: w}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	wb.grow()
	wb.first = false
	return chunks, nil
}

// grow doubles the window's budget, up to windowMax, when blocks
// decompressed again since its last look held more than 1/4 of the bytes
// the windows read and the carry refused blocks for want of room: rows
// spread over more blocks than a window's boundaries and the carry
// cover. It looks once two windows' worth have been read since.
func (wb *windowBuilder) grow() {
	again, used := wb.rd.again.Load(), wb.rd.used.Load()
	da, du := again-wb.lastAgain, used-wb.lastUsed
	if du < 2*int64(wb.budget) {
		return
	}
	refused := wb.rd.carry.refused.Load()
	dr := refused - wb.lastRefused
	wb.lastAgain, wb.lastUsed, wb.lastRefused = again, used, refused
	if 4*da > du && dr > 0 && wb.budget < windowMax {
		wb.budget = min(2*wb.budget, windowMax)
		wb.rd.carry.setMax(carryBound(wb.budget))
	}
}

// frameCache is a read's LRU of the compressed frames of blocks a window
// read only part of, which a later window will likely need again.
type frameCache struct {
	max, used int
	byID      map[int64]*list.Element
	lru       list.List // of *cachedFrame, most recent first
	fetch     func(id int64) ([]byte, error)
}

type cachedFrame struct {
	id int64
	z  []byte
}

func newFrameCache(max int, fetch func(id int64) ([]byte, error)) *frameCache {
	return &frameCache{max: max, byID: map[int64]*list.Element{}, fetch: fetch}
}

// get returns block id's frame, from the cache or fetched. A frame is
// never changed: its readers only read it.
func (c *frameCache) get(id int64) ([]byte, error) {
	if el, ok := c.byID[id]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*cachedFrame).z, nil
	}
	return c.fetch(id)
}

// put keeps block id's frame z.
func (c *frameCache) put(id int64, z []byte) {
	if _, ok := c.byID[id]; ok {
		return
	}
	c.byID[id] = c.lru.PushFront(&cachedFrame{id, z})
	c.used += len(z)
	for c.used > c.max && c.lru.Len() > 1 {
		el := c.lru.Back()
		old := el.Value.(*cachedFrame)
		c.lru.Remove(el)
		delete(c.byID, old.id)
		c.used -= len(old.z)
	}
}
