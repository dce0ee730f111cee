package fs

import (
	"errors"
	"time"
)

// Options bound what a walk may cost. The zero value is usable: every zero
// field takes its default.
type Options struct {
	// MaxDepth is how many container layers are expanded (a .tar.gz is two).
	// A deeper container is delivered as a plain file and reported.
	MaxDepth int
	// MaxExpanded caps the bytes all decompressors of one walk may produce
	// together, so a zip bomb (42.zip and friends) ends in a Problem instead
	// of a full disk or a week of CPU.
	MaxExpanded int64
	// MaxRatio, when > 0, stops one decompressed stream once it has produced
	// more than 1 MiB at more than MaxRatio times its compressed size. Off
	// by default: a zero-filled disk image or wtmp compresses beyond any
	// sane ratio and is still evidence; MaxExpanded is what bounds the work.
	MaxRatio int64
	// TempDir is where a zip found inside a stream (zip in a tar.gz) is
	// spooled when larger than SpoolMemory: the case folder's tmp. Nothing
	// is ever written anywhere else; when empty, such zips are reported and
	// skipped.
	TempDir string
	// SpoolMemory is the largest stream-borne zip kept in memory.
	SpoolMemory int64
	// SpoolLimit caps the bytes one stream-borne zip may take in TempDir
	// (ingest's --spool-limit); a larger one is reported (ErrNoSpool) and
	// skipped. Zero or less: no cap but MaxExpanded.
	SpoolLimit int64
	// Zone is the evidence's zone (the case zone): file systems that record
	// local times without a zone (FAT) are read in it. Nil: unknown, UTC is
	// assumed and the walk says so.
	Zone *time.Location
	// Images, when set, is asked about every file whose first bytes look
	// like a disk image (an E01 or raw image in a folder, an ext4 image in
	// a tar, a VMDK inside an NTFS volume): it opens and walks it as a
	// disk. forensics/disk sets it.
	Images ImageOpener
	// ImageDepth is how many disk images enclose this walk (set by the
	// image hook); at MaxImageDepth a further image is reported and
	// delivered as a plain file.
	ImageDepth int
}

// Defaults.
const (
	DefaultMaxDepth    = 8
	DefaultMaxExpanded = 64 << 30
	DefaultSpoolMemory = 32 << 20
)

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxExpanded <= 0 {
		o.MaxExpanded = DefaultMaxExpanded
	}
	if o.SpoolMemory <= 0 {
		o.SpoolMemory = DefaultSpoolMemory
	}
	return o
}

// Problem causes; test with errors.Is on Problem.Err.
var (
	ErrUnreadable     = errors.New("unreadable")
	ErrTruncated      = errors.New("truncated")
	ErrCorrupt        = errors.New("corrupt")
	ErrUnsafePath     = errors.New("unsafe path")
	ErrTooDeep        = errors.New("container nesting too deep")
	ErrExpansionLimit = errors.New("expansion limit reached")
	ErrSymlink        = errors.New("symbolic link not followed")
	ErrNotRegular     = errors.New("not a regular file, skipped")
	ErrEncrypted      = errors.New("encrypted member, skipped")
	ErrNoSpool        = errors.New("cannot spool for random access")
	// ErrNote marks a Problem that is no problem: what a container says of
	// how it was read (a compressed image decompressed to a temporary copy
	// with its SHA-256, a VHDX log replayed in memory, a QCOW2 snapshot not
	// read). The summary lists it; nothing was left unread.
	ErrNote = errors.New("note")
	// ErrTrailingData is data a container's own structure does not
	// account for: bytes after a tar's end-of-archive marker, zip local
	// headers the central directory does not list.
	ErrTrailingData = errors.New("data outside the container's structure")
	// ErrContainer is what Open returns for a Container entry: its content
	// is delivered as its members.
	ErrContainer = errors.New("expanded container: its content is delivered as its members")
)
