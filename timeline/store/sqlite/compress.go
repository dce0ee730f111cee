package sqlite

import (
	"bytes"
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
	msqlite "modernc.org/sqlite"
)

// Stored documents are zstd frames (klauspost/compress) of blocks of
// consecutive events: a write chunk's rows are cut into blocks of up to
// blockRows documents (fewer once blockBytes of JSON are in), each block
// one frame in the table blocks, and a row names its block and its slot
// in it (event_rows.blk, event_rows.slot).
//
// Why blocks, not one frame per event (format 4): per-frame costs
// dominated. Each frame against a per-parser dictionary made the encoder
// copy the dictionary's hash table and build its entropy tables again;
// measured on 200k documents of the bench syslog (1047 B each) and 100k of
// the 30k-file NTFS image (811 B), one core, zstd SpeedFastest:
//
//	                        syslog: compress, size, decompress | NTFS image
//	frame per event + dict  2.21 s  116 B/event  0.40 s       | 0.84 s  95 B  0.19 s
//	block of 16, dict       0.62 s   68 B        0.35 s       | 0.13 s  27 B  0.06 s
//	block of 64, dict       0.26 s   47 B        0.09 s       | 0.11 s  24 B  0.03 s
//	block of 64, no dict    0.22 s   58 B        0.05 s       | 0.11 s  33 B  0.02 s
//	block of 128, no dict   0.22 s   49 B        0.05 s       |
//	block of 256, no dict   0.35 s   45 B        0.06 s       | 0.09 s  26 B  0.02 s
//	s2 per event + dict     0.59 s  153 B        0.07 s       | 0.37 s 126 B  0.04 s
//
// Blocks of 128 without a dictionary: a tenth of the compression CPU,
// less than half the bytes, an eighth of the decompression. A dictionary
// saves little once a frame holds many documents, and costs every
// decoder its tables. Larger blocks save a few bytes more per event and
// cost a reader that jumps between blocks more (see below).
//
// Reads go through the ts index in time order, and events of one time
// range may come from many blocks (an image's MFT rows are in entry
// order; many hosts' logs of the same hours). A time-ordered read goes by
// windows of rows and decompresses each block a window refers to once
// (blockread.go), whatever the number of files read side by side. The
// storage-order scans (ScanRaw, ScanDocs) read the rows in rowid order,
// and a block's rows are inserted together right after it (write.go), so
// they read each block once, one after another: their cache of decoded
// blocks (blockCache) keeps a plain bound, readCacheBytes. A time-ordered
// read of the bench cases through such a cache decoded 1.00× (syslog) and
// 1.01× to 1.03× (NTFS, 30k files) of the documents' bytes with blocks of
// 64 to 256 and a 16 MiB cache (simulated over the cases' real row
// order); many files side by side decoded a block for nearly every row,
// which is why those reads go by windows.
//
// What is stored is less than the document: the event ID, 32 hex digits
// that no compressor can predict, is left out (it is the id column) and
// put back when the document is read (see stripID).
//
// A block, decompressed, is: the number of documents (uvarint), each
// one's length (uvarint), then the documents one after another. The frame
// is stored without zstd's 4-byte magic number and without a checksum
// (SQLite has its own page checks; a custody digest covers the bytes).

