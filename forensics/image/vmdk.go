package image

// VMDK is decoded here from VMware's "Virtual Disk Format 5.0" technical
// note and what qemu-img writes: no Go module for it is served to this
// project. Read: the text descriptor (embedded in a monolithic sparse file
// or a file of its own), hosted sparse extents (KDMV: grain directory and
// grain tables, compressed grains with markers as in stream-optimised
// images, whose grain directory may sit in a footer), flat extents and zero
// extents, and a parent disk for delta links. Refused with a named
// message: seSparse, vmfsSparse (COWD) and raw device mappings.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jejak-forensics/jejak/internal/rofile"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
)

var (
	vmdkSparseMagic  = []byte("KDMV")
	vmdkCOWDMagic    = []byte("COWD")
	vmdkSESparseHead = []byte{0xbe, 0xba, 0xfe, 0xca, 0, 0, 0, 0} // 0xcafebabe, little-endian u64
	vmdkDescHead     = "#diskdescriptorfile"                      // lower case, spaces removed
)

// isVMDK reports whether head (the first bytes of a file) is a VMDK sparse
// extent (hosted, vmfsSparse or seSparse) or a text descriptor.
func isVMDK(head []byte) bool {
	switch {
	case bytes.HasPrefix(head, vmdkSparseMagic), bytes.HasPrefix(head, vmdkCOWDMagic), bytes.HasPrefix(head, vmdkSESparseHead):
		return true
	}
	return isVMDKDescriptor(head)
}

// isVMDKDescriptor: "# Disk DescriptorFile" as VMware writes it, in any
// case and spacing ("# Disk Descriptor File" is seen too), after an
// optional byte-order mark and blank lines.
func isVMDKDescriptor(head []byte) bool {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	line, _, _ := bytes.Cut(head, []byte("\n"))
	squeezed := strings.ToLower(strings.Join(strings.Fields(string(line)), ""))
	return strings.HasPrefix(squeezed, vmdkDescHead)
}

const (
	vmdkGDAtEnd        = 0xffffffffffffffff
	vmdkFlagZeroGTE    = 1 << 2
	vmdkFlagCompressed = 1 << 16
	vmdkFlagMarkers    = 1 << 17
	vmdkMaxDescriptor  = 1 << 20
	vmdkMaxGDEntries   = 1 << 24 // 64 MiB of directory: far beyond any real disk's
	vmdkCacheBytes     = 8 << 20
)

// VMDK is a VMware virtual disk read as the disk it holds: the extents a
// descriptor lists, in order, each flat, sparse or zero, and the parent
// disk of a delta link for the grains it does not hold. Only grain
// directories are held in memory; grain tables and inflated grains are
// kept in small LRU caches.
type VMDK struct {
	size    int64
	extents []*vmdkExtent
	parent  Image
	info    Info
	closers []io.Closer
}

type vmdkExtent struct {
	start, length int64 // in the virtual disk, bytes
	kind          string
	file          string
	r             io.ReaderAt
	fileSize      int64
	offset        int64       // flat: where the extent's data starts in file
	sp            *vmdkSparse // sparse
}

// vmdkSparse is one hosted sparse extent (a KDMV file).
type vmdkSparse struct {
	name       string
	r          io.ReaderAt
	fileSize   int64
	version    uint32
	capacity   int64 // bytes
	grainSize  int64 // bytes
	gtEntries  int64
	gd         []uint32
	compressed bool
	markers    bool
	zeroGTE    bool
	descriptor []byte          // embedded descriptor text, if any
	grains     map[int64]int64 // footerless stream: grain -> marker offset
	scanEnd    int64           // footerless stream: grains from here on are unknown
	warnings   []string
	gtCache    *chunkCache
	grainCache *chunkCache
	zpool      sync.Pool
	fpool      sync.Pool
}

type vmdkSparseHeader struct {
	version, flags               uint32
	capacity, grainSize          uint64
	descOffset, descSize         uint64
	gtEntries                    uint32
	rgdOffset, gdOffset, overHad uint64
	compressAlgorithm            uint16
}

func parseVMDKSparseHeader(b []byte) (vmdkSparseHeader, error) {
	var h vmdkSparseHeader
	if len(b) < 79 || !bytes.HasPrefix(b, vmdkSparseMagic) {
		return h, errors.New("not a VMDK sparse extent header (KDMV)")
	}
	le := binary.LittleEndian
	h.version = le.Uint32(b[4:])
	h.flags = le.Uint32(b[8:])
	h.capacity = le.Uint64(b[12:])
	h.grainSize = le.Uint64(b[20:])
	h.descOffset = le.Uint64(b[28:])
	h.descSize = le.Uint64(b[36:])
	h.gtEntries = le.Uint32(b[44:])
	h.rgdOffset = le.Uint64(b[48:])
	h.gdOffset = le.Uint64(b[56:])
	h.overHad = le.Uint64(b[64:])
	h.compressAlgorithm = le.Uint16(b[77:])
	return h, nil
}

