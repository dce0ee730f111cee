package ntfs

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/internal/zeros"
)

// OrphanDir is where entries whose parent directory is gone are placed,
// under the name The Sleuth Kit gives that virtual folder.
const OrphanDir = "$OrphanFiles"

// maxDepth bounds a parent chain: deeper is a loop in damaged metadata.
const maxDepth = 256

// Table reads the records of a $MFT stream: in order for a scan, and one
// at a time for the parents a path needs. Memory is bounded by the parent
// cache, whatever the number of entries.
type Table struct {
	r       io.ReaderAt
	size    int64
	recSize int
	cache   *nodeCache
	// scan is ScanRange's read buffer, kept from one call to the next: the
	// mft parser scans an $MFT in thousands of ranges, and a fresh 64 KiB
	// buffer each (a large allocation, zeroed) was a tenth of its CPU.
	scan []byte
	// rec is the Record ScanRange decodes each base record into: a fresh
	// one per record (~500 bytes) was 307 of the 1089 MB the ingest of
	// the 300k-file bench image allocated, the walker's scan and the mft
	// parser's each decoding every record.
	rec Record
	// vol and cluster give the volume's clusters, where a non-resident
	// $ATTRIBUTE_LIST lives (SetVolume); nil for a $MFT read alone.
	vol     io.ReaderAt
	cluster int64
	// mirror: IsMirror found the table to be an $MFTMirr, whose records'
	// extension records are not in it (merge).
	mirror bool
}

// parentCache is the number of directory entries a Table keeps for path
// resolution: about 2 MB whatever the volume holds. A miss costs one record
// read (by MFT reference) per level up to the first cached folder.
var parentCache = 1 << 14

// NewTable reads records of recordSize bytes from r, a $MFT of size bytes.
func NewTable(r io.ReaderAt, size int64, recordSize int) *Table {
	return &Table{r: r, size: size, recSize: recordSize, cache: newNodeCache(parentCache)}
}

// Clone returns a Table over the same $MFT with a parent cache of its own:
// a Table is used by one goroutine at a time, its clones by others (reads
// go to the same io.ReaderAt, whose contract allows parallel ReadAt calls).
func (t *Table) Clone() *Table {
	c := NewTable(t.r, t.size, t.recSize)
	c.vol, c.cluster = t.vol, t.cluster
	return c
}

// SetVolume gives the table the volume its $MFT belongs to (clusters of
// cluster bytes from offset 0), so that an entry whose $ATTRIBUTE_LIST is
// non-resident (ntfs-3g moves it out of the record at about 20 hard links;
// many named streams or extents do the same) has it read and followed to
// every extension record. Without it those extension records are
// delivered where the scan meets them, as their base entry's (Scan).
func (t *Table) SetVolume(vol io.ReaderAt, cluster int64) {
	if cluster > 0 {
		t.vol, t.cluster = vol, cluster
	}
}

// errNoVolume: the table reads a $MFT alone.
var errNoVolume = errors.New("non-resident $ATTRIBUTE_LIST and no volume to read it from")

// list returns r's $ATTRIBUTE_LIST rows: the resident ones decoded with
// the record, or the non-resident list read from the volume. An error
// comes with the rows decoded before the damage.
func (t *Table) list(r *Record) ([]ListEntry, error) {
	if !r.ListNonResident {
		return r.List, nil // a damaged resident list is the record's error
	}
	if t.vol == nil {
		return nil, errNoVolume
	}
	if r.ListSize <= 0 || r.ListSize > maxListSize {
		return nil, fmt.Errorf("non-resident $ATTRIBUTE_LIST of %d bytes", r.ListSize)
	}
	runs, err := DecodeRuns(r.ListRuns)
	if err != nil {
		return nil, fmt.Errorf("$ATTRIBUTE_LIST run list: %w", err)
	}
	b, err := readRuns(t.vol, t.cluster, runs, r.ListSize)
	if err != nil {
		return nil, fmt.Errorf("read $ATTRIBUTE_LIST: %w", err)
	}
	l, err := ParseList(b)
	if err != nil {
		return l, fmt.Errorf("$ATTRIBUTE_LIST: %w", err)
	}
	return l, nil
}