const (
	blockRows  = 128
	blockBytes = 256 << 10
	// readCacheBytes bounds the decoded blocks a storage-order scan
	// (ScanRaw, ScanDocs) keeps: it reads one block at a time, each once,
	// so a small bound is enough.
	readCacheBytes = 16 << 20
	// maxBlockBytes: a block larger than this once decoded is refused (a
	// damaged or forged frame must not make a reader allocate without
	// bound). The writer cuts blocks at blockBytes; one document larger
	// than this could not be read back and is refused when written.
	maxBlockBytes = 256 << 20
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// encodeWindow is the encoder's window. Given before the level, it keeps
// zstd's largest block, 128 KiB, where SpeedFastest alone cuts a frame
// into 64 KiB blocks (with its default 4 MiB window): a stored block of
// syslog (~130 KiB) was three zstd blocks, one of EVTX (~190 KiB) four,
// each with its own entropy tables and, after the first, its input
// copied into the encoder's history. 256 KiB covers a whole stored block
// (blockBytes) and a document. Callgrind, compressing the blocks of the
// bench cases: 40 EVTX copies 1.267 -> 0.988 G instructions (-22 %, 56.8
// -> 56.1 stored bytes an event); 10 MB of syslog 1.218 -> 1.226 G (50.5
// -> 50.8 bytes an event). Frames are still single-segment zstd frames
// that any decoder reads.
const encodeWindow = 256 << 10

var (
	blockDec *zstd.Decoder
	blockEnc *zstd.Encoder
)

func init() {
	var err error
	blockDec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.IgnoreChecksum(true), zstd.WithDecoderMaxMemory(maxBlockBytes))
	if err != nil {
		panic(err)
	}
	blockEnc, err = zstd.NewWriter(nil,
		// Before the level: SpeedFastest otherwise sets a 64 KiB block
		// size (see encodeWindow).
		zstd.WithWindowSize(encodeWindow),
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(false),
		zstd.WithSingleSegment(true),
		zstd.WithZeroFrames(true))
	if err != nil {
		panic(err)
	}
	// Registered process-wide, for connections opened afterwards: at init,
	// every connection has them (the view events needs jejak_doc).
	if err := msqlite.RegisterDeterministicScalarFunction("jejak_doc", 3, sqlDoc); err != nil {
		panic(err)
	}
	if err := msqlite.RegisterDeterministicScalarFunction("jejak_block", 1, sqlBlock); err != nil {
		panic(err)
	}
}

// idKey is what the encoder writes before the event ID (appendJejak; and
// encoding/json's order for the Jejak struct). The jejak object is the
// document's last member, and the sequence cannot occur inside a JSON
// string (its quotes would be escaped), so its last occurrence is the ID.
const idKey = `"jejak":{"id":"`

// lastIDKey returns where the last idKey in doc starts, or -1. Written
// by hand: the jejak object's brace is the third or fourth from the end
// (after it come provenance and time), where bytes.LastIndex's Rabin-Karp
// hashed its way back over the whole tail (6% of an ingest's CPU).
func lastIDKey(doc []byte) int {
	const head, tail = `"jejak":`, `{"id":"`
	end := len(doc)
	for {
		i := lastByte(doc[:end], '{')
		if i < 0 {
			return -1
		}
		if i >= len(head) && string(doc[i-len(head):i]) == head && bytes.HasPrefix(doc[i:], []byte(tail)) {
			return i - len(head)
		}
		end = i
	}
}

// lastByte is bytes.LastIndexByte, eight bytes at a time. Written by
// hand: the standard library's is a loop over single bytes (there is no
// vector version of it in internal/bytealg), and the brace lastIDKey
// wants is about 450 bytes before a syslog document's end: that loop was
// 2.5 % of an analyze's CPU (200 MB syslog).
func lastByte(b []byte, c byte) int {
	const ones, low7 = 0x0101010101010101, 0x7f7f7f7f7f7f7f7f
	pat := ones * uint64(c)
	i := len(b)
	for ; i >= 8; i -= 8 {
		w := binary.LittleEndian.Uint64(b[i-8:]) ^ pat
		// The high bit of each byte of z is set where w's byte is zero
		// (c was there), exactly: no carry crosses bytes.
		z := ^((w&low7 + low7) | w | low7)
		if z != 0 {
			return i - 8 + (63-bits.LeadingZeros64(z))/8
		}
	}
	for i--; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}

// stripID cuts the event ID's hex digits out of doc, in place.
func stripID(doc []byte) ([]byte, error) {
	i := lastIDKey(doc)
	if i < 0 || len(doc) < i+len(idKey)+33 || doc[i+len(idKey)+32] != '"' {
		return doc, errors.New("no 32-digit event ID where the encoder writes it")
	}
	at := i + len(idKey)
	return append(doc[:at], doc[at+32:]...), nil
}

