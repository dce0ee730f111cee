package image

// QCOW2 is decoded here from QEMU's own specification (docs/interop/
// qcow2.txt): no Go module for it is served to this project. Only what a
// reader needs is decoded: the header and its extensions, the active L1
// table and the L2 tables it points to. Refcounts only matter to a writer
// and are ignored; internal snapshots are not read (a note says so).

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/jejak-forensics/jejak/internal/rofile"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

var qcow2Magic = []byte("QFI\xfb")

// isQCOW2 reports whether head (the first bytes of a file) is a QCOW
// header of any version; version 1 is refused by OpenQCOW2 with a message.
func isQCOW2(head []byte) bool { return bytes.HasPrefix(head, qcow2Magic) }

const (
	qcow2MaxL1Bytes      = 32 << 20 // QEMU's own limit (QCOW_MAX_L1_SIZE)
	qcow2MaxChain        = 16       // backing files / VMDK parents deep
	qcow2CacheBytes      = 8 << 20  // L2 tables kept, and as much again of inflated clusters
	qcow2HostOffsetMask  = 0x00fffffffffffe00
	qcow2CompressedFlag  = 1 << 62
	qcow2ZeroFlag        = 1
	qcow2IncompatDirty   = 1 << 0
	qcow2IncompatCorrupt = 1 << 1
	qcow2IncompatData    = 1 << 2
	qcow2IncompatCompr   = 1 << 3
	qcow2IncompatExtL2   = 1 << 4
	qcow2IncompatKnown   = 1<<5 - 1
)

// QCOW2 is a QEMU copy-on-write image (versions 2 and 3) read as the
// virtual disk it holds. Only the L1 table is held in memory; L2 tables and
// inflated compressed clusters are kept in small LRU caches. Clusters the
// image does not hold read from its backing file, or as zeros.
type QCOW2 struct {
	name        string
	r           io.ReaderAt
	c           io.Closer // nil when not opened here
	fileSize    int64
	size        int64
	clusterBits uint
	clusterSize int64
	l1          []uint64
	entrySize   int64 // 8, or 16 with extended L2 entries
	subSize     int64 // subcluster size with extended L2 entries
	zstd        bool  // compression type 1 (else deflate)
	backing     Image // nil: unallocated clusters read as zeros
	info        Info
	l2cache     *chunkCache
	ccache      *chunkCache
	flatePool   sync.Pool
	zmu         sync.Mutex    // guards zdec: a streaming decoder is not safe for concurrent use
	zdec        *zstd.Decoder // created on the first zstd cluster
}

// ClusterError is a cluster of a QCOW2 or a grain of a VMDK that cannot be
// read back: its table entry points past the end of the file, its
// compressed stream is broken. Other clusters stay readable.
type ClusterError struct {
	Format  string // "qcow2", "vmdk"
	File    string // the file holding the cluster, or its table
	Virtual int64  // offset in the virtual disk
	Offset  int64  // offset in File, -1 when unknown
	Err     error
}

func (e *ClusterError) Error() string {
	return fmt.Sprintf("%s: %s: virtual offset %d (file offset %d): %v", e.Format, filepath.Base(e.File), e.Virtual, e.Offset, e.Err)
}

func (e *ClusterError) Unwrap() error { return e.Err }

// UnsupportedError is a container recognised but using a variant this
// package does not read (an encrypted QCOW2, a VMDK seSparse extent): the
// message names the variant, so a summary can say what was handed in.
type UnsupportedError struct {
	Path    string
	Variant string // "QCOW2 encrypted (AES)", "VMDK seSparse" ...
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("image: %s: %s: not supported", e.Path, e.Variant)
}

// OpenQCOW2 opens the QCOW2 image at path, and its backing chain.
func OpenQCOW2(path string) (*QCOW2, error) { return openQCOW2(path, 0, Options{}) }

func openQCOW2(path string, depth int, o Options) (*QCOW2, error) {
	f, size, err := openSized(path, "qcow2")
	if err != nil {
		return nil, err
	}
	q, err := newQCOW2(path, f, size, func(name string) (Image, error) {
		return openParent(path, name, depth+1, "backing file", o)
	})
	if err != nil {
		f.Close()
		return nil, err
	}
	q.c = f
	return q, nil
}

