package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
	msqlite "modernc.org/sqlite"
)

// Stored documents are zstd frames (klauspost/compress), one per event,
// each compressed against a dictionary of documents of the same parser.
//
// Why one frame per event with a dictionary, not frames of many events:
// every read goes through an index in time order (the hunt reads the whole
// case ORDER BY ts), and events of one time range come from many files
// (an image's MFT rows are in entry order, not time order). A frame of many
// events would be decompressed once per event read from it. A syslog
// document compresses alone to 60% of its size, but against a dictionary
// of its parser's documents to about 11%: the keys, the provenance, the
// host and most of the message are matches into the dictionary.
//
// A dictionary is made from the first chunk of a store that has enough
// documents of a parser: its content is up to dictSize bytes of them,
// sampled across the chunk, and its entropy tables are trained on the
// whole chunk (zstd.BuildDict; a raw content dictionary when that fails).
// It is stored in the dicts table beside the events, and its ID is written
// in every frame's header, so a frame names the dictionary it needs. IDs
// are a hash of the content, so that dictionaries of every store a process
// opens live in one registry (the SQL function jejak_doc has no way to
// know which store it runs for).
//
// What is stored is less than the document: the event ID, 32 hex digits
// that no dictionary can predict, is left out (it is the id column) and
// put back when the document is read (see stripID).
//
// The frames are stored without zstd's 4-byte magic number and without a
// checksum (SQLite has its own page checks; a custody digest covers the
// documents): 8 bytes of a ~110-byte frame.

const (
	// dictSize: the ratio barely improves past 16 KiB (measured on the
	// bench syslog: 8 KiB 121 B/event, 32 KiB 115 B), while a larger
	// dictionary costs every frame's encoder more to reset.
	dictSize = 16 << 10
	// dictMinDocs: a parser with fewer documents in a chunk waits for a
	// later chunk to make its dictionary; its documents are compressed
	// without one meanwhile.
	dictMinDocs = 32
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// dictRegistry holds every dictionary any store of this process loaded or
// made, and one decoder knowing all of them.
var dictRegistry struct {
	mu   sync.Mutex
	byID map[uint32][]byte
	dec  atomic.Pointer[zstd.Decoder]
}

func init() {
	dec, err := newDecoder(nil)
	if err != nil {
		panic(err)
	}
	dictRegistry.dec.Store(dec)
	// Registered process-wide, for connections opened afterwards: at init,
	// every connection has them (the view events needs jejak_doc).
	if err := msqlite.RegisterDeterministicScalarFunction("jejak_doc", 2, sqlDoc); err != nil {
		panic(err)
	}
	if err := msqlite.RegisterDeterministicScalarFunction("jejak_compress", 1, sqlCompress); err != nil {
		panic(err)
	}
}

func newDecoder(dicts map[uint32][]byte) (*zstd.Decoder, error) {
	opts := []zstd.DOption{zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)), zstd.IgnoreChecksum(true)}
	for id, content := range dicts {
		opts = append(opts, dictDecoderOption(id, content))
	}
	return zstd.NewReader(nil, opts...)
}

// dictMagic starts a dictionary in zstd's format (made by BuildDict); a
// stored dictionary without it is raw content.
var dictMagic = []byte{0x37, 0xa4, 0x30, 0xec}

func dictDecoderOption(id uint32, content []byte) zstd.DOption {
	if bytes.HasPrefix(content, dictMagic) {
		return zstd.WithDecoderDicts(content)
	}
	return zstd.WithDecoderDictRaw(id, content)
}

func dictEncoderOption(id uint32, content []byte) zstd.EOption {
	if bytes.HasPrefix(content, dictMagic) {
		return zstd.WithEncoderDict(content)
	}
	return zstd.WithEncoderDictRaw(id, content)
}