// appendDoc appends the stored document doc (without its ID) to dst, with
// id (16 bytes) put back.
func appendDoc(dst, doc, id []byte) ([]byte, error) {
	i := lastIDKey(doc)
	if i < 0 || len(id) != 16 || len(doc) < i+len(idKey)+1 || doc[i+len(idKey)] != '"' {
		return dst, fmt.Errorf("stored document has no place for its %d-byte ID", len(id))
	}
	at := i + len(idKey)
	dst = append(dst, doc[:at]...)
	dst = hex.AppendEncode(dst, id)
	return append(dst, doc[at:]...), nil
}

// appendBlock appends the uncompressed block of docs (the layout above)
// to dst.
func appendBlock(dst []byte, docs [][]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(docs)))
	for _, d := range docs {
		dst = binary.AppendUvarint(dst, uint64(len(d)))
	}
	for _, d := range docs {
		dst = append(dst, d...)
	}
	return dst
}

// block is a decoded block: document i is data[ends[i-1]:ends[i]]
// (ends[-1] is 0). raw is the whole decompressed block, data a part of it.
// A shared block (sharedBlocks) may be read by many goroutines at once.
type block struct {
	raw, data []byte
	ends      []int
	shared    bool
}

func (b *block) doc(slot int64) ([]byte, error) {
	if slot < 0 || slot >= int64(len(b.ends)) {
		return nil, fmt.Errorf("slot %d of a block of %d documents", slot, len(b.ends))
	}
	start := 0
	if slot > 0 {
		start = b.ends[slot-1]
	}
	return b.data[start:b.ends[slot]], nil
}

// parseBlock reads the layout of a decompressed block; the block keeps
// raw.
func parseBlock(raw []byte) (*block, error) {
	n, k := binary.Uvarint(raw)
	if k <= 0 {
		return nil, errors.New("block: no document count")
	}
	// Each document has at least a one-byte length.
	if n > uint64(len(raw)-k) {
		return nil, fmt.Errorf("block: %d documents in %d bytes", n, len(raw))
	}
	ends := make([]int, n)
	off := k
	var total uint64
	for i := range ends {
		l, k := binary.Uvarint(raw[off:])
		if k <= 0 {
			return nil, fmt.Errorf("block: length of document %d unreadable", i)
		}
		off += k
		total += l
		if total > uint64(len(raw)) {
			return nil, fmt.Errorf("block: documents of more than its %d bytes", len(raw))
		}
		ends[i] = int(total)
	}
	data := raw[off:]
	if uint64(len(data)) != total {
		return nil, fmt.Errorf("block: %d bytes of documents, the lengths say %d", len(data), total)
	}
	return &block{raw: raw, data: data, ends: ends}, nil
}

// decodeBlock decompresses a stored frame (without its magic) and reads
// its layout. The block is decompressed into dst's memory when it has
// room; frame is scratch.
func decodeBlock(z, dst []byte, frame *[]byte) (*block, error) {
	*frame = append(append((*frame)[:0], zstdMagic...), z...)
	raw, err := blockDec.DecodeAll(*frame, dst[:0])
	if err != nil {
		return nil, fmt.Errorf("decompress stored block: %w", err)
	}
	return parseBlock(raw)
}

// appendBlockEnds is appendBlock of the documents laid end to end in
// docs, document i ending at ends[i].
func appendBlockEnds(dst, docs []byte, ends []int) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ends)))
	prev := 0
	for _, e := range ends {
		dst = binary.AppendUvarint(dst, uint64(e-prev))
		prev = e
	}
	return append(dst, docs...)
}

// compressBlock appends the stored frame of docs to dst; raw is scratch.
func compressBlock(dst []byte, docs [][]byte, raw *[]byte) []byte {
	*raw = appendBlock((*raw)[:0], docs)
	return compressRaw(dst, *raw)
}

// compressRaw appends the stored frame of the uncompressed block raw to
// dst.
func compressRaw(dst, raw []byte) []byte {
	start := len(dst)
	dst = blockEnc.EncodeAll(raw, dst)
	if !bytes.HasPrefix(dst[start:], zstdMagic) {
		// EncodeAll always writes the magic; this would be a new library.
		panic("zstd frame without magic number")
	}
	return append(dst[:start], dst[start+len(zstdMagic):]...)
}

