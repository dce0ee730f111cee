// Package fat walks FAT12, FAT16, FAT32 and exFAT file systems read from an
// io.ReaderAt (a partition of a disk image, a USB stick's image, a bare
// volume) and yields every directory entry, live and deleted, with its
// times.
//
// No Go module for FAT or exFAT is served to this project, and the ones
// that exist are io/fs views of the live tree; a forensic walk needs the
// deleted entries, so this package reads the structures itself: the boot
// sector (BPB), the file allocation table, directories (fixed root of
// FAT12/16, cluster chains elsewhere), VFAT long names, exFAT entry sets
// (file, stream extension, name), the exFAT allocation bitmap.
//
// Results follow The Sleuth Kit so they compare with fls:
//   - inode numbers are TSK's: the root is 2, every 32-byte slot of the data
//     area after the FATs is numbered from 3 in sector order;
//   - a deleted FAT entry's lost first character is shown as '_'
//     ("_ILE.TXT"), unless a VFAT long name precedes it, which gives the
//     whole name back; the short name's lower-case flags are applied;
//   - an entry is deleted when its slot says so (0xE5, exFAT's in-use bit
//     clear) or when the cluster holding it is free;
//   - a deleted file's content is placed as TSK's recovery (and icat)
//     places it, since deletion frees the FAT chain: the free clusters from
//     its first cluster on, for its recorded size. It is a guess, and the
//     entry's Identity says "recovered". When the first cluster belongs to
//     another file again, the content is gone: the entry keeps its name,
//     size and times, reads as empty, and says "overwritten" (icat would
//     hand over that cluster, the other file's bytes);
//   - a deleted directory's first cluster is read when it is free and
//     still holds a "." entry pointing at itself;
//   - a long name is used only when its checksum matches the short entry
//     after it (TSK does not check); a live entry preceded by a long name
//     that is not its own is reported. Long-name slots with no short entry
//     (fls lists none either) are not yielded;
//   - TSK's virtual files ($MBR, $FAT1, exFAT's $ALLOC_BITMAP and
//     $UPCASE_TABLE) and its $OrphanFiles search are not produced: they
//     are not directory entries and carry no times.
//
// Times: FAT records local wall-clock times (creation to 10 ms,
// modification to 2 s, access as a date only) with no zone. They are read
// in Options.Zone, the evidence's zone, and each entry records it
// (Entry.ZoneAssumed); with no zone given they are read as UTC and the walk
// reports that once. exFAT times carry a UTC offset when the writer set
// one (Windows, Linux): those are exact; times without a valid offset are
// read in Options.Zone like FAT's. fls applies no offset (it reads every
// exFAT time as local time), so on a volume written at a non-zero offset
// jejak's times differ from fls's by exactly that offset, by design.
package fat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
)

// Layers are the chain kinds of entries from this walker: "fat:<path>"
// (FAT12, FAT16 and FAT32) and "exfat:<path>".
const (
	LayerFAT   = "fat"
	LayerExFAT = "exfat"
)

// ErrNotFAT is returned by NewWalker when r holds no FAT or exFAT boot
// sector.
var ErrNotFAT = errors.New("fat: no FAT or exFAT boot sector")

// Options say how to read the file system.
type Options struct {
	// Zone is the zone the evidence's clocks were set to: FAT times (and
	// exFAT times without a UTC offset) are local times and are read in it.
	// Nil means unknown: UTC is assumed and the walk reports it.
	Zone *time.Location
}

// Walker walks one FAT or exFAT file system.
type Walker struct {
	v     *volume
	chain []string
	opts  Options
}

var _ jfs.Walker = (*Walker)(nil)

// NewWalker reads the boot sector of the file system in r (size bytes)
// and returns its walker. chain is the evidence's layers down to this file
// system; each entry's chain is chain followed by "fat:<path>" or
// "exfat:<path>". An error means there is no usable FAT/exFAT here (it
// wraps ErrNotFAT when the boot sector is not one); damage further in is
// reported by Walk.
func NewWalker(r io.ReaderAt, size int64, chain []string, opts Options) (*Walker, error) {
	v, err := openVolume(r, size)
	if err != nil {
		return nil, err
	}
	return &Walker{v: v, chain: slices.Clone(chain), opts: opts}, nil
}