// registerDict adds a dictionary to the registry. An ID already taken by
// another content is an error (a 32-bit hash collision; makeDict avoids
// it for dictionaries it makes).
func registerDict(id uint32, content []byte) error {
	dictRegistry.mu.Lock()
	defer dictRegistry.mu.Unlock()
	if have, ok := dictRegistry.byID[id]; ok {
		if !bytes.Equal(have, content) {
			return fmt.Errorf("two document dictionaries with ID %#x", id)
		}
		return nil
	}
	if dictRegistry.byID == nil {
		dictRegistry.byID = map[uint32][]byte{}
	}
	dictRegistry.byID[id] = content
	dec, err := newDecoder(dictRegistry.byID)
	if err != nil {
		delete(dictRegistry.byID, id)
		return fmt.Errorf("document dictionary %#x: %w", id, err)
	}
	// The previous decoder may be in use by a reader: it is left to the
	// garbage collector (a decoder made for DecodeAll only starts no
	// goroutine).
	dictRegistry.dec.Store(dec)
	return nil
}

// dictID returns the registry ID for content: its hash, moved on past IDs
// other contents hold. zstd reserves 0 for "no dictionary".
func dictID(content []byte) uint32 {
	h := fnv.New32a()
	h.Write(content)
	id := h.Sum32()
	dictRegistry.mu.Lock()
	defer dictRegistry.mu.Unlock()
	for {
		if id == 0 {
			id = 1
		}
		have, ok := dictRegistry.byID[id]
		if !ok || bytes.Equal(have, content) {
			return id
		}
		id++
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
		i := bytes.LastIndexByte(doc[:end], '{')
		if i < 0 {
			return -1
		}
		if i >= len(head) && string(doc[i-len(head):i]) == head && bytes.HasPrefix(doc[i:], []byte(tail)) {
			return i - len(head)
		}
		end = i
	}
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

// decompress appends the document of frame z (as stored: without magic
// and without the event ID) to dst, with id (16 bytes) put back. scratch
// is a buffer the caller keeps between calls; the frame is copied into it
// behind the magic.
func decompress(dst, z, id []byte, scratch *[]byte) ([]byte, error) {
	buf := append(append((*scratch)[:0], zstdMagic...), z...)
	*scratch = buf
	start := len(dst)
	out, err := dictRegistry.dec.Load().DecodeAll(buf, dst)
	if err != nil {
		return dst, fmt.Errorf("decompress stored document: %w", err)
	}
	i := lastIDKey(out[start:])
	if i < 0 || len(id) != 16 || len(out) < start+i+len(idKey)+1 || out[start+i+len(idKey)] != '"' {
		return dst, fmt.Errorf("stored document has no place for its %d-byte ID", len(id))
	}
	at := start + i + len(idKey)
	// Make room for 32 digits at at, then write them.
	out = append(out, make([]byte, 32)...)
	copy(out[at+32:], out[at:len(out)-32])
	hex.Encode(out[at:at+32], id)
	return out, nil
}

// sqlDoc is the SQL function jejak_doc(z, id): the document as JSON text.
// The view events's column doc calls it, so that
// json_extract(doc, ...) (the KQL compiler, the timeline view, an
// examiner's own SQL through this driver) keeps working on compressed rows.
func sqlDoc(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	z, ok := args[0].([]byte)
	id, ok2 := args[1].([]byte)
	if !ok || !ok2 {
		if args[0] == nil || args[1] == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("jejak_doc: arguments are %T and %T, not blobs", args[0], args[1])
	}
	bufs := sqlBufs.Get().(*[2][]byte)
	defer sqlBufs.Put(bufs)
	out, err := decompress(bufs[0][:0], z, id, &bufs[1])
	if err != nil {
		return nil, err
	}
	bufs[0] = out
	return string(out), nil
}

// sqlBufs are jejak_doc's buffers (the document, the frame behind its
// magic), kept between calls: a store digest calls it for every row.
var sqlBufs = sync.Pool{New: func() any { return new([2][]byte) }}

// sqlCompress is the SQL function jejak_compress(doc): a stored frame for
// JSON text, without a dictionary, the event ID cut out. It lets SQL
// write a document, e.g.
// UPDATE events SET z = jejak_compress(replace(doc, 'a', 'b')).
func sqlCompress(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	var doc []byte
	switch v := args[0].(type) {
	case string:
		doc = []byte(v)
	case []byte:
		doc = append([]byte(nil), v...)
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("jejak_compress: argument is %T, not text", args[0])
	}
	enc, err := plainEncoder()
	if err != nil {
		return nil, err
	}
	doc, err = stripID(doc)
	if err != nil {
		return nil, fmt.Errorf("jejak_compress: %w", err)
	}
	return stripMagic(enc.EncodeAll(doc, nil)), nil
}

var plainEnc struct {
	once sync.Once
	enc  *zstd.Encoder
	err  error
}

// plainEncoder compresses without a dictionary.
func plainEncoder() (*zstd.Encoder, error) {
	plainEnc.once.Do(func() {
		plainEnc.enc, plainEnc.err = zstd.NewWriter(nil, encoderOptions()...)
	})
	return plainEnc.enc, plainEnc.err
}

func encoderOptions() []zstd.EOption {
	return []zstd.EOption{
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		zstd.WithEncoderCRC(false),
		zstd.WithSingleSegment(true),
		zstd.WithZeroFrames(true),
	}
}

func stripMagic(frame []byte) []byte {
	if !bytes.HasPrefix(frame, zstdMagic) {
		// EncodeAll always writes the magic; this would be a new library.
		panic("zstd frame without magic number")
	}
	return frame[len(zstdMagic):]
}

// codec is a store's encoding side: the dictionary of each parser, and
// dictionaries made since the last commit.
type codec struct {
	mu      sync.Mutex
	enc     map[string]*zstd.Encoder // by parser
	pending []storedDict             // made, not yet in the dicts table
	loaded  int                      // rows of the dicts table read
}

type storedDict struct {
	id      uint32
	parser  string
	content []byte
}

// encoder returns the encoder for parser's documents, nil if it has no
// dictionary yet.
func (c *codec) encoder(parser string) *zstd.Encoder {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enc[parser]
}

// add registers a dictionary for parser and returns its encoder. When two
// chunks make one for the same parser at once, the first one added wins.
func (c *codec) add(d storedDict, stored bool) (*zstd.Encoder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.enc[d.parser]; ok {
		return e, nil
	}
	if err := registerDict(d.id, d.content); err != nil {
		return nil, err
	}
	e, err := zstd.NewWriter(nil, append(encoderOptions(), dictEncoderOption(d.id, d.content))...)
	if err != nil {
		return nil, fmt.Errorf("document dictionary of %s: %w", d.parser, err)
	}
	if c.enc == nil {
		c.enc = map[string]*zstd.Encoder{}
	}
	c.enc[d.parser] = e
	if !stored {
		c.pending = append(c.pending, d)
	}
	return e, nil
}

// takePending returns the dictionaries not yet stored; a Write that fails
// gives them back with keepPending.
func (c *codec) takePending() []storedDict {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	c.pending = nil
	return p
}

func (c *codec) keepPending(p []storedDict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(p, c.pending...)
}

// makeDict builds a dictionary from docs (a parser's documents of one
// chunk): evenly spaced whole documents up to dictSize bytes, the most
// typical last (zstd finds recent matches cheapest).
func makeDict(parser string, docs [][]byte) storedDict {
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	// A prime stride: logs repeat their kinds of lines in cycles, and a
	// stride that is a multiple of the cycle's length samples only some
	// kinds (every 66th line of the bench syslog, a cycle of 10, took only
	// the even kinds: 119 bytes per event instead of 92).
	step := max(1, total/dictSize)
	for step > 2 && !prime(step) {
		step--
	}
	var content []byte
	for i := 0; i < len(docs) && len(content) < dictSize; i += step {
		content = append(content, docs[i]...)
	}
	if len(content) > dictSize {
		content = content[len(content)-dictSize:]
	}
	id := dictID(content)
	// The entropy tables saved 7% more on the bench syslog.
	built, err := zstd.BuildDict(zstd.BuildDictOptions{ID: id, Contents: docs, History: content,
		Offsets: [3]int{1, 4, 8}, Level: zstd.SpeedFastest})
	if err == nil {
		content = built
	}
	return storedDict{id: id, parser: parser, content: content}
}

// compressChunk replaces each row's document by its frame, in c.zbuf.
//
// Chunks are compressed in parallel, but make dictionaries in batch order:
// each waits for the chunk before it to have chosen its encoders (prev)
// before choosing its own, and says when it has (decided; closed on every
// path). The first chunk with enough documents of a parser makes its
// dictionary whichever goroutine runs first, so a store's bytes do not
// depend on scheduling (the size did: 92 or 119 bytes per event).
func (s *Store) compressChunk(c *chunk, prev <-chan struct{}, decided chan struct{}) error {
	closed := false
	decide := func() {
		if !closed {
			close(decided)
			closed = true
		}
	}
	defer decide()
	c.zbuf = c.zbuf[:0]
	for i := range c.rows {
		r := &c.rows[i]
		var err error
		if r.doc, err = stripID(r.doc); err != nil {
			return fmt.Errorf("event %x: %w", r.id, err)
		}
	}
	<-prev
	encs := map[string]*zstd.Encoder{}
	var byParser map[string][][]byte
	for i := range c.rows {
		p := c.rows[i].parser
		if _, ok := encs[p]; ok {
			continue
		}
		enc := s.codec.encoder(p)
		if enc == nil {
			if byParser == nil {
				byParser = map[string][][]byte{}
				for _, r := range c.rows {
					byParser[r.parser] = append(byParser[r.parser], r.doc)
				}
			}
			if docs := byParser[p]; len(docs) >= dictMinDocs {
				var err error
				if enc, err = s.codec.add(makeDict(p, docs), false); err != nil {
					return err
				}
			}
		}
		if enc == nil {
			var err error
			if enc, err = plainEncoder(); err != nil {
				return err
			}
		}
		encs[p] = enc
	}
	decide()
	for i := range c.rows {
		r := &c.rows[i]
		start := len(c.zbuf)
		c.zbuf = encs[r.parser].EncodeAll(r.doc, c.zbuf)
		r.zlen = len(c.zbuf) - start
	}
	off := 0
	for i := range c.rows {
		n := c.rows[i].zlen
		// Skip the magic number EncodeAll wrote.
		c.rows[i].z = c.zbuf[off+len(zstdMagic) : off+n : off+n]
		off += n
	}
	return nil
}

// loadDicts reads the dictionaries of the store that this process does not
// know yet: at Open, and before reads (another process's ingest may have
// made new ones since).
func (s *Store) loadDicts(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) error {
	// The table has a row per parser: whether it grew is one look at its
	// b-tree, cheaper than reading the dictionaries again.
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM dicts`).Scan(&n); err != nil {
		return fmt.Errorf("read document dictionaries: %w", err)
	}
	s.codec.mu.Lock()
	known := s.codec.loaded
	s.codec.mu.Unlock()
	if n == known {
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT id, parser, content FROM dicts ORDER BY rowid`)
	if err != nil {
		return fmt.Errorf("read document dictionaries: %w", err)
	}
	defer rows.Close()
	read := 0
	for rows.Next() {
		var d storedDict
		var id int64
		if err := rows.Scan(&id, &d.parser, &d.content); err != nil {
			return err
		}
		d.id = uint32(id)
		if _, err := s.codec.add(d, true); err != nil {
			return err
		}
		// A parser's first dictionary is its encoder's; a later one (two
		// processes writing at once) is still needed to read.
		if err := registerDict(d.id, d.content); err != nil {
			return err
		}
		read++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.codec.mu.Lock()
	s.codec.loaded = max(s.codec.loaded, read)
	s.codec.mu.Unlock()
	return nil
}

// storeDicts inserts dictionaries made during a Write, in its transaction.
func storeDicts(conn rawConn, ds []storedDict) error {
	if len(ds) == 0 {
		return nil
	}
	st, err := conn.PrepareContext(context.Background(), `INSERT OR IGNORE INTO dicts(id, parser, content) VALUES(?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare dictionary insert: %w", err)
	}
	defer st.Close()
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		return errors.New("sqlite driver statement cannot take a context")
	}
	for _, d := range ds {
		if _, err := ex.ExecContext(context.Background(), []driver.NamedValue{
			{Ordinal: 1, Value: int64(d.id)}, {Ordinal: 2, Value: d.parser}, {Ordinal: 3, Value: d.content},
		}); err != nil {
			return fmt.Errorf("store document dictionary of %s: %w", d.parser, err)
		}
	}
	return nil
}

func prime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
}
