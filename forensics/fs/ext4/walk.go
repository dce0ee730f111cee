package ext4

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

const (
	rootInode = 2
	maxDepth  = 512 // deeper is a loop the on-path check missed, or hostile
	orphanDir = "$OrphanFiles"
)

// walkState is one walk. Its memory is bounded by the file system's
// geometry (one bit per inode for the named set, the inode bitmaps as they
// are loaded), never by what the files hold.
type walkState struct {
	w      *Walker
	v      *volume
	ctx    context.Context
	fn     jfs.WalkFunc
	report func(*jfs.Problem)

	named   [][]uint64 // by group, inodes some name points to: not orphans
	bitmaps [][]byte   // inode bitmaps by group, loaded on demand
	bmErr   []bool     // bitmap reported unreadable
	onPath  map[uint32]bool
	cache   blockCache
	n       int
}

// blockCache keeps the last inode-table block read, since the inodes of
// one directory's children usually sit together.
type blockCache struct {
	off int64
	buf []byte
	ok  bool
}

func (s *walkState) problem(path string, off int64, err error) {
	if path == "" {
		path = "."
	}
	s.report(&jfs.Problem{Chain: s.chainFor(path), Path: path, Offset: off, Err: err})
}

func (s *walkState) chainFor(path string) []string {
	c := make([]string, len(s.w.chain), len(s.w.chain)+1)
	copy(c, s.w.chain)
	if path == "." {
		path = ""
	}
	return append(c, Layer+":"+path)
}

func (s *walkState) tick() error {
	s.n++
	if s.n%256 == 0 {
		return s.ctx.Err()
	}
	return nil
}

func (s *walkState) run() error {
	sb := s.v.sb
	s.named = make([][]uint64, sb.groups)
	s.bitmaps = make([][]byte, sb.groups)
	s.bmErr = make([]bool, sb.groups)
	s.onPath = map[uint32]bool{}
	if fsBytes := int64(sb.blocksCount) * sb.blockSize; fsBytes > s.v.size {
		s.problem(".", s.v.size, fmt.Errorf("%w: the file system is %d bytes (%d blocks of %d) but its volume ends at %d: what lies past the end cannot be read", jfs.ErrTruncated, fsBytes, sb.blocksCount, sb.blockSize, s.v.size))
	}
	for i, g := range s.v.groups {
		if g.err != nil {
			s.problem(".", sb.descOffset(uint32(i)), g.err)
		}
	}
	root, off, err := s.inode(rootInode)
	if err != nil {
		return fmt.Errorf("ext4: root directory: %w", err)
	}
	if !root.isDir() {
		return fmt.Errorf("ext4: %w: root inode at offset %d has mode %#o, not a directory", jfs.ErrCorrupt, off, root.mode)
	}
	s.mark(rootInode)
	if err := s.walkDir(root, "", false, 0); err != nil {
		return err
	}
	return s.orphans()
}

// mark and isNamed keep one bit per inode, allocated a group at a time so
// a damaged superblock claiming billions of inodes costs nothing until
// names actually point there.
func (s *walkState) mark(n uint32) {
	g, i := (n-1)/s.v.sb.inodesPerGroup, (n-1)%s.v.sb.inodesPerGroup
	if s.named[g] == nil {
		s.named[g] = make([]uint64, (s.v.sb.inodesPerGroup+63)/64)
	}
	s.named[g][i/64] |= 1 << (i % 64)
}

func (s *walkState) isNamed(n uint32) bool {
	g, i := (n-1)/s.v.sb.inodesPerGroup, (n-1)%s.v.sb.inodesPerGroup
	return s.named[g] != nil && s.named[g][i/64]&(1<<(i%64)) != 0
}

