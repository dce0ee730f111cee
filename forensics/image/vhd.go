package image

// VHD (Microsoft Virtual Hard Disk, the Virtual PC format qemu calls "vpc"):
// a 512-byte "conectix" footer at the end of the file describes the disk.
// A fixed disk is the raw media followed by the footer; a dynamic or
// differencing disk has a "cxsparse" header, a block allocation table (BAT)
// and blocks, each a sector bitmap followed by the block's data. No Go
// module for VHD is served to this build: this is a decoder written from
// the published specification (Virtual Hard Disk Image Format Specification,
// Microsoft, 2006).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/internal/rofile"
)

const (
	vhdFooterSize    = 512
	vhdDynHeaderSize = 1024
	vhdTypeFixed     = 2
	vhdTypeDynamic   = 3
	vhdTypeDiff      = 4
	vhdUnallocated   = 0xFFFFFFFF
	// Limits that keep a hostile header from asking for absurd memory: a
	// 2 TiB disk of 512 KiB blocks has 4 Mi entries; the specification's
	// largest disk (2040 GiB) with the smallest sane block (4 KiB) has
	// about 534 Mi, which nobody writes.
	vhdMaxBATEntries = 1 << 26
	vhdMaxBlockSize  = 256 << 20
	// maxParentDepth bounds a chain of differencing disks (and a loop of
	// parents naming each other).
	maxParentDepth = 16
)

var (
	vhdCookie    = []byte("conectix")
	vhdDynCookie = []byte("cxsparse")
)

// VHD is a VHD image read as the disk it holds. Only the BAT (4 bytes per
// block) and a few recent sector bitmaps are held in memory.
type VHD struct {
	f          io.ReaderAt
	c          io.Closer
	name       string
	size       int64 // virtual disk size
	dataLen    int64 // fixed disks: data bytes present before the footer
	bat        []uint32
	blockSize  int64
	bitmapSize int64 // bytes of a block's sector bitmap, padded to a sector
	parent     Image // differencing disks only
	bitmaps    *chunkCache
	info       Info
}

// vhdFooter holds the footer fields the reader uses.
type vhdFooter struct {
	dataOffset  int64
	currentSize int64
	diskType    uint32
	creatorApp  string
	creatorOS   string
	uniqueID    [16]byte
	checksumOK  bool
}

func parseVHDFooter(b []byte) (vhdFooter, bool) {
	if len(b) < vhdFooterSize-1 || !bytes.Equal(b[:8], vhdCookie) {
		return vhdFooter{}, false
	}
	var ft vhdFooter
	be := binary.BigEndian
	ft.dataOffset = int64(be.Uint64(b[16:]))
	ft.currentSize = int64(be.Uint64(b[48:]))
	ft.diskType = be.Uint32(b[60:])
	ft.creatorApp = strings.TrimRight(string(b[28:32]), "\x00 ")
	ft.creatorOS = strings.TrimRight(string(b[36:40]), "\x00 ")
	copy(ft.uniqueID[:], b[68:84])
	ft.checksumOK = vhdChecksum(b[:min(len(b), vhdFooterSize)], 64) == be.Uint32(b[64:])
	return ft, true
}

// vhdChecksum is the one's complement of the byte sum of b, the four bytes
// at at (the checksum field itself) left out.
func vhdChecksum(b []byte, at int) uint32 {
	var s uint32
	for i, c := range b {
		if i < at || i >= at+4 {
			s += uint32(c)
		}
	}
	return ^s
}

// isVHD reports whether r (of size bytes) ends with a VHD footer, or starts
// with the footer copy dynamic disks keep at offset 0.
func isVHD(r io.ReaderAt, size int64) bool {
	if size < vhdFooterSize {
		return false
	}
	var c [8]byte
	if _, err := r.ReadAt(c[:], size-vhdFooterSize); err == nil && bytes.Equal(c[:], vhdCookie) {
		return true
	}
	// Virtual PC before 2004 wrote a 511-byte footer.
	if _, err := r.ReadAt(c[:], size-vhdFooterSize+1); err == nil && bytes.Equal(c[:], vhdCookie) {
		return true
	}
	_, err := r.ReadAt(c[:], 0)
	return err == nil && bytes.Equal(c[:], vhdCookie)
}

// isVHDFile is isVHD on the file at path; a file that cannot be opened is
// not a VHD.
func isVHDFile(path string) bool {
	f, size, err := openSized(path, "")
	if err != nil {
		return false
	}
	defer f.Close()
	return isVHD(f, size)
}

