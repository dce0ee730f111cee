package fat

import (
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

const (
	attrReadOnly = 0x01
	attrHidden   = 0x02
	attrSystem   = 0x04
	attrVolume   = 0x08
	attrDir      = 0x10
	attrArchive  = 0x20
	attrLFN      = 0x0F
	attrAll      = 0x3F

	slotDeleted = 0xE5
	caseLowBase = 0x08
	caseLowExt  = 0x10

	maxDepth = 256 // deeper is a loop the seen set missed, or hostile
	// maxDirBytes bounds one directory: FAT allows 65536 entries (2 MiB);
	// a longer chain is damage, and its first 2 MiB are read.
	maxDirBytes = 65536 * 32
)

// dirent is one directory entry as read.
type dirent struct {
	name     string
	inum     uint64
	off      int64 // byte offset of the short (8.3) entry in the volume
	attr     byte
	clus     uint32
	size     uint32
	m, a, b  time.Time
	deleted  bool
	label    bool
	lfnStart int64 // offset of the first long-name slot, -1 without one
}

func (d *dirent) isDir() bool { return d.attr&attrDir != 0 && !d.label }

// lfnState gathers the long-name slots that precede a short entry. The
// slots come last part first; each holds 13 UTF-16 units.
type lfnState struct {
	units []uint16
	chk   byte
	start int64
	any   bool
	// whole says the slots seen so far form an unbroken live sequence:
	// the first flagged last-in-sequence (0x40), each next one numbered
	// one less, down to next == 0 at the short entry.
	whole bool
	next  byte
}

func (l *lfnState) reset() { l.units, l.any, l.start, l.whole = l.units[:0], false, -1, false }

func (l *lfnState) add(b []byte, off int64) {
	seq := b[0]
	// A new name starts at the slot flagged last-in-sequence (0x40), or
	// whenever the checksum changes (what TSK does; a deleted name has lost
	// its flag to the 0xE5 mark).
	if (seq&0x40 != 0 && seq != slotDeleted) || b[13] != l.chk || !l.any {
		l.units = l.units[:0]
		l.chk = b[13]
		l.start = off
		l.whole = seq&0x40 != 0 && seq != slotDeleted
		l.next = seq&0x1F - 1
	} else if l.whole {
		l.whole = seq == l.next && seq != 0
		l.next = seq - 1
	}
	l.any = true
	var part [13]uint16
	k := 0
	for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
		for i := r[0]; i < r[1]; i += 2 {
			part[k] = le.Uint16(b[i:])
			k++
		}
	}
	l.units = append(part[:], l.units...)
}

// name returns the gathered long name, cut at its NUL terminator.
func (l *lfnState) name() string {
	u := l.units
	for i, c := range u {
		if c == 0 {
			u = u[:i]
			break
		}
	}
	return string(utf16.Decode(u))
}

// shortChecksum is the VFAT checksum of an 11-byte 8.3 name, which every
// long-name slot of that name carries.
func shortChecksum(n []byte) byte {
	var s byte
	for _, c := range n[:11] {
		s = (s>>1 | s<<7) + c
	}
	return s
}

func is83Char(c byte) bool {
	switch {
	case c < 0x20, c == 0x22, c >= 0x2A && c <= 0x2C, c == 0x2E, c == 0x2F,
		c >= 0x3A && c <= 0x3F, c >= 0x5B && c <= 0x5D, c == 0x7C:
		return false
	}
	return true
}

// is83Name applies TSK's test of a short name (fatxxfs_meta.c is_83_name).
func is83Name(b []byte, attr byte) bool {
	if b[0] != 0x05 && b[0] != '.' && !is83Char(b[0]) || b[0] == 0x20 {
		return false
	}
	if b[1] == '.' {
		if b[0] != '.' {
			return false
		}
	} else if !is83Char(b[1]) {
		return false
	}
	for i := 2; i < 11; i++ {
		if !is83Char(b[i]) {
			return false
		}
	}
	if attr&attrVolume == 0 {
		// A space is followed only by spaces (how Windows writes names).
		for i := 1; i < 7; i++ {
			if b[i] == 0x20 && b[i+1] != 0x20 {
				return false
			}
		}
		if b[9] == 0x20 && b[10] != 0x20 {
			return false
		}
	}
	return true
}

