// Package volume finds the partitions of a disk image: MBR (primary,
// extended and logical), GPT, or none (the whole disk is one volume), and
// sniffs the file system at the start of each.
package volume

import (
	"fmt"
	"io"
)

// Partition is one volume of a disk.
type Partition struct {
	Index  int    // 1-based, in table order (MBR primaries, then logicals)
	Slot   string // table:entry as mmls prints it ("000:001"); "" for a whole-disk volume
	Start  int64  // byte offset in the disk
	Length int64  // bytes, as the table records it
	// Type is the MBR type byte ("0x83") or the GPT type GUID; TypeName its
	// common name ("Linux", "Microsoft basic data") or "" when unknown.
	Type     string
	TypeName string
	Name     string // GPT partition name
	GUID     string // GPT unique partition GUID
	// Reader covers the partition's bytes that exist in the image: shorter
	// than Length when the table points past the end of the image.
	Reader *io.SectionReader
}

// System is the partitioning of a disk.
type System struct {
	Scheme     string // "mbr", "gpt" or "none"
	SectorSize int64
	Partitions []Partition
	// Problems are parts of the tables that could not be used (a partition
	// past the end of the image, a bad GPT header recovered from the backup,
	// a loop in the extended partition chain). The partitions that could be
	// read are returned all the same.
	Problems []*Problem
}

// Problem is a table fault at a byte offset of the disk.
type Problem struct {
	Offset int64
	Msg    string
}

func (p *Problem) Error() string { return fmt.Sprintf("volume: at offset %d: %s", p.Offset, p.Msg) }

const sectorSize = 512

// Open reads the partition tables of the disk r of size bytes. GPT wins over
// the protective MBR that precedes it; a disk with neither (or with a file
// system boot sector at 0) is one volume covering it all. An error means the
// disk could not be read at all.
func Open(r io.ReaderAt, size int64) (*System, error) {
	var s0 [sectorSize]byte
	if n, err := r.ReadAt(s0[:], 0); n < len(s0) {
		if size >= sectorSize || n == 0 && size > 0 {
			return nil, fmt.Errorf("volume: reading sector 0: %v", err)
		}
	}
	if s, ok := readGPT(r, size); ok {
		return s, nil
	}
	if fs := Detect(r); fs != "unknown" {
		// A file system boot sector carries 0x55AA too; it is no MBR.
		return whole(r, size), nil
	}
	if s, ok := readMBR(r, size, s0[:]); ok {
		return s, nil
	}
	return whole(r, size), nil
}

func whole(r io.ReaderAt, size int64) *System {
	return &System{Scheme: "none", SectorSize: sectorSize, Partitions: []Partition{{
		Index: 1, Start: 0, Length: size, Reader: io.NewSectionReader(r, 0, size),
	}}}
}

// add appends p, checking it against the image size: a partition starting
// past the end is reported and dropped, one running past it is kept with a
// Reader clipped to what exists.
func (s *System) add(r io.ReaderAt, size int64, tableOff int64, p Partition) {
	switch {
	case p.Start >= size:
		s.Problems = append(s.Problems, &Problem{Offset: tableOff, Msg: fmt.Sprintf("partition %s starts at byte %d, past the end of the image (%d bytes)", p.Slot, p.Start, size)})
		return
	case p.Start+p.Length > size:
		s.Problems = append(s.Problems, &Problem{Offset: tableOff, Msg: fmt.Sprintf("partition %s (bytes %d-%d) runs %d bytes past the end of the image", p.Slot, p.Start, p.Start+p.Length, p.Start+p.Length-size)})
	}
	p.Index = len(s.Partitions) + 1
	p.Reader = io.NewSectionReader(r, p.Start, min(p.Length, size-p.Start))
	s.Partitions = append(s.Partitions, p)
}
