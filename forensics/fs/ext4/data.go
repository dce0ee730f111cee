package ext4

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// run maps logical blocks [logical, logical+length) of a file to physical
// blocks [physical, ...). Unwritten extents have zero=true and read as zeros;
// blocks no run covers are holes and read as zeros too.
type run struct {
	logical, physical, length uint64
	zero                      bool
}

// maxRuns bounds the runs one file may have, so a corrupt or hostile
// extent tree or block map cannot make one file cost gigabytes.
const maxRuns = 1 << 20

// runs resolves where in's content lives: the extent tree, the classic
// block map (ext2/3 and ext4 files without the extents flag), or nothing
// (inline data; handled by the caller).
func (v *volume) runs(in *inode) ([]run, error) {
	if in.flags&flagExtents != 0 {
		var rs []run
		if err := v.extentNode(in.block[:], -1, 0, &rs); err != nil {
			return rs, err
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].logical < rs[j].logical })
		return rs, nil
	}
	return v.blockMap(in)
}

// extentNode reads one node of an extent tree: the 60-byte root in the
// inode, or a block. want is the depth the parent expects (-1 at the root).
func (v *volume) extentNode(b []byte, want int, level int, rs *[]run) error {
	le := binary.LittleEndian
	if len(b) < 12 || le.Uint16(b) != 0xF30A {
		return fmt.Errorf("%w: extent header magic %#x", jfs.ErrCorrupt, le.Uint16(b))
	}
	entries := int(le.Uint16(b[2:]))
	depth := int(le.Uint16(b[6:]))
	if depth > 5 || (want >= 0 && depth != want) || level > 5 {
		return fmt.Errorf("%w: extent tree depth %d (expected %d)", jfs.ErrCorrupt, depth, want)
	}
	if 12+entries*12 > len(b) {
		return fmt.Errorf("%w: %d extent entries do not fit a %d-byte node", jfs.ErrCorrupt, entries, len(b))
	}
	for i := range entries {
		e := b[12+i*12:]
		if depth == 0 {
			n := uint64(le.Uint16(e[4:]))
			r := run{
				logical:  uint64(le.Uint32(e)),
				physical: uint64(le.Uint16(e[6:]))<<32 | uint64(le.Uint32(e[8:])),
			}
			if n > 32768 {
				n -= 32768
				r.zero = true
			}
			r.length = n
			if !r.zero && r.physical+n > v.sb.blocksCount {
				return fmt.Errorf("%w: extent to blocks %d-%d past the volume's %d blocks", jfs.ErrCorrupt, r.physical, r.physical+n, v.sb.blocksCount)
			}
			if len(*rs) >= maxRuns {
				return fmt.Errorf("%w: more than %d extents", jfs.ErrCorrupt, maxRuns)
			}
			*rs = append(*rs, r)
			continue
		}
		leaf := uint64(le.Uint16(e[8:]))<<32 | uint64(le.Uint32(e[4:]))
		if leaf >= v.sb.blocksCount || leaf == 0 {
			return fmt.Errorf("%w: extent index points to block %d of %d", jfs.ErrCorrupt, leaf, v.sb.blocksCount)
		}
		child := make([]byte, v.sb.blockSize)
		if err := v.read(child, int64(leaf)*v.sb.blockSize); err != nil {
			return err
		}
		if err := v.extentNode(child, depth-1, level+1, rs); err != nil {
			return err
		}
	}
	return nil
}