// isDentry says whether the 32 bytes b can be a directory entry: TSK's
// fatxxfs_is_dentry, so the entries kept are the ones fls lists. basic
// applies only the essential checks (an allocated sector of a directory
// that did not start with garbage).
func (v *volume) isDentry(b []byte, basic bool) bool {
	attr := b[11]
	if attr&attrLFN == attrLFN {
		return b[0] <= 0x4F || b[0] == slotDeleted
	}
	ctime, cdate := le.Uint16(b[14:]), le.Uint16(b[16:])
	adate := le.Uint16(b[18:])
	wtime, wdate := le.Uint16(b[22:]), le.Uint16(b[24:])
	if !basic {
		if b[12]&^(caseLowBase|caseLowExt) != 0 || attr&^attrAll != 0 {
			return false
		}
		if attr&attrVolume != 0 && attr&(attrDir|attrReadOnly|attrArchive) != 0 {
			return false
		}
		if ctime != 0 && !isTime(ctime) || wtime != 0 && !isTime(wtime) ||
			cdate != 0 && !isDate(cdate) || b[13] > 199 ||
			adate != 0 && !isDate(adate) || wdate != 0 && !isDate(wdate) {
			return false
		}
	}
	clus := v.startCluster(b)
	size := le.Uint32(b[28:])
	eof := v.kind == "fat12" && clus >= 0xFF8 || v.kind == "fat16" && clus >= 0xFFF8 || clus >= 0x0FFFFFF8
	switch {
	case clus > v.lastCluster() && !eof:
		return false
	case int64(size) > int64(v.clusters)*v.csize:
		return false
	case size > 0 && clus == 0:
		return false
	case !is83Name(b, attr):
		return false
	case ctime == 0 && wtime == 0 && cdate == 0 && adate == 0 && wdate == 0 && clus == 0 && size == 0:
		return false
	}
	return true
}

func (v *volume) startCluster(b []byte) uint32 {
	c := uint32(le.Uint16(b[26:]))
	if v.kind == "fat32" {
		c |= uint32(le.Uint16(b[20:])) << 16
	}
	return c
}

// shortName renders an 8.3 name as TSK does: spaces dropped, a dot before
// the extension, the lower-case flags applied, a deleted entry's lost
// first byte as '_', and bytes outside printable ASCII as '^'.
func shortName(b []byte, first byte) string {
	var sb strings.Builder
	put := func(c byte, lower bool) {
		switch {
		case lower && c >= 'A' && c <= 'Z':
			c += 32
		case c < 0x20 || c > 0x7E:
			c = '^'
		}
		sb.WriteByte(c)
	}
	for i := 0; i < 8; i++ {
		c := b[i]
		if i == 0 {
			c = first
		}
		if c == 0 || c == 0xFF || c == 0x20 {
			continue
		}
		if i == 0 && c == slotDeleted {
			sb.WriteByte('_')
			continue
		}
		put(c, b[12]&caseLowBase != 0)
	}
	dot := false
	for i := 8; i < 11; i++ {
		c := b[i]
		if c == 0 || c == 0xFF || c == 0x20 {
			continue
		}
		if !dot {
			sb.WriteByte('.')
			dot = true
		}
		put(c, b[12]&caseLowExt != 0)
	}
	return sb.String()
}

func labelName(b []byte) string {
	var sb strings.Builder
	for _, c := range b[:11] {
		if c < 0x20 || c == 0xFF || c > 0x7E {
			c = '^'
		}
		sb.WriteByte(c)
	}
	return sb.String() + " (Volume Label Entry)"
}

// cleanName keeps a name usable as one path element: a '/' (possible in a
// damaged long name) or a name of only dots would change the path.
func cleanName(n string) string {
	n = strings.ReplaceAll(n, "/", "_")
	if n == "" || strings.Trim(n, ".") == "" {
		return "_" + n
	}
	return n
}

// runFAT walks a FAT12/16/32 volume from its root directory.
func (s *walkState) runFAT() error {
	v := s.v
	var root []extent
	if v.kind == "fat32" {
		var err error
		root, err = v.chain(v.rootClus, -1)
		if err != nil {
			s.problem(".", v.clusterOff(v.rootClus), fmt.Errorf("root directory: %w", err))
		}
		s.seen[v.rootClus] = true
	} else {
		root = []extent{{v.rootOff, v.rootBytes}}
	}
	if len(root) == 0 {
		return fmt.Errorf("fat: %w: root directory unreadable", jfs.ErrCorrupt)
	}
	return s.walkFATDir(root, "", false, 0)
}

