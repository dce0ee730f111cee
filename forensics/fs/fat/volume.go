package fat

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

var le = binary.LittleEndian

// volume is an opened FAT or exFAT file system.
type volume struct {
	r    io.ReaderAt
	size int64
	kind string // fat12, fat16, fat32, exfat

	ssize        int64 // bytes per sector
	csize        int64 // bytes per cluster
	spc          int64 // sectors per cluster
	totalSectors int64
	nfats        int
	fatOff       int64 // byte offset of the first FAT
	fatBytes     int64 // bytes of one FAT
	// firstDataSect is where TSK numbers slots from: the sector after the
	// FATs (the fixed root directory of FAT12/16, else the cluster heap).
	firstDataSect int64
	heap          int64  // byte offset of cluster 2
	clusters      uint32 // clusters in the data area
	rootClus      uint32 // FAT32/exFAT root directory cluster
	rootOff       int64  // FAT12/16 fixed root directory: offset and bytes
	rootBytes     int64
	label         string
	serial        uint32

	fat    fatCache
	bitmap []byte // exFAT allocation bitmap (nil: unread, every cluster allocated)
}

func openVolume(r io.ReaderAt, size int64) (*volume, error) {
	b := make([]byte, 512)
	if n, _ := r.ReadAt(b, 0); n < len(b) {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a boot sector", ErrNotFAT, n)
	}
	v := &volume{r: r, size: size}
	var err error
	if string(b[3:11]) == "EXFAT   " {
		err = v.parseExFATBoot(b)
	} else {
		err = v.parseFATBoot(b)
	}
	if err != nil {
		return nil, err
	}
	v.fat = fatCache{v: v}
	return v, nil
}

func isPow2(n int64) bool { return n > 0 && n&(n-1) == 0 }

// parseFATBoot checks a FAT12/16/32 BPB the way the Microsoft
// specification defines it and derives the geometry. Every field that
// could make the walk read nonsense is checked: this is what keeps a small
// file that happens to end its first sector in 0x55AA from being taken
// for a volume.
func (v *volume) parseFATBoot(b []byte) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrNotFAT, fmt.Sprintf(format, a...))
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return bad("no 0x55AA signature at offset 510")
	}
	if b[0] != 0xEB && b[0] != 0xE9 {
		return bad("jump instruction %#x at offset 0", b[0])
	}
	v.ssize = int64(le.Uint16(b[11:]))
	switch v.ssize {
	case 512, 1024, 2048, 4096:
	default:
		return bad("%d bytes per sector", v.ssize)
	}
	v.spc = int64(b[13])
	if !isPow2(v.spc) || v.spc > 128 {
		return bad("%d sectors per cluster", v.spc)
	}
	v.csize = v.spc * v.ssize
	reserved := int64(le.Uint16(b[14:]))
	if reserved == 0 {
		return bad("no reserved sectors")
	}
	v.nfats = int(b[16])
	if v.nfats < 1 || v.nfats > 4 {
		return bad("%d FATs", v.nfats)
	}
	rootEnt := int64(le.Uint16(b[17:]))
	v.totalSectors = int64(le.Uint16(b[19:]))
	if v.totalSectors == 0 {
		v.totalSectors = int64(le.Uint32(b[32:]))
	}
	if media := b[21]; media != 0xF0 && media < 0xF8 {
		return bad("media descriptor %#x", media)
	}
	fatSz := int64(le.Uint16(b[22:]))
	fat32 := fatSz == 0
	if fat32 {
		fatSz = int64(le.Uint32(b[36:]))
	}
	if fatSz == 0 || v.totalSectors == 0 {
		return bad("FAT size %d, %d sectors", fatSz, v.totalSectors)
	}
	if fat32 && rootEnt != 0 {
		return bad("FAT32 BPB with %d fixed root entries", rootEnt)
	}
	rootSecs := (rootEnt*32 + v.ssize - 1) / v.ssize
	v.fatOff = reserved * v.ssize
	v.fatBytes = fatSz * v.ssize
	v.firstDataSect = reserved + int64(v.nfats)*fatSz
	firstClus := v.firstDataSect + rootSecs
	if firstClus >= v.totalSectors {
		return bad("data area starts at sector %d, past the volume's %d sectors", firstClus, v.totalSectors)
	}
	v.heap = firstClus * v.ssize
	v.rootOff, v.rootBytes = v.firstDataSect*v.ssize, rootSecs*v.ssize
	cc := (v.totalSectors - firstClus) / v.spc
	if cc == 0 || cc > 0x0FFFFFF5 {
		return bad("%d clusters", cc)
	}
	v.clusters = uint32(cc)
	switch {
	case cc < 4085:
		v.kind = "fat12"
	case cc < 65525:
		v.kind = "fat16"
	default:
		v.kind = "fat32"
	}
	if (v.kind == "fat32") != fat32 {
		// The cluster count decides the FAT type (the specification's
		// rule); a FAT32 BPB with few clusters, or a FAT12/16 one with
		// many, is damaged or not a BPB at all.
		return bad("%d clusters make %s, but the BPB is laid out for %s", cc, v.kind, map[bool]string{true: "FAT32", false: "FAT12/16"}[fat32])
	}
	if need := (int64(cc) + 2) * map[string]int64{"fat12": 3, "fat16": 4, "fat32": 8}[v.kind] / 2; v.fatBytes < need {
		return bad("a %d-byte FAT cannot map %d clusters", v.fatBytes, cc)
	}
	lab := 43
	if fat32 {
		v.rootClus = le.Uint32(b[44:])
		if v.rootClus < 2 || v.rootClus > v.lastCluster() {
			return bad("root directory cluster %d out of range 2-%d", v.rootClus, v.lastCluster())
		}
		lab = 71
	}
	if b[lab-5] == 0x29 || b[lab-5] == 0x28 { // extended boot signature, then serial and label
		v.serial = le.Uint32(b[lab-4:])
		v.label = strings.TrimRight(string(b[lab:lab+11]), " ")
	}
	return nil
}