// inode reads and parses inode num.
func (s *walkState) inode(num uint32) (*inode, int64, error) {
	off, err := s.v.inodeOffset(num)
	if err != nil {
		return nil, off, err
	}
	bs := s.v.sb.blockSize
	blk := off / bs * bs
	if !s.cache.ok || s.cache.off != blk {
		if s.cache.buf == nil {
			s.cache.buf = make([]byte, bs)
		}
		s.cache.ok = false
		if err := s.v.read(s.cache.buf, blk); err != nil {
			return nil, off, fmt.Errorf("inode %d: %w", num, err)
		}
		s.cache.off, s.cache.ok = blk, true
	}
	raw := slices.Clone(s.cache.buf[off-blk : off-blk+s.v.sb.inodeSize])
	return parseInode(num, raw, s.v.sb), off, nil
}

// allocated says whether the inode bitmap marks num in use. A group whose
// bitmap was never initialised (INODE_UNINIT) has every inode free; an
// unreadable bitmap is reported once and its inodes taken as allocated, so
// nothing is called deleted on no evidence.
func (s *walkState) allocated(num uint32) bool {
	sb := s.v.sb
	g := (num - 1) / sb.inodesPerGroup
	i := (num - 1) % sb.inodesPerGroup
	if s.bitmaps[g] == nil {
		grp := s.v.groups[g]
		b := make([]byte, (sb.inodesPerGroup+7)/8)
		switch {
		case grp.err != nil:
			for k := range b {
				b[k] = 0xff
			}
		case grp.flags&bgInodeUninit != 0:
		default:
			off := int64(grp.inodeBitmap) * sb.blockSize
			if err := s.v.read(b, off); err != nil {
				for k := range b {
					b[k] = 0xff
				}
				if !s.bmErr[g] {
					s.bmErr[g] = true
					s.problem(".", off, fmt.Errorf("inode bitmap of group %d: %w", g, err))
				}
			}
		}
		s.bitmaps[g] = b
	}
	return s.bitmaps[g][i/8]&(1<<(i%8)) != 0
}

// listDir reads the names in directory in. Damage is reported and what
// could be read is returned.
func (s *walkState) listDir(in *inode, path string, deleted bool) []dirent {
	sb := s.v.sb
	hasType := sb.incompat&incompatFiletype != 0
	last := sb.lastInode()
	var out []dirent
	if in.flags&flagInlineData != 0 {
		// The parent's number, then entries to the end of i_block, then
		// more entries in system.data. Their offsets are taken from the
		// inode's: close enough to find them, and unique.
		ioff, _ := s.v.inodeOffset(in.num)
		out = atBase(parseDirBlock(in.block[4:], last, hasType, deleted, out), 0, ioff+0x28+4)
		n := len(out)
		return dedup(atBase(parseDirBlock(in.inlineData(), last, hasType, deleted, out), n, ioff+s.v.sb.inodeSize))
	}
	if in.size == 0 {
		return nil
	}
	rs, err := s.v.runs(in)
	if err != nil {
		// A deleted directory's map is usually gone; only a live one's
		// damage is news.
		if !deleted {
			off, _ := s.v.inodeOffset(in.num)
			s.problem(path, off, fmt.Errorf("directory inode %d: %w", in.num, err))
		}
		if len(rs) == 0 {
			return nil
		}
	}
	bs := sb.blockSize
	// Like TSK, read whole blocks up to the size rounded up: the slack of
	// the last block can hold deleted names too.
	nblocks := (in.size + bs - 1) / bs
	if limit := int64(1<<32) / bs; nblocks > limit { // 4 GiB: far past any real directory
		off, _ := s.v.inodeOffset(in.num)
		s.problem(path, off, fmt.Errorf("%w: directory inode %d claims %d bytes; read the first 4 GiB", jfs.ErrCorrupt, in.num, in.size))
		nblocks = limit
	}
	// Only mapped blocks can hold names: walk the runs, not the (possibly
	// huge, possibly sparse) logical range.
	buf := make([]byte, bs)
	htree := in.flags&flagIndex != 0
	for _, r := range rs {
		if r.zero {
			continue
		}
		for k := uint64(0); k < r.length && int64(r.logical+k) < nblocks; k++ {
			if err := s.tick(); err != nil {
				return out
			}
			i := int64(r.logical + k)
			phys := int64(r.physical+k) * bs
			if err := s.v.read(buf, phys); err != nil {
				s.problem(path, phys, fmt.Errorf("directory inode %d block %d: %w", in.num, i, err))
				continue
			}
			if htree && (i == 0 || isDxNode(buf, i)) {
				continue // index blocks: "." and ".." and hash/block pairs
			}
			n := len(out)
			out = atBase(parseDirBlock(buf, last, hasType, deleted, out), n, phys)
		}
	}
	return dedup(out)
}