// readDir lists the entries in runs. Damage is reported and what could be
// read is returned.
func (s *walkState) readDir(runs []extent, path string, inDeleted bool) []dirent {
	v := s.v
	var out []dirent
	var lfn lfnState
	lfn.reset()
	seen, invalid := 0, 0
	corrupt := false
	buf := make([]byte, v.ssize)
	total := int64(0)
	for _, r := range runs {
		for off := r.off; off < r.off+r.n; off += v.ssize {
			if total += v.ssize; total > maxDirBytes {
				s.problem(path, off, fmt.Errorf("%w: directory longer than %d bytes; the rest is not read", jfs.ErrCorrupt, maxDirBytes))
				return out
			}
			if err := s.tick(); err != nil {
				return out
			}
			if err := v.read(buf, off); err != nil {
				s.problem(path, off, fmt.Errorf("directory sector: %w", err))
				lfn.reset()
				continue
			}
			alloc := !inDeleted
			if off >= v.heap {
				alloc = alloc && v.allocated(uint32((off-v.heap)/v.csize)+2)
			}
			for i := int64(0); i < v.ssize; i += 32 {
				b := buf[i : i+32]
				seen++
				if !v.isDentry(b, alloc && !corrupt) {
					invalid++
					if seen == 4 && invalid == 4 {
						corrupt = true
					}
					continue
				}
				eoff := off + i
				attr := b[11]
				if attr&attrLFN == attrLFN {
					lfn.add(b, eoff)
					continue
				}
				d := dirent{inum: v.inum(eoff), off: eoff, attr: attr, clus: v.startCluster(b),
					size: le.Uint32(b[28:]), lfnStart: -1}
				d.deleted = !alloc || b[0] == slotDeleted
				if attr&attrVolume != 0 {
					d.label = true
					d.name = labelName(b)
				} else {
					if lfn.any {
						chk := shortChecksum(b)
						// A deleted short name lost the byte the checksum
						// covers first; the checksum is a bijection of that
						// byte, so some byte always matches: nothing to check.
						ok := chk == lfn.chk && lfn.whole && lfn.next == 0 || b[0] == slotDeleted
						if ok {
							d.name, d.lfnStart = lfn.name(), lfn.start
						} else if !d.deleted {
							s.problem(join(path, shortName(b, b[0])), lfn.start, fmt.Errorf("%w: long name slots at offset %d do not belong to the short entry at %d (checksum %#x, expected %#x; sequence complete: %v): the short name is used", jfs.ErrCorrupt, lfn.start, eoff, lfn.chk, chk, lfn.whole && lfn.next == 0))
						}
					}
					if d.name == "" {
						d.name = shortName(b, b[0])
					}
				}
				lfn.reset()
				if d.isDir() && (d.name == "." || d.name == "..") {
					continue
				}
				d.name = cleanName(d.name)
				d.m = dosTime(le.Uint16(b[24:]), le.Uint16(b[22:]), 0, s.loc)
				d.a = dosTime(le.Uint16(b[18:]), 0, 0, s.loc)
				d.b = dosTime(le.Uint16(b[16:]), le.Uint16(b[14:]), b[13], s.loc)
				out = append(out, d)
			}
		}
	}
	return out
}