// newVMDKSparse reads a KDMV extent's header (or, for a stream-optimised
// one, its footer) and grain directory.
func newVMDKSparse(name string, r io.ReaderAt, fileSize int64) (*vmdkSparse, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("vmdk: %s: "+format, append([]any{name}, args...)...)
	}
	var hb [512]byte
	if _, err := r.ReadAt(hb[:], 0); err != nil && err != io.EOF {
		return nil, fail("reading header: %v", err)
	}
	if bytes.HasPrefix(hb[:], vmdkCOWDMagic) {
		return nil, &UnsupportedError{Path: name, Variant: "VMDK vmfsSparse (COWD)"}
	}
	h, err := parseVMDKSparseHeader(hb[:])
	if err != nil {
		return nil, fail("%v", err)
	}
	s := &vmdkSparse{name: name, r: r, fileSize: fileSize, version: h.version}
	if h.descOffset != 0 && h.descSize != 0 {
		if h.descSize*512 > vmdkMaxDescriptor || h.descOffset > uint64(fileSize)/512 {
			return nil, fail("embedded descriptor at sector %d (%d sectors) is out of bounds", h.descOffset, h.descSize)
		}
		d := make([]byte, min(int64(h.descSize)*512, fileSize-int64(h.descOffset)*512))
		if _, err := r.ReadAt(d, int64(h.descOffset)*512); err != nil && err != io.EOF {
			return nil, fail("reading embedded descriptor at offset %d: %v", h.descOffset*512, err)
		}
		if i := bytes.IndexByte(d, 0); i >= 0 {
			d = d[:i]
		}
		// The extents of a split set reserve room for a descriptor and
		// leave it empty: only the set's descriptor file describes it.
		if len(bytes.TrimSpace(d)) > 0 {
			s.descriptor = d
		}
	}
	noFooter := false
	if h.gdOffset == vmdkGDAtEnd {
		// Stream-optimised: the header was written before the tables; the
		// footer (a header copy with the real gdOffset) sits before the
		// end-of-stream marker, in the file's second-to-last sector. A
		// stream cut short (an interrupted download or copy) has none: its
		// grains are then found by their markers.
		var fb [512]byte
		fh, err := vmdkSparseHeader{}, errors.New("file too short")
		if fileSize >= 1536 {
			if _, err = r.ReadAt(fb[:], fileSize-1024); err == nil {
				fh, err = parseVMDKSparseHeader(fb[:])
			}
		}
		if err != nil || fh.gdOffset == vmdkGDAtEnd || fh.gdOffset == 0 {
			noFooter = true
		} else {
			h.gdOffset, h.rgdOffset = fh.gdOffset, fh.rgdOffset
			if h.capacity == 0 {
				h.capacity = fh.capacity
			}
		}
	}
	switch {
	case h.version < 1 || h.version > 3:
		return nil, fail("sparse extent version %d at offset 4 is unknown (1-3)", h.version)
	case h.grainSize < 1 || h.grainSize > 1<<16 || h.grainSize&(h.grainSize-1) != 0:
		return nil, fail("grain size %d sectors at offset 20 is not a power of two up to 65536", h.grainSize)
	case h.gtEntries < 1 || h.gtEntries > 1<<16:
		return nil, fail("%d grain table entries at offset 44 is implausible", h.gtEntries)
	case h.capacity > 1<<52:
		return nil, fail("capacity of %d sectors at offset 12 is implausible", h.capacity)
	}
	s.capacity = int64(h.capacity) * 512
	s.grainSize = int64(h.grainSize) * 512
	s.gtEntries = int64(h.gtEntries)
	s.compressed = h.flags&vmdkFlagCompressed != 0
	s.markers = h.flags&vmdkFlagMarkers != 0
	s.zeroGTE = h.flags&vmdkFlagZeroGTE != 0
	if s.compressed && h.compressAlgorithm != 1 {
		return nil, &UnsupportedError{Path: name, Variant: fmt.Sprintf("VMDK with compressed grains (algorithm %d)", h.compressAlgorithm)}
	}
	span := s.grainSize * s.gtEntries
	n := (s.capacity + span - 1) / span
	if n > vmdkMaxGDEntries {
		return nil, fail("grain directory of %d entries is implausible", n)
	}
	if noFooter {
		if !s.compressed || !s.markers {
			return nil, fail("grain directory is at the end (stream-optimised) but there is no footer at offset %d and no grain markers to scan", fileSize-1024)
		}
		if err := s.scanMarkers(int64(h.overHad) * 512); err != nil {
			return nil, fail("%v", err)
		}
		n = 0
	}
	var lastErr error
	for _, gdOff := range []uint64{h.gdOffset, h.rgdOffset} {
		if noFooter {
			break
		}
		if gdOff == 0 || gdOff == vmdkGDAtEnd || gdOff > uint64(fileSize)/512 || int64(gdOff)*512+n*4 > fileSize {
			lastErr = fail("grain directory at sector %d (%d entries) is outside the file (%d bytes)", gdOff, n, fileSize)
			continue
		}
		raw := make([]byte, n*4)
		if _, err := r.ReadAt(raw, int64(gdOff)*512); err != nil {
			lastErr = fail("reading grain directory at offset %d: %v", gdOff*512, err)
			continue
		}
		s.gd = make([]uint32, n)
		for i := range s.gd {
			s.gd[i] = binary.LittleEndian.Uint32(raw[i*4:])
		}
		lastErr = nil
		break
	}
	if lastErr != nil && n > 0 {
		if !s.compressed || !s.markers {
			return nil, lastErr
		}
		// A stream-optimised extent whose directory is unreadable: its
		// grains still carry their own markers.
		s.warnings = append(s.warnings, lastErr.Error()+": grains found by their markers instead")
		if err := s.scanMarkers(int64(h.overHad) * 512); err != nil {
			return nil, fail("%v", err)
		}
	}
	entries := max(4, vmdkCacheBytes/(s.gtEntries*4))
	s.gtCache = newChunkCache(int(entries))
	s.grainCache = newChunkCache(int(max(4, vmdkCacheBytes/s.grainSize)))
	return s, nil
}