// blockMap walks the 12 direct, one single, one double and one triple
// indirect pointers, merging contiguous blocks into runs. It stops at the
// file size so the slack of an indirect block is never taken for data.
func (v *volume) blockMap(in *inode) ([]run, error) {
	bs := uint64(v.sb.blockSize)
	need := (uint64(in.size) + bs - 1) / bs
	var rs []run
	var logical uint64
	add := func(phys uint64) error {
		defer func() { logical++ }()
		if phys == 0 {
			return nil // hole
		}
		if phys >= v.sb.blocksCount {
			return fmt.Errorf("%w: block pointer %d past the volume's %d blocks", jfs.ErrCorrupt, phys, v.sb.blocksCount)
		}
		if n := len(rs); n > 0 && rs[n-1].logical+rs[n-1].length == logical && rs[n-1].physical+rs[n-1].length == phys {
			rs[n-1].length++
			return nil
		}
		if len(rs) >= maxRuns {
			return fmt.Errorf("%w: more than %d runs", jfs.ErrCorrupt, maxRuns)
		}
		rs = append(rs, run{logical: logical, physical: phys, length: 1})
		return nil
	}
	le := binary.LittleEndian
	for i := 0; i < 12 && logical < need; i++ {
		if err := add(uint64(le.Uint32(in.block[i*4:]))); err != nil {
			return rs, err
		}
	}
	per := bs / 4
	var indirect func(blk uint64, level int) error
	indirect = func(blk uint64, level int) error {
		span := uint64(1)
		for range level {
			span *= per
		}
		if blk == 0 { // a hole covering the whole subtree
			logical += span * per
			return nil
		}
		if blk >= v.sb.blocksCount {
			return fmt.Errorf("%w: indirect block %d past the volume's %d blocks", jfs.ErrCorrupt, blk, v.sb.blocksCount)
		}
		buf := make([]byte, bs)
		if err := v.read(buf, int64(blk)*int64(bs)); err != nil {
			return err
		}
		for i := uint64(0); i < per && logical < need; i++ {
			p := uint64(le.Uint32(buf[i*4:]))
			var err error
			if level == 0 {
				err = add(p)
			} else {
				err = indirect(p, level-1)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for level := 0; level < 3 && logical < need; level++ {
		if err := indirect(uint64(le.Uint32(in.block[48+level*4:])), level); err != nil {
			return rs, err
		}
	}
	return rs, nil
}

// fileReader is random access to a file's content through its runs.
type fileReader struct {
	v    *volume
	runs []run
	size int64
}

func (f *fileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ext4: negative offset %d", off)
	}
	if off >= f.size {
		return 0, io.EOF
	}
	var eof error
	if rem := f.size - off; int64(len(p)) > rem {
		p, eof = p[:rem], io.EOF
	}
	bs := f.v.sb.blockSize
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		lb := uint64(pos / bs)
		in := pos % bs
		// First run ending after lb.
		i := sort.Search(len(f.runs), func(i int) bool { return f.runs[i].logical+f.runs[i].length > lb })
		var chunk int64
		if i < len(f.runs) && f.runs[i].logical <= lb {
			r := f.runs[i]
			chunk = int64(r.logical+r.length-lb)*bs - in
			chunk = min(chunk, int64(len(p)-n))
			if r.zero {
				clear(p[n : n+int(chunk)])
			} else if err := f.v.read(p[n:n+int(chunk)], int64(r.physical+lb-r.logical)*bs+in); err != nil {
				return n, err
			}
		} else {
			// A hole up to the next run (or the end).
			end := int64(len(p) - n)
			if i < len(f.runs) {
				end = min(end, int64(f.runs[i].logical)*bs-pos)
			}
			chunk = end
			clear(p[n : n+int(chunk)])
		}
		n += int(chunk)
	}
	return n, eof
}

// content returns random access to in's content.
func (v *volume) content(in *inode) (io.ReaderAt, error) {
	if in.flags&flagInlineData != 0 {
		data := append(append([]byte(nil), in.block[:]...), in.inlineData()...)
		if int64(len(data)) > in.size {
			data = data[:in.size]
		}
		if int64(len(data)) < in.size {
			return nil, fmt.Errorf("%w: inline data holds %d of %d bytes", jfs.ErrCorrupt, len(data), in.size)
		}
		return &byteReader{data}, nil
	}
	rs, err := v.runs(in)
	if err != nil {
		return nil, err
	}
	return &fileReader{v: v, runs: rs, size: in.size}, nil
}

// linkTarget reads a symbolic link's target: from i_block for a "fast"
// link (under 60 bytes, no data block of its own, as the kernel's
// ext4_inode_is_fast_symlink decides), else from the link's data.
func (v *volume) linkTarget(in *inode) (string, error) {
	if in.size < 0 || in.size > v.sb.blockSize {
		return "", fmt.Errorf("%w: link target of %d bytes", jfs.ErrCorrupt, in.size)
	}
	eaSectors := uint32(0)
	if in.fileACL != 0 {
		eaSectors = uint32(v.sb.blockSize / 512)
	}
	if in.size < int64(len(in.block)) && in.flags&(flagExtents|flagInlineData) == 0 && in.blocks == eaSectors {
		return string(in.block[:in.size]), nil
	}
	ra, err := v.content(in)
	if err != nil {
		return "", err
	}
	b := make([]byte, in.size)
	if n, err := ra.ReadAt(b, 0); n < len(b) {
		return string(b[:n]), fmt.Errorf("read %d of %d bytes: %w", n, len(b), err)
	}
	return string(b), nil
}

type byteReader struct{ b []byte }

func (r *byteReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("ext4: negative offset %d", off)
	}
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
