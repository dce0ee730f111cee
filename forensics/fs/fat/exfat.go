package fat

import (
	"fmt"
	"io/fs"
	"strconv"
	"time"
	"unicode/utf16"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// exFAT directory entry types (the in-use bit 0x80 set; clear in a deleted
// entry).
const (
	exInUse     = 0x80
	exBitmap    = 0x81
	exLabel     = 0x83
	exFile      = 0x85
	exStream    = 0xC0
	exName      = 0xC1
	exNoFATFlag = 0x02 // stream GeneralSecondaryFlags: contiguous, no FAT chain

	// maxExDirBytes bounds one exFAT directory read into memory (the
	// format allows 256 MiB; a million files take 96 MiB).
	maxExDirBytes = 128 << 20
	// maxBitmap bounds the allocation bitmap kept in memory: 128 MiB maps
	// a billion clusters.
	maxBitmap = 128 << 20
)

// exEntry is one exFAT file entry set as read.
type exEntry struct {
	name     string
	inum     uint64
	off      int64
	attr     uint16
	first    uint32
	dataLen  uint64
	noFAT    bool
	deleted  bool
	m, a, b  time.Time
	allExact bool // every set time carried its UTC offset
}

// dirBuf is a directory read into memory with the volume offset of each
// of its runs, so an entry's offset can be reported.
type dirBuf struct {
	b    []byte
	runs []extent
}

func (d *dirBuf) volOff(pos int) int64 {
	p := int64(pos)
	for _, r := range d.runs {
		if p < r.n {
			return r.off + p
		}
		p -= r.n
	}
	return -1
}

// loadDir reads runs into memory, bounded by maxExDirBytes.
func (s *walkState) loadDir(runs []extent, path string) *dirBuf {
	v := s.v
	d := &dirBuf{}
	var total int64
	for _, r := range runs {
		n := r.n
		if total+n > maxExDirBytes {
			s.problem(path, r.off, fmt.Errorf("%w: directory longer than %d bytes; the rest is not read", jfs.ErrCorrupt, maxExDirBytes))
			n = maxExDirBytes - total
		}
		if n <= 0 {
			break
		}
		b := make([]byte, n)
		if err := v.read(b, r.off); err != nil {
			s.problem(path, r.off, fmt.Errorf("directory: %w", err))
			// Keep the slot numbering: unread bytes are zeros, which no
			// entry type matches.
			clear(b)
		}
		d.b = append(d.b, b...)
		d.runs = append(d.runs, extent{r.off, n})
		total += n
	}
	return d
}

// runExFAT walks an exFAT volume: the root directory gives the allocation
// bitmap and the label, then the tree is walked from it.
func (s *walkState) runExFAT() error {
	v := s.v
	root, err := v.chain(v.rootClus, -1)
	if err != nil {
		s.problem(".", v.clusterOff(v.rootClus), fmt.Errorf("root directory: %w", err))
	}
	if len(root) == 0 {
		return fmt.Errorf("exfat: %w: root directory unreadable", jfs.ErrCorrupt)
	}
	s.seen[v.rootClus] = true
	d := s.loadDir(root, "")
	for i := 0; i+32 <= len(d.b); i += 32 {
		b := d.b[i : i+32]
		switch b[0] {
		case exBitmap:
			if v.bitmap != nil || b[1]&1 != 0 {
				continue // the second FAT's bitmap (TexFAT)
			}
			first, n := le.Uint32(b[20:]), int64(le.Uint64(b[24:]))
			need := (int64(v.clusters) + 7) / 8
			if n < need || n > maxBitmap {
				s.problem(".", d.volOff(i), fmt.Errorf("%w: allocation bitmap of %d bytes for %d clusters: every cluster is taken as allocated", jfs.ErrCorrupt, n, v.clusters))
				continue
			}
			runs, err := v.contiguous(first, need)
			if err == nil && (len(runs) != 1 || runs[0].off+need > v.size) {
				err = fmt.Errorf("%w: %d bytes from cluster %d lie past the end of the volume", jfs.ErrTruncated, need, first)
			}
			var bm []byte
			if err == nil {
				bm = make([]byte, need)
				err = (&runReader{v: v, runs: runs, size: need}).readFull(bm)
			}
			if err != nil {
				s.problem(".", d.volOff(i), fmt.Errorf("allocation bitmap: %w: every cluster is taken as allocated", err))
				continue
			}
			v.bitmap = bm
		case exLabel:
			n := min(int(b[1]), 11)
			u := make([]uint16, n)
			for k := range u {
				u[k] = le.Uint16(b[2+2*k:])
			}
			v.label = string(utf16.Decode(u))
		}
	}
	if v.bitmap == nil {
		s.problem(".", v.clusterOff(v.rootClus), fmt.Errorf("%w: no allocation bitmap entry in the root directory: entries are called deleted only by their own in-use bit", jfs.ErrCorrupt))
	}
	return s.walkExDir(d, "", false, 0)
}

func (r *runReader) readFull(p []byte) error {
	n, err := r.ReadAt(p, 0)
	if n == len(p) {
		return nil
	}
	return err
}

// readExDir lists the file entry sets of a directory.
func (s *walkState) readExDir(d *dirBuf, path string, inDeleted bool) []exEntry {
	v := s.v
	var out []exEntry
	for i := 0; i+32 <= len(d.b); i += 32 {
		b := d.b[i : i+32]
		if b[0]&0x7F != exFile&0x7F {
			continue
		}
		sc := int(b[1])
		if sc < 2 || i+32*2 > len(d.b) {
			continue
		}
		st := d.b[i+32 : i+64]
		if st[0]&0x7F != exStream&0x7F {
			continue
		}
		off := d.volOff(i)
		e := exEntry{inum: v.inum(off), off: off, attr: le.Uint16(b[4:]),
			first: le.Uint32(st[20:]), dataLen: le.Uint64(st[24:]), noFAT: st[1]&exNoFATFlag != 0}
		alloc := !inDeleted
		if off >= v.heap {
			alloc = alloc && v.allocated(uint32((off-v.heap)/v.csize)+2)
		}
		e.deleted = !alloc || b[0]&exInUse == 0 || st[0]&exInUse == 0
		// The name: NameLength UTF-16 units over the name entries that
		// follow (15 each), as far as they really are name entries.
		nameLen := int(st[3])
		var u []uint16
		k := 2
		for ; k <= sc && len(u) < nameLen && i+32*(k+1) <= len(d.b); k++ {
			ne := d.b[i+32*k : i+32*(k+1)]
			if ne[0]&0x7F != exName&0x7F {
				break
			}
			for j := 2; j < 32 && len(u) < nameLen; j += 2 {
				u = append(u, le.Uint16(ne[j:]))
			}
		}
		e.name = string(utf16.Decode(u))
		if len(u) < nameLen {
			s.problemIf(!e.deleted, join(path, cleanName(e.name)), off, fmt.Errorf("%w: name of %d characters, only %d found in its entry set", jfs.ErrCorrupt, nameLen, len(u)))
		}
		if !e.deleted && i+32*(sc+1) <= len(d.b) {
			if got, want := setChecksum(d.b[i:i+32*(sc+1)]), le.Uint16(b[2:]); got != want {
				s.problem(join(path, cleanName(e.name)), off, fmt.Errorf("%w: entry set checksum %#04x, computed %#04x", jfs.ErrCorrupt, want, got))
			}
		}
		e.name = cleanName(e.name)
		var ex [3]bool
		e.b, ex[0] = exfatTime(le.Uint32(b[8:]), b[20], b[22], s.loc)
		e.m, ex[1] = exfatTime(le.Uint32(b[12:]), b[21], b[23], s.loc)
		e.a, ex[2] = exfatTime(le.Uint32(b[16:]), 0, b[24], s.loc)
		e.allExact = (ex[0] || e.b.IsZero()) && (ex[1] || e.m.IsZero()) && (ex[2] || e.a.IsZero())
		out = append(out, e)
		// Skip the set's secondary entries (only those that are ones: a
		// deleted set's tail may hold a newer entry).
		for k = 1; k <= sc && i+32 < len(d.b) && d.b[i+32]&0x40 != 0; k++ {
			i += 32
		}
	}
	return out
}

func (s *walkState) problemIf(cond bool, path string, off int64, err error) {
	if cond {
		s.problem(path, off, err)
	}
}

// setChecksum is the exFAT entry set checksum (specification 6.3.3),
// skipping the checksum field itself.
func setChecksum(set []byte) uint16 {
	var c uint16
	for i, x := range set {
		if i == 2 || i == 3 {
			continue
		}
		c = (c>>1 | c<<15) + uint16(x)
	}
	return c
}

// exRuns locates an entry's bytes: contiguous for a NoFatChain stream,
// its FAT chain otherwise, and for a deleted entry the free clusters from
// its first on (recoverRuns; overwritten when that one is in use again).
func (v *volume) exRuns(e *exEntry) (runs []extent, overwritten bool, err error) {
	if e.dataLen == 0 {
		return nil, false, nil
	}
	if e.dataLen > uint64(v.clusters)*uint64(v.csize) {
		return nil, false, fmt.Errorf("%w: %d bytes, more than the cluster heap holds", jfs.ErrCorrupt, e.dataLen)
	}
	n := int64(e.dataLen)
	switch {
	case e.deleted:
		return v.recoverRuns(e.first, n)
	case e.noFAT:
		runs, err = v.contiguous(e.first, n)
	default:
		runs, err = v.chain(e.first, n)
	}
	return runs, false, err
}

// walkExDir yields the entries of one exFAT directory and walks into its
// subdirectories.
func (s *walkState) walkExDir(d *dirBuf, path string, deleted bool, depth int) error {
	v := s.v
	for _, e := range s.readExDir(d, path, deleted) {
		if err := s.tick(); err != nil {
			return err
		}
		cpath := join(path, e.name)
		runs, overwritten, cerr := v.exRuns(&e)
		if cerr != nil {
			s.problemIf(!e.deleted, cpath, e.off, fmt.Errorf("content: %w", cerr))
			cerr = fmt.Errorf("entry at offset %d: %w", e.off, cerr)
		}
		dir := e.attr&attrDir != 0
		walk := dir && len(runs) > 0 && !s.seen[e.first] && (!e.deleted || !v.allocated(e.first))
		if err := s.yieldEx(&e, cpath, runs, overwritten, cerr); err != nil {
			return err
		}
		if !walk {
			continue
		}
		if depth+1 >= maxDepth {
			s.problem(cpath, e.off, fmt.Errorf("%w: directories nest past %d levels", jfs.ErrCorrupt, maxDepth))
			continue
		}
		s.seen[e.first] = true
		if err := s.walkExDir(s.loadDir(runs, cpath), cpath, e.deleted, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (s *walkState) yieldEx(x *exEntry, path string, runs []extent, overwritten bool, cerr error) error {
	size := int64(x.dataLen)
	contentSize := size
	if overwritten {
		contentSize = 0
	}
	e := s.contentEntry(path, s.chainFor(path), size, &runReader{v: s.v, runs: runs, size: contentSize}, cerr)
	e.Mode = 0o644
	if x.attr&attrReadOnly != 0 {
		e.Mode = 0o444
	}
	if x.attr&attrDir != 0 {
		e.Mode = fs.ModeDir | 0o755
	}
	e.Times = jfs.Times{Modified: x.m, Accessed: x.a, Born: x.b}
	if !x.allExact {
		e.ZoneAssumed = s.assumeZone()
	}
	e.Deleted = x.deleted
	e.Inode = strconv.FormatUint(x.inum, 10)
	e.Identity = "slot:" + e.Inode
	if x.deleted && size > 0 && x.attr&attrDir == 0 {
		e.Identity += recoveredNote(overwritten)
	}
	return s.fn(s.ctx, e)
}