// grain states a sparse extent reports for a virtual offset.
const (
	grainData = iota
	grainZero
	grainUnallocated
)

// read fills the start of dst (which stays inside one grain) from the
// extent at its offset off; unallocated grains are left to the caller.
func (s *vmdkSparse) read(dst []byte, off int64) (state int, err error) {
	g := off / s.grainSize
	within := off % s.grainSize
	gdi := g / s.gtEntries
	cerr := func(file int64, format string, args ...any) error {
		return &ClusterError{Format: "vmdk", File: s.name, Virtual: off, Offset: file, Err: fmt.Errorf(format, args...)}
	}
	if s.grains != nil {
		// A stream without its footer: grains by their markers.
		at, ok := s.grains[g]
		switch {
		case ok:
			return s.readCompressed(dst, at, g, within)
		case g >= s.scanEnd:
			return 0, cerr(-1, "the stream is cut short at file offset %d, before this grain", s.fileSize)
		}
		return grainUnallocated, nil
	}
	if gdi >= int64(len(s.gd)) || s.gd[gdi] == 0 {
		return grainUnallocated, nil
	}
	gtOff := int64(s.gd[gdi]) * 512
	gt, ok := s.gtCache.get(gtOff)
	if !ok {
		if gtOff+s.gtEntries*4 > s.fileSize {
			return 0, cerr(gtOff, "grain directory entry %d points at a grain table past the end of the file (%d bytes)", gdi, s.fileSize)
		}
		gt = make([]byte, s.gtEntries*4)
		if _, err := s.r.ReadAt(gt, gtOff); err != nil {
			return 0, cerr(gtOff, "reading grain table: %v", err)
		}
		s.gtCache.put(gtOff, gt)
	}
	gte := int64(binary.LittleEndian.Uint32(gt[(g%s.gtEntries)*4:]))
	switch {
	case gte == 0:
		return grainUnallocated, nil
	case gte == 1 && (s.zeroGTE || s.compressed):
		clear(dst)
		return grainZero, nil
	}
	at := gte * 512
	if !s.compressed {
		if at+within+int64(len(dst)) > s.fileSize {
			return 0, cerr(at, "grain runs past the end of the file (%d bytes)", s.fileSize)
		}
		if _, err := s.r.ReadAt(dst, at+within); err != nil {
			return 0, cerr(at, "%v", err)
		}
		return grainData, nil
	}
	return s.readCompressed(dst, at, g, within)
}

func (s *vmdkSparse) readCompressed(dst []byte, at, g, within int64) (int, error) {
	data, ok := s.grainCache.get(at)
	if !ok {
		var err error
		if data, err = s.inflateGrain(at, g); err != nil {
			return 0, &ClusterError{Format: "vmdk", File: s.name, Virtual: g*s.grainSize + within, Offset: at, Err: err}
		}
		s.grainCache.put(at, data)
	}
	copy(dst, data[within:])
	return grainData, nil
}