// atBase adds base to the offsets of the entries from index from on.
func atBase(ds []dirent, from int, base int64) []dirent {
	for i := from; i < len(ds); i++ {
		ds[i].at += base
	}
	return ds
}

// dedup drops a deleted name that repeats a live one (same name, same
// inode), as TSK's tsk_fs_dir_add does: an entry moved within a block
// leaves a copy in the slack.
func dedup(ds []dirent) []dirent {
	type key struct {
		ino  uint32
		name string
	}
	seen := make(map[key]int, len(ds))
	out := ds[:0]
	for _, d := range ds {
		k := key{d.inode, d.name}
		if i, ok := seen[k]; ok {
			if out[i].deleted && !d.deleted {
				out[i] = d
			}
			continue
		}
		seen[k] = len(out)
		out = append(out, d)
	}
	return out
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// walkDir yields the children of directory in and walks into its
// subdirectories, depth first, in on-disk order.
func (s *walkState) walkDir(in *inode, path string, deleted bool, depth int) error {
	s.onPath[in.num] = true
	defer delete(s.onPath, in.num)
	for _, d := range s.listDir(in, path, deleted) {
		if err := s.tick(); err != nil {
			return err
		}
		if d.inode == 0 {
			continue // a name with no inode: nothing to read or date
		}
		s.mark(d.inode)
		cpath := join(path, d.name)
		child, off, err := s.inode(d.inode)
		if err != nil {
			s.problem(cpath, off, err)
			continue
		}
		alloc := s.allocated(d.inode)
		if !d.deleted && alloc && child.mode&modeFmt == 0 {
			s.problem(cpath, off, fmt.Errorf("%w: inode %d has no file type (mode %#o)", jfs.ErrCorrupt, d.inode, child.mode))
			continue
		}
		if err := s.yield(child, off, cpath, d.deleted || !alloc, d.at); err != nil {
			return err
		}
		// Walk into a directory named by a live entry, or by a deleted one
		// whose inode is still free (a reused inode is walked under its
		// current name), as TSK does.
		if child.isDir() && (d.ftype == ftypeDir || d.ftype == 0) && (!d.deleted || !alloc) {
			if s.onPath[d.inode] || depth+1 >= maxDepth {
				s.problem(cpath, off, fmt.Errorf("%w: directory inode %d loops back to itself or nests past %d levels", jfs.ErrCorrupt, d.inode, maxDepth))
				continue
			}
			if err := s.walkDir(child, cpath, d.deleted || deleted, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// yield hands one inode to fn. Directories carry their raw entries and
// regular files their content; links, devices, FIFOs and sockets carry no
// content, only their times (and a link its target).
func (s *walkState) yield(in *inode, off int64, path string, deleted bool, dirent int64) error {
	chain := s.chainFor(path)
	if !in.isDir() && !in.isReg() {
		e := jfs.NewEntry(path, chain, in.size, func() (io.ReadCloser, error) {
			return nil, fmt.Errorf("inode %d at offset %d: %w (%v)", in.num, off, jfs.ErrNotRegular, in.fileMode().Type())
		}, nil)
		if in.mode&modeFmt == modeLink {
			target, err := s.v.linkTarget(in)
			if err != nil && !deleted {
				s.problem(path, off, fmt.Errorf("inode %d link target: %w", in.num, err))
			}
			e.Link = target
		}
		return s.emit(e, in, deleted, dirent)
	}
	size := in.size
	var ra io.ReaderAt
	var cerr error
	if size > 0 {
		ra, cerr = s.v.content(in)
		if cerr != nil && !deleted {
			// A live file whose content map is broken: the times are still
			// evidence; the content is reported here, with its offset.
			s.problem(path, off, fmt.Errorf("inode %d content: %w", in.num, cerr))
		}
	} else {
		ra = &byteReader{}
	}
	readerAt := func() (io.ReaderAt, error) {
		if cerr != nil {
			return nil, fmt.Errorf("inode %d at offset %d: %w", in.num, off, cerr)
		}
		return ra, nil
	}
	open := func() (io.ReadCloser, error) {
		r, err := readerAt()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(io.NewSectionReader(r, 0, size)), nil
	}
	return s.emit(jfs.NewEntry(path, chain, size, open, readerAt), in, deleted, dirent)
}

// emit hands e to fn with the inode's metadata. Its identity is the inode
// (a live path names one; hard links differ by path), and for a deleted
// name also the directory entry's offset (dirent, -1 for an orphan, whose
// path holds its inode): a deleted and a live "auth.log" at one path, or
// two deleted ones, may name one reused inode.
func (s *walkState) emit(e *jfs.Entry, in *inode, deleted bool, dirent int64) error {
	e.Mode = in.fileMode()
	e.Times = jfs.Times{Modified: in.mtime, Accessed: in.atime, Changed: in.ctime, Born: in.crtime}
	e.Deleted = deleted
	e.Inode = strconv.FormatUint(uint64(in.num), 10)
	e.Identity = "inode:" + e.Inode
	if deleted && dirent >= 0 {
		e.Identity += " dirent@" + strconv.FormatInt(dirent, 10)
	}
	return s.fn(s.ctx, e)
}

// orphans yields the unallocated inodes that were used once (ctime set, the
// test TSK applies) and that no name found in the walk points to, as
// $OrphanFiles/OrphanFile-<inode>; an orphan directory's surviving names
// are walked beneath it. The inode tables are read group by group in large
// sequential reads.
func (s *walkState) orphans() error {
	sb := s.v.sb
	isz := sb.inodeSize
	chunk := max(int64(64<<10)/isz, 1) // inodes per read
	buf := make([]byte, chunk*isz)
	for g := uint32(0); g < sb.groups; g++ {
		grp := s.v.groups[g]
		if grp.err != nil {
			continue // reported at the start
		}
		if grp.flags&bgInodeUninit != 0 {
			// No inode of this group was ever handed out by this file
			// system; its table is zeros or older data. (TSK scans it.)
			continue
		}
		base := g * sb.inodesPerGroup
		for first := int64(0); first < int64(sb.inodesPerGroup); first += chunk {
			if err := s.ctx.Err(); err != nil {
				return err
			}
			n := min(chunk, int64(sb.inodesPerGroup)-first)
			off := int64(grp.inodeTable)*sb.blockSize + first*isz
			b := buf[:n*isz]
			if err := s.v.read(b, off); err != nil {
				if off >= s.v.size && int64(sb.blocksCount)*sb.blockSize > s.v.size {
					continue // past the end: reported once at the start
				}
				s.problem(orphanDir, off, fmt.Errorf("inode table of group %d (inodes %d-%d): %w", g, base+uint32(first)+1, base+uint32(first+n), err))
				continue
			}
			for k := int64(0); k < n; k++ {
				num := base + uint32(first+k) + 1
				slot := b[k*isz : (k+1)*isz]
				if slot[0x0C]|slot[0x0D]|slot[0x0E]|slot[0x0F] == 0 || s.isNamed(num) || s.allocated(num) {
					continue
				}
				in := parseInode(num, slices.Clone(slot), sb)
				s.mark(num)
				path := orphanDir + "/OrphanFile-" + strconv.FormatUint(uint64(num), 10)
				if err := s.yield(in, off+k*isz, path, true, -1); err != nil {
					return err
				}
				if in.isDir() {
					if err := s.walkDir(in, path, true, 1); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}