// blockCache is a reader's decoded blocks, least recently used dropped
// first once they hold more than max bytes. Not safe for concurrent use;
// release gives its memory back when the reader is done.
//
// The first shareFirst blocks a reader decodes come from, and go to, the
// process's sharedBlocks: the hunt reads single events back by their
// time, one Search each, and the next lookup often wants the block the
// previous one decoded. The rest are the reader's own, and their memory
// is reused (blockBufs) as the cache drops them: a scan would otherwise
// allocate every block anew.
type blockCache struct {
	max        int
	used       int
	byID       map[int64]*list.Element
	lru        list.List // of *cached, most recent first
	fetch      func(id int64) ([]byte, error)
	shareFirst int
	frame      []byte
	// decoded counts the bytes decompressed (tests check the bound and
	// the reuse).
	decoded int64
}

type cached struct {
	id int64
	b  *block
}

// readShared is how many blocks a reader takes through sharedBlocks.
const readShared = 2

func newBlockCache(max int, fetch func(id int64) ([]byte, error)) *blockCache {
	return &blockCache{max: max, byID: map[int64]*list.Element{}, fetch: fetch, shareFirst: readShared}
}

// blockBufs holds the memory of decoded blocks no reader uses any more.
var blockBufs sync.Pool // of *[]byte

func putBlockBuf(b *block) {
	if b.shared || cap(b.raw) > 4*blockBytes {
		return
	}
	raw := b.raw[:0]
	blockBufs.Put(&raw)
}

func (c *blockCache) get(id int64) (*block, error) {
	if el, ok := c.byID[id]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*cached).b, nil
	}
	z, err := c.fetch(id)
	if err != nil {
		return nil, err
	}
	var b *block
	if c.shareFirst > 0 {
		c.shareFirst--
		var hit bool
		b, hit, err = sharedBlock(z)
		if err == nil && !hit {
			c.decoded += int64(len(b.data))
		}
	} else {
		var dst []byte
		if p, ok := blockBufs.Get().(*[]byte); ok {
			dst = *p
		}
		b, err = decodeBlock(z, dst, &c.frame)
		if err == nil {
			c.decoded += int64(len(b.data))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("block %d: %w", id, err)
	}
	c.byID[id] = c.lru.PushFront(&cached{id, b})
	c.used += len(b.data)
	for c.used > c.max && c.lru.Len() > 1 {
		el := c.lru.Back()
		old := el.Value.(*cached)
		c.lru.Remove(el)
		delete(c.byID, old.id)
		c.used -= len(old.b.data)
		putBlockBuf(old.b)
	}
	return b, nil
}

// release gives the memory of the cache's blocks back; the cache is
// empty afterwards.
func (c *blockCache) release() {
	for el := c.lru.Front(); el != nil; el = el.Next() {
		putBlockBuf(el.Value.(*cached).b)
	}
	c.lru.Init()
	clear(c.byID)
	c.used = 0
}

// blockFetcher returns a function reading one block's frame through db
// with st (prepared there; nil: prepared here), and a function to close
// what it prepared.
//
// Each fetch runs with ctx's values but without its cancellation
// (context.WithoutCancel) and checks ctx itself first. A query on a
// context that can be cancelled makes database/sql and the driver each
// start a goroutine to watch it, for a point read of one row: ~3.5 % of
// a hunt's CPU at one fetch per block. A fetch takes well under a
// millisecond, so a cancel still stops the read at the next block.
func blockFetcher(ctx context.Context, db *sql.DB, st *sql.Stmt) (func(id int64) ([]byte, error), func(), error) {
	done := func() {}
	if st == nil {
		var err error
		if st, err = db.PrepareContext(ctx, fetchBlock); err != nil {
			return nil, nil, fmt.Errorf("read blocks: %w", err)
		}
		done = func() { st.Close() }
	}
	quiet := context.WithoutCancel(ctx)
	return func(id int64) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var z []byte
		if err := st.QueryRowContext(quiet, id).Scan(&z); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("block %d is missing", id)
			}
			return nil, fmt.Errorf("read block %d: %w", id, err)
		}
		return z, nil
	}, done, nil
}