// maxScannedGrains bounds the grain index a footerless stream builds
// (24 bytes or so each): 4M grains are 256 GiB of 64 KiB grains.
const maxScannedGrains = 4 << 20

// scanMarkers walks the markers of a stream-optimised extent from the end
// of its metadata (start): each grain marker (its first sector, its
// stream's length) is indexed; table, directory and footer markers are
// skipped by their sector count; the end-of-stream marker ends the walk.
// Where the markers stop before it, the stream was cut short: grains past
// the last one seen cannot be read (s.scanEnd), and a warning says so.
func (s *vmdkSparse) scanMarkers(start int64) error {
	if start <= 0 {
		start = 512
	}
	s.grains = map[int64]int64{}
	off := start
	var m [16]byte
	for {
		if off+16 > s.fileSize {
			s.warnings = append(s.warnings, fmt.Sprintf("stream-optimised extent %s is cut short at %d bytes (no footer, no end-of-stream marker): %d grains found by their markers; reads past the last one (virtual offset %d) fail", filepath.Base(s.name), s.fileSize, len(s.grains), s.scanEnd*s.grainSize))
			return nil
		}
		if _, err := s.r.ReadAt(m[:], off); err != nil {
			return fmt.Errorf("reading marker at offset %d: %v", off, err)
		}
		val := binary.LittleEndian.Uint64(m[:])
		size := int64(binary.LittleEndian.Uint32(m[8:]))
		if size > 0 {
			if size > 2*s.grainSize+4096 || int64(val)*512%s.grainSize != 0 || val > 1<<52 {
				s.warnings = append(s.warnings, fmt.Sprintf("stream-optimised extent %s: no valid marker at offset %d (footer missing): %d grains found before it; reads past virtual offset %d fail", filepath.Base(s.name), off, len(s.grains), s.scanEnd*s.grainSize))
				return nil
			}
			if off+12+size > s.fileSize {
				// The grain the cut went through.
				s.warnings = append(s.warnings, fmt.Sprintf("stream-optimised extent %s is cut short at %d bytes, inside the grain at offset %d (no footer): %d grains found by their markers; reads past the last one (virtual offset %d) fail", filepath.Base(s.name), s.fileSize, off, len(s.grains), s.scanEnd*s.grainSize))
				return nil
			}
			if len(s.grains) >= maxScannedGrains {
				return fmt.Errorf("more than %d grains in a stream without a footer", maxScannedGrains)
			}
			g := int64(val) * 512 / s.grainSize
			s.grains[g] = off
			s.scanEnd = max(s.scanEnd, g+1)
			off = (off + 12 + size + 511) &^ 511
			continue
		}
		switch binary.LittleEndian.Uint32(m[12:]) {
		case 0: // end of stream: every grain was seen
			s.scanEnd = 1 << 62
			s.warnings = append(s.warnings, fmt.Sprintf("stream-optimised extent %s has no footer: its %d grains were found by their markers", filepath.Base(s.name), len(s.grains)))
			return nil
		case 1, 2, 3: // grain table, grain directory, footer
			if val > uint64(s.fileSize)/512 {
				val = uint64(s.fileSize) / 512
			}
			off += 512 + int64(val)*512
		default:
			s.warnings = append(s.warnings, fmt.Sprintf("stream-optimised extent %s: unknown marker type at offset %d (footer missing): %d grains found before it; reads past virtual offset %d fail", filepath.Base(s.name), off, len(s.grains), s.scanEnd*s.grainSize))
			return nil
		}
	}
}