// openParent opens the backing file (QCOW2) or parent (VMDK) that the
// image at child records as recorded. An absolute name is used when it
// exists (the examiner's copy kept its place); otherwise the file is looked
// for in the child's folder: by its recorded relative path when that stays
// inside the folder, else by its base name. Nothing outside the child's
// folder is read unless the image names it absolutely.
func openParent(child, recorded string, depth int, what string, o Options) (Image, error) {
	if depth > qcow2MaxChain {
		return nil, fmt.Errorf("image: %s: %s chain deeper than %d images (a loop?)", child, what, qcow2MaxChain)
	}
	c, ok := resolveBeside(child, recorded)
	if !ok {
		return nil, &MissingSegmentError{Missing: []string{filepath.Join(filepath.Dir(child), recordedBase(recorded))}, Set: child + " (" + what + " " + recorded + ")"}
	}
	if abs, err := filepath.Abs(c); err == nil {
		if a, err2 := filepath.Abs(child); err2 == nil && a == abs {
			return nil, fmt.Errorf("image: %s: %s %q is the image itself", child, what, recorded)
		}
	}
	return openDepth(c, depth, o)
}

// openDepth is Open for the images of a backing chain: depth bounds it.
func openDepth(path string, depth int, o Options) (Image, error) {
	f, err := rofile.Open(path)
	if err != nil {
		return nil, err
	}
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	f.Close()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("image: %s: %w", path, err)
	}
	switch {
	case isQCOW2(head[:n]):
		return openQCOW2(path, depth, o)
	case isVMDK(head[:n]):
		return openVMDK(path, depth, o)
	}
	return OpenWith(path, o)
}

type qcow2Header struct {
	version         uint32
	backingOffset   uint64
	backingSize     uint32
	clusterBits     uint32
	size            uint64
	cryptMethod     uint32
	l1Size          uint32
	l1Offset        uint64
	nbSnapshots     uint32
	incompatible    uint64
	headerLength    uint32
	compressionType byte
}

func parseQCOW2Header(b []byte) (qcow2Header, error) {
	var h qcow2Header
	if len(b) < 72 || !bytes.HasPrefix(b, qcow2Magic) {
		return h, errors.New("not a QCOW header")
	}
	be := binary.BigEndian
	h.version = be.Uint32(b[4:])
	h.backingOffset = be.Uint64(b[8:])
	h.backingSize = be.Uint32(b[16:])
	h.clusterBits = be.Uint32(b[20:])
	h.size = be.Uint64(b[24:])
	h.cryptMethod = be.Uint32(b[32:])
	h.l1Size = be.Uint32(b[36:])
	h.l1Offset = be.Uint64(b[40:])
	h.nbSnapshots = be.Uint32(b[60:])
	h.headerLength = 72
	if h.version >= 3 {
		if len(b) < 104 {
			return h, errors.New("version 3 header is truncated")
		}
		h.incompatible = be.Uint64(b[72:])
		h.headerLength = be.Uint32(b[100:])
		if h.headerLength < 104 {
			return h, fmt.Errorf("version 3 header length %d is below 104", h.headerLength)
		}
		if h.headerLength > 104 && len(b) > 104 {
			h.compressionType = b[104]
		}
	}
	return h, nil
}

