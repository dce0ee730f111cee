// Package ext4 walks an ext2, ext3 or ext4 file system read from an
// io.ReaderAt (a partition of a disk image) and yields every directory and
// regular file, live or deleted, with its inode times to the nanosecond.
//
// It is its own reader rather than github.com/masahiro331/go-ext4-filesystem
// (in go.mod), because that library is an io/fs view of the live tree only:
// it exposes neither inode numbers nor the raw times (no nanoseconds, no
// crtime), cannot enumerate unallocated inodes or read names left in
// directory slack, assumes 64-byte group descriptors whenever the 64bit
// feature is set (ignoring s_desc_size), has no meta_bg layout, resolves a
// path from the root for every lookup, and maps every block of a file into
// a map (memory growing with file size). Deleted files are the point of a
// forensic walk, so this package reads the structures itself: superblock,
// 32/64-bit group descriptors (flex_bg needs nothing special: descriptors
// hold absolute block numbers), inodes with their extra time fields,
// extent trees and classic block maps, inline data, linear and htree
// directories (read linearly, as fsck and TSK do).
//
// Deleted entries follow The Sleuth Kit so results compare with fls: names
// recovered from directory slack are reported with the inode they point to,
// and unallocated inodes that were once used (ctime set) and that no name
// points to are reported as $OrphanFiles/OrphanFile-<inode>.
package ext4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// Layer is the chain kind of entries from this walker: "ext4:<path>" (ext2
// and ext3 included: one reader serves them all).
const Layer = "ext4"

// Walker walks one ext2/3/4 file system.
type Walker struct {
	v     *volume
	chain []string
}

var _ jfs.Walker = (*Walker)(nil)

// NewWalker reads the superblock and group descriptors of the file system
// in r (size bytes) and returns its walker. chain is the evidence's layers
// down to this file system (e.g. ["ewf:", "partition:2@116391936"]); each
// entry's chain is chain followed by "ext4:<path>". An error means there is
// no usable ext file system here; damage further in is reported by Walk.
func NewWalker(r io.ReaderAt, size int64, chain []string) (*Walker, error) {
	v, err := openVolume(r, size)
	if err != nil {
		return nil, err
	}
	return &Walker{v: v, chain: slices.Clone(chain)}, nil
}

// volume is an opened file system.
type volume struct {
	r      io.ReaderAt
	size   int64
	sb     *superblock
	groups []group
}

func openVolume(r io.ReaderAt, size int64) (*volume, error) {
	v := &volume{r: r, size: size}
	b := make([]byte, superSize)
	if err := v.read(b, superOffset); err != nil {
		return nil, fmt.Errorf("ext4: superblock: %w", err)
	}
	sb, err := parseSuperblock(b)
	if err != nil {
		if errors.Is(err, ErrNotExt) {
			return nil, err
		}
		return nil, fmt.Errorf("ext4: at offset %d: %w", superOffset, err)
	}
	// Every group descriptor lies inside the volume: a group count the
	// volume cannot hold is a damaged superblock, not a reason to allocate.
	if int64(sb.groups)*sb.descSize > size {
		return nil, fmt.Errorf("ext4: at offset %d: %w: superblock claims %d groups, more descriptors than a %d-byte volume holds", superOffset, jfs.ErrCorrupt, sb.groups, size)
	}
	v.sb = sb
	v.groups = readGroups(v, sb)
	return v, nil
}

// read fills p from offset off of the volume, or says exactly where it
// could not.
func (v *volume) read(p []byte, off int64) error {
	if off < 0 || off+int64(len(p)) > v.size {
		return fmt.Errorf("%w: %d bytes at offset %d lie past the end of the volume (%d bytes)", jfs.ErrTruncated, len(p), off, v.size)
	}
	n, err := v.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: reading %d bytes at offset %d: got %d: %v", jfs.ErrTruncated, len(p), off, n, err)
}

// ReadAt makes the volume usable by readGroups (which only needs ReadAt).
func (v *volume) ReadAt(p []byte, off int64) (int, error) {
	if err := v.read(p, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

// inodeOffset is where inode num is stored.
func (v *volume) inodeOffset(num uint32) (int64, error) {
	if num == 0 || num > v.sb.lastInode() {
		return -1, fmt.Errorf("%w: inode %d out of range 1-%d", jfs.ErrCorrupt, num, v.sb.lastInode())
	}
	g := (num - 1) / v.sb.inodesPerGroup
	if err := v.groups[g].err; err != nil {
		return -1, err
	}
	idx := int64((num - 1) % v.sb.inodesPerGroup)
	return int64(v.groups[g].inodeTable)*v.sb.blockSize + idx*v.sb.inodeSize, nil
}

// Info describes the file system, for reports.
type Info struct {
	BlockSize   int64
	Blocks      uint64
	Inodes      uint32
	InodeSize   int64
	Groups      uint32
	Features    [3]uint32 // compat, incompat, ro_compat
	DescSize    int64
	Is64Bit     bool
	HasExtents  bool
	FlexBG      bool
	InlineData  bool
	MetaBG      bool
	HasFiletype bool
}

// Info returns the superblock facts the walk is based on.
func (w *Walker) Info() Info {
	sb := w.v.sb
	return Info{
		BlockSize: sb.blockSize, Blocks: sb.blocksCount, Inodes: sb.inodesCount,
		InodeSize: sb.inodeSize, Groups: sb.groups,
		Features: [3]uint32{sb.compat, sb.incompat, sb.roCompat}, DescSize: sb.descSize,
		Is64Bit: sb.incompat&incompat64Bit != 0, HasExtents: sb.incompat&incompatExtents != 0,
		FlexBG: sb.incompat&incompatFlexBG != 0, InlineData: sb.incompat&incompatInlineData != 0,
		MetaBG: sb.incompat&incompatMetaBG != 0, HasFiletype: sb.incompat&incompatFiletype != 0,
	}
}

// Walk yields every directory and regular file reachable from the root
// (names in slack included), then the orphan inodes. Directory entries
// carry Mode dir and their raw directory bytes as content; the pipeline
// makes time events of them only. Symbolic links, devices, FIFOs and
// sockets have no file content to parse and are not yielded.
func (w *Walker) Walk(ctx context.Context, fn jfs.WalkFunc, report func(*jfs.Problem)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if report == nil {
		report = func(*jfs.Problem) {}
	}
	s := &walkState{w: w, v: w.v, ctx: ctx, fn: fn, report: report}
	return s.run()
}