// RecordSize is the size of one record.
func (t *Table) RecordSize() int { return t.recSize }

// Count is the number of records the table holds.
func (t *Table) Count() uint64 { return uint64(t.size / int64(t.recSize)) }

// IsMirror reports whether the table, read from a file called name, is an
// $MFTMirr rather than an $MFT: the copy of the MFT's first records ($MFT,
// $MFTMirr, $LogFile, $Volume at least) that NTFS keeps for recovery. Its
// records have the same layout as an MFT's, so the signature cannot tell;
// the sizes its own records give can. Record 1 describes the mirror: a
// table that is not exactly that long is not it. Record 0 describes the
// whole $MFT: when that is longer, the table is the mirror. When both are
// the same length (an MFT that fits in the one cluster the mirror fills,
// as mkntfs makes with 64 KiB clusters), the two files are byte for byte
// the same and only the name tells: the format calls the mirror $MFTMirr.
// A table found to be a mirror scans its records without following their
// $ATTRIBUTE_LISTs: the extension records they name are the $MFT's.
func (t *Table) IsMirror(name string) bool {
	mftRec, err0 := t.Read(0)
	mirRec, err1 := t.Read(1)
	if err0 != nil || err1 != nil {
		return false
	}
	named := func(r *Record, name string) bool {
		n := r.LongName()
		// A $MFT in many fragments may have its name moved out of
		// record 0 to an extension record (ntfs-3g does), which the
		// mirror does not hold: no name and a list is $MFT's too.
		return n != nil && n.Name == name || n == nil && r.Entry == 0 && (r.List != nil || r.ListNonResident)
	}
	mftData, mirData := mftRec.Data(), mirRec.Data()
	if !named(mftRec, "$MFT") || !named(mirRec, "$MFTMirr") || mftData == nil || mirData == nil || mirData.Size != t.size {
		return false
	}
	t.mirror = mftData.Size > t.size || mftData.Size == t.size && name == "$MFTMirr"
	return t.mirror
}

