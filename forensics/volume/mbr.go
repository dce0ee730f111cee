package volume

import (
	"encoding/binary"
	"fmt"
	"io"
)

type mbrEntry struct {
	status byte
	typ    byte
	start  int64 // sectors, relative to the table's base
	count  int64
}

func parseMBREntries(sector []byte) ([4]mbrEntry, bool) {
	var es [4]mbrEntry
	if len(sector) < sectorSize || sector[510] != 0x55 || sector[511] != 0xaa {
		return es, false
	}
	for i := range es {
		b := sector[446+16*i:]
		es[i] = mbrEntry{status: b[0], typ: b[4], start: int64(binary.LittleEndian.Uint32(b[8:12])), count: int64(binary.LittleEndian.Uint32(b[12:16]))}
	}
	return es, true
}

func isExtended(t byte) bool { return t == 0x05 || t == 0x0f || t == 0x85 }

// maxLogical bounds the extended partition chain; the visited set catches
// loops, this catches chains that only ever move forward.
const maxLogical = 1024

// readMBR parses a DOS partition table in sector 0. ok is false when sector
// 0 is not one (no 0x55AA, a status byte other than 0x00/0x80, or no entry).
func readMBR(r io.ReaderAt, size int64, s0 []byte) (*System, bool) {
	es, ok := parseMBREntries(s0)
	if !ok {
		return nil, false
	}
	used := 0
	for _, e := range es {
		if e.status != 0 && e.status != 0x80 {
			return nil, false
		}
		if e.typ != 0 {
			used++
		}
	}
	if used == 0 {
		return nil, false
	}
	s := &System{Scheme: "mbr", SectorSize: sectorSize}
	var exts []mbrEntry
	for i, e := range es {
		if e.typ == 0 || e.count == 0 {
			continue
		}
		if isExtended(e.typ) {
			exts = append(exts, e)
			continue
		}
		s.add(r, size, 446+16*int64(i), mbrPartition(0, i, 0, e))
	}
	for _, ext := range exts {
		s.readExtended(r, size, ext.start)
	}
	return s, true
}

func mbrPartition(table, entry int, base int64, e mbrEntry) Partition {
	return Partition{
		Slot:     fmt.Sprintf("%03d:%03d", table, entry),
		Start:    (base + e.start) * sectorSize,
		Length:   e.count * sectorSize,
		Type:     fmt.Sprintf("0x%02x", e.typ),
		TypeName: mbrTypes[e.typ],
	}
}

// readExtended follows the chain of extended boot records: each holds one
// logical partition (relative to itself) and a link to the next EBR
// (relative to the start of the extended partition).
func (s *System) readExtended(r io.ReaderAt, size int64, extStart int64) {
	seen := map[int64]bool{}
	ebr := extStart
	var sec [sectorSize]byte
	for table := 1; ; table++ {
		off := ebr * sectorSize
		if seen[ebr] || table > maxLogical {
			s.Problems = append(s.Problems, &Problem{Offset: off, Msg: "extended partition chain loops back on itself; chain cut here"})
			return
		}
		seen[ebr] = true
		if off+sectorSize > size {
			s.Problems = append(s.Problems, &Problem{Offset: off, Msg: fmt.Sprintf("extended boot record at sector %d is past the end of the image", ebr)})
			return
		}
		if _, err := r.ReadAt(sec[:], off); err != nil {
			s.Problems = append(s.Problems, &Problem{Offset: off, Msg: fmt.Sprintf("reading extended boot record: %v", err)})
			return
		}
		es, ok := parseMBREntries(sec[:])
		if !ok {
			s.Problems = append(s.Problems, &Problem{Offset: off, Msg: "extended boot record has no 0x55AA signature"})
			return
		}
		next := int64(-1)
		for i, e := range es {
			switch {
			case e.typ == 0 || e.count == 0:
			case isExtended(e.typ):
				if next < 0 {
					next = extStart + e.start
				}
			default:
				s.add(r, size, off+446+16*int64(i), mbrPartition(table, i, ebr, e))
			}
		}
		if next < 0 {
			return
		}
		ebr = next
	}
}
