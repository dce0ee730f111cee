package volume

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/internal/zeros"
)

type gptHeader struct {
	current, backup       int64 // LBAs of this header and the other copy
	entriesLBA            int64
	entryCount, entrySize int64
	entriesCRC            uint32
}

// parseGPTHeader checks signature and header CRC32 of one header sector.
func parseGPTHeader(b []byte) (gptHeader, error) {
	var h gptHeader
	if len(b) < 92 || string(b[:8]) != "EFI PART" {
		return h, fmt.Errorf("no EFI PART signature")
	}
	hsize := int(binary.LittleEndian.Uint32(b[12:16]))
	if hsize < 92 || hsize > len(b) {
		return h, fmt.Errorf("header size %d out of range", hsize)
	}
	stored := binary.LittleEndian.Uint32(b[16:20])
	c := append([]byte(nil), b[:hsize]...)
	copy(c[16:20], []byte{0, 0, 0, 0})
	if got := crc32.ChecksumIEEE(c); got != stored {
		return h, fmt.Errorf("header CRC32 0x%08x, stored 0x%08x", got, stored)
	}
	h.current = int64(binary.LittleEndian.Uint64(b[24:32]))
	h.backup = int64(binary.LittleEndian.Uint64(b[32:40]))
	h.entriesLBA = int64(binary.LittleEndian.Uint64(b[72:80]))
	h.entryCount = int64(binary.LittleEndian.Uint32(b[80:84]))
	h.entrySize = int64(binary.LittleEndian.Uint32(b[84:88]))
	h.entriesCRC = binary.LittleEndian.Uint32(b[88:92])
	if h.entrySize < 128 || h.entrySize%8 != 0 || h.entrySize > 4096 || h.entryCount > 65536 || h.entriesLBA < 0 || h.current < 0 || h.backup < 0 {
		return h, fmt.Errorf("partition array of %d entries of %d bytes at LBA %d is out of range", h.entryCount, h.entrySize, h.entriesLBA)
	}
	return h, nil
}

// readGPT looks for a GPT at LBA 1 for 512- and 4096-byte sectors, falling
// back to the backup header at the disk's last LBA when the primary header
// or its partition array fails its CRC.
func readGPT(r io.ReaderAt, size int64) (*System, bool) {
	for _, ss := range []int64{512, 4096} {
		if s, ok := readGPTSector(r, size, ss); ok {
			return s, true
		}
	}
	return nil, false
}

func readGPTSector(r io.ReaderAt, size, ss int64) (*System, bool) {
	s := &System{Scheme: "gpt", SectorSize: ss}
	buf := make([]byte, ss)
	readHeader := func(lba int64) (gptHeader, []byte, error) {
		if lba < 0 || (lba+1)*ss > size {
			return gptHeader{}, nil, fmt.Errorf("LBA %d is past the end of the image", lba)
		}
		if _, err := r.ReadAt(buf, lba*ss); err != nil {
			return gptHeader{}, nil, err
		}
		h, err := parseGPTHeader(buf)
		if err != nil {
			return h, nil, err
		}
		ents, err := readEntries(r, size, ss, h)
		return h, ents, err
	}
	hasSig := (2*ss <= size) && func() bool {
		var sig [8]byte
		r.ReadAt(sig[:], ss)
		return string(sig[:]) == "EFI PART"
	}()
	if !hasSig && !hasProtectiveMBR(r) {
		return nil, false
	}
	h, ents, err := readHeader(1)
	if err != nil {
		primaryErr := err
		backup := size/ss - 1
		if h.backup > 1 {
			backup = h.backup
		}
		h, ents, err = readHeader(backup)
		switch {
		case err != nil && !hasSig:
			return nil, false // a protective-looking MBR without any GPT: read as MBR
		case err != nil:
			s.Problems = append(s.Problems, &Problem{Offset: ss, Msg: fmt.Sprintf("GPT primary header: %v; backup header at LBA %d: %v", primaryErr, backup, err)})
			return s, true
		}
		s.Problems = append(s.Problems, &Problem{Offset: ss, Msg: fmt.Sprintf("GPT primary header: %v; read the backup header at LBA %d instead", primaryErr, backup)})
	}
	for i := int64(0); i < h.entryCount; i++ {
		e := ents[i*h.entrySize : (i+1)*h.entrySize]
		if zeros.All(e[:16]) {
			continue
		}
		first, last := int64(binary.LittleEndian.Uint64(e[32:40])), int64(binary.LittleEndian.Uint64(e[40:48]))
		entryOff := h.entriesLBA*ss + i*h.entrySize
		if first < 0 || last < first || last > (1<<62)/ss {
			s.Problems = append(s.Problems, &Problem{Offset: entryOff, Msg: fmt.Sprintf("GPT entry %d has LBAs %d-%d", i, first, last)})
			continue
		}
		typ := guidString(e[0:16])
		s.add(r, size, entryOff, Partition{
			Slot:     fmt.Sprintf("%03d", i), // mmls numbers GPT entries alone
			Start:    first * ss,
			Length:   (last - first + 1) * ss,
			Type:     typ,
			TypeName: gptTypes[typ],
			GUID:     guidString(e[16:32]),
			Name:     utf16Name(e[56:min(128, len(e))]),
		})
	}
	return s, true
}

func readEntries(r io.ReaderAt, size, ss int64, h gptHeader) ([]byte, error) {
	n := h.entryCount * h.entrySize
	off := h.entriesLBA * ss
	if off+n > size {
		return nil, fmt.Errorf("partition array at LBA %d runs past the end of the image", h.entriesLBA)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, off); err != nil {
		return nil, err
	}
	if got := crc32.ChecksumIEEE(b); got != h.entriesCRC {
		return nil, fmt.Errorf("partition array CRC32 0x%08x, stored 0x%08x", got, h.entriesCRC)
	}
	return b, nil
}

func hasProtectiveMBR(r io.ReaderAt) bool {
	var s0 [sectorSize]byte
	if _, err := r.ReadAt(s0[:], 0); err != nil {
		return false
	}
	es, ok := parseMBREntries(s0[:])
	if !ok {
		return false
	}
	for _, e := range es {
		if e.typ == 0xee {
			return true
		}
	}
	return false
}

// guidString formats a GUID stored with its first three fields little-endian.
func guidString(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X", binary.LittleEndian.Uint32(b[0:4]), binary.LittleEndian.Uint16(b[4:6]), binary.LittleEndian.Uint16(b[6:8]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