// Read reads and decodes record n on its own.
func (t *Table) Read(n uint64) (*Record, error) {
	if n >= t.Count() {
		return nil, fmt.Errorf("MFT entry %d past the end of $MFT (%d entries)", n, t.Count())
	}
	buf := make([]byte, t.recSize)
	if _, err := t.r.ReadAt(buf, int64(n)*int64(t.recSize)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return ParseRecord(buf, n)
}

// Scan calls fn with every base record in entry order (extension records
// are merged into their base), off being its byte offset in $MFT, and bad
// with every record that could not be decoded. Unused slots (no "FILE"
// signature) are skipped: they hold no entry. A record decoded only in
// part is both reported and delivered. The Record is the scan's, reused
// for the next one: fn must not keep it, nor pointers into it, after it
// returns (the strings it holds may be kept).
func (t *Table) Scan(ctx context.Context, fn func(r *Record, off int64) error, bad func(entry uint64, off int64, err error)) error {
	return t.ScanRange(ctx, 0, t.Count(), fn, bad)
}

// ScanBatch is the number of records Scan reads at once (64 KiB of 1 KiB
// records). A range of ScanRange that starts at a multiple of it reads the
// same batches, and so reports an unreadable part of $MFT the same way, as
// Scan does. It was 256; 64 keeps the mft parser's batches in flight
// between cores small (parsers/mft/parallel.go).
const ScanBatch = 64

// ScanRange is Scan over the entries from start up to end (excluded, and
// never past Count). Tables made by Clone scan ranges of one $MFT side by
// side (the mft parser's timeline on every core); one Table scans one range
// at a time (fn must not scan the same Table).
func (t *Table) ScanRange(ctx context.Context, start, end uint64, fn func(r *Record, off int64) error, bad func(entry uint64, off int64, err error)) error {
	const batch = ScanBatch
	if len(t.scan) != batch*t.recSize {
		t.scan = make([]byte, batch*t.recSize)
	}
	buf := t.scan
	count := min(end, t.Count())
	for first := start; first < count; first += batch {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(batch, count-first)
		chunk := buf[:n*uint64(t.recSize)]
		off := int64(first) * int64(t.recSize)
		got, err := t.r.ReadAt(chunk, off)
		if err != nil && !errors.Is(err, io.EOF) && got < len(chunk) {
			bad(first, off+int64(got), fmt.Errorf("read $MFT: %w", err))
			// Go on record by record past the unreadable part.
		}
		for i := uint64(0); i < n; i++ {
			rb := chunk[i*uint64(t.recSize) : (i+1)*uint64(t.recSize)]
			roff := off + int64(i)*int64(t.recSize)
			if int(roff-off) >= got {
				if _, err := t.r.ReadAt(rb, roff); err != nil && !errors.Is(err, io.EOF) {
					continue // reported above
				}
			}
			if !IsRecord(rb) {
				// A slot never used holds zeros. Anything else is a
				// record overwritten (wiped, or a $MFT read from the
				// wrong clusters): reported, not taken for a free slot.
				if !zeros.All(rb) {
					bad(first+i, roff, fmt.Errorf("%w: no FILE signature (starts % x) in a slot that is not empty", ErrBadRecord, rb[:4]))
				}
				continue
			}
			rec := &t.rec
			if err := rec.parse(rb, first+i); err != nil {
				bad(first+i, roff, err)
				if !rec.decoded {
					continue
				}
			}
			// An extension record names its base, entry and sequence;
			// a base record's reference is all zeros. The $MFT's own
			// extension records name entry 0, with its sequence number.
			if rec.BaseEntry != 0 || rec.BaseSeq != 0 {
				// Merged into its base, unless the base's list could not
				// be read or does not name it: then delivered here, as
				// the base's.
				if rec = t.extension(rec); rec == nil {
					continue
				}
				roff = int64(rec.Entry) * int64(t.recSize)
			} else {
				t.merge(rec, roff, bad)
			}
			if err := fn(rec, roff); err != nil {
				return err
			}
		}
	}
	return nil
}

// merge adds the attributes that an $ATTRIBUTE_LIST places in extension
// records (names of heavily hard-linked files, named streams, extents of
// fragmented files). A list that cannot be read, or names a record that is
// no extension of r, is reported with bad (entry, offset of the list in
// $MFT); the extension records it does not bring in are delivered by the
// scan on their own (extension).
func (t *Table) merge(r *Record, off int64, bad func(entry uint64, off int64, err error)) {
	if r.List == nil && !r.ListNonResident || t.mirror {
		// A mirror's copy of a fragmented $MFT's record 0 names
		// extension records that only the $MFT holds: read with it.
		return
	}
	list, err := t.list(r)
	switch {
	case errors.Is(err, errNoVolume):
		if len(r.Names) == 0 {
			// Its extension records' names are delivered as they come
			// (extension), but the paths through this entry, and of its
			// $STANDARD_INFORMATION, have no name to go by.
			bad(r.Entry, off+int64(r.ListOffset), errors.New("its names are in extension records that its non-resident $ATTRIBUTE_LIST names, out of the $MFT in clusters of the volume: paths through it start at "+OrphanDir))
		}
	case err != nil:
		bad(r.Entry, off+int64(r.ListOffset), fmt.Errorf("%w: %v (its extension records are attributed to it where they lie)", ErrBadRecord, err))
	}
	seen := map[uint64]bool{r.Entry: true}
	for _, le := range list {
		if seen[le.Entry] {
			continue
		}
		seen[le.Entry] = true
		ext, err := t.Read(le.Entry)
		if err != nil || ext.BaseEntry != r.Entry {
			if err == nil {
				err = fmt.Errorf("its base is entry %d", ext.BaseEntry)
			}
			bad(r.Entry, off+int64(r.ListOffset), fmt.Errorf("%w: $ATTRIBUTE_LIST names extension record %d: %v", ErrBadRecord, le.Entry, err))
			continue
		}
		r.adopt(ext)
	}
}

// adopt adds the attributes of extension record ext to r.
func (r *Record) adopt(ext *Record) {
	for _, fn := range ext.Names {
		fn.Ext = ext.Entry
		r.Names = append(r.Names, fn)
	}
	for _, s := range ext.Streams {
		if s.StartVCN == 0 {
			s.Ext = ext.Entry
			r.Streams = append(r.Streams, s)
		}
	}
	if r.SI == nil && ext.SI != nil {
		si := *ext.SI
		si.Ext = ext.Entry
		r.SI = &si
	}
}

// extension decides what becomes of extension record ext met by a scan:
// nil when its base's $ATTRIBUTE_LIST names it (merge brought its
// attributes into the base), else a record of its base entry holding its
// attributes (Extension set): the list is non-resident with no volume to
// read it from (a $MFT alone), or damaged, or the base is gone. Its names
// and streams are then on the base's entry all the same, where it lies.
func (t *Table) extension(ext *Record) *Record {
	base, err := t.Read(ext.BaseEntry)
	// The base is the entry the reference names: same sequence number, or
	// one higher once the file was deleted (as a parent is matched).
	ours := err == nil && base.BaseEntry == 0 && (base.Seq == ext.BaseSeq || !base.InUse() && base.Seq == ext.BaseSeq+1)
	if ours {
		if list, _ := t.list(base); slices.ContainsFunc(list, func(le ListEntry) bool { return le.Entry == ext.Entry }) {
			return nil
		}
	}
	p := &Record{Entry: ext.BaseEntry, Seq: ext.BaseSeq, Flags: ext.Flags &^ FlagDirectory, LSN: ext.LSN, Extension: ext.Entry}
	if ours {
		// What the base says of itself: allocation, folder, links, and
		// its own streams (a hard link's content is the base's $DATA).
		// An extension record freed while its base lives holds names
		// that are gone: deleted ones.
		p.Seq, p.Flags, p.Links, p.LSN = base.Seq, base.Flags, base.Links, base.LSN
		if !ext.InUse() {
			p.Flags &^= FlagInUse
		}
		// Not the $MFT's: a stale extension record of it would have
		// the whole $MFT delivered (and its timeline parsed) twice.
		for _, s := range base.Streams {
			if s.StartVCN == 0 && base.Entry != 0 {
				p.Streams = append(p.Streams, s)
			}
		}
	}
	p.adopt(ext)
	return p
}

// Path returns the full path of r under name fn (nil: its long name),
// slash separated, without a leading slash. Parents are followed by MFT
// reference as The Sleuth Kit does: a reference matches an allocated entry
// of the same sequence number, or a deleted one whose sequence number is
// one higher (NTFS bumps it when the directory is deleted), so a file in a
// deleted folder keeps the folder's name. When the chain breaks the path
// starts with OrphanDir, and orphan is true: so for a deleted file whose
// folder's record now holds another folder (a higher sequence number),
// as fls places it (TestDeletedParents). A path through the new folder
// would be false; the lost folder's reference stays on the timeline, in
// the parent_ref of the mft parser's $FILE_NAME events.
func (t *Table) Path(r *Record, fn *FileName) (p string, orphan bool) {
	return t.path("", r, fn)
}

// path is prefix followed by Path(r, fn), made as one string: the walker's
// chain layer ("ntfs:" and the path), of which the path is the tail.
func (t *Table) path(prefix string, r *Record, fn *FileName) (p string, orphan bool) {
	if fn == nil {
		fn = r.LongName()
	}
	if fn == nil {
		return prefix + OrphanDir + "/OrphanFile-" + strconv.FormatUint(r.Entry, 10), true
	}
	if r.Entry == RootEntry {
		return prefix + ".", false
	}
	dir, orphan := t.dirPath(fn.ParentEntry, fn.ParentSeq, 0)
	return join(prefix, dir, clean(fn.Name)), orphan
}

// join is prefix, then dir and name joined by "/" (name alone when dir
// is ""), made as one string: a walker's chain layer has its path as its
// tail (see Table.path).
func join(prefix, dir, name string) string {
	if dir == "" {
		return prefix + name
	}
	return prefix + dir + "/" + name
}

// clean keeps a name one path element: NTFS allows neither "/" nor NUL,
// but damaged or hostile records may hold anything.
func clean(name string) string {
	switch name {
	case "", ".", "..":
		return "_" + name + "_"
	}
	if strings.IndexByte(name, '/') < 0 && strings.IndexByte(name, 0) < 0 {
		return name // every name on a sound volume: no copy
	}
	b := []byte(name)
	for i, c := range b {
		if c == '/' || c == 0 {
			b[i] = '_'
		}
	}
	return string(b)
}

func (t *Table) dirPath(entry uint64, seq uint16, depth int) (string, bool) {
	if entry == RootEntry {
		return "", false
	}
	n := t.node(entry)
	if n == nil || !n.matches(seq) {
		return OrphanDir, true
	}
	if n.resolved {
		return n.path, n.orphan
	}
	if depth >= maxDepth || !n.named {
		return OrphanDir, true
	}
	dir, orphan := t.dirPath(n.parent, n.pseq, depth+1)
	n.path, n.orphan, n.resolved = join("", dir, clean(n.name)), orphan, true
	return n.path, n.orphan
}

func (t *Table) node(entry uint64) *node {
	if n, ok := t.cache.get(entry); ok {
		return n
	}
	r, err := t.Read(entry)
	if err != nil && r == nil {
		t.cache.put(entry, nil)
		return nil
	}
	if r.BaseEntry == 0 && r.LongName() == nil {
		// A folder whose names went to extension records (a large,
		// fragmented index pushes them out); the scan reports a list
		// that cannot be read.
		t.merge(r, 0, func(uint64, int64, error) {})
	}
	n := &node{seq: r.Seq, inUse: r.InUse()}
	if fn := r.LongName(); fn != nil {
		n.named, n.name, n.parent, n.pseq = true, fn.Name, fn.ParentEntry, fn.ParentSeq
	}
	t.cache.put(entry, n)
	return n
}

// node is what a path needs of a directory entry.
type node struct {
	seq      uint16
	inUse    bool
	named    bool
	name     string
	parent   uint64
	pseq     uint16
	resolved bool
	orphan   bool
	path     string
}

func (n *node) matches(seq uint16) bool {
	if n.inUse {
		return n.seq == seq
	}
	return n.seq == seq+1 || (n.seq == 0 && seq == 0)
}

// nodeCache is a small LRU: paths are resolved with bounded memory.
type nodeCache struct {
	max int
	ll  *list.List
	m   map[uint64]*list.Element
}

type cacheItem struct {
	key uint64
	n   *node
}

func newNodeCache(max int) *nodeCache {
	return &nodeCache{max: max, ll: list.New(), m: map[uint64]*list.Element{}}
}

func (c *nodeCache) get(k uint64) (*node, bool) {
	if e, ok := c.m[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheItem).n, true
	}
	return nil, false
}

func (c *nodeCache) put(k uint64, n *node) {
	c.m[k] = c.ll.PushFront(&cacheItem{key: k, n: n})
	if c.ll.Len() > c.max {
		old := c.ll.Back()
		c.ll.Remove(old)
		delete(c.m, old.Value.(*cacheItem).key)
	}
}