const fetchBlock = `SELECT z FROM blocks WHERE id = ?`

// fetchStmt is the store's prepared block read, made once: a point
// Search (one event by its time) would otherwise prepare it every time.
func (s *Store) fetchStmt(ctx context.Context) (*sql.Stmt, error) {
	s.fetchMu.Lock()
	defer s.fetchMu.Unlock()
	if s.fetch == nil {
		st, err := s.db.PrepareContext(ctx, fetchBlock)
		if err != nil {
			return nil, fmt.Errorf("read blocks: %w", err)
		}
		s.fetch = st
	}
	return s.fetch, nil
}

// sharedBlocks are the last few blocks decoded for jejak_doc and for the
// first blocks of each reader, each with its frame. A SQL function cannot
// tell which store it runs for, and another process may have changed a
// store since, so a hit is a frame equal byte for byte, not a block
// number. Shared blocks are never reused for other memory.
var sharedBlocks struct {
	mu   sync.Mutex
	next int
	ent  [8]struct {
		z []byte
		b *block
	}
}

// sharedBlock returns the decoded block of frame z, and whether it was
// decoded before.
func sharedBlock(z []byte) (*block, bool, error) {
	sharedBlocks.mu.Lock()
	for _, e := range sharedBlocks.ent {
		if e.b != nil && bytes.Equal(e.z, z) {
			sharedBlocks.mu.Unlock()
			return e.b, true, nil
		}
	}
	sharedBlocks.mu.Unlock()
	var frame []byte
	b, err := decodeBlock(z, nil, &frame)
	if err != nil {
		return nil, false, err
	}
	b.shared = true
	sharedBlocks.mu.Lock()
	e := &sharedBlocks.ent[sharedBlocks.next]
	e.z, e.b = append([]byte(nil), z...), b
	sharedBlocks.next = (sharedBlocks.next + 1) % len(sharedBlocks.ent)
	sharedBlocks.mu.Unlock()
	return b, false, nil
}

// sqlDoc is the SQL function jejak_doc(z, slot, id): the document in slot
// of block frame z, as JSON text. The view events's column doc calls it,
// so that json_extract(doc, ...) (the KQL compiler, the timeline view, an
// examiner's own SQL through this driver) keeps working on compressed
// rows.
func sqlDoc(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	z, ok := args[0].([]byte)
	slot, ok2 := args[1].(int64)
	id, ok3 := args[2].([]byte)
	if !ok || !ok2 || !ok3 {
		if args[0] == nil || args[1] == nil || args[2] == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("jejak_doc: arguments are %T, %T and %T, not blob, integer and blob", args[0], args[1], args[2])
	}
	b, _, err := sharedBlock(z)
	if err != nil {
		return nil, fmt.Errorf("jejak_doc: %w", err)
	}
	doc, err := b.doc(slot)
	if err != nil {
		return nil, fmt.Errorf("jejak_doc: %w", err)
	}
	out, err := appendDoc(make([]byte, 0, len(doc)+32), doc, id)
	if err != nil {
		return nil, fmt.Errorf("jejak_doc: %w", err)
	}
	return string(out), nil
}

// sqlBlock is the SQL function jejak_block(doc): a stored block frame
// holding the one JSON document doc, its event ID cut out. It lets SQL
// write a document (the view's UPDATE trigger), e.g.
// UPDATE events SET doc = replace(doc, 'a', 'b').
func sqlBlock(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	var doc []byte
	switch v := args[0].(type) {
	case string:
		doc = []byte(v)
	case []byte:
		doc = append([]byte(nil), v...)
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("jejak_block: argument is %T, not text", args[0])
	}
	doc, err := stripID(doc)
	if err != nil {
		return nil, fmt.Errorf("jejak_block: %w", err)
	}
	var raw []byte
	return compressBlock(nil, [][]byte{doc}, &raw), nil
}

// outBlock is a block cut from a chunk: its frame in chunk.zbuf, the rows
// c.rows[first:first+n].
type outBlock struct {
	z        []byte
	first, n int
}
