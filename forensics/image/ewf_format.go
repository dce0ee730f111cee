package image

// EWF (Expert Witness Compression Format, version 1: EnCase .E01, SMART .s01,
// linen, FTK and ewfacquire output) written from the published format
// description, Joachim Metz's "Expert Witness Compression Format (EWF)"
// document of the libewf project; no libewf code was read or copied. No Go
// EWF reader is served by the module proxy, hence this one.
//
// A segment file is a 13-byte file header followed by a chain of sections.
// Every section starts with a 76-byte descriptor (type, offset of the next
// section, size, Adler-32). All integers are little-endian.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
)

var ewfSignature = []byte("EVF\x09\x0d\x0a\xff\x00")

const (
	ewfFileHeaderSize = 13
	ewfDescSize       = 76
	ewfTableHeader    = 24
	ewfVolumeE01Size  = 1052 // EnCase volume/disk/data section payload
	ewfVolumeS01Size  = 94   // SMART volume section payload
)

// sectionDesc is one parsed section descriptor.
type sectionDesc struct {
	Type   string
	Offset int64 // of the descriptor in the segment file
	Next   int64 // offset of the next descriptor
	Size   int64 // descriptor plus payload; 0 in some done/next sections
}

// parseFileHeader checks the 13-byte segment file header and returns the
// segment number.
func parseFileHeader(b []byte) (int, error) {
	if len(b) < ewfFileHeaderSize || !bytes.Equal(b[:8], ewfSignature) {
		return 0, errors.New("not an EWF segment file (signature EVF\\x09\\x0d\\x0a\\xff\\x00 missing)")
	}
	n := int(binary.LittleEndian.Uint16(b[9:11]))
	if b[8] != 1 || n == 0 {
		return 0, fmt.Errorf("bad EWF file header (fields start 0x%02x, segment number %d)", b[8], n)
	}
	return n, nil
}

// parseSectionDesc decodes the descriptor at file offset at.
func parseSectionDesc(b []byte, at int64) (sectionDesc, error) {
	if len(b) < ewfDescSize {
		return sectionDesc{}, fmt.Errorf("section descriptor at offset %d: truncated", at)
	}
	want := binary.LittleEndian.Uint32(b[72:76])
	if got := adler32.Checksum(b[:72]); got != want {
		return sectionDesc{}, fmt.Errorf("section descriptor at offset %d: Adler-32 0x%08x, stored 0x%08x", at, got, want)
	}
	typ := b[:16]
	if i := bytes.IndexByte(typ, 0); i >= 0 {
		typ = typ[:i]
	}
	d := sectionDesc{
		Type:   string(typ),
		Offset: at,
		Next:   int64(binary.LittleEndian.Uint64(b[16:24])),
		Size:   int64(binary.LittleEndian.Uint64(b[24:32])),
	}
	if d.Next < 0 || d.Size < 0 {
		return sectionDesc{}, fmt.Errorf("section %q at offset %d: next offset or size out of range", d.Type, at)
	}
	return d, nil
}

// volumeInfo is what the volume (or disk) section says about the media.
type volumeInfo struct {
	ChunkCount      int64
	SectorsPerChunk int64
	BytesPerSector  int64
	SectorCount     int64
}

// parseVolume decodes an EnCase (1052 bytes) or SMART (94 bytes) volume
// section payload.
func parseVolume(b []byte) (volumeInfo, error) {
	var v volumeInfo
	var sum, stored uint32
	switch {
	case len(b) >= ewfVolumeE01Size:
		v.SectorCount = int64(binary.LittleEndian.Uint64(b[16:24]))
		sum, stored = adler32.Checksum(b[:1048]), binary.LittleEndian.Uint32(b[1048:1052])
	case len(b) >= ewfVolumeS01Size:
		v.SectorCount = int64(binary.LittleEndian.Uint32(b[16:20]))
		sum, stored = adler32.Checksum(b[:90]), binary.LittleEndian.Uint32(b[90:94])
	default:
		return v, fmt.Errorf("volume section payload of %d bytes is too small", len(b))
	}
	if sum != stored {
		return v, fmt.Errorf("volume section Adler-32 0x%08x, stored 0x%08x", sum, stored)
	}
	v.ChunkCount = int64(binary.LittleEndian.Uint32(b[4:8]))
	v.SectorsPerChunk = int64(binary.LittleEndian.Uint32(b[8:12]))
	v.BytesPerSector = int64(binary.LittleEndian.Uint32(b[12:16]))
	switch {
	case v.BytesPerSector < 1 || v.BytesPerSector > 64<<10:
		return v, fmt.Errorf("volume section: %d bytes per sector is out of range", v.BytesPerSector)
	case v.SectorsPerChunk < 1 || v.SectorsPerChunk*v.BytesPerSector > maxChunkSize:
		return v, fmt.Errorf("volume section: %d sectors per chunk of %d bytes is out of range", v.SectorsPerChunk, v.BytesPerSector)
	case v.SectorCount < 0 || v.SectorCount > (1<<62)/v.BytesPerSector:
		return v, fmt.Errorf("volume section: sector count %d is out of range", v.SectorCount)
	}
	return v, nil
}