// inflateGrain decodes the compressed grain g stored at file offset at:
// with markers, a 12-byte header (the grain's first sector, the stream's
// length) precedes the stream.
func (s *vmdkSparse) inflateGrain(at, g int64) ([]byte, error) {
	if at >= s.fileSize {
		return nil, fmt.Errorf("compressed grain starts past the end of the file (%d bytes)", s.fileSize)
	}
	var stream []byte
	if s.markers {
		var m [12]byte
		if _, err := s.r.ReadAt(m[:], at); err != nil {
			return nil, fmt.Errorf("reading grain marker: %v", err)
		}
		lba := int64(binary.LittleEndian.Uint64(m[:]))
		size := int64(binary.LittleEndian.Uint32(m[8:]))
		if lba*512 != g*s.grainSize {
			return nil, fmt.Errorf("grain marker says sector %d, the grain table says grain %d (sector %d)", lba, g, g*s.grainSize/512)
		}
		if size == 0 || size > 2*s.grainSize+4096 || at+12+size > s.fileSize {
			return nil, fmt.Errorf("grain marker's stream length %d is implausible or runs past the end of the file", size)
		}
		stream = make([]byte, size)
		if _, err := s.r.ReadAt(stream, at+12); err != nil {
			return nil, err
		}
	} else {
		stream = make([]byte, min(2*s.grainSize+4096, s.fileSize-at))
		if _, err := s.r.ReadAt(stream, at); err != nil && err != io.EOF {
			return nil, err
		}
	}
	out := make([]byte, s.grainSize)
	br := bytes.NewReader(stream)
	var zr io.ReadCloser
	var pool *sync.Pool
	// VMware and qemu-img write zlib streams (RFC 1950); a raw deflate
	// stream is accepted too, as some converters write one.
	if len(stream) >= 2 && stream[0]&0x0f == 8 && (uint16(stream[0])<<8|uint16(stream[1]))%31 == 0 {
		pool = &s.zpool
		if v := pool.Get(); v != nil {
			zr = v.(io.ReadCloser)
			if err := zr.(zlib.Resetter).Reset(br, nil); err != nil {
				return nil, fmt.Errorf("zlib: %w", err)
			}
		} else {
			var err error
			if zr, err = zlib.NewReader(br); err != nil {
				return nil, fmt.Errorf("zlib: %w", err)
			}
		}
	} else {
		pool = &s.fpool
		if v := pool.Get(); v != nil {
			zr = v.(io.ReadCloser)
			zr.(flate.Resetter).Reset(br, nil)
		} else {
			zr = flate.NewReader(br)
		}
	}
	defer pool.Put(zr)
	// The last grain of a disk whose size is not a whole number of grains
	// holds fewer bytes: the rest reads as zeros.
	n, err := io.ReadFull(zr, out)
	if err != nil && !(err == io.ErrUnexpectedEOF && (g+1)*s.grainSize > s.capacity) {
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return nil, fmt.Errorf("compressed stream ends after %d bytes of a %d-byte grain", n, s.grainSize)
		}
		return nil, fmt.Errorf("inflate: %w", err)
	}
	return out, nil
}

// vmdkDescriptor is what a reader needs of a descriptor's text.
type vmdkDescriptor struct {
	createType string
	cid        string
	parentCID  string
	parentHint string
	extents    []vmdkDescExtent
}

type vmdkDescExtent struct {
	line    int
	sectors int64
	kind    string // FLAT, SPARSE, ZERO, VMFS, VMFSSPARSE, SESPARSE, ...
	file    string
	offset  int64 // sectors, FLAT
}

var vmdkExtentLine = regexp.MustCompile(`^(RW|RDONLY|NOACCESS)\s+(\d+)\s+([A-Za-z]+)(?:\s+"([^"]*)"(?:\s+(\d+))?)?`)

func parseVMDKDescriptor(text []byte) (*vmdkDescriptor, error) {
	d := &vmdkDescriptor{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 4096), vmdkMaxDescriptor)
	for ln := 1; sc.Scan(); ln++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		if m := vmdkExtentLine.FindStringSubmatch(l); m != nil {
			e := vmdkDescExtent{line: ln, kind: strings.ToUpper(m[3]), file: m[4]}
			var err error
			if e.sectors, err = strconv.ParseInt(m[2], 10, 64); err != nil || e.sectors < 0 || e.sectors > 1<<52 {
				return nil, fmt.Errorf("descriptor line %d: extent size %q", ln, m[2])
			}
			if m[5] != "" {
				if e.offset, err = strconv.ParseInt(m[5], 10, 64); err != nil || e.offset < 0 || e.offset > 1<<52 {
					return nil, fmt.Errorf("descriptor line %d: extent offset %q", ln, m[5])
				}
			}
			if e.kind != "ZERO" && e.file == "" {
				return nil, fmt.Errorf("descriptor line %d: %s extent without a file name", ln, e.kind)
			}
			d.extents = append(d.extents, e)
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.ToLower(k) {
		case "createtype":
			d.createType = v
		case "cid":
			d.cid = v
		case "parentcid":
			d.parentCID = v
		case "parentfilenamehint":
			d.parentHint = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("descriptor: %v", err)
	}
	return d, nil
}

// OpenVMDK opens a VMDK disk from its descriptor file, its monolithic
// sparse file, or one extent of a split set (the set's descriptor is then
// looked for beside it).
func OpenVMDK(path string) (*VMDK, error) { return openVMDK(path, 0, Options{}) }

