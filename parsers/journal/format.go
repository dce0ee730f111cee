package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// The on-disk layout, as systemd's src/libsystemd/sd-journal/journal-def.h
// and docs/JOURNAL_FILE_FORMAT.md define it. All integers are little-endian.

var magic = []byte("LPKSHHRH")

// Incompatible header flags (the compatible ones, sealing and the tail
// entry boot ID, change nothing for a reader).
const (
	incompatXZ        = 1 << 0
	incompatLZ4       = 1 << 1
	incompatKeyedHash = 1 << 2
	incompatZSTD      = 1 << 3
	incompatCompact   = 1 << 4
	incompatKnown     = incompatXZ | incompatLZ4 | incompatKeyedHash | incompatZSTD | incompatCompact
)

// File states.
const (
	stateOffline  = 0
	stateOnline   = 1
	stateArchived = 2
)

// Object types and object flags.
const (
	objData       = 1
	objEntry      = 3
	objEntryArray = 6
	objTypeMax    = 7 // OBJECT_TAG

	objCompressedXZ   = 1 << 0
	objCompressedLZ4  = 1 << 1
	objCompressedZSTD = 1 << 2
	objCompressedMask = objCompressedXZ | objCompressedLZ4 | objCompressedZSTD
)

const (
	objHeaderSize   = 16
	entryFixedSize  = 64 // object header, seqnum, realtime, monotonic, boot_id, xor_hash
	arrayFixedSize  = 24 // object header, next_entry_array_offset
	dataRegularSize = 64 // payload offset of a DATA object
	dataCompactSize = 72 // … in a compact file (tail_entry_array_offset/_n_entries added)
	minHeaderSize   = 208
	// maxField bounds one decompressed field; journald refuses fields
	// above 64 MiB (DATA_SIZE_MAX), so more than that is damage.
	maxField = 64 << 20
)

// fileHeader holds the header fields the reader uses.
type fileHeader struct {
	compatible, incompatible uint32
	state                    uint8
	seqnumID                 [16]byte
	headerSize, arenaSize    uint64
	tailObject               uint64
	nObjects, nEntries       uint64
	entryArray               uint64
}

var (
	errMagic       = errors.New("not a systemd journal file (no LPKSHHRH signature)")
	errShortHeader = errors.New("journal header shorter than 208 bytes")
)

func parseHeader(b []byte) (fileHeader, error) {
	var h fileHeader
	if len(b) < minHeaderSize {
		return h, errShortHeader
	}
	if !bytes.Equal(b[:8], magic) {
		return h, errMagic
	}
	le := binary.LittleEndian
	h.compatible = le.Uint32(b[8:])
	h.incompatible = le.Uint32(b[12:])
	h.state = b[16]
	copy(h.seqnumID[:], b[72:88])
	h.headerSize = le.Uint64(b[88:])
	h.arenaSize = le.Uint64(b[96:])
	h.tailObject = le.Uint64(b[136:])
	h.nObjects = le.Uint64(b[144:])
	h.nEntries = le.Uint64(b[152:])
	h.entryArray = le.Uint64(b[176:])
	if h.headerSize < minHeaderSize || h.headerSize%8 != 0 {
		return h, fmt.Errorf("journal header size %d is not a multiple of 8 of at least %d", h.headerSize, minHeaderSize)
	}
	return h, nil
}

func (h *fileHeader) compact() bool { return h.incompatible&incompatCompact != 0 }

// stateName names the header's state byte.
func stateName(s uint8) string {
	switch s {
	case stateOffline:
		return "offline"
	case stateOnline:
		return "online"
	case stateArchived:
		return "archived"
	}
	return fmt.Sprintf("unknown state %d", s)
}

// decompressor undoes the three compressions a DATA object may carry. One
// per file: the zstd decoder is reused across objects.
type decompressor struct {
	zstd *zstd.Decoder
}

func (d *decompressor) close() {
	if d.zstd != nil {
		d.zstd.Close()
	}
}

func (d *decompressor) decode(flags uint8, p []byte) ([]byte, error) {
	switch flags & objCompressedMask {
	case objCompressedXZ:
		r, err := xz.NewReader(bytes.NewReader(p))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		out, err := io.ReadAll(io.LimitReader(r, maxField+1))
		if err != nil {
			return nil, fmt.Errorf("xz: %w", err)
		}
		if len(out) > maxField {
			return nil, fmt.Errorf("xz: field larger than %d bytes", maxField)
		}
		return out, nil
	case objCompressedLZ4:
		// systemd writes the uncompressed size as a 64-bit prefix, then
		// one LZ4 block.
		if len(p) < 8 {
			return nil, errors.New("lz4: payload shorter than its size prefix")
		}
		n := binary.LittleEndian.Uint64(p)
		if n > maxField {
			return nil, fmt.Errorf("lz4: declared size %d above %d", n, maxField)
		}
		out := make([]byte, n)
		m, err := lz4.UncompressBlock(p[8:], out)
		if err != nil {
			return nil, fmt.Errorf("lz4: %w", err)
		}
		if uint64(m) != n {
			return nil, fmt.Errorf("lz4: %d bytes decoded, %d declared", m, n)
		}
		return out, nil
	case objCompressedZSTD:
		if d.zstd == nil {
			z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxField))
			if err != nil {
				return nil, fmt.Errorf("zstd: %w", err)
			}
			d.zstd = z
		}
		out, err := d.zstd.DecodeAll(p, nil)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return out, nil
	case 0:
		return p, nil
	}
	return nil, fmt.Errorf("object flags %#x name more than one compression", flags)
}

// blockReader serves small reads from a ReaderAt through a few cached
// blocks: a journal's objects are small and mostly near each other, and
// one ReadAt per object costs a system call.
type blockReader struct {
	r      io.ReaderAt
	size   int64
	blocks map[int64][]byte
	order  []int64 // FIFO for eviction
}

const (
	blockSize = 64 << 10
	maxBlocks = 64
)

func newBlockReader(r io.ReaderAt, size int64) *blockReader {
	return &blockReader{r: r, size: size, blocks: make(map[int64][]byte, maxBlocks)}
}

var errOutside = errors.New("reaches past the end of the file")

// at returns n bytes at off. The slice is valid until the next call; the
// caller copies what it keeps.
func (b *blockReader) at(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off+int64(n) > b.size || off+int64(n) < off {
		return nil, errOutside
	}
	start := off &^ (blockSize - 1)
	if off+int64(n) > start+blockSize {
		// Spans blocks: a large object, read on its own.
		buf := make([]byte, n)
		if _, err := b.r.ReadAt(buf, off); err != nil && !(errors.Is(err, io.EOF) && len(buf) == n) {
			return nil, err
		}
		return buf, nil
	}
	blk, ok := b.blocks[start]
	if !ok {
		size := int64(blockSize)
		if start+size > b.size {
			size = b.size - start
		}
		if len(b.order) >= maxBlocks {
			old := b.order[0]
			b.order = b.order[1:]
			blk = b.blocks[old][:0]
			delete(b.blocks, old)
		}
		if cap(blk) < int(size) {
			blk = make([]byte, size)
		}
		blk = blk[:size]
		m, err := b.r.ReadAt(blk, start)
		if m < len(blk) {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		b.blocks[start] = blk
		b.order = append(b.order, start)
	}
	i := off - start
	return blk[i : i+int64(n)], nil
}