// maxChunkSize bounds the memory one chunk may take (EnCase allows up to
// 32768 sectors per chunk, 16 MiB at 512 bytes per sector).
const maxChunkSize = 64 << 20

// tableInfo is a parsed table (or table2) section payload.
type tableInfo struct {
	Base    int64
	Entries []uint32 // MSB: chunk compressed; low 31 bits: offset from Base
	// Valid is false when a checksum failed; the entries may still be the
	// best there is when no table2 mirror exists.
	Valid bool
	Err   error
}

// parseTable decodes a table payload: a 24-byte header (entry count, base
// offset, Adler-32), the 4-byte entries, and, in most writers, an Adler-32 of
// the entries. at is the payload's file offset: SMART and EnCase 1 put the
// first chunk right after the entries, where there is then no checksum.
func parseTable(b []byte, at int64) tableInfo {
	if len(b) < ewfTableHeader {
		return tableInfo{Err: fmt.Errorf("table payload of %d bytes is too small", len(b))}
	}
	t := tableInfo{Valid: true}
	count := int64(binary.LittleEndian.Uint32(b[0:4]))
	t.Base = int64(binary.LittleEndian.Uint64(b[8:16]))
	if sum, stored := adler32.Checksum(b[:20]), binary.LittleEndian.Uint32(b[20:24]); sum != stored {
		t.Valid = false
		t.Err = fmt.Errorf("table header Adler-32 0x%08x, stored 0x%08x", sum, stored)
	}
	if t.Base < 0 {
		return tableInfo{Err: fmt.Errorf("table base offset %d is out of range", t.Base)}
	}
	avail := int64(len(b)-ewfTableHeader) / 4
	if count > avail {
		t.Valid = false
		t.Err = errors.Join(t.Err, fmt.Errorf("table claims %d entries, room for %d", count, avail))
		count = avail
	}
	ents := b[ewfTableHeader : ewfTableHeader+4*count]
	t.Entries = make([]uint32, count)
	for i := range t.Entries {
		t.Entries[i] = binary.LittleEndian.Uint32(ents[4*i:])
	}
	chunksFollow := count > 0 && t.Base+int64(t.Entries[0]&0x7fffffff) == at+ewfTableHeader+4*count
	if rest := b[ewfTableHeader+4*count:]; len(rest) >= 4 && t.Valid && !chunksFollow {
		if sum, stored := adler32.Checksum(ents), binary.LittleEndian.Uint32(rest[:4]); sum != stored {
			t.Valid = false
			t.Err = fmt.Errorf("table entries Adler-32 0x%08x, stored 0x%08x", sum, stored)
		}
	}
	return t
}

// parseHash decodes the hash section (MD5) payload.
func parseHash(b []byte) (md5 []byte, err error) {
	if len(b) < 36 {
		return nil, fmt.Errorf("hash section payload of %d bytes is too small", len(b))
	}
	if sum, stored := adler32.Checksum(b[:32]), binary.LittleEndian.Uint32(b[32:36]); sum != stored {
		return nil, fmt.Errorf("hash section Adler-32 0x%08x, stored 0x%08x", sum, stored)
	}
	return nonZero(b[:16]), nil
}

// parseDigest decodes the digest section (MD5 and SHA-1) payload.
func parseDigest(b []byte) (md5, sha1 []byte, err error) {
	if len(b) < 80 {
		return nil, nil, fmt.Errorf("digest section payload of %d bytes is too small", len(b))
	}
	if sum, stored := adler32.Checksum(b[:76]), binary.LittleEndian.Uint32(b[76:80]); sum != stored {
		return nil, nil, fmt.Errorf("digest section Adler-32 0x%08x, stored 0x%08x", sum, stored)
	}
	return nonZero(b[:16]), nonZero(b[16:36]), nil
}

// parseError2 decodes the acquisition read errors (error2 section).
func parseError2(b []byte) ([]SectorRange, error) {
	if len(b) < 520 {
		return nil, fmt.Errorf("error2 section payload of %d bytes is too small", len(b))
	}
	if sum, stored := adler32.Checksum(b[:516]), binary.LittleEndian.Uint32(b[516:520]); sum != stored {
		return nil, fmt.Errorf("error2 header Adler-32 0x%08x, stored 0x%08x", sum, stored)
	}
	n := int(binary.LittleEndian.Uint32(b[0:4]))
	if n > (len(b)-520)/8 {
		return nil, fmt.Errorf("error2 section claims %d entries, room for %d", n, (len(b)-520)/8)
	}
	out := make([]SectorRange, n)
	for i := range out {
		e := b[520+8*i:]
		out[i] = SectorRange{Start: int64(binary.LittleEndian.Uint32(e[0:4])), Count: int64(binary.LittleEndian.Uint32(e[4:8]))}
	}
	return out, nil
}

func nonZero(b []byte) []byte {
	for _, c := range b {
		if c != 0 {
			return append([]byte(nil), b...)
		}
	}
	return nil
}
