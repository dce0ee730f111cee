// Package ntfs walks an NTFS volume through its MFT: every entry, allocated
// or deleted, in entry order, with paths resolved by MFT reference the way
// The Sleuth Kit resolves them. go-ntfs (www.velocidex.com/golang/go-ntfs)
// reads the boot sector, locates $MFT and reads file contents (runs,
// sparse and compressed streams), through this package's own map of a $MFT
// in more extents than record 0 holds (mftmap.go); this package decodes the records itself
// (record.go) because the timeline needs what go-ntfs does not keep: raw
// FILETIMEs past 2262, every $FILE_NAME, deleted parents matched by
// sequence number, and errors per record instead of silent skips.
package ntfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	gontfs "www.velocidex.com/golang/go-ntfs/parser"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// Kind is the chain layer of a file found in an NTFS volume:
// "ntfs:<path>".
const Kind = "ntfs"

// Walker delivers the files of one NTFS volume.
type Walker struct {
	vol   *gontfs.NTFSContext
	mft   io.ReaderAt
	size  int64
	rsize int
	chain []string
	opts  jfs.Options
	// mftMap is the $MFT read through its own run lists when record 0
	// has an $ATTRIBUTE_LIST (nil otherwise: go-ntfs's reader of its one
	// $DATA attribute serves), and mapErr what of it could not be mapped,
	// reported by Walk.
	mftMap *mftMap
	mapErr error
}

var _ jfs.Walker = (*Walker)(nil)

// NewWalker opens the NTFS volume in r (size bytes; chain names the layers
// above it, e.g. ["partition:2@1048576"]) with default walk options.
func NewWalker(r io.ReaderAt, size int64, chain []string) (jfs.Walker, error) {
	return New(r, size, chain, jfs.Options{})
}

// New is NewWalker with walk options for the archives found inside.
func New(r io.ReaderAt, size int64, chain []string, opts jfs.Options) (w *Walker, err error) {
	defer func() {
		// go-ntfs decodes the boot sector and the first record through
		// generated accessors that can index past a damaged buffer.
		if p := recover(); p != nil {
			w, err = nil, fmt.Errorf("ntfs: damaged volume: %v", p)
		}
	}()
	vol, err := gontfs.GetNTFSContext(r, 0)
	if err != nil {
		return nil, fmt.Errorf("ntfs: %w", err)
	}
	rsize := int(vol.Boot.RecordSize())
	if rsize < 256 || rsize > 65536 {
		return nil, fmt.Errorf("ntfs: implausible MFT record size %d", rsize)
	}
	buf := make([]byte, rsize)
	if _, err := vol.MFTReader.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("ntfs: read $MFT record 0: %w", err)
	}
	rec, err := ParseRecord(buf, 0)
	if err != nil {
		return nil, fmt.Errorf("ntfs: $MFT record 0: %w", err)
	}
	d := rec.Data()
	if d == nil || d.Size < int64(rsize) {
		return nil, errors.New("ntfs: $MFT has no $DATA stream")
	}
	if size > 0 && d.Size > size {
		return nil, fmt.Errorf("ntfs: $MFT claims %d bytes, the volume has %d", d.Size, size)
	}
	w = &Walker{vol: vol, mft: vol.MFTReader, size: d.Size, rsize: rsize, chain: slices.Clone(chain), opts: opts}
	if rec.List != nil || rec.ListNonResident {
		// A $MFT in more extents than record 0 holds: mapped here from
		// every extension record, and go-ntfs given the map too, so that
		// the records it reads for file contents are the same.
		var boot [0x38]byte
		if _, err := r.ReadAt(boot[:], 0); err != nil {
			return nil, fmt.Errorf("ntfs: read boot sector: %w", err)
		}
		lcn := int64(binary.LittleEndian.Uint64(boot[0x30:]))
		if lcn < 0 || lcn > (1<<62)/vol.ClusterSize {
			return nil, fmt.Errorf("ntfs: $MFT at cluster %d", lcn)
		}
		t := &Table{vol: vol.DiskReader, cluster: vol.ClusterSize}
		m, err := newMFTMap(vol.DiskReader, vol.ClusterSize, lcn*vol.ClusterSize, rsize, t.list)
		if m == nil {
			return nil, fmt.Errorf("ntfs: %w", err)
		}
		w.mftMap, w.mapErr, w.mft = m, err, m
		vol.MFTReader = m
	}
	return w, nil
}

