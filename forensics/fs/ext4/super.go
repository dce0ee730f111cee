package ext4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// Feature flags this reader looks at (names as in the kernel's ext4.h).
const (
	incompatFiletype   = 0x2
	incompatMetaBG     = 0x10
	incompatExtents    = 0x40
	incompat64Bit      = 0x80
	incompatFlexBG     = 0x200
	incompatLargeDir   = 0x4000
	incompatInlineData = 0x8000

	roCompatSparseSuper = 0x1
	roCompatLargeFile   = 0x2

	superOffset = 1024
	superSize   = 1024
	superMagic  = 0xEF53
)

// superblock holds the fields of the ext2/3/4 superblock the walk needs.
type superblock struct {
	inodesCount    uint32
	blocksCount    uint64
	firstDataBlock uint32
	blockSize      int64
	blocksPerGroup uint32
	inodesPerGroup uint32
	inodeSize      int64
	compat         uint32
	incompat       uint32
	roCompat       uint32
	descSize       int64 // 32, or s_desc_size with 64bit
	firstMetaBG    uint32
	groups         uint32
}

// ErrNotExt is returned by NewWalker when there is no ext2/3/4 superblock.
var ErrNotExt = errors.New("ext4: no ext2/3/4 superblock at byte 1024")

// parseSuperblock checks the superblock b (1024 bytes at offset 1024) and
// rejects values that would make the walk divide by zero, loop or read
// absurd amounts: a damaged superblock is an error, not a guess.
func parseSuperblock(b []byte) (*superblock, error) {
	if len(b) < superSize {
		return nil, fmt.Errorf("%w: superblock is %d bytes", jfs.ErrTruncated, len(b))
	}
	le := binary.LittleEndian
	if le.Uint16(b[0x38:]) != superMagic {
		return nil, ErrNotExt
	}
	sb := &superblock{
		inodesCount:    le.Uint32(b[0x00:]),
		blocksCount:    uint64(le.Uint32(b[0x04:])),
		firstDataBlock: le.Uint32(b[0x14:]),
		blocksPerGroup: le.Uint32(b[0x20:]),
		inodesPerGroup: le.Uint32(b[0x28:]),
		inodeSize:      128,
	}
	logBlock := le.Uint32(b[0x18:])
	if logBlock > 6 { // 64 KiB is the largest block size the kernel mounts
		return nil, fmt.Errorf("%w: superblock: block size 2^%d KiB", jfs.ErrCorrupt, logBlock)
	}
	sb.blockSize = 1024 << logBlock
	if le.Uint32(b[0x4C:]) >= 1 { // dynamic revision: the fields below exist
		sb.inodeSize = int64(le.Uint16(b[0x58:]))
		sb.compat = le.Uint32(b[0x5C:])
		sb.incompat = le.Uint32(b[0x60:])
		sb.roCompat = le.Uint32(b[0x64:])
		sb.firstMetaBG = le.Uint32(b[0x104:])
	}
	sb.descSize = 32
	if sb.incompat&incompat64Bit != 0 {
		sb.blocksCount |= uint64(le.Uint32(b[0x150:])) << 32
		if d := int64(le.Uint16(b[0xFE:])); d >= 64 {
			sb.descSize = d
		}
	}
	switch {
	case sb.inodeSize < 128 || sb.inodeSize > sb.blockSize || sb.inodeSize&(sb.inodeSize-1) != 0:
		return nil, fmt.Errorf("%w: superblock: inode size %d", jfs.ErrCorrupt, sb.inodeSize)
	case sb.inodesPerGroup == 0 || sb.blocksPerGroup == 0 || sb.inodesCount == 0:
		return nil, fmt.Errorf("%w: superblock: %d inodes and %d blocks per group", jfs.ErrCorrupt, sb.inodesPerGroup, sb.blocksPerGroup)
	case int64(sb.inodesPerGroup) > sb.blockSize*8 || int64(sb.blocksPerGroup) > sb.blockSize*8:
		return nil, fmt.Errorf("%w: superblock: group larger than its bitmap (%d inodes, %d blocks per group)", jfs.ErrCorrupt, sb.inodesPerGroup, sb.blocksPerGroup)
	case sb.descSize > sb.blockSize || sb.descSize&(sb.descSize-1) != 0:
		return nil, fmt.Errorf("%w: superblock: group descriptor size %d", jfs.ErrCorrupt, sb.descSize)
	case uint64(sb.firstDataBlock) >= sb.blocksCount:
		return nil, fmt.Errorf("%w: superblock: first data block %d of %d", jfs.ErrCorrupt, sb.firstDataBlock, sb.blocksCount)
	}
	sb.groups = uint32((uint64(sb.inodesCount) + uint64(sb.inodesPerGroup) - 1) / uint64(sb.inodesPerGroup))
	if byBlocks := (sb.blocksCount - uint64(sb.firstDataBlock) + uint64(sb.blocksPerGroup) - 1) / uint64(sb.blocksPerGroup); uint64(sb.groups) != byBlocks {
		return nil, fmt.Errorf("%w: superblock: %d inodes make %d groups, %d blocks make %d", jfs.ErrCorrupt, sb.inodesCount, sb.groups, sb.blocksCount, byBlocks)
	}
	return sb, nil
}