var vmdkSplitName = regexp.MustCompile(`(?i)^(.*)-(s|f)\d{3}\.vmdk$`)

func openVMDK(path string, depth int, o Options) (*VMDK, error) {
	f, size, err := openSized(path, "vmdk")
	if err != nil {
		return nil, err
	}
	head := make([]byte, 512)
	n, err := f.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		f.Close()
		return nil, fmt.Errorf("vmdk: %s: %w", path, err)
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, vmdkCOWDMagic):
		f.Close()
		return nil, &UnsupportedError{Path: path, Variant: "VMDK vmfsSparse (COWD)"}
	case bytes.HasPrefix(head, vmdkSESparseHead):
		f.Close()
		return nil, &UnsupportedError{Path: path, Variant: "VMDK seSparse"}
	case isVMDKDescriptor(head):
		defer f.Close()
		if size > vmdkMaxDescriptor {
			return nil, fmt.Errorf("vmdk: %s: a descriptor file of %d bytes is implausible", path, size)
		}
		text, err := io.ReadAll(io.NewSectionReader(f, 0, size))
		if err != nil {
			return nil, fmt.Errorf("vmdk: %s: %w", path, err)
		}
		d, err := parseVMDKDescriptor(text)
		if err != nil {
			return nil, fmt.Errorf("vmdk: %s: %w", path, err)
		}
		v := &VMDK{info: Info{Format: "vmdk", Segments: []string{path}}}
		if err := v.build(path, d, nil, depth, o); err != nil {
			v.Close()
			return nil, err
		}
		return v, nil
	}
	// A KDMV sparse extent.
	sp, err := newVMDKSparse(path, f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	if sp.descriptor == nil {
		// An extent of a split set, named "<disk>-sNNN.vmdk": the set is
		// its descriptor "<disk>.vmdk" when that lists this file.
		if m := vmdkSplitName.FindStringSubmatch(filepath.Base(path)); m != nil {
			desc := filepath.Join(filepath.Dir(path), m[1]+".vmdk")
			if b, err := readDescriptorFile(desc); err == nil && isVMDKDescriptor(b) {
				if d, err := parseVMDKDescriptor(b); err == nil && d.lists(filepath.Base(path)) {
					f.Close()
					return openVMDK(desc, depth, o)
				}
			}
		}
		v := &VMDK{info: Info{Format: "vmdk", Segments: []string{path}}, closers: []io.Closer{f}}
		v.info.Warnings = append(v.info.Warnings, "sparse extent without a descriptor, and no descriptor beside it lists it: read alone, so the other extents of its disk are missing")
		v.info.Warnings = append(v.info.Warnings, sp.warnings...)
		v.extents = []*vmdkExtent{{length: sp.capacity, kind: "SPARSE", file: path, r: f, fileSize: size, sp: sp}}
		v.size = sp.capacity
		v.setSparseMeta(sp)
		return v, nil
	}
	d, err := parseVMDKDescriptor(sp.descriptor)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("vmdk: %s: embedded %w", path, err)
	}
	v := &VMDK{info: Info{Format: "vmdk", Segments: []string{path}}, closers: []io.Closer{f}}
	if err := v.build(path, d, &vmdkExtent{kind: "SPARSE", file: path, r: f, fileSize: size, sp: sp}, depth, o); err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// readDescriptorFile reads a small file whole; a file larger than any
// descriptor (a monolithic image of the same name) is not read.
func readDescriptorFile(path string) ([]byte, error) {
	f, err := rofile.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > vmdkMaxDescriptor {
		return nil, errors.New("not a descriptor file")
	}
	return io.ReadAll(io.LimitReader(f, vmdkMaxDescriptor))
}

func (d *vmdkDescriptor) lists(base string) bool {
	for _, e := range d.extents {
		if recordedBase(e.file) == base {
			return true
		}
	}
	return false
}

func (v *VMDK) setSparseMeta(sp *vmdkSparse) {
	if v.info.Metadata == nil {
		v.info.Metadata = map[string]string{}
	}
	v.info.Metadata["format_version"] = fmt.Sprint(sp.version)
	v.info.Metadata["grain_size"] = fmt.Sprint(sp.grainSize)
	if sp.compressed {
		v.info.Metadata["compressed_grains"] = "deflate"
	}
	v.info.Metadata["virtual_size"] = fmt.Sprint(v.size)
}

