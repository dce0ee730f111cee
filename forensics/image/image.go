// Package image opens the containers disk images come in (raw/dd, split raw,
// EWF/E01, the virtual disks QCOW2, VMDK, VHD and VHDX, and raw images
// compressed whole with gzip, xz, bzip2 or zstd) as one io.ReaderAt over the
// acquired media. Containers are recognised by content, not by name; names
// only matter to find the sibling segments of a set. No Go module for the
// virtual-disk formats is served to this project: their decoders are
// written here from the formats' specifications (qcow2.go, vmdk.go, vhd.go,
// vhdx.go).
package image

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/jejak-forensics/jejak/internal/rofile"
)

// Image is the acquired media of a container, read-only.
type Image interface {
	io.ReaderAt
	io.Closer
	// Size is the size of the media in bytes (not of the container files).
	Size() int64
	// Info describes the container: format, segment files, stored hashes.
	Info() Info
}

// Info describes a container.
type Info struct {
	Format   string   // "raw", "split-raw", "ewf", "qcow2", "vmdk", "vhd", "vhdx", or "gzip-raw", "xz-raw", "bzip2-raw", "zstd-raw"
	Segments []string // the files that make up the image, in order
	// Stored holds the hashes the acquisition tool recorded in the container
	// (EWF hash and digest sections); empty fields when none were stored.
	Stored Hashes
	// The fields below are filled for EWF only.
	SectorSize  int64
	SectorCount int64
	ChunkSize   int64
	// AcquisitionErrors are sector ranges the acquiring tool could not read
	// (EWF error2 section); they hold zeros in the image.
	AcquisitionErrors []SectorRange
	// Metadata holds the acquirer's case fields from the EWF header2/header
	// section (case_number, examiner_name, acquisition_date, ...), raw text;
	// for QCOW2 and VMDK, header facts (format_version, virtual_size,
	// cluster_size or grain_size, create_type, backing_file, parent_file...).
	Metadata map[string]string
	// Warnings are oddities that did not stop opening the image (a bad table
	// checksum recovered from table2, a hash section with a bad checksum...).
	Warnings []string
	// Notes are facts a reader of the image should know that are not damage
	// (internal snapshots not read, clusters read from a backing file...).
	Notes []string
}

// SectorRange is a run of sectors.
type SectorRange struct{ Start, Count int64 }

// MissingSegmentError names a segment file of a set that is not there.
type MissingSegmentError struct {
	Missing []string // the missing file names, in order
	Set     string   // the file the set was opened from
}

func (e *MissingSegmentError) Error() string {
	return fmt.Sprintf("image: segment set of %s is incomplete: missing %s", e.Set, strings.Join(e.Missing, ", "))
}

// Open opens the image at path: EWF, QCOW2 or VMDK (a sparse extent or a
// descriptor file) when the file starts with their signature, VHDX by its
// signature, VHD by its footer, a gzip/xz/bzip2/zstd stream whose start is
// a disk or a file system as a compressed raw image, split raw
// when the name is a segment of a numbered or lettered set whose siblings
// exist, raw otherwise.
func Open(path string) (Image, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options: where a compressed raw image found at
// path or in its backing chain is decompressed.
func OpenWith(path string, o Options) (Image, error) {
	f, err := rofile.Open(path)
	if err != nil {
		return nil, err
	}
	var head [512]byte
	n, err := f.ReadAt(head[:], 0)
	f.Close()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("image: %s: %w", path, err)
	}
	switch {
	case bytes.HasPrefix(head[:n], ewfSignature):
		return OpenEWF(path)
	case isQCOW2(head[:n]):
		return openQCOW2(path, 0, o)
	case isVMDK(head[:n]):
		return openVMDK(path, 0, o)
	}
	if img, ok, err := openVHDOrCompressed(path, head[:n], o); ok {
		return img, err
	}
	if names, err := splitSiblings(path); err != nil {
		return nil, err
	} else if len(names) > 1 {
		return openSplit(path, names)
	}
	return OpenRaw(path)
}