// newQCOW2 reads the header and the L1 table of the image in r; parent opens
// a backing file by its recorded name (nil: backing files are an error).
func newQCOW2(name string, r io.ReaderAt, fileSize int64, parent func(string) (Image, error)) (*QCOW2, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("qcow2: %s: "+format, append([]any{name}, args...)...)
	}
	first := make([]byte, min(fileSize, 4096))
	if _, err := r.ReadAt(first, 0); err != nil && err != io.EOF {
		return nil, fail("reading header: %v", err)
	}
	h, err := parseQCOW2Header(first)
	if err != nil {
		return nil, fail("%v", err)
	}
	switch {
	case h.version < 2:
		return nil, &UnsupportedError{Path: name, Variant: fmt.Sprintf("QCOW version %d", h.version)}
	case h.version > 3:
		return nil, &UnsupportedError{Path: name, Variant: fmt.Sprintf("QCOW2 version %d (unknown)", h.version)}
	case h.clusterBits < 9 || h.clusterBits > 21:
		return nil, fail("cluster_bits %d at offset 20 is outside 9-21", h.clusterBits)
	case h.cryptMethod == 1:
		return nil, &UnsupportedError{Path: name, Variant: "QCOW2 encrypted (AES, crypt_method 1)"}
	case h.cryptMethod == 2:
		return nil, &UnsupportedError{Path: name, Variant: "QCOW2 encrypted (LUKS, crypt_method 2)"}
	case h.cryptMethod != 0:
		return nil, &UnsupportedError{Path: name, Variant: fmt.Sprintf("QCOW2 encrypted (crypt_method %d)", h.cryptMethod)}
	case h.incompatible&qcow2IncompatData != 0:
		return nil, &UnsupportedError{Path: name, Variant: "QCOW2 with an external data file"}
	case h.incompatible&^qcow2IncompatKnown != 0:
		return nil, &UnsupportedError{Path: name, Variant: fmt.Sprintf("QCOW2 with unknown incompatible features 0x%x", h.incompatible&^qcow2IncompatKnown)}
	case h.size > 1<<62:
		return nil, fail("virtual size %d at offset 24 is implausible", h.size)
	}
	q := &QCOW2{
		name:        name,
		r:           r,
		fileSize:    fileSize,
		size:        int64(h.size),
		clusterBits: uint(h.clusterBits),
		clusterSize: 1 << h.clusterBits,
		entrySize:   8,
	}
	q.info = Info{Format: "qcow2", Segments: []string{name}, Metadata: map[string]string{
		"format_version": fmt.Sprint(h.version),
		"cluster_size":   fmt.Sprint(q.clusterSize),
		"virtual_size":   fmt.Sprint(h.size),
	}}
	if h.incompatible&qcow2IncompatCompr != 0 {
		switch h.compressionType {
		case 0:
		case 1:
			q.zstd = true
		default:
			return nil, &UnsupportedError{Path: name, Variant: fmt.Sprintf("QCOW2 compression type %d", h.compressionType)}
		}
	}
	q.info.Metadata["compression_type"] = map[bool]string{false: "zlib", true: "zstd"}[q.zstd]
	if h.incompatible&qcow2IncompatExtL2 != 0 {
		if h.clusterBits < 14 {
			return nil, fail("extended L2 entries with %d-byte clusters (the minimum is 16384)", q.clusterSize)
		}
		q.entrySize = 16
		q.subSize = q.clusterSize / 32
		q.info.Metadata["extended_l2"] = "yes"
	}
	if h.incompatible&qcow2IncompatDirty != 0 {
		q.info.Notes = append(q.info.Notes, "the image is marked dirty (QEMU did not close it cleanly): its refcounts may be stale, which does not affect reading")
	}
	if h.incompatible&qcow2IncompatCorrupt != 0 {
		q.info.Warnings = append(q.info.Warnings, "the image is marked corrupt by QEMU (incompatible feature bit 1): its tables may point at wrong clusters")
	}
	if h.nbSnapshots > 0 {
		q.info.Notes = append(q.info.Notes, fmt.Sprintf("%d internal snapshot(s) not read: the active state of the disk is read", h.nbSnapshots))
		q.info.Metadata["snapshots"] = fmt.Sprint(h.nbSnapshots)
	}
	if err := q.readExtensions(first, h); err != nil {
		return nil, err
	}

	// The L1 table: one entry per L2 table the virtual size needs.
	l2Entries := q.clusterSize / q.entrySize
	need := (q.size + q.clusterSize*l2Entries - 1) / (q.clusterSize * l2Entries)
	if int64(h.l1Size) < need {
		q.info.Warnings = append(q.info.Warnings, fmt.Sprintf("L1 table has %d entries, the virtual size needs %d: the rest reads as unallocated", h.l1Size, need))
	}
	n := min(int64(h.l1Size), need)
	if n*8 > qcow2MaxL1Bytes {
		return nil, fail("L1 table of %d entries is larger than QEMU allows", h.l1Size)
	}
	if h.l1Offset%uint64(q.clusterSize) != 0 && n > 0 {
		return nil, fail("L1 table offset %d (header offset 40) is not cluster aligned", h.l1Offset)
	}
	if n > 0 && (h.l1Offset > uint64(fileSize) || int64(h.l1Offset)+n*8 > fileSize) {
		return nil, fail("L1 table at offset %d (%d entries) runs past the end of the file (%d bytes)", h.l1Offset, n, fileSize)
	}
	raw := make([]byte, n*8)
	if _, err := r.ReadAt(raw, int64(h.l1Offset)); err != nil && err != io.EOF {
		return nil, fail("reading L1 table at offset %d: %v", h.l1Offset, err)
	}
	q.l1 = make([]uint64, n)
	for i := range q.l1 {
		q.l1[i] = binary.BigEndian.Uint64(raw[i*8:])
	}
	entries := max(4, qcow2CacheBytes/q.clusterSize)
	q.l2cache = newChunkCache(int(entries))
	q.ccache = newChunkCache(int(entries))

	if h.backingOffset != 0 && h.backingSize != 0 {
		if h.backingSize > 1023 || h.backingOffset > uint64(fileSize) || int64(h.backingOffset)+int64(h.backingSize) > fileSize {
			return nil, fail("backing file name at offset %d (%d bytes) is out of bounds", h.backingOffset, h.backingSize)
		}
		b := make([]byte, h.backingSize)
		if _, err := r.ReadAt(b, int64(h.backingOffset)); err != nil {
			return nil, fail("reading backing file name at offset %d: %v", h.backingOffset, err)
		}
		bname := string(b)
		q.info.Metadata["backing_file"] = bname
		if parent == nil {
			return nil, fail("has backing file %q, which cannot be opened here", bname)
		}
		bimg, err := parent(bname)
		if err != nil {
			return nil, fmt.Errorf("qcow2: %s: backing file: %w", name, err)
		}
		q.backing = bimg
		bi := bimg.Info()
		q.info.Segments = append(q.info.Segments, bi.Segments...)
		q.info.Notes = append(q.info.Notes, fmt.Sprintf("clusters the image does not hold are read from its backing file %s (%s)", bi.Segments[0], bi.Format))
		for _, n := range bi.Notes {
			q.info.Notes = append(q.info.Notes, "backing file: "+n)
		}
		for _, w := range bi.Warnings {
			q.info.Warnings = append(q.info.Warnings, "backing file: "+w)
		}
	}
	return q, nil
}

