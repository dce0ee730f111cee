package sqlite

// readCacheMaxBytes is as far as a reader's cache of decoded blocks grows
// (see cacheBound): the blocks of about a thousand EVTX files read side by
// side in time order, or of far more text logs.
const readCacheMaxBytes = 256 << 20

// ghostIDs is how many evicted blocks a cacheBound remembers.
const ghostIDs = 1 << 16

// Time-ordered reads no longer use cacheBound: they go by windows
// (blockread.go), whose memory does not grow with the number of files
// read side by side. It stays because blockCache (compress.go, another
// owner's) holds one, for the storage-order scans (ScanRaw, ScanDocs),
// which never grow it, and TestBlockCacheBound checks its growth; it can
// go once blockCache keeps a plain bound and that test drops the growth
// cases (with readpipe.go's remnant).
//
// cacheBound is the byte bound of one reader's cache of decoded blocks. It
// starts at readCacheBytes and grows, up to readCacheMaxBytes, by the size
// of every block fetched again after the cache evicted it (a ghost, as in
// ARC). A read that follows the writing order (a log read in time order)
// never comes back to a block it let go, and keeps the small bound. A
// time-ordered read over many files written over the same hours (hundreds
// of hosts' event logs) needs one block of every file at once; under a
// fixed bound smaller than that, an LRU evicts each block just before it
// is needed again and decodes it again for nearly every row: a hunt of
// 400 copies of an EVTX took 17 s against 0.40 s for 40, most of it in
// decompression.
type cacheBound struct {
	max    int
	ceil   int // readCacheMaxBytes, or max when that is larger
	ghosts map[int64]struct{}
	ring   []int64 // the ghosts in eviction order, oldest at next
	next   int
}

func newCacheBound(start int) cacheBound {
	return cacheBound{max: start, ceil: max(start, readCacheMaxBytes)}
}

// evicted remembers that block id left the cache.
func (b *cacheBound) evicted(id int64) {
	if b.max >= b.ceil {
		return
	}
	if b.ghosts == nil {
		b.ghosts = make(map[int64]struct{})
	}
	if len(b.ring) < ghostIDs {
		b.ring = append(b.ring, id)
	} else {
		delete(b.ghosts, b.ring[b.next])
		b.ring[b.next] = id
		b.next = (b.next + 1) % ghostIDs
	}
	b.ghosts[id] = struct{}{}
}

// missed is called when block id, of size decoded bytes, is fetched: when
// the cache had evicted it, the bound grows by its size.
func (b *cacheBound) missed(id int64, size int) {
	if _, ok := b.ghosts[id]; !ok {
		return
	}
	delete(b.ghosts, id)
	b.max = min(b.max+size, b.ceil)
}