// build opens the extents a descriptor lists (self is the monolithic
// sparse file that embeds it, used whatever name the descriptor gives it:
// evidence copies get renamed), then the parent of a delta link.
func (v *VMDK) build(path string, d *vmdkDescriptor, self *vmdkExtent, depth int, o Options) error {
	if v.info.Metadata == nil {
		v.info.Metadata = map[string]string{}
	}
	v.info.Metadata["create_type"] = d.createType
	ct := strings.ToLower(d.createType)
	switch {
	case ct == "sesparse":
		return &UnsupportedError{Path: path, Variant: "VMDK seSparse"}
	case ct == "vmfssparse":
		return &UnsupportedError{Path: path, Variant: "VMDK vmfsSparse (COWD)"}
	case ct == "vmfsrdm" || ct == "vmfsrawdevicemap" || ct == "vmfspassthroughrawdevicemap" || ct == "fulldevice" || ct == "partitioneddevice":
		return &UnsupportedError{Path: path, Variant: "VMDK raw device mapping (" + d.createType + ")"}
	}
	if len(d.extents) == 0 {
		return fmt.Errorf("vmdk: %s: the descriptor lists no extent", path)
	}
	if self != nil && len(d.extents) != 1 {
		return fmt.Errorf("vmdk: %s: the embedded descriptor lists %d extents, a monolithic sparse file has one", path, len(d.extents))
	}
	var missing []string
	var off int64
	seen := map[string]*os.File{}
	for _, de := range d.extents {
		e := &vmdkExtent{start: off, length: de.sectors * 512, kind: de.kind, offset: de.offset * 512}
		off += e.length
		if off > 1<<61 {
			return fmt.Errorf("vmdk: %s: the extents up to descriptor line %d add up to an implausible %d bytes", path, de.line, off)
		}
		switch de.kind {
		case "ZERO":
			v.extents = append(v.extents, e)
			continue
		case "SESPARSE":
			return &UnsupportedError{Path: path, Variant: "VMDK seSparse"}
		case "VMFSSPARSE":
			return &UnsupportedError{Path: path, Variant: "VMDK vmfsSparse (COWD)"}
		case "VMFSRDM", "VMFSRAW":
			return &UnsupportedError{Path: path, Variant: "VMDK raw device mapping (" + de.kind + " extent)"}
		case "FLAT", "VMFS", "SPARSE":
		default:
			return &UnsupportedError{Path: path, Variant: fmt.Sprintf("VMDK extent type %s (descriptor line %d)", de.kind, de.line)}
		}
		if self != nil {
			e.kind, e.file, e.r, e.fileSize, e.sp = self.kind, self.file, self.r, self.fileSize, self.sp
		} else {
			name, ok := resolveBeside(path, de.file)
			if !ok {
				missing = append(missing, filepath.Join(filepath.Dir(path), recordedBase(de.file)))
				continue
			}
			f := seen[name]
			if f == nil {
				var err error
				if f, err = rofile.Open(name); err != nil {
					return fmt.Errorf("vmdk: %s: extent on descriptor line %d: %w", path, de.line, err)
				}
				seen[name] = f
				v.closers = append(v.closers, f)
				v.info.Segments = append(v.info.Segments, name)
			}
			st, err := f.Stat()
			if err != nil {
				return fmt.Errorf("vmdk: %s: %w", name, err)
			}
			e.file, e.r, e.fileSize = name, f, st.Size()
			if de.kind == "SPARSE" {
				if e.sp, err = newVMDKSparse(name, f, st.Size()); err != nil {
					return err
				}
			}
		}
		if e.sp != nil {
			v.info.Warnings = append(v.info.Warnings, e.sp.warnings...)
			if e.sp.capacity != e.length {
				v.info.Warnings = append(v.info.Warnings, fmt.Sprintf("%s: sparse extent holds %d bytes, the descriptor lists %d: the descriptor's size is used", filepath.Base(e.file), e.sp.capacity, e.length))
			}
			if v.info.Metadata["format_version"] == "" {
				v.setSparseMeta(e.sp)
			}
		} else if e.offset+e.length > e.fileSize {
			v.info.Warnings = append(v.info.Warnings, fmt.Sprintf("%s: flat extent needs %d bytes from offset %d, the file has %d: reads past its end fail", filepath.Base(e.file), e.length, e.offset, e.fileSize))
		}
		v.extents = append(v.extents, e)
	}
	if len(missing) > 0 {
		return &MissingSegmentError{Missing: missing, Set: path}
	}
	v.size = off
	v.info.Metadata["virtual_size"] = fmt.Sprint(v.size)
	if d.cid != "" {
		v.info.Metadata["cid"] = d.cid
	}
	if d.parentCID != "" && !strings.EqualFold(d.parentCID, "ffffffff") {
		v.info.Metadata["parent_cid"] = d.parentCID
		if d.parentHint == "" {
			return fmt.Errorf("vmdk: %s: a delta disk (parentCID %s) without a parentFileNameHint", path, d.parentCID)
		}
		v.info.Metadata["parent_file"] = d.parentHint
		p, err := openParent(path, d.parentHint, depth+1, "parent", o)
		if err != nil {
			return fmt.Errorf("vmdk: %s: parent disk: %w", path, err)
		}
		v.parent = p
		pi := p.Info()
		v.info.Segments = append(v.info.Segments, pi.Segments...)
		v.info.Notes = append(v.info.Notes, fmt.Sprintf("grains the delta disk does not hold are read from its parent %s (%s)", pi.Segments[0], pi.Format))
		if cid := pi.Metadata["cid"]; cid != "" && !strings.EqualFold(cid, d.parentCID) {
			v.info.Warnings = append(v.info.Warnings, fmt.Sprintf("parent %s has CID %s, the delta disk expects %s: the parent changed after the snapshot was taken", filepath.Base(pi.Segments[0]), cid, d.parentCID))
		}
		for _, n := range pi.Notes {
			v.info.Notes = append(v.info.Notes, "parent: "+n)
		}
		for _, w := range pi.Warnings {
			v.info.Warnings = append(v.info.Warnings, "parent: "+w)
		}
	}
	return nil
}

