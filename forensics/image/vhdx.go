package image

// VHDX (Hyper-V's virtual disk, [MS-VHDX] v20160714): a "vhdxfile"
// identifier, two headers (the valid one with the higher sequence number
// is current), a region table naming the BAT and metadata regions, and
// payload blocks of 1-256 MiB addressed through the BAT in 1 MiB units.
// No Go module for VHDX is served to this build: this is a decoder written
// from the specification. A header whose LogGuid is set means the log may
// hold metadata writes not yet applied to the file: reading around them
// would give a state of the disk that never existed, so the log is
// replayed in memory first (vhdx_log.go) and Info.Notes says so; a log
// that cannot be replayed is refused with ErrVHDXDirtyLog. A differencing
// VHDX reads through to its parent, found beside it from the parent
// locator, where its BAT and sector bitmaps say so.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path/filepath"
	"strings"
)

var vhdxSignature = []byte("vhdxfile")

// ErrVHDXDirtyLog: the current header names a log (LogGuid non-zero)
// that this reader cannot replay (a log version it does not know, a log
// outside the file or over 64 MiB).
var ErrVHDXDirtyLog = errors.New("VHDX with a dirty log: not replayed; replay it on a copy with qemu-img check -r all or Hyper-V, then register the copy")

// ErrVHDXDifferencing: a VHDX whose data depends on a parent disk it does
// not say how to find (no parent locator of the VHDX type).
var ErrVHDXDifferencing = errors.New("the parent cannot be found")

const (
	vhdxHeader1     = 64 << 10
	vhdxHeader2     = 128 << 10
	vhdxRegion1     = 192 << 10
	vhdxRegion2     = 256 << 10
	vhdxHeaderSize  = 4 << 10
	vhdxRegionSize  = 64 << 10
	vhdxMaxMetadata = 1 << 20
	vhdxMB          = 1 << 20
	vhdxMaxSize     = 64 << 40 // the format's limit

	// BAT entry states.
	vhdxNotPresent       = 0
	vhdxUndefined        = 1
	vhdxZero             = 2
	vhdxUnmapped         = 3
	vhdxFullyPresent     = 6
	vhdxPartiallyPresent = 7
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// GUIDs as stored on disk (the first three fields little-endian).
var (
	vhdxBATRegion      = mustGUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
	vhdxMetadataRegion = mustGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
	vhdxFileParameters = mustGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	vhdxVirtualSize    = mustGUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	vhdxVirtualDiskID  = mustGUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
	vhdxLogicalSector  = mustGUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	vhdxPhysicalSector = mustGUID("CDA348C7-445D-4471-9CC9-E9885251C556")
	vhdxParentLocator  = mustGUID("A8D35F2D-B30B-454D-ABF6-F9D7A4BA0B9C")
)

func mustGUID(s string) [16]byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("bad GUID " + s)
	}
	var g [16]byte
	copy(g[:], b)
	g[0], g[1], g[2], g[3] = g[3], g[2], g[1], g[0]
	g[4], g[5] = g[5], g[4]
	g[6], g[7] = g[7], g[6]
	return g
}

// VHDX is a VHDX image read as the disk it holds; only the BAT (8 bytes a
// block) is held in memory.
type VHDX struct {
	f          io.ReaderAt
	c          io.Closer
	name       string
	size       int64
	blockSize  int64
	chunkRatio int64
	bat        []uint64
	info       Info
	// Differencing disks only.
	parent  Image
	lss     int64
	bitmaps *chunkCache // sector bitmap blocks by chunk
}

// OpenVHDX opens the VHDX file at path; a differencing disk's parents are
// found beside it (see resolveParent) and opened too.
func OpenVHDX(path string) (*VHDX, error) {
	return openVHDX(path, 0, Options{})
}