// Walk implements fs.Walker. It scans the MFT in entry order and hands each
// $DATA stream of every file, live or deleted, under each of its names
// (hard links), to an fs.Expander, so that archives stored in the volume
// are walked too. Entry.Identity is the MFT entry and sequence: a deleted
// and a live file at one path are two entries. Named streams (ADS) come as
// "path:name". Entry.Times is left empty on purpose: the mft parser, run on
// the "$MFT" entry this walk yields, puts every $STANDARD_INFORMATION and
// $FILE_NAME time on the timeline, for directories too.
func (w *Walker) Walk(ctx context.Context, fn jfs.WalkFunc, report func(*jfs.Problem)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if report == nil {
		report = func(*jfs.Problem) {}
	}
	x := jfs.NewExpander(ctx, w.opts, fn, report)
	t := NewTable(w.mft, w.size, w.rsize)
	// A non-resident $ATTRIBUTE_LIST is read from the volume's clusters:
	// every hard link, named stream and extent it points to is the entry's.
	t.SetVolume(w.vol.DiskReader, w.vol.ClusterSize)
	// The $MFT is handed out Lasting (entry): the ingest parses its
	// timeline beside the walk of the other files, reading it after the
	// call it was handed to; the volume stays readable until then.
	var hold jfs.Hold
	defer hold.Wait()
	mftChain := append(slices.Clone(w.chain), Kind+":$MFT")
	bad := func(entry uint64, off int64, err error) {
		report(&jfs.Problem{Chain: slices.Clone(mftChain), Path: "$MFT", Offset: off,
			Err: fmt.Errorf("%w: MFT entry %d: %v", jfs.ErrCorrupt, entry, err)})
	}
	if w.mapErr != nil {
		// The records of the unmapped parts are reported again by the
		// scan, each batch that cannot be read with its offset.
		bad(0, 0, w.mapErr)
	}
	var buf []string // the paths of a record, reused from record to record
	return t.Scan(ctx, func(r *Record, off int64) error {
		var names []string
		for i := range r.Streams {
			s := r.Streams[i]
			if s.Type != AttrData || s.StartVCN != 0 {
				continue
			}
			if r.Entry == 8 && s.Name == "$Bad" {
				// $BadClus:$Bad is a sparse stream as large as the
				// volume: nothing in it but the volume itself.
				continue
			}
			if names == nil {
				names = paths(t, r, buf[:0])
				buf = names
			}
			for _, layer := range names {
				if s.Name != "" {
					layer += ":" + s.Name
				}
				if err := x.Entry(w.entry(r, s, layer, &hold)); err != nil {
					return err
				}
			}
		}
		return nil
	}, bad)
}

// paths appends to out the chain layers of r ("ntfs:" and a path), one
// per hard link as fls lists them: each name outside the DOS namespace
// (the 8.3 alias of a long name is no link of its own). Like an ext4 file's names, each is delivered with the
// content, under the same identity (the MFT entry).
func paths(t *Table, r *Record, out []string) []string {
	for i := range r.Names {
		if r.Names[i].IsDOS() {
			continue
		}
		if p, _ := t.path(layerPrefix, r, &r.Names[i]); !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		p, _ := t.path(layerPrefix, r, nil)
		out = append(out, p)
	}
	return out
}

// layerPrefix begins the chain layer of a file in the volume: Kind, ':'
// and its path.
const layerPrefix = Kind + ":"