// resolveBeside finds a file a descriptor or image names: an absolute
// name when it exists, else the recorded relative path inside the
// descriptor's folder, else the base name in that folder.
// A name recorded on a Windows host ("C:\VMs\base.vmdk", a VMware
// parentFileNameHint) is looked for by its last element.
func resolveBeside(from, recorded string) (string, bool) {
	dir := filepath.Dir(from)
	var cands []string
	if filepath.IsAbs(recorded) {
		cands = append(cands, recorded)
	} else if rel := filepath.Clean(recorded); rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !strings.Contains(recorded, `\`) {
		cands = append(cands, filepath.Join(dir, rel))
	}
	cands = append(cands, filepath.Join(dir, recordedBase(recorded)))
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c, true
		}
	}
	return "", false
}

// recordedBase is the last element of a recorded path, separated by / or
// by \ (Windows hosts).
func recordedBase(recorded string) string {
	if i := strings.LastIndexAny(recorded, `/\`); i >= 0 {
		return recorded[i+1:]
	}
	return recorded
}

// Size is the virtual disk size: the sum of the extents' sizes.
func (v *VMDK) Size() int64 { return v.size }

// Info describes the disk: Segments lists the descriptor, the extent files
// and the parent's.
func (v *VMDK) Info() Info { return v.info.clone() }

// Close closes every extent file and the parent.
func (v *VMDK) Close() error {
	var first error
	if v.parent != nil {
		first = v.parent.Close()
	}
	for _, c := range v.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ReadAt reads virtual disk bytes. A range touching a grain that cannot be
// read returns the bytes before it and a *ClusterError.
func (v *VMDK) ReadAt(p []byte, off int64) (int, error) {
	return readPieces("vmdk", p, off, v.size, v.readExtent)
}

// readExtent fills the start of p from the extent that holds off: up to
// the extent's end, or the grain's for a sparse extent. On an error it
// fills nothing.
func (v *VMDK) readExtent(p []byte, off int64) (int, error) {
	i := sort.Search(len(v.extents), func(i int) bool { return v.extents[i].start+v.extents[i].length > off })
	e := v.extents[i]
	rel := off - e.start
	run := min(int64(len(p)), e.length-rel)
	dst := p[:run]
	switch {
	case e.kind == "ZERO":
		clear(dst)
	case e.sp != nil:
		// One grain at a time: each may be stored, zero or absent.
		within := rel % e.sp.grainSize
		run = min(run, e.sp.grainSize-within)
		dst = dst[:run]
		state := grainUnallocated
		if rel < e.sp.capacity {
			var err error
			if state, err = e.sp.read(dst, rel); err != nil {
				return 0, err
			}
		}
		if state == grainUnallocated {
			if _, err := readParent(v.parent, dst, off); err != nil {
				return 0, err
			}
		}
	default:
		at := e.offset + rel
		if at+run > e.fileSize {
			return 0, &ClusterError{Format: "vmdk", File: e.file, Virtual: off, Offset: at, Err: fmt.Errorf("flat extent ends at %d bytes", e.fileSize)}
		}
		if _, err := e.r.ReadAt(dst, at); err != nil {
			return 0, &ClusterError{Format: "vmdk", File: e.file, Virtual: off, Offset: at, Err: err}
		}
	}
	return int(run), nil
}

var _ Image = (*VMDK)(nil)
