package image

// Random access into xz files of several blocks (xz -T, pixz, xz
// --block-size): the index at the end of each stream gives every block's
// compressed and uncompressed size, so a read decodes only the block it
// falls in. The block is decoded by ulikunitz/xz, fed a one-block stream
// put together from the real stream's flags, the block's bytes and an
// index written for it: the package has no block-level API, and this way
// each block's own check (CRC-64, SHA-256) is still verified.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"sort"
	"sync"

	"github.com/ulikunitz/xz"
)

const (
	xzPiece      = 1 << 20 // decoded media is cached in pieces of this size
	xzPieces     = 32      // pieces kept: xz -T's default 24 MiB blocks fit
	xzMaxIndex   = 64 << 20
	xzMaxStreams = 1 << 16
)

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

type xzBlock struct {
	cOff     int64 // file offset of the block header
	unpadded int64 // header + compressed data + check, without padding
	uOff     int64 // media offset
	uLen     int64
	flags    [2]byte // its stream's flags (check type)
}

// xzIndexed reads an xz file through its block index.
type xzIndexed struct {
	name   string
	r      io.ReaderAt
	blocks []xzBlock
	size   int64
	cache  *chunkCache

	mu       sync.Mutex
	cur      *xzCursor
	verified []bool  // blocks decoded whole with a good check
	bad      []error // blocks that failed, by index
}

type xzCursor struct {
	block int
	pos   int64 // offset in the block of the next byte z gives
	z     io.Reader
}

// xzVarint reads an xz multibyte integer (7 bits a byte, low first).
func xzVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, 0, errors.New("xz: non-minimal integer")
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("xz: bad integer")
}

func xzPutVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func pad4(n int64) int64 { return (n + 3) &^ 3 }

// parseXZIndex lists the blocks of every stream of an xz file of size
// bytes, reading the streams' footers and indexes from the end.
func parseXZIndex(r io.ReaderAt, size int64) ([]xzBlock, error) {
	var streams [][]xzBlock
	le := binary.LittleEndian
	end := size
	for end > 0 {
		if len(streams) >= xzMaxStreams {
			return nil, errors.New("xz: too many streams")
		}
		// Stream padding: zero bytes in fours.
		var w [4]byte
		for end >= 4 {
			if _, err := r.ReadAt(w[:], end-4); err != nil {
				return nil, err
			}
			if w != [4]byte{} {
				break
			}
			end -= 4
		}
		if end == 0 && len(streams) > 0 {
			break
		}
		if end < 24 {
			return nil, fmt.Errorf("xz: no stream footer before offset %d", end)
		}
		var ft [12]byte
		if _, err := r.ReadAt(ft[:], end-12); err != nil {
			return nil, err
		}
		if string(ft[10:]) != "YZ" || crc32.ChecksumIEEE(ft[4:10]) != le.Uint32(ft[:4]) {
			return nil, fmt.Errorf("xz: bad stream footer at offset %d", end-12)
		}
		backward := (int64(le.Uint32(ft[4:])) + 1) * 4
		idxOff := end - 12 - backward
		if backward > xzMaxIndex || idxOff < 12 {
			return nil, fmt.Errorf("xz: index of %d bytes before offset %d does not fit", backward, end-12)
		}
		idx := make([]byte, backward)
		if _, err := r.ReadAt(idx, idxOff); err != nil {
			return nil, err
		}
		if idx[0] != 0 || crc32.ChecksumIEEE(idx[:len(idx)-4]) != le.Uint32(idx[len(idx)-4:]) {
			return nil, fmt.Errorf("xz: bad index at offset %d", idxOff)
		}
		p := 1
		count, n, err := xzVarint(idx[p:])
		if err != nil || count > uint64(backward/2) {
			return nil, fmt.Errorf("xz: index at offset %d: bad record count", idxOff)
		}
		p += n
		blocks := make([]xzBlock, 0, count)
		var total int64
		for range count {
			unp, n1, err1 := xzVarint(idx[p:])
			if err1 != nil {
				return nil, fmt.Errorf("xz: index at offset %d: %v", idxOff, err1)
			}
			unc, n2, err2 := xzVarint(idx[p+n1:])
			if err2 != nil || unp > 1<<62 || unc > 1<<62 || unp < 5 {
				return nil, fmt.Errorf("xz: index at offset %d: bad record", idxOff)
			}
			p += n1 + n2
			blocks = append(blocks, xzBlock{cOff: total, unpadded: int64(unp), uLen: int64(unc)})
			total += pad4(int64(unp))
			if total > idxOff {
				return nil, fmt.Errorf("xz: index at offset %d: blocks larger than the file", idxOff)
			}
		}
		start := idxOff - total - 12
		var hd [12]byte
		if start < 0 {
			return nil, fmt.Errorf("xz: stream ending at %d starts before the file", end)
		}
		if _, err := r.ReadAt(hd[:], start); err != nil {
			return nil, err
		}
		if !bytes.Equal(hd[:6], xzMagic) || !bytes.Equal(hd[6:8], ft[8:10]) {
			return nil, fmt.Errorf("xz: no stream header at offset %d where the index puts it", start)
		}
		for i := range blocks {
			blocks[i].cOff += start + 12
			blocks[i].flags = [2]byte{hd[6], hd[7]}
		}
		streams = append(streams, blocks)
		end = start
	}
	var all []xzBlock
	var u int64
	for i := len(streams) - 1; i >= 0; i-- {
		for _, b := range streams[i] {
			if b.uLen == 0 {
				continue
			}
			b.uOff = u
			u += b.uLen
			all = append(all, b)
		}
	}
	return all, nil
}