// lastInode is the highest inode number.
func (sb *superblock) lastInode() uint32 { return sb.groups * sb.inodesPerGroup }

// hasSuper says whether group g holds a superblock backup (and so a copy of
// the descriptors before anything else).
func (sb *superblock) hasSuper(g uint32) bool {
	if g <= 1 || sb.roCompat&roCompatSparseSuper == 0 {
		return true
	}
	for _, base := range []uint32{3, 5, 7} {
		p := base
		for p < g {
			p *= base
		}
		if p == g {
			return true
		}
	}
	return false
}

// descOffset is the byte offset of group g's descriptor: in the table right
// after the superblock, or with meta_bg in the first group of its
// meta-group (past that group's superblock backup).
func (sb *superblock) descOffset(g uint32) int64 {
	perBlock := uint32(sb.blockSize / sb.descSize)
	mb := g / perBlock
	var block uint64
	if sb.incompat&incompatMetaBG == 0 || mb < sb.firstMetaBG {
		block = uint64(sb.firstDataBlock) + 1 + uint64(mb)
	} else {
		first := mb * perBlock
		block = uint64(sb.firstDataBlock) + uint64(first)*uint64(sb.blocksPerGroup)
		if sb.hasSuper(first) {
			block++
		}
	}
	return int64(block)*sb.blockSize + int64(g%perBlock)*sb.descSize
}

// group is what the walk needs from one group descriptor.
type group struct {
	inodeBitmap uint64 // block number
	inodeTable  uint64 // block number
	flags       uint16
	err         error // the descriptor could not be read or is out of range
}

const bgInodeUninit = 0x1

func readGroups(r io.ReaderAt, sb *superblock) []group {
	gs := make([]group, sb.groups)
	buf := make([]byte, sb.descSize)
	le := binary.LittleEndian
	for i := range gs {
		off := sb.descOffset(uint32(i))
		if _, err := r.ReadAt(buf, off); err != nil {
			gs[i].err = fmt.Errorf("%w: group %d descriptor at offset %d: %v", jfs.ErrTruncated, i, off, err)
			continue
		}
		g := group{
			inodeBitmap: uint64(le.Uint32(buf[0x04:])),
			inodeTable:  uint64(le.Uint32(buf[0x08:])),
			flags:       le.Uint16(buf[0x12:]),
		}
		if sb.descSize >= 64 {
			g.inodeBitmap |= uint64(le.Uint32(buf[0x24:])) << 32
			g.inodeTable |= uint64(le.Uint32(buf[0x28:])) << 32
		}
		itBlocks := (uint64(sb.inodesPerGroup)*uint64(sb.inodeSize) + uint64(sb.blockSize) - 1) / uint64(sb.blockSize)
		if g.inodeTable == 0 || g.inodeTable+itBlocks > sb.blocksCount || g.inodeBitmap >= sb.blocksCount {
			g.err = fmt.Errorf("%w: group %d descriptor at offset %d: inode table at block %d, bitmap at block %d, volume has %d blocks", jfs.ErrCorrupt, i, off, g.inodeTable, g.inodeBitmap, sb.blocksCount)
		}
		gs[i] = g
	}
	return gs
}