// Probe says whether r starts with a FAT or exFAT boot sector this package
// accepts, with every geometry field sane: it is strict, so that an
// arbitrary small file with 0x55AA at byte 510 is not taken for a volume.
// kind is "fat12", "fat16", "fat32" or "exfat".
func Probe(r io.ReaderAt, size int64) (kind string, err error) {
	v, err := openVolume(r, size)
	if err != nil {
		return "", err
	}
	return v.kind, nil
}

// Info describes the file system, for reports.
type Info struct {
	Kind              string // "fat12", "fat16", "fat32", "exfat"
	SectorSize        int64
	ClusterSize       int64
	Clusters          uint32
	FATs              int
	Label             string // from the root directory's label entry, else the boot sector's
	Serial            uint32
	FirstDataSector   int64 // where TSK's slot (inode) numbering starts
	FirstClusterBytes int64 // byte offset of cluster 2
	Bytes             int64 // the file system's size as its boot sector gives it
}

// Info returns the boot-sector facts the walk is based on.
func (w *Walker) Info() Info {
	v := w.v
	return Info{Kind: v.kind, SectorSize: v.ssize, ClusterSize: v.csize, Clusters: v.clusters,
		FATs: v.nfats, Label: v.label, Serial: v.serial, FirstDataSector: v.firstDataSect,
		FirstClusterBytes: v.heap, Bytes: v.totalSectors * v.ssize}
}

// Layer is the chain kind of this walker's entries.
func (w *Walker) Layer() string {
	if w.v.kind == "exfat" {
		return LayerExFAT
	}
	return LayerFAT
}

// Walk yields every directory entry reachable from the root, live and
// deleted, depth first in on-disk order. Directories carry Mode dir and
// their raw entries as content; a FAT volume label carries no content,
// only its times.
func (w *Walker) Walk(ctx context.Context, fn jfs.WalkFunc, report func(*jfs.Problem)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if report == nil {
		report = func(*jfs.Problem) {}
	}
	s := &walkState{w: w, v: w.v, ctx: ctx, fn: fn, report: report, seen: map[uint32]bool{}}
	s.loc = w.opts.Zone
	if s.loc == nil {
		s.loc = time.UTC
	}
	if fsBytes := w.v.totalSectors * w.v.ssize; fsBytes > w.v.size {
		s.problem(".", w.v.size, fmt.Errorf("%w: the file system is %d bytes but its volume ends at %d: what lies past the end cannot be read", jfs.ErrTruncated, fsBytes, w.v.size))
	}
	if w.v.kind == "exfat" {
		return s.runExFAT()
	}
	return s.runFAT()
}

// walkState is one walk. Its memory is bounded by the directory depth and
// the number of directories (one bit of "seen" each), never by file sizes.
type walkState struct {
	w          *Walker
	v          *volume
	ctx        context.Context
	fn         jfs.WalkFunc
	report     func(*jfs.Problem)
	loc        *time.Location
	zoneWarned bool
	seen       map[uint32]bool // directory start clusters walked: a cross-linked or looping tree is walked once
	n          int
}

// assumeZone is the zone local times are read in, for Entry.ZoneAssumed.
// The first time it is needed without a zone given, the walk reports that
// UTC was assumed.
func (s *walkState) assumeZone() string {
	if s.w.opts.Zone == nil && !s.zoneWarned {
		s.zoneWarned = true
		s.problem(".", -1, fmt.Errorf("%s times are local times and the evidence's zone is not known: they are read as UTC", s.v.kind))
	}
	return s.loc.String()
}

func (s *walkState) layer() string { return s.w.Layer() }

func (s *walkState) problem(path string, off int64, err error) {
	if path == "" {
		path = "."
	}
	s.report(&jfs.Problem{Chain: s.chainFor(path), Path: path, Offset: off, Err: err})
}

func (s *walkState) chainFor(path string) []string {
	c := make([]string, len(s.w.chain), len(s.w.chain)+1)
	copy(c, s.w.chain)
	if path == "." {
		path = ""
	}
	return append(c, s.layer()+":"+path)
}

func (s *walkState) tick() error {
	s.n++
	if s.n%256 == 0 {
		return s.ctx.Err()
	}
	return nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