// entry is the file of stream s of r at chain layer layer (layerPrefix,
// then its path: paths, and ":name" for a named stream). The $MFT's is held by
// hold (jfs.Hold): readable after the walk's call, until Walk returns.
func (w *Walker) entry(r *Record, s Stream, layer string, hold *jfs.Hold) *jfs.Entry {
	// One allocation, not a clone grown by the append. The path is the
	// layer's tail, not a string of its own.
	chain := make([]string, len(w.chain)+1)
	chain[copy(chain, w.chain)] = layer
	p := layer[len(layerPrefix):]
	entry, name, size := int64(r.Entry), s.Name, s.Size
	var open func() (io.ReaderAt, error)
	var e *jfs.Entry
	switch {
	case s.Resident && s.Content != nil:
		// A resident stream's bytes are in the record the scan has just
		// read: served from them, with no second read of the record
		// through go-ntfs (its GetMFT and OpenStream were a sixth of the
		// ingest of a volume of small files). They are the bytes go-ntfs
		// returns for it (TestResidentContent). Not copied: the entry is
		// not Lasting, so it is read during the walk's call alone, while
		// the scan's buffer holds the record (Stream.Content); a copy and
		// two closures were half of this function's allocations.
		e = jfs.NewBytesEntry(p, chain, size, s.Content)
	case entry == 0 && name == "":
		// The $MFT itself: its reader gives the mft parser the volume
		// (VolumeSource), where non-resident attribute lists lie.
		open = func() (io.ReaderAt, error) {
			ra, err := w.stream(entry, name, size)
			if err != nil {
				return nil, err
			}
			return &mftStream{ReaderAt: ra, vol: w.vol.DiskReader, cluster: w.vol.ClusterSize}, nil
		}
		if w.mftMap != nil {
			// The bytes the walk scanned, whatever go-ntfs makes of
			// the extension records.
			m := w.mftMap
			open = func() (io.ReaderAt, error) {
				return &mftStream{ReaderAt: m, vol: w.vol.DiskReader, cluster: w.vol.ClusterSize}, nil
			}
		}
	default:
		open = func() (io.ReaderAt, error) { return w.stream(entry, name, size) }
	}
	if e == nil {
		e = jfs.NewEntry(p, chain, size,
			func() (io.ReadCloser, error) {
				ra, err := open()
				if err != nil {
					return nil, err
				}
				return io.NopCloser(io.NewSectionReader(ra, 0, size)), nil
			}, open)
	}
	e.Deleted = !r.InUse()
	// A deleted file and a live one at one path (both listed by fls) are
	// two MFT entries, or one entry reused under a new sequence number.
	// The identity is "mft:" and the inode (r.Inode()), made as one
	// string whose tail is the inode: one allocation an entry (two number
	// strings and two concatenations before).
	var buf [48]byte
	e.Identity = string(r.AppendInode(append(buf[:0], "mft:"...)))
	e.Inode = e.Identity[len("mft:"):]
	e.Mode = 0o444
	if entry == 0 && name == "" {
		// Its reader is opened afresh by each Open and ReaderAt, on the
		// volume, which stays open while Walk runs.
		e.HoldBy(hold)
	}
	return e
}

// stream opens a $DATA stream through go-ntfs, which reads runs, sparse
// and compressed extents. A deleted file's runs may point at clusters
// reused since: the bytes are what the clusters hold now, as with icat.
func (w *Walker) stream(entry int64, name string, size int64) (ra io.ReaderAt, err error) {
	defer func() {
		if p := recover(); p != nil {
			ra, err = nil, fmt.Errorf("ntfs: MFT entry %d: damaged run list: %v", entry, p)
		}
	}()
	me, err := w.vol.GetMFT(entry)
	if err != nil {
		return nil, fmt.Errorf("ntfs: MFT entry %d: %w", entry, err)
	}
	rr, err := gontfs.OpenStream(w.vol, me, gontfs.ATTR_TYPE_DATA, gontfs.WILDCARD_STREAM_ID, name)
	if err != nil {
		return nil, fmt.Errorf("ntfs: MFT entry %d stream %q: %w", entry, name, err)
	}
	return &safeReader{r: io.NewSectionReader(rr, 0, size), entry: entry}, nil
}

// VolumeSource is implemented by the reader of a $MFT that the walker
// delivers: the volume it belongs to, whose clusters hold what a record
// points to (Table.SetVolume). Readers that wrap another one may give it
// with an Unwrap() io.ReaderAt method (VolumeOf).
type VolumeSource interface {
	NTFSVolume() (vol io.ReaderAt, clusterSize int64)
}

// VolumeOf returns the volume behind ra, a $MFT's reader, when ra or a
// reader it wraps (Unwrap() io.ReaderAt) is a VolumeSource.
func VolumeOf(ra io.ReaderAt) (vol io.ReaderAt, clusterSize int64, ok bool) {
	for range 8 {
		if v, is := ra.(VolumeSource); is {
			vol, clusterSize = v.NTFSVolume()
			return vol, clusterSize, vol != nil && clusterSize > 0
		}
		u, is := ra.(interface{ Unwrap() io.ReaderAt })
		if !is {
			break
		}
		ra = u.Unwrap()
	}
	return nil, 0, false
}

// mftStream is the $MFT's reader, with its volume.
type mftStream struct {
	io.ReaderAt
	vol     io.ReaderAt
	cluster int64
}

func (m *mftStream) NTFSVolume() (io.ReaderAt, int64) { return m.vol, m.cluster }

// safeReader turns a panic deep in go-ntfs's run decoding into an error.
type safeReader struct {
	r     io.ReaderAt
	entry int64
}

func (s *safeReader) ReadAt(p []byte, off int64) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("ntfs: MFT entry %d: %v", s.entry, v)
		}
	}()
	return s.r.ReadAt(p, off)
}