// blockStream is an xz stream holding block b alone.
func (x *xzIndexed) blockStream(b xzBlock) io.Reader {
	le := binary.LittleEndian
	hdr := append(append([]byte{}, xzMagic...), b.flags[0], b.flags[1])
	hdr = le.AppendUint32(hdr, crc32.ChecksumIEEE(b.flags[:]))
	idx := xzPutVarint(xzPutVarint(xzPutVarint([]byte{0}, 1), uint64(b.unpadded)), uint64(b.uLen))
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = le.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	ft := le.AppendUint32(nil, uint32(len(idx)/4-1))
	ft = append(ft, b.flags[0], b.flags[1])
	ft = append(le.AppendUint32(nil, crc32.ChecksumIEEE(ft)), append(ft, 'Y', 'Z')...)
	return io.MultiReader(bytes.NewReader(hdr), io.NewSectionReader(x.r, b.cOff, pad4(b.unpadded)), bytes.NewReader(idx), bytes.NewReader(ft))
}

func (x *xzIndexed) blockAt(off int64) int {
	return sort.Search(len(x.blocks), func(i int) bool { return x.blocks[i].uOff+x.blocks[i].uLen > off })
}

// piece returns piece k of block i (xzPiece bytes from the block's start
// + k*xzPiece, shorter at its end). A block is decoded whole, its check
// verified, before any of it is served: the check is at the block's end,
// and bytes of a block that fails it must not reach a parser.
func (x *xzIndexed) piece(i int, k int64) ([]byte, error) {
	key := int64(i)<<24 | k
	if b, ok := x.cache.get(key); ok {
		return b, nil
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if err := x.bad[i]; err != nil {
		return nil, err
	}
	if b, ok := x.cache.get(key); ok {
		return b, nil
	}
	blk := x.blocks[i]
	fail := func(err error) ([]byte, error) {
		x.cur = nil
		err = fmt.Errorf("xz: %s: block %d at file offset %d: %w", filepath.Base(x.name), i, blk.cOff, err)
		x.bad[i] = err
		return nil, err
	}
	if !x.verified[i] {
		z, err := xz.NewReader(x.blockStream(blk))
		if err != nil {
			return fail(err)
		}
		var want []byte
		for j := int64(0); j*xzPiece < blk.uLen; j++ {
			b := make([]byte, min(xzPiece, blk.uLen-j*xzPiece))
			if _, err := io.ReadFull(z, b); err != nil {
				return fail(err)
			}
			x.cache.put(int64(i)<<24|j, b)
			if j == k {
				want = b
			}
		}
		// Reading past the block's data makes the decoder check it.
		if n, err := z.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			if err == nil || err == io.EOF {
				err = errors.New("more data than the index says")
			}
			return fail(err)
		}
		x.verified[i] = true
		return want, nil
	}
	// A verified block whose piece left the cache: decoded again, going on
	// from where the last such read stopped when it can.
	c := x.cur
	if c == nil || c.block != i || c.pos > k*xzPiece {
		z, err := xz.NewReader(x.blockStream(blk))
		if err != nil {
			return fail(err)
		}
		c = &xzCursor{block: i, z: z}
		x.cur = c
	}
	if skip := k*xzPiece - c.pos; skip > 0 {
		if _, err := io.CopyN(io.Discard, c.z, skip); err != nil {
			return fail(err)
		}
		c.pos += skip
	}
	b := make([]byte, min(xzPiece, blk.uLen-k*xzPiece))
	if _, err := io.ReadFull(c.z, b); err != nil {
		return fail(err)
	}
	c.pos += int64(len(b))
	x.cache.put(key, b)
	return b, nil
}

// ReadAt is Compressed.ReadAt's for an indexed xz stream; Compressed has
// refused a negative offset with its own message before.
func (x *xzIndexed) ReadAt(p []byte, off int64) (int, error) {
	return readPieces("xz", p, off, x.size, x.readPiece)
}

// readPiece fills the start of p from the decoded piece that holds off.
func (x *xzIndexed) readPiece(p []byte, off int64) (int, error) {
	i := x.blockAt(off)
	in := off - x.blocks[i].uOff
	b, err := x.piece(i, in/xzPiece)
	if err != nil {
		return 0, err
	}
	return copy(p, b[in%xzPiece:]), nil
}