// parseExFATBoot checks an exFAT boot sector (Microsoft's exFAT
// specification, section 3.1).
func (v *volume) parseExFATBoot(b []byte) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: exFAT boot sector: %s", ErrNotFAT, fmt.Sprintf(format, a...))
	}
	if b[510] != 0x55 || b[511] != 0xAA {
		return bad("no 0x55AA signature at offset 510")
	}
	for _, c := range b[11:64] {
		if c != 0 {
			return bad("MustBeZero field (bytes 11-63) is not zero")
		}
	}
	sshift, cshift := b[108], b[109]
	if sshift < 9 || sshift > 12 || cshift > 25-sshift {
		return bad("sector shift %d, cluster shift %d", sshift, cshift)
	}
	v.ssize = 1 << sshift
	v.spc = 1 << cshift
	v.csize = v.ssize * v.spc
	v.totalSectors = int64(le.Uint64(b[72:]))
	fatOff := int64(le.Uint32(b[80:]))
	fatLen := int64(le.Uint32(b[84:]))
	heapOff := int64(le.Uint32(b[88:]))
	cc := le.Uint32(b[92:])
	v.rootClus = le.Uint32(b[96:])
	v.serial = le.Uint32(b[100:])
	v.nfats = int(b[110])
	switch {
	case v.nfats != 1 && v.nfats != 2:
		return bad("%d FATs", v.nfats)
	case v.totalSectors < 1<<20>>sshift || v.totalSectors > 1<<48:
		return bad("volume length %d sectors", v.totalSectors)
	case fatOff < 24 || fatLen == 0 || fatOff+fatLen*int64(v.nfats) > heapOff:
		return bad("FAT at sector %d (%d sectors) overlaps the cluster heap at %d", fatOff, fatLen, heapOff)
	case cc == 0 || cc > 0xFFFFFFF5 || heapOff+int64(cc)*v.spc > v.totalSectors:
		return bad("%d clusters from sector %d do not fit %d sectors", cc, heapOff, v.totalSectors)
	case fatLen*v.ssize < (int64(cc)+2)*4:
		return bad("a %d-sector FAT cannot map %d clusters", fatLen, cc)
	}
	v.kind = "exfat"
	v.clusters = cc
	if v.rootClus < 2 || v.rootClus > v.lastCluster() {
		return bad("root directory cluster %d out of range 2-%d", v.rootClus, v.lastCluster())
	}
	v.fatOff, v.fatBytes = fatOff*v.ssize, fatLen*v.ssize
	v.firstDataSect = heapOff
	v.heap = heapOff * v.ssize
	return nil
}

// lastCluster is the highest valid cluster number.
func (v *volume) lastCluster() uint32 { return v.clusters + 1 }

// lastReadable is the highest cluster that lies wholly inside the volume's
// bytes: loops over clusters stop there, so a boot sector claiming
// billions of clusters on a small (or cut) image costs nothing.
func (v *volume) lastReadable() uint32 {
	n := (v.size - v.heap) / v.csize
	if n <= 0 {
		return 1
	}
	return uint32(min(int64(v.lastCluster()), n+1))
}

func (v *volume) clusterOff(c uint32) int64 { return v.heap + int64(c-2)*v.csize }