// readExtensions reads the header extensions that follow the header in the
// first cluster; only the backing file format and the encryption header
// matter to a reader.
func (q *QCOW2) readExtensions(first []byte, h qcow2Header) error {
	end := min(int64(len(first)), q.clusterSize)
	off := int64(h.headerLength)
	for off+8 <= end {
		typ := binary.BigEndian.Uint32(first[off:])
		ln := int64(binary.BigEndian.Uint32(first[off+4:]))
		if typ == 0 {
			return nil
		}
		data := off + 8
		if data+ln > end {
			q.info.Warnings = append(q.info.Warnings, fmt.Sprintf("header extension 0x%08x at offset %d (%d bytes) runs past the first cluster; extensions after it ignored", typ, off, ln))
			return nil
		}
		switch typ {
		case 0xe2792aca:
			q.info.Metadata["backing_format"] = string(first[data : data+ln])
		case 0x0537be77:
			return &UnsupportedError{Path: q.name, Variant: "QCOW2 encrypted (full disk encryption header)"}
		}
		off = data + (ln+7)&^7
	}
	return nil
}

// Size is the virtual disk size.
func (q *QCOW2) Size() int64 { return q.size }

// Info describes the image: Segments lists it then its backing chain.
func (q *QCOW2) Info() Info { return q.info.clone() }