// walkFATDir yields the entries of one directory and walks into its
// subdirectories, depth first, in on-disk order.
func (s *walkState) walkFATDir(runs []extent, path string, deleted bool, depth int) error {
	for _, d := range s.readDir(runs, path, deleted) {
		if err := s.tick(); err != nil {
			return err
		}
		cpath := join(path, d.name)
		var sub []extent
		walk := false
		if d.isDir() {
			sub, walk = s.subdir(&d, cpath)
		}
		if err := s.yieldFAT(&d, cpath, sub); err != nil {
			return err
		}
		if !walk {
			continue
		}
		if depth+1 >= maxDepth {
			s.problem(cpath, d.off, fmt.Errorf("%w: directories nest past %d levels", jfs.ErrCorrupt, maxDepth))
			continue
		}
		s.seen[d.clus] = true
		if err := s.walkFATDir(sub, cpath, d.deleted, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// subdir finds the clusters of directory d and whether to walk them. A
// live directory follows its FAT chain. A deleted one is read from its
// first cluster only, and only when that cluster is free and still starts
// with a "." entry naming itself: otherwise it holds something else now.
func (s *walkState) subdir(d *dirent, path string) ([]extent, bool) {
	v := s.v
	if d.clus < 2 || d.clus > v.lastCluster() {
		if !d.deleted {
			s.problem(path, d.off, fmt.Errorf("%w: directory starts at cluster %d, out of range 2-%d", jfs.ErrCorrupt, d.clus, v.lastCluster()))
		}
		return nil, false
	}
	if s.seen[d.clus] {
		if !d.deleted {
			s.problem(path, d.off, fmt.Errorf("%w: directory cluster %d is already walked (a loop or a cross-link)", jfs.ErrCorrupt, d.clus))
		}
		return nil, false
	}
	if !d.deleted {
		runs, err := v.chain(d.clus, -1)
		if err != nil {
			s.problem(path, d.off, fmt.Errorf("directory: %w", err))
		}
		return runs, len(runs) > 0
	}
	if v.allocated(d.clus) {
		return nil, false
	}
	off := v.clusterOff(d.clus)
	dot := make([]byte, 32)
	if v.read(dot, off) != nil || string(dot[:11]) != ".          " || dot[11]&attrDir == 0 || v.startCluster(dot) != d.clus {
		return nil, false
	}
	return []extent{{off, v.csize}}, true
}

// yieldFAT hands one entry to fn: a directory with its raw entries as
// content, a file with its content, a volume label with none.
func (s *walkState) yieldFAT(d *dirent, path string, dirRuns []extent) error {
	v := s.v
	chain := s.chainFor(path)
	inum := strconv.FormatUint(d.inum, 10)
	ident := "slot:" + inum
	var e *jfs.Entry
	switch {
	case d.label:
		e = jfs.NewEntry(path, chain, 0, func() (io.ReadCloser, error) {
			return nil, fmt.Errorf("volume label entry at offset %d: %w", d.off, jfs.ErrNotRegular)
		}, nil)
		e.Mode = fs.ModeIrregular | 0o444
	case d.isDir():
		// Sizes as TSK gives them: a live directory's chain; a deleted
		// one's first cluster, or nothing when that is in use again.
		var size int64
		if d.deleted {
			if d.clus >= 2 && d.clus <= v.lastCluster() && !v.allocated(d.clus) {
				size = v.csize
			}
		} else {
			for _, r := range dirRuns {
				size += r.n
			}
		}
		e = s.contentEntry(path, chain, size, &runReader{v: v, runs: dirRuns, size: size}, nil)
		e.Mode = fs.ModeDir | 0o755
	default:
		size := int64(d.size)
		contentSize := size
		var runs []extent
		var cerr error
		switch {
		case size == 0:
		case d.deleted:
			var overwritten bool
			runs, overwritten, cerr = v.recoverRuns(d.clus, size)
			ident += recoveredNote(overwritten)
			if overwritten {
				contentSize = 0
			}
		default:
			runs, cerr = v.chain(d.clus, size)
			if cerr != nil {
				s.problem(path, d.off, fmt.Errorf("content: %w", cerr))
			}
		}
		if cerr != nil {
			cerr = fmt.Errorf("entry at offset %d: %w", d.off, cerr)
		}
		e = s.contentEntry(path, chain, size, &runReader{v: v, runs: runs, size: contentSize}, cerr)
		e.Mode = 0o644
		if d.attr&attrReadOnly != 0 {
			e.Mode = 0o444
		}
	}
	e.Times = jfs.Times{Modified: d.m, Accessed: d.a, Born: d.b}
	if !e.Times.Modified.IsZero() || !e.Times.Accessed.IsZero() || !e.Times.Born.IsZero() {
		e.ZoneAssumed = s.assumeZone()
	}
	e.Deleted = d.deleted
	e.Inode = inum
	e.Identity = ident
	return s.fn(s.ctx, e)
}

// recoveredNote marks a deleted file's identity with how its content was
// placed: "recovered" (free clusters from its first on, a guess: the
// chain is gone) or "overwritten" (its first cluster is another file's
// now, so no content is given).
func recoveredNote(overwritten bool) string {
	if overwritten {
		return " overwritten"
	}
	return " recovered"
}

// contentEntry builds an entry reading through r, or failing with cerr
// when the content could not be located. A partly located content (a
// chain cut short) is still readable up to where it ends.
func (s *walkState) contentEntry(path string, chain []string, size int64, r *runReader, cerr error) *jfs.Entry {
	readerAt := func() (io.ReaderAt, error) {
		if cerr != nil && len(r.runs) == 0 {
			return nil, cerr
		}
		return r, nil
	}
	open := func() (io.ReadCloser, error) {
		ra, err := readerAt()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(io.NewSectionReader(ra, 0, size)), nil
	}
	return jfs.NewEntry(path, chain, size, open, readerAt)
}