// inum is TSK's slot number of the 32-byte entry at byte offset off.
func (v *volume) inum(off int64) uint64 {
	return uint64((off-v.firstDataSect*v.ssize)/32) + 3
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

// fatCache reads FAT entries through a few cached 64 KiB pages of the
// first FAT: a FAT32 table can be hundreds of megabytes.
type fatCache struct {
	v     *volume
	pages map[int64][]byte
	order []int64
}

const (
	fatPage   = 64 << 10
	fatPages  = 64
	eocMarker = 0xFFFFFFFF
	badMarker = 0xFFFFFFF7
)

func (c *fatCache) byteAt(off int64) ([]byte, error) {
	p := off / fatPage * fatPage
	if b, ok := c.pages[p]; ok {
		return b[off-p:], nil
	}
	if c.pages == nil {
		c.pages = map[int64][]byte{}
	}
	n := min(int64(fatPage), c.v.fatBytes-p)
	b := make([]byte, n+4) // +4: an entry straddling the page end reads on
	if err := c.v.read(b[:n], c.v.fatOff+p); err != nil {
		return nil, err
	}
	if n < c.v.fatBytes-p {
		_ = c.v.read(b[n:], c.v.fatOff+p+n)
	}
	if len(c.order) >= fatPages {
		delete(c.pages, c.order[0])
		c.order = c.order[1:]
	}
	c.pages[p] = b
	c.order = append(c.order, p)
	return b[off-p:], nil
}

// next returns the FAT entry of cluster c normalised to 32 bits:
// 0 free, eocMarker end of chain, badMarker bad cluster, else the next
// cluster.
func (c *fatCache) next(cl uint32) (uint32, error) {
	v := c.v
	switch v.kind {
	case "fat12":
		off := int64(cl) + int64(cl)/2
		b, err := c.byteAt(off)
		if err != nil {
			return 0, err
		}
		x := uint32(le.Uint16(b))
		if cl&1 == 1 {
			x >>= 4
		}
		x &= 0xFFF
		switch {
		case x >= 0xFF8:
			return eocMarker, nil
		case x == 0xFF7:
			return badMarker, nil
		}
		return x, nil
	case "fat16":
		b, err := c.byteAt(int64(cl) * 2)
		if err != nil {
			return 0, err
		}
		x := uint32(le.Uint16(b))
		switch {
		case x >= 0xFFF8:
			return eocMarker, nil
		case x == 0xFFF7:
			return badMarker, nil
		}
		return x, nil
	case "fat32":
		b, err := c.byteAt(int64(cl) * 4)
		if err != nil {
			return 0, err
		}
		x := le.Uint32(b) & 0x0FFFFFFF
		switch {
		case x >= 0x0FFFFFF8:
			return eocMarker, nil
		case x == 0x0FFFFFF7:
			return badMarker, nil
		}
		return x, nil
	}
	// exFAT: full 32-bit entries.
	b, err := c.byteAt(int64(cl) * 4)
	if err != nil {
		return 0, err
	}
	x := le.Uint32(b)
	switch {
	case x >= 0xFFFFFFF8:
		return eocMarker, nil
	case x == 0xFFFFFFF7:
		return badMarker, nil
	}
	return x, nil
}

// allocated says whether cluster c is in use: its FAT entry is not zero
// (FAT), or its bit is set in the allocation bitmap (exFAT). An unreadable
// entry counts as allocated, so nothing is called deleted on no evidence.
func (v *volume) allocated(c uint32) bool {
	if c < 2 || c > v.lastCluster() {
		return false
	}
	if v.kind == "exfat" {
		if v.bitmap == nil {
			return true
		}
		i := c - 2
		return int(i/8) >= len(v.bitmap) || v.bitmap[i/8]&(1<<(i%8)) != 0
	}
	x, err := v.fat.next(c)
	return err != nil || x != 0
}

// extent is a run of bytes of the volume.
type extent struct{ off, n int64 }

// maxChain bounds the runs one chain may produce: a fragmented 4 GiB file
// of 512-byte clusters would need 8M; more is damage.
const maxRuns = 1 << 22

// chain follows the FAT from cluster start for at most want bytes (want <
// 0: to the end of the chain) and returns the runs it covers. It stops at
// the end-of-chain mark, and reports a free, bad, out-of-range or looping
// link as an error with what was read up to there.
func (v *volume) chain(start uint32, want int64) ([]extent, error) {
	var out []extent
	var got int64
	c := start
	for steps := uint32(0); ; steps++ {
		if c < 2 || c > v.lastCluster() {
			return out, fmt.Errorf("%w: cluster %d out of range 2-%d (after %d clusters from %d)", jfs.ErrCorrupt, c, v.lastCluster(), steps, start)
		}
		if c > v.lastReadable() {
			return out, fmt.Errorf("%w: the cluster chain from %d reaches cluster %d, past the end of the volume (%d bytes)", jfs.ErrTruncated, start, c, v.size)
		}
		if steps > v.clusters || len(out) >= maxRuns {
			return out, fmt.Errorf("%w: the cluster chain from %d loops (more than %d clusters)", jfs.ErrCorrupt, start, v.clusters)
		}
		off := v.clusterOff(c)
		if n := len(out); n > 0 && out[n-1].off+out[n-1].n == off {
			out[n-1].n += v.csize
		} else {
			out = append(out, extent{off, v.csize})
		}
		got += v.csize
		if want >= 0 && got >= want {
			return out, nil
		}
		nx, err := v.fat.next(c)
		if err != nil {
			return out, fmt.Errorf("FAT entry of cluster %d: %w", c, err)
		}
		switch nx {
		case eocMarker:
			if want >= 0 {
				return out, fmt.Errorf("%w: the cluster chain from %d ends after %d bytes, short of %d", jfs.ErrCorrupt, start, got, want)
			}
			return out, nil
		case badMarker:
			return out, fmt.Errorf("%w: the cluster chain from %d reaches cluster %d marked bad", jfs.ErrCorrupt, start, c)
		case 0:
			return out, fmt.Errorf("%w: the cluster chain from %d reaches free cluster %d", jfs.ErrCorrupt, start, c)
		}
		c = nx
	}
}

// contiguous is the run of n bytes from cluster start, clipped to the
// cluster heap: a deleted file's best guess, or an exFAT file without a FAT
// chain.
func (v *volume) contiguous(start uint32, n int64) ([]extent, error) {
	if start < 2 || start > v.lastCluster() {
		return nil, fmt.Errorf("%w: first cluster %d out of range 2-%d", jfs.ErrCorrupt, start, v.lastCluster())
	}
	off := v.clusterOff(start)
	end := v.clusterOff(v.lastCluster()) + v.csize
	if off+n > end {
		return []extent{{off, end - off}}, fmt.Errorf("%w: %d bytes from cluster %d run past the last cluster", jfs.ErrCorrupt, n, start)
	}
	return []extent{{off, n}}, nil
}

// recoverRuns locates a deleted file's n bytes the way TSK's recovery
// does (icat reads them so): deletion freed the FAT chain, so the clusters
// are taken from the first one onwards, skipping those allocated now. When
// the first cluster itself is allocated again, another file owns it and
// nothing of this one can be placed: overwritten is true and no runs are
// returned (TSK would hand over that cluster, another file's bytes).
func (v *volume) recoverRuns(start uint32, n int64) (runs []extent, overwritten bool, err error) {
	if start < 2 || start > v.lastCluster() {
		return nil, false, fmt.Errorf("%w: first cluster %d out of range 2-%d", jfs.ErrCorrupt, start, v.lastCluster())
	}
	if v.allocated(start) {
		return nil, true, nil
	}
	left := n
	for c := start; left > 0; c++ {
		if c > v.lastReadable() {
			return runs, false, fmt.Errorf("%w: not enough free clusters from cluster %d to the end of the volume for %d bytes", jfs.ErrTruncated, start, n)
		}
		if v.allocated(c) {
			continue
		}
		off := v.clusterOff(c)
		if k := len(runs); k > 0 && runs[k-1].off+runs[k-1].n == off {
			runs[k-1].n += v.csize
		} else {
			runs = append(runs, extent{off, v.csize})
		}
		left -= v.csize
	}
	return runs, false, nil
}

// runReader reads a file's bytes through its runs. Bytes past the runs
// (a chain shorter than the size) read as an error, never as zeros.
type runReader struct {
	v    *volume
	runs []extent
	size int64
}

func (r *runReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("fat: negative offset %d", off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	if rem := r.size - off; int64(len(want)) > rem {
		want = want[:rem]
	}
	n := 0
	pos := int64(0)
	for _, e := range r.runs {
		if n == len(want) {
			break
		}
		if off+int64(n) >= pos+e.n {
			pos += e.n
			continue
		}
		in := off + int64(n) - pos
		k := min(e.n-in, int64(len(want)-n))
		if err := r.v.read(want[n:n+int(k)], e.off+in); err != nil {
			return n, err
		}
		n += int(k)
		pos += e.n
	}
	if n < len(want) {
		return n, fmt.Errorf("%w: content ends at byte %d of %d: its clusters could not be followed further", jfs.ErrTruncated, off+int64(n), r.size)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