// Close closes the image and its backing chain.
func (q *QCOW2) Close() error {
	var err error
	if q.backing != nil {
		err = q.backing.Close()
	}
	q.zmu.Lock()
	if q.zdec != nil {
		q.zdec.Close()
		q.zdec = nil
	}
	q.zmu.Unlock()
	if q.c != nil {
		if e := q.c.Close(); e != nil {
			err = e
		}
	}
	return err
}

// ReadAt reads virtual disk bytes. A range touching a cluster that cannot
// be read returns the bytes before it and a *ClusterError.
func (q *QCOW2) ReadAt(p []byte, off int64) (int, error) {
	return readPieces("qcow2", p, off, q.size, q.readPiece)
}

// readPiece fills the start of p from one cluster (one subcluster with
// extended L2 entries) and returns how many bytes it filled.
func (q *QCOW2) readPiece(p []byte, off int64) (int, error) {
	ci := off >> q.clusterBits
	within := off & (q.clusterSize - 1)
	run := min(int64(len(p)), q.clusterSize-within, q.size-off)
	cerr := func(file int64, format string, args ...any) error {
		return &ClusterError{Format: "qcow2", File: q.name, Virtual: off, Offset: file, Err: fmt.Errorf(format, args...)}
	}
	entry, bitmap, err := q.l2Entry(ci)
	if err != nil {
		return 0, cerr(-1, "%v", err)
	}
	dst := p[:run]
	switch {
	case entry&qcow2CompressedFlag != 0:
		data, host, err := q.compressedCluster(entry)
		if err != nil {
			return 0, cerr(host, "%v", err)
		}
		return copy(dst, data[within:]), nil
	case q.entrySize == 16:
		sub := within / q.subSize
		run = min(run, (sub+1)*q.subSize-within)
		dst = p[:run]
		host := int64(entry & qcow2HostOffsetMask)
		switch {
		case bitmap&(1<<sub) != 0:
			if host == 0 {
				return 0, cerr(-1, "subcluster %d is marked allocated in a cluster with no host offset", sub)
			}
			return q.readHost(dst, host+within, off)
		case bitmap&(1<<(32+sub)) != 0:
			clear(dst)
			return len(dst), nil
		}
		return q.readBacking(dst, off)
	case entry&qcow2ZeroFlag != 0:
		clear(dst)
		return len(dst), nil
	}
	host := int64(entry & qcow2HostOffsetMask)
	if host == 0 {
		return q.readBacking(dst, off)
	}
	if host&(q.clusterSize-1) != 0 {
		return 0, cerr(host, "L2 entry points at an unaligned host offset")
	}
	return q.readHost(dst, host+within, off)
}

func (q *QCOW2) readHost(dst []byte, host, virt int64) (int, error) {
	if host+int64(len(dst)) > q.fileSize {
		return 0, &ClusterError{Format: "qcow2", File: q.name, Virtual: virt, Offset: host, Err: fmt.Errorf("cluster data runs past the end of the file (%d bytes)", q.fileSize)}
	}
	if _, err := q.r.ReadAt(dst, host); err != nil {
		return 0, &ClusterError{Format: "qcow2", File: q.name, Virtual: virt, Offset: host, Err: err}
	}
	return len(dst), nil
}

// readBacking fills dst with what the backing file holds at off: zeros
// without a backing file or past its end.
func (q *QCOW2) readBacking(dst []byte, off int64) (int, error) {
	if _, err := readParent(q.backing, dst, off); err != nil {
		return 0, err
	}
	return len(dst), nil
}