// OpenVHD opens the VHD at path; a differencing disk's parents are found
// beside it (see resolveParent) and opened too.
func OpenVHD(path string) (*VHD, error) {
	return openVHD(path, 0, Options{})
}

func openVHD(path string, depth int, o Options) (*VHD, error) {
	if depth > maxParentDepth {
		return nil, fmt.Errorf("vhd: %s: more than %d differencing disks in a chain (a parent loop?)", path, maxParentDepth)
	}
	f, size, err := openSized(path, "vhd")
	if err != nil {
		return nil, err
	}
	v, err := newVHD(f, size, path, depth, o)
	if err != nil {
		f.Close()
		return nil, err
	}
	v.c = f
	return v, nil
}

// newVHD parses the VHD read through f (fileSize bytes) named path.
func newVHD(f io.ReaderAt, fileSize int64, path string, depth int, o Options) (*VHD, error) {
	v := &VHD{f: f, name: path, bitmaps: newChunkCache(64)}
	v.info = Info{Format: "vhd", Segments: []string{path}, SectorSize: 512, Metadata: map[string]string{}}
	warn := func(format string, a ...any) {
		v.info.Warnings = append(v.info.Warnings, fmt.Sprintf("vhd: %s: ", filepath.Base(path))+fmt.Sprintf(format, a...))
	}

	// The footer at the end is authoritative; dynamic disks keep a copy at
	// offset 0, used when the end is damaged or cut off.
	buf := make([]byte, vhdFooterSize)
	var ft vhdFooter
	ok := false
	footerAt := fileSize - vhdFooterSize
	if fileSize >= vhdFooterSize {
		if _, err := f.ReadAt(buf, footerAt); err == nil {
			ft, ok = parseVHDFooter(buf)
		}
		if !ok {
			if _, err := f.ReadAt(buf[:vhdFooterSize-1], fileSize-vhdFooterSize+1); err == nil {
				if ft, ok = parseVHDFooter(buf[:vhdFooterSize-1]); ok {
					footerAt = fileSize - vhdFooterSize + 1
				}
			}
		}
	}
	if !ok || !ft.checksumOK {
		if _, err := f.ReadAt(buf, 0); err == nil {
			if copyFt, copyOK := parseVHDFooter(buf); copyOK && copyFt.checksumOK && copyFt.diskType != vhdTypeFixed {
				if ok {
					warn("footer at offset %d has a bad checksum: the copy at offset 0 is used", footerAt)
				} else {
					warn("no footer at the end of the file (truncated?): the copy at offset 0 is used")
				}
				ft, ok = copyFt, true
				footerAt = fileSize
			}
		}
	}
	if !ok {
		return nil, fmt.Errorf("vhd: %s: no conectix footer at offset %d nor 0", path, fileSize-vhdFooterSize)
	}
	if !ft.checksumOK {
		warn("footer at offset %d has a bad checksum (read anyway)", footerAt)
	}
	if ft.currentSize < 0 || ft.currentSize > 1<<50 {
		return nil, fmt.Errorf("vhd: %s: footer at offset %d: implausible disk size %d", path, footerAt, ft.currentSize)
	}
	v.size = ft.currentSize
	v.info.Metadata["vhd_creator"] = ft.creatorApp
	v.info.Metadata["vhd_creator_os"] = ft.creatorOS
	v.info.Metadata["vhd_unique_id"] = guidString(ft.uniqueID, false)

	switch ft.diskType {
	case vhdTypeFixed:
		v.info.Metadata["vhd_type"] = "fixed"
		v.dataLen = min(v.size, max(footerAt, 0))
		if v.dataLen < v.size {
			warn("fixed disk of %d bytes holds only %d bytes of data: the rest reads as zeros", v.size, v.dataLen)
		}
		return v, nil
	case vhdTypeDynamic, vhdTypeDiff:
	default:
		return nil, fmt.Errorf("vhd: %s: footer at offset %d: unknown disk type %d", path, footerAt, ft.diskType)
	}
	v.info.Metadata["vhd_type"] = map[uint32]string{vhdTypeDynamic: "dynamic", vhdTypeDiff: "differencing"}[ft.diskType]

	hdr := make([]byte, vhdDynHeaderSize)
	if ft.dataOffset < 0 || ft.dataOffset > fileSize-vhdDynHeaderSize {
		return nil, fmt.Errorf("vhd: %s: dynamic header offset %d outside the file", path, ft.dataOffset)
	}
	if _, err := f.ReadAt(hdr, ft.dataOffset); err != nil {
		return nil, fmt.Errorf("vhd: %s: dynamic header at offset %d: %w", path, ft.dataOffset, err)
	}
	if !bytes.Equal(hdr[:8], vhdDynCookie) {
		return nil, fmt.Errorf("vhd: %s: no cxsparse dynamic header at offset %d", path, ft.dataOffset)
	}
	be := binary.BigEndian
	if vhdChecksum(hdr, 36) != be.Uint32(hdr[36:]) {
		warn("dynamic header at offset %d has a bad checksum (read anyway)", ft.dataOffset)
	}
	tableOff := int64(be.Uint64(hdr[16:]))
	entries := int64(be.Uint32(hdr[28:]))
	v.blockSize = int64(be.Uint32(hdr[32:]))
	if v.blockSize < 512 || v.blockSize > vhdMaxBlockSize || v.blockSize%512 != 0 {
		return nil, fmt.Errorf("vhd: %s: dynamic header at offset %d: bad block size %d", path, ft.dataOffset, v.blockSize)
	}
	if entries > vhdMaxBATEntries {
		return nil, fmt.Errorf("vhd: %s: dynamic header at offset %d: %d BAT entries is too many", path, ft.dataOffset, entries)
	}
	if need := (v.size + v.blockSize - 1) / v.blockSize; need > entries {
		warn("disk of %d bytes needs %d blocks but the BAT has %d entries: the rest reads as zeros", v.size, need, entries)
	}
	if tableOff < 0 || tableOff+entries*4 > fileSize {
		return nil, fmt.Errorf("vhd: %s: BAT at offset %d (%d entries) runs past the end of the file", path, tableOff, entries)
	}
	raw := make([]byte, entries*4)
	if _, err := f.ReadAt(raw, tableOff); err != nil {
		return nil, fmt.Errorf("vhd: %s: BAT at offset %d: %w", path, tableOff, err)
	}
	v.bat = make([]uint32, entries)
	for i := range v.bat {
		v.bat[i] = be.Uint32(raw[i*4:])
	}
	v.bitmapSize = (v.blockSize/512/8 + 511) / 512 * 512
	v.info.ChunkSize = v.blockSize
	v.info.SectorCount = v.size / 512

	if ft.diskType == vhdTypeDiff {
		if err := v.openParent(hdr, depth, o); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// openParent finds and opens the parent of a differencing disk from its
// parent locators and parent name.
func (v *VHD) openParent(hdr []byte, depth int, o Options) error {
	be := binary.BigEndian
	var wantID [16]byte
	copy(wantID[:], hdr[40:56])
	var names []string
	// Relative locators first: they survive the set being moved together.
	for _, want := range []string{"W2ru", "W2ku", "Wi2r", "Wi2k", "MacX", "Mac "} {
		for i := range 8 {
			e := hdr[576+i*24 : 576+(i+1)*24]
			if string(e[:4]) != want {
				continue
			}
			length := int64(be.Uint32(e[8:]))
			off := int64(be.Uint64(e[16:]))
			if length <= 0 || length > 64<<10 {
				continue
			}
			b := make([]byte, length)
			if _, err := v.f.ReadAt(b, off); err != nil {
				v.info.Warnings = append(v.info.Warnings, fmt.Sprintf("vhd: %s: parent locator %s at offset %d: %v", filepath.Base(v.name), want, off, err))
				continue
			}
			var s string
			switch want {
			case "W2ru", "W2ku":
				s = utf16String(b, binary.LittleEndian)
			default:
				s = strings.TrimRight(string(b), "\x00")
				s = strings.TrimPrefix(s, "file://")
			}
			if s != "" {
				names = append(names, s)
			}
		}
	}
	if n := utf16String(hdr[64:576], binary.BigEndian); n != "" {
		names = append(names, n)
	}
	parent, p, err := openDiffParent("vhd", v.name, names, depth, o, &v.info)
	if err != nil {
		return err
	}
	if pv, ok := p.(*VHD); ok {
		if got := pv.info.Metadata["vhd_unique_id"]; got != guidString(wantID, false) {
			v.info.Warnings = append(v.info.Warnings, fmt.Sprintf("vhd: %s: parent %s has unique id %s, the child expects %s (the parent changed since the child was made?)",
				filepath.Base(v.name), filepath.Base(parent), got, guidString(wantID, false)))
		}
	}
	v.parent = p
	chainParent(&v.info, "vhd", v.name, parent, p, v.size)
	return nil
}

// openDiffParent finds the parent of the differencing disk child (format
// "vhd" or "vhdx") from names as resolveParent does, records where in
// info.Metadata[format+"_parent"], and opens it one level deeper in the
// chain. It returns the parent's path and image.
func openDiffParent(format, child string, names []string, depth int, o Options, info *Info) (string, Image, error) {
	parent, err := resolveParent(child, names)
	if err != nil {
		return "", nil, err
	}
	info.Metadata[format+"_parent"] = parent
	p, err := openParentImage(parent, depth+1, o)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %s: parent %s: %w", format, child, parent, err)
	}
	return parent, p, nil
}

// chainParent adds the parent p (opened from the path parent) to the Info
// of its child: a warning when the parent is smaller than the child's size
// bytes, then the parent's segments, warnings and notes after the child's.
// The notes are passed up for VHD and VHDX alike: what the reader did to
// the parent (a replayed log, a decompressed copy) is part of reading the
// child. It returns the parent's Info for what else the caller takes from it.
func chainParent(info *Info, format, child, parent string, p Image, size int64) Info {
	if p.Size() < size {
		info.Warnings = append(info.Warnings, fmt.Sprintf("%s: %s: parent %s is smaller (%d bytes) than the child (%d): the rest reads as zeros",
			format, filepath.Base(child), filepath.Base(parent), p.Size(), size))
	}
	pi := p.Info()
	info.Segments = append(info.Segments, pi.Segments...)
	info.Warnings = append(info.Warnings, pi.Warnings...)
	info.Notes = append(info.Notes, pi.Notes...)
	return pi
}

// closeDisk closes a VHD's or VHDX's own file (c, nil when it was not
// opened from a path), then its parent chain; it returns the first error.
func closeDisk(c io.Closer, parent Image) error {
	var err error
	if c != nil {
		err = c.Close()
	}
	if parent != nil {
		if perr := parent.Close(); err == nil {
			err = perr
		}
	}
	return err
}

// openParentImage opens a parent image at chain depth depth: a VHD or VHDX
// parent keeps the depth count, anything else is opened by Open.
func openParentImage(path string, depth int, o Options) (Image, error) {
	var sig [8]byte
	if f, err := rofile.Open(path); err == nil {
		f.ReadAt(sig[:], 0)
		f.Close()
	}
	switch {
	case bytes.Equal(sig[:], vhdxSignature):
		return openVHDX(path, depth, o)
	case isVHDFile(path):
		return openVHD(path, depth, o)
	}
	return OpenWith(path, o)
}

// MissingParentError is a differencing disk whose parent cannot be found.
type MissingParentError struct {
	Image  string   // the differencing disk
	Looked []string // the paths tried, in order
}

func (e *MissingParentError) Error() string {
	return fmt.Sprintf("image: %s is a differencing disk whose parent is missing (looked for %s)", e.Image, strings.Join(e.Looked, ", "))
}

// resolveParent finds a parent named by names (paths as the creating
// system wrote them, Windows or Unix). The parent is looked for beside the
// child by its file name first: an evidence set is copied as one folder,
// and a path of the suspect machine must not lead the reader to a file of
// the examiner's. A path as given is used only when that file exists.
func resolveParent(child string, names []string) (string, error) {
	dir := filepath.Dir(child)
	var looked []string
	seen := map[string]bool{}
	try := func(p string) (string, bool) {
		if seen[p] {
			return "", false
		}
		seen[p] = true
		looked = append(looked, p)
		st, err := os.Stat(p)
		return p, err == nil && st.Mode().IsRegular() && !sameFile(p, child)
	}
	for _, n := range names {
		base := n[strings.LastIndexAny(n, `\/:`)+1:]
		if base == "" || base == "." || base == ".." {
			continue
		}
		if p, ok := try(filepath.Join(dir, base)); ok {
			return p, nil
		}
	}
	for _, n := range names {
		u := strings.ReplaceAll(n, `\`, "/")
		if len(u) >= 2 && u[1] == ':' {
			continue // a Windows drive path names nothing here
		}
		if !filepath.IsAbs(u) {
			u = filepath.Join(dir, u)
		}
		if p, ok := try(filepath.Clean(u)); ok {
			return p, nil
		}
	}
	if len(looked) == 0 {
		return "", fmt.Errorf("vhd: %s: differencing disk with no usable parent locator", child)
	}
	return "", &MissingParentError{Image: child, Looked: looked}
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// utf16String decodes a NUL-terminated UTF-16 string.
func utf16String(b []byte, order binary.ByteOrder) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := order.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// guidString formats 16 bytes as a GUID: big-endian fields (VHD) or the
// Windows mixed-endian layout (VHDX).
func guidString(b [16]byte, windows bool) string {
	if windows {
		b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
		b[4], b[5] = b[5], b[4]
		b[6], b[7] = b[7], b[6]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (v *VHD) Size() int64 { return v.size }
func (v *VHD) Info() Info  { return v.info }

func (v *VHD) Close() error { return closeDisk(v.c, v.parent) }

// ReadAt reads the virtual disk. Past its end it returns io.EOF.
func (v *VHD) ReadAt(p []byte, off int64) (int, error) {
	if v.bat == nil {
		return readPieces("vhd", p, off, v.size, v.readFixed)
	}
	return readPieces("vhd", p, off, v.size, v.readBlock)
}

func (v *VHD) readFixed(p []byte, off int64) (int, error) {
	if off >= v.dataLen {
		clear(p)
		return len(p), nil
	}
	p = p[:min(int64(len(p)), v.dataLen-off)]
	n, err := v.f.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	if err != nil {
		return n, fmt.Errorf("vhd: %s: data at offset %d: %w", filepath.Base(v.name), off+int64(n), err)
	}
	return n, nil
}

// readBlock reads from off to at most the end of off's block.
func (v *VHD) readBlock(p []byte, off int64) (int, error) {
	blk := off / v.blockSize
	in := off % v.blockSize
	p = p[:min(int64(len(p)), v.blockSize-in)]
	if blk >= int64(len(v.bat)) || v.bat[blk] == vhdUnallocated {
		return readParent(v.parent, p, off)
	}
	start := int64(v.bat[blk]) * 512
	bm, err := v.bitmap(blk, start)
	if err != nil {
		return 0, err
	}
	// Runs of sectors with the same bitmap bit: set bits are in this file,
	// clear ones in the parent (zeros for a dynamic disk).
	n := 0
	for n < len(p) {
		sec := (in + int64(n)) / 512
		present := bm[sec/8]&(0x80>>(sec%8)) != 0
		end := int64(n)
		for end < int64(len(p)) {
			s := (in + end) / 512
			if (bm[s/8]&(0x80>>(s%8)) != 0) != present {
				break
			}
			end = (s+1)*512 - in
		}
		end = min(end, int64(len(p)))
		q := p[n:end]
		if present {
			at := start + v.bitmapSize + in + int64(n)
			m, err := v.f.ReadAt(q, at)
			if err != nil && !(err == io.EOF && m == len(q)) {
				return n + m, fmt.Errorf("vhd: %s: block %d data at file offset %d: %w", filepath.Base(v.name), blk, at+int64(m), err)
			}
		} else if _, err := readParent(v.parent, q, off+int64(n)); err != nil {
			return n, err
		}
		n = int(end)
	}
	return n, nil
}

// bitmap returns the sector bitmap of block blk stored at file offset start.
func (v *VHD) bitmap(blk, start int64) ([]byte, error) {
	if b, ok := v.bitmaps.get(blk); ok {
		return b, nil
	}
	b := make([]byte, v.bitmapSize)
	if _, err := v.f.ReadAt(b, start); err != nil {
		return nil, fmt.Errorf("vhd: %s: sector bitmap of block %d at file offset %d: %w", filepath.Base(v.name), blk, start, err)
	}
	v.bitmaps.put(blk, b)
	return b, nil
}

var _ Image = (*VHD)(nil)

// openVHDOrCompressed is image.Open's test for the containers of this file
// family: VHDX by its leading signature, VHD by its footer (at the end; a
// fixed VHD starts with the raw media, so its head says nothing). ok is
// false when path is none of them.
func openVHDOrCompressed(path string, head []byte, o Options) (img Image, ok bool, err error) {
	if bytes.HasPrefix(head, vhdxSignature) {
		img, err := openVHDX(path, 0, o)
		return img, true, err
	}
	if isVHDFile(path) {
		img, err := openVHD(path, 0, o)
		return img, true, err
	}
	return openCompressedIfDisk(path, head, o)
}