func openVHDX(path string, depth int, o Options) (*VHDX, error) {
	if depth > maxParentDepth {
		return nil, fmt.Errorf("vhdx: %s: more than %d differencing disks in a chain (a parent loop?)", path, maxParentDepth)
	}
	f, size, err := openSized(path, "")
	if err != nil {
		return nil, err
	}
	v, err := newVHDX(f, path, size, depth, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	v.c = f
	return v, nil
}

// newVHDX parses the structures of a VHDX read through r (size bytes);
// depth counts the differencing disks above it.
func newVHDX(r io.ReaderAt, path string, fileSize int64, depth int, o Options) (*VHDX, error) {
	v := &VHDX{f: r, name: path}
	v.info = Info{Format: "vhdx", Segments: []string{path}, Metadata: map[string]string{}}
	base := filepath.Base(path)
	warn := func(format string, a ...any) {
		v.info.Warnings = append(v.info.Warnings, "vhdx: "+base+": "+fmt.Sprintf(format, a...))
	}
	bad := func(off int64, format string, a ...any) error {
		return fmt.Errorf("vhdx: %s: offset %d: %s", path, off, fmt.Sprintf(format, a...))
	}
	sig := make([]byte, 8)
	if _, err := r.ReadAt(sig, 0); err != nil || !bytes.Equal(sig, vhdxSignature) {
		return nil, bad(0, "no vhdxfile signature")
	}

	// The current header: the valid one with the higher sequence number.
	var hdr []byte
	var seq uint64
	hdrAt := int64(-1)
	for _, at := range []int64{vhdxHeader1, vhdxHeader2} {
		b := make([]byte, vhdxHeaderSize)
		if _, err := r.ReadAt(b, at); err != nil {
			warn("header at offset %d unreadable: %v", at, err)
			continue
		}
		if string(b[:4]) != "head" || !vhdxCRCOK(b, 4) {
			warn("header at offset %d is not valid (signature or CRC-32C)", at)
			continue
		}
		if s := binary.LittleEndian.Uint64(b[8:]); hdr == nil || s > seq {
			hdr, seq, hdrAt = b, s, at
		}
	}
	if hdr == nil {
		return nil, bad(vhdxHeader1, "neither header is valid")
	}
	le := binary.LittleEndian
	if ver := le.Uint16(hdr[66:]); ver != 1 {
		return nil, bad(hdrAt, "header version %d (only 1 is defined)", ver)
	}
	var dw [16]byte
	copy(dw[:], hdr[32:48])
	// DataWriteGuid changes whenever the disk's data does: what libvhdi
	// shows as the identifier of a VHDX.
	v.info.Metadata["vhdx_data_write_guid"] = guidString(dw, true)
	var logGUID [16]byte
	copy(logGUID[:], hdr[48:64])
	if logGUID != ([16]byte{}) {
		ov, notes, warns, err := replayVHDXLog(r, fileSize, hdr, path)
		if err != nil {
			return nil, err
		}
		v.info.Notes = append(v.info.Notes, notes...)
		v.info.Warnings = append(v.info.Warnings, warns...)
		r, v.f, fileSize = ov, ov, ov.size
	}

	// Region table: the first copy, or the second when the first is bad.
	var bat, meta [2]int64 // offset, length
	var regions []byte
	for _, at := range []int64{vhdxRegion1, vhdxRegion2} {
		b := make([]byte, vhdxRegionSize)
		if _, err := r.ReadAt(b, at); err != nil || string(b[:4]) != "regi" || !vhdxCRCOK(b, 4) {
			warn("region table at offset %d is not valid (signature or CRC-32C)", at)
			continue
		}
		regions = b
		break
	}
	if regions == nil {
		return nil, bad(vhdxRegion1, "neither region table is valid")
	}
	n := int(le.Uint32(regions[8:]))
	if n > (vhdxRegionSize-16)/32 {
		return nil, bad(vhdxRegion1, "region table claims %d entries", n)
	}
	for i := range n {
		e := regions[16+32*i:]
		var id [16]byte
		copy(id[:], e)
		off, length, required := int64(le.Uint64(e[16:])), int64(le.Uint32(e[24:])), le.Uint32(e[28:])&1 != 0
		switch id {
		case vhdxBATRegion:
			bat = [2]int64{off, length}
		case vhdxMetadataRegion:
			meta = [2]int64{off, length}
		default:
			if required {
				return nil, &UnsupportedError{Path: path, Variant: "VHDX with an unknown required region " + guidString(id, true)}
			}
		}
	}
	if bat[1] == 0 || meta[1] == 0 {
		return nil, bad(vhdxRegion1, "no BAT or no metadata region")
	}
	if meta[0] < 0 || meta[1] > vhdxMaxMetadata || meta[0]+meta[1] > fileSize {
		return nil, bad(vhdxRegion1, "metadata region at %d (%d bytes) outside the file", meta[0], meta[1])
	}

	// Metadata.
	mb := make([]byte, meta[1])
	if _, err := r.ReadAt(mb, meta[0]); err != nil {
		return nil, bad(meta[0], "metadata region: %v", err)
	}
	if len(mb) < 32 || string(mb[:8]) != "metadata" {
		return nil, bad(meta[0], "no metadata table signature")
	}
	item := map[[16]byte][]byte{}
	count := int(le.Uint16(mb[10:]))
	if count > 2047 || 32+32*count > len(mb) {
		return nil, bad(meta[0], "metadata table claims %d entries", count)
	}
	for i := range count {
		e := mb[32+32*i:]
		var id [16]byte
		copy(id[:], e)
		off, length, flags := int64(le.Uint32(e[16:])), int64(le.Uint32(e[20:])), le.Uint32(e[24:])
		if length == 0 {
			continue
		}
		if off < 0 || off+length > int64(len(mb)) {
			return nil, bad(meta[0]+32+32*int64(i), "metadata item %s outside its region", guidString(id, true))
		}
		item[id] = mb[off : off+length]
		switch id {
		case vhdxFileParameters, vhdxVirtualSize, vhdxVirtualDiskID, vhdxLogicalSector, vhdxPhysicalSector, vhdxParentLocator:
		default:
			if flags&4 != 0 { // IsRequired
				return nil, &UnsupportedError{Path: path, Variant: "VHDX with an unknown required metadata item " + guidString(id, true)}
			}
		}
	}
	fp, vs, ls := item[vhdxFileParameters], item[vhdxVirtualSize], item[vhdxLogicalSector]
	if len(fp) < 8 || len(vs) < 8 || len(ls) < 4 {
		return nil, bad(meta[0], "file parameters, virtual disk size or logical sector size missing")
	}
	v.blockSize = int64(le.Uint32(fp))
	hasParent := le.Uint32(fp[4:])&2 != 0
	v.size = int64(le.Uint64(vs))
	lss := int64(le.Uint32(ls))
	if v.blockSize < vhdxMB || v.blockSize > 256*vhdxMB || v.blockSize&(v.blockSize-1) != 0 {
		return nil, bad(meta[0], "block size %d (1-256 MiB, a power of two)", v.blockSize)
	}
	if lss != 512 && lss != 4096 {
		return nil, bad(meta[0], "logical sector size %d (512 or 4096)", lss)
	}
	if v.size < 0 || v.size > vhdxMaxSize || v.size%lss != 0 {
		return nil, bad(meta[0], "virtual disk size %d", v.size)
	}
	if id := item[vhdxVirtualDiskID]; len(id) >= 16 {
		var g [16]byte
		copy(g[:], id)
		v.info.Metadata["vhdx_virtual_disk_id"] = guidString(g, true)
	}
	v.info.SectorSize = lss
	v.info.SectorCount = v.size / lss
	v.info.ChunkSize = v.blockSize
	v.lss = lss
	// A fixed VHDX is one whose blocks stay allocated (LeaveBlocksAllocated):
	// the format has no disk type field of its own.
	v.info.Metadata["vhdx_type"] = "dynamic"
	if le.Uint32(fp[4:])&1 != 0 {
		v.info.Metadata["vhdx_type"] = "fixed"
	}

	// The BAT: a sector bitmap entry follows every chunkRatio payload
	// entries.
	v.chunkRatio = (1 << 23) * lss / v.blockSize
	blocks := (v.size + v.blockSize - 1) / v.blockSize
	entries := blocks
	if hasParent {
		// Every chunk's sector bitmap entry, the last one's included.
		entries = (blocks + v.chunkRatio - 1) / v.chunkRatio * (v.chunkRatio + 1)
	} else if blocks > 0 {
		entries += (blocks - 1) / v.chunkRatio
	}
	if bat[0] < 0 || bat[1] < entries*8 || bat[0]+entries*8 > fileSize {
		return nil, bad(bat[0], "BAT of %d bytes (at least %d needed) outside the file", bat[1], entries*8)
	}
	raw := make([]byte, entries*8)
	if _, err := r.ReadAt(raw, bat[0]); err != nil {
		return nil, bad(bat[0], "BAT: %v", err)
	}
	v.bat = make([]uint64, entries)
	for i := range v.bat {
		v.bat[i] = le.Uint64(raw[i*8:])
	}
	if hasParent {
		v.info.Metadata["vhdx_type"] = "differencing"
		v.bitmaps = newChunkCache(4)
		if err := v.openParent(item[vhdxParentLocator], depth, o); err != nil {
			return nil, err
		}
	}
	return v, nil
}

var vhdxLocatorType = mustGUID("B04AEFB7-D19E-4A81-B789-25B8E9445913")

// openParent reads the parent locator (key/value pairs of UTF-16 strings)
// and opens the parent it names, found as resolveParent finds a VHD's.
func (v *VHDX) openParent(loc []byte, depth int, o Options) error {
	le := binary.LittleEndian
	if len(loc) < 20 || [16]byte(loc[:16]) != vhdxLocatorType {
		return fmt.Errorf("%w: %w", &UnsupportedError{Path: v.name, Variant: "VHDX differencing disk without a VHDX parent locator"}, ErrVHDXDifferencing)
	}
	kv := map[string]string{}
	for i := range int(le.Uint16(loc[18:])) {
		e := 20 + 12*i
		if e+12 > len(loc) {
			return fmt.Errorf("vhdx: %s: parent locator entry %d outside the item", v.name, i)
		}
		ko, vo := int(le.Uint32(loc[e:])), int(le.Uint32(loc[e+4:]))
		kl, vl := int(le.Uint16(loc[e+8:])), int(le.Uint16(loc[e+10:]))
		if ko+kl > len(loc) || vo+vl > len(loc) {
			return fmt.Errorf("vhdx: %s: parent locator entry %d outside the item", v.name, i)
		}
		kv[utf16String(loc[ko:ko+kl], le)] = utf16String(loc[vo:vo+vl], le)
	}
	var names []string
	for _, k := range []string{"relative_path", "absolute_win32_path", "volume_path"} {
		if n := kv[k]; n != "" {
			names = append(names, n)
		}
	}
	parent, p, err := openDiffParent("vhdx", v.name, names, depth, o, &v.info)
	if err != nil {
		return err
	}
	// parent_linkage is the parent's DataWriteGuid when the child was made:
	// another value means the parent's data changed since.
	if want, got := strings.Trim(strings.ToLower(kv["parent_linkage"]), "{}"), p.Info().Metadata["vhdx_data_write_guid"]; want != "" && got != "" && want != got {
		v.info.Warnings = append(v.info.Warnings, fmt.Sprintf("vhdx: %s: parent %s has DataWriteGuid %s, the child expects %s (the parent changed since the child was made?)",
			filepath.Base(v.name), filepath.Base(parent), got, want))
	}
	v.parent = p
	chainParent(&v.info, "vhdx", v.name, parent, p, v.size)
	return nil
}

// sectorBitmap returns the 1 MiB sector bitmap of chunk c.
func (v *VHDX) sectorBitmap(c int64) ([]byte, error) {
	if b, ok := v.bitmaps.get(c); ok {
		return b, nil
	}
	i := c*(v.chunkRatio+1) + v.chunkRatio
	if i >= int64(len(v.bat)) || v.bat[i]&7 != vhdxFullyPresent {
		return nil, fmt.Errorf("vhdx: %s: chunk %d has partially present blocks but no sector bitmap (BAT entry %d)", filepath.Base(v.name), c, i)
	}
	b := make([]byte, vhdxMB)
	at := int64(v.bat[i]>>20) * vhdxMB
	if _, err := v.f.ReadAt(b, at); err != nil {
		return nil, fmt.Errorf("vhdx: %s: sector bitmap of chunk %d at file offset %d: %w", filepath.Base(v.name), c, at, err)
	}
	v.bitmaps.put(c, b)
	return b, nil
}

// readPartial reads q at media offset off of a partially present block
// whose data starts at file offset fo: sectors whose bit is set (bit 0 of
// byte 0 the chunk's first sector) from this file, the others from the
// parent.
func (v *VHDX) readPartial(q []byte, off, blk, fo int64) error {
	c := blk / v.chunkRatio
	bm, err := v.sectorBitmap(c)
	if err != nil {
		return err
	}
	chunkStart := c * v.chunkRatio * v.blockSize
	bit := func(at int64) bool {
		s := (at - chunkStart) / v.lss
		return bm[s/8]&(1<<(s%8)) != 0
	}
	blockStart := blk * v.blockSize
	n := int64(0)
	for n < int64(len(q)) {
		at := off + n
		present := bit(at)
		end := (at/v.lss + 1) * v.lss
		for end < off+int64(len(q)) && bit(end) == present {
			end += v.lss
		}
		end = min(end, off+int64(len(q)))
		part := q[n : end-off]
		if present {
			m, err := v.f.ReadAt(part, fo+at-blockStart)
			if err != nil && !(err == io.EOF && m == len(part)) {
				return fmt.Errorf("vhdx: %s: block %d at file offset %d: %w", filepath.Base(v.name), blk, fo+at-blockStart+int64(m), err)
			}
		} else if _, err := readParent(v.parent, part, at); err != nil {
			return err
		}
		n = end - off
	}
	return nil
}

// vhdxCRCOK checks a CRC-32C stored at at over b with that field zeroed.
func vhdxCRCOK(b []byte, at int) bool {
	want := binary.LittleEndian.Uint32(b[at:])
	h := crc32.New(crc32c)
	h.Write(b[:at])
	h.Write([]byte{0, 0, 0, 0})
	h.Write(b[at+4:])
	return h.Sum32() == want
}

func (v *VHDX) Size() int64  { return v.size }
func (v *VHDX) Info() Info   { return v.info }
func (v *VHDX) Close() error { return closeDisk(v.c, v.parent) }

// ReadAt reads the virtual disk. Blocks not present (never written,
// trimmed, or zeroed) read as zeros; past the end it returns io.EOF.
func (v *VHDX) ReadAt(p []byte, off int64) (int, error) {
	return readPieces("vhdx", p, off, v.size, v.readBlock)
}

// readBlock fills the start of p from the block that holds off, up to the
// block's end.
func (v *VHDX) readBlock(p []byte, off int64) (int, error) {
	blk, in := off/v.blockSize, off%v.blockSize
	q := p[:min(int64(len(p)), v.blockSize-in)]
	e := v.bat[blk+blk/v.chunkRatio]
	switch e & 7 {
	case vhdxNotPresent, vhdxUndefined:
		// Never written here: the parent's, zeros without one.
		if _, err := readParent(v.parent, q, off); err != nil {
			return 0, err
		}
	case vhdxZero, vhdxUnmapped:
		clear(q)
	case vhdxFullyPresent:
		fo := int64(e>>20)*vhdxMB + in
		m, err := v.f.ReadAt(q, fo)
		if err != nil && !(err == io.EOF && m == len(q)) {
			return m, fmt.Errorf("vhdx: %s: block %d at file offset %d: %w", filepath.Base(v.name), blk, fo+int64(m), err)
		}
	case vhdxPartiallyPresent:
		if v.parent == nil {
			return 0, fmt.Errorf("vhdx: %s: block %d: partially present in a disk without parent", filepath.Base(v.name), blk)
		}
		if err := v.readPartial(q, off, blk, int64(e>>20)*vhdxMB); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("vhdx: %s: block %d: reserved BAT entry state %d", filepath.Base(v.name), blk, e&7)
	}
	return len(q), nil
}

var _ Image = (*VHDX)(nil)