// l2Entry returns the L2 entry of cluster ci, and its subcluster bitmap
// with extended L2 entries; 0 is unallocated.
func (q *QCOW2) l2Entry(ci int64) (entry, bitmap uint64, err error) {
	per := q.clusterSize / q.entrySize
	l1i := ci / per
	if l1i >= int64(len(q.l1)) {
		return 0, 0, nil
	}
	l2off := int64(q.l1[l1i] & qcow2HostOffsetMask)
	if l2off == 0 {
		return 0, 0, nil
	}
	table, ok := q.l2cache.get(l2off)
	if !ok {
		if l2off&(q.clusterSize-1) != 0 || l2off+q.clusterSize > q.fileSize {
			return 0, 0, fmt.Errorf("L1 entry %d points at L2 table offset %d, unaligned or past the end of the file (%d bytes)", l1i, l2off, q.fileSize)
		}
		table = make([]byte, q.clusterSize)
		if _, err := q.r.ReadAt(table, l2off); err != nil {
			return 0, 0, fmt.Errorf("reading L2 table at offset %d: %v", l2off, err)
		}
		q.l2cache.put(l2off, table)
	}
	i := (ci % per) * q.entrySize
	entry = binary.BigEndian.Uint64(table[i:])
	if q.entrySize == 16 {
		bitmap = binary.BigEndian.Uint64(table[i+8:])
	}
	return entry, bitmap, nil
}

// compressedCluster inflates the compressed cluster an L2 entry describes.
// Its host offset and length in 512-byte sectors share the entry's bits
// 0-61, split at 62-(cluster_bits-8).
func (q *QCOW2) compressedCluster(entry uint64) ([]byte, int64, error) {
	x := 62 - (q.clusterBits - 8)
	host := int64(entry & (1<<x - 1))
	sectors := int64((entry>>x)&(1<<(62-x)-1)) + 1
	csize := sectors*512 - host&511
	if b, ok := q.ccache.get(host); ok {
		return b, host, nil
	}
	if host >= q.fileSize {
		return nil, host, fmt.Errorf("compressed cluster starts past the end of the file (%d bytes)", q.fileSize)
	}
	// The sector count rounds up, so the last cluster's may run past the
	// end of the file: only what is there is read.
	buf := make([]byte, min(csize, q.fileSize-host))
	if _, err := q.r.ReadAt(buf, host); err != nil && err != io.EOF {
		return nil, host, err
	}
	out := make([]byte, q.clusterSize)
	var err error
	if q.zstd {
		err = q.unzstd(out, buf)
	} else {
		err = q.inflate(out, buf)
	}
	if err != nil {
		return nil, host, err
	}
	q.ccache.put(host, out)
	return out, host, nil
}

// inflate decodes a raw deflate stream (no zlib header: QEMU writes with
// window bits -12) that must fill out.
func (q *QCOW2) inflate(out, in []byte) error {
	br := bytes.NewReader(in)
	var zr io.ReadCloser
	if v := q.flatePool.Get(); v != nil {
		zr = v.(io.ReadCloser)
		zr.(flate.Resetter).Reset(br, nil)
	} else {
		zr = flate.NewReader(br)
	}
	defer q.flatePool.Put(zr)
	if _, err := io.ReadFull(zr, out); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return errors.New("deflate stream ends before the cluster is full")
		}
		return fmt.Errorf("deflate: %w", err)
	}
	return nil
}

// unzstd decodes a zstd frame that must fill out; the sector padding after
// the frame is never read.
func (q *QCOW2) unzstd(out, in []byte) error {
	q.zmu.Lock()
	defer q.zmu.Unlock()
	if q.zdec == nil {
		// Concurrency 1: the decoder decodes in the caller's goroutine.
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(4*q.clusterSize)))
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
		q.zdec = d
	}
	if err := q.zdec.Reset(bytes.NewReader(in)); err != nil {
		return fmt.Errorf("zstd: %w", err)
	}
	if _, err := io.ReadFull(q.zdec, out); err != nil {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return errors.New("zstd frame ends before the cluster is full")
		}
		return fmt.Errorf("zstd: %w", err)
	}
	return nil
}

// clone copies an Info so a caller cannot change the image's own.
func (i Info) clone() Info {
	c := i
	c.Segments = append([]string(nil), i.Segments...)
	c.Warnings = append([]string(nil), i.Warnings...)
	c.Notes = append([]string(nil), i.Notes...)
	if i.Metadata != nil {
		c.Metadata = make(map[string]string, len(i.Metadata))
		for k, v := range i.Metadata {
			c.Metadata[k] = v
		}
	}
	return c
}

var _ Image = (*QCOW2)(nil)
