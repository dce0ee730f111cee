package fs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
)

// ImageSource is a file met inside evidence (in a folder, an archive, a
// file system) whose first bytes look like a disk image.
type ImageSource struct {
	// Entry is the file; its Chain is the prefix of the image's layers.
	Entry *Entry
	// Path is where the file's bytes are on the examiner's disk: the file
	// itself when it is in a registered folder (so an EWF set finds its
	// sibling segments), or a spooled copy in Options.TempDir.
	Path string
	// R and Size give random access to the bytes when Path is "" (a raw
	// image inside a file system is read in place, never copied).
	R    io.ReaderAt
	Size int64
	// Opts are the options the image's own walk must use (ImageDepth
	// already counts this image).
	Opts Options
}

// ImageOpener opens a disk image found inside evidence. It returns a nil
// walker and nil error when the bytes are not a disk image it reads (the
// file is then delivered as a plain file), an error when they are one that
// cannot be opened (an EWF set missing a segment). segments lists the
// other files on disk the image is made of (EWF .E02…, split raw .002…):
// the folder walk delivers those for their times only. The walker's
// entries carry chains that start with src.Entry.Chain.
//
// forensics/disk provides it; this package cannot import that one.
type ImageOpener func(ctx context.Context, src ImageSource) (w Walker, segments []string, err error)

// MaxImageDepth is how many disk images may enclose one another: an image
// in an image in an image is already rare; more is a loop or a bomb.
const MaxImageDepth = 4

// ImageHeadSize is how much of a file imageCandidate looks at: an ext
// superblock's magic is at byte 1080.
const ImageHeadSize = 2048

var (
	magicEWF   = []byte("EVF\x09\x0d\x0a\xff\x00")
	magicQCOW  = []byte("QFI\xfb")
	magicVMDK  = []byte("KDMV")
	magicVMDKD = []byte("# Disk DescriptorFile")
	magicVHDX  = []byte("vhdxfile")
	magicVHD   = []byte("conectix")
)

// imageCandidate is the cheap test that decides whether the opener is
// asked at all: a container signature, a boot sector or MBR signature, or
// an ext superblock. needCopy says the format is a container whose reader
// needs a file (EWF, QCOW2, VMDK, VHD/VHDX), not a raw image readable in
// place.
func imageCandidate(head []byte, ra io.ReaderAt, size int64) (ok, needCopy bool) {
	switch {
	case bytes.HasPrefix(head, magicEWF), bytes.HasPrefix(head, magicQCOW),
		bytes.HasPrefix(head, magicVMDK), bytes.HasPrefix(head, magicVMDKD),
		bytes.HasPrefix(head, magicVHDX), bytes.HasPrefix(head, magicVHD):
		return true, true
	case len(head) >= 512 && head[510] == 0x55 && head[511] == 0xAA:
		return true, false
	case len(head) >= 1082 && binary.LittleEndian.Uint16(head[1080:]) == 0xEF53:
		return true, false
	}
	if ra != nil && size >= 512+512 {
		// A fixed VHD is raw bytes followed by a 512-byte footer.
		var foot [8]byte
		if n, _ := ra.ReadAt(foot[:], size-512); n == len(foot) && bytes.Equal(foot[:], magicVHD) {
			return true, true
		}
	}
	return false, false
}

// visitImage offers e to Options.Images. handled is true when e was walked
// as an image, reported as one that cannot be opened, or (spooled and not
// an image after all) delivered from its spooled copy; false leaves e to
// the caller, untouched.
func (s *walkState) visitImage(e *Entry, head []byte, ra io.ReaderAt, stream io.Reader) (handled bool, err error) {
	ok, needCopy := imageCandidate(head, ra, e.Size)
	if !ok {
		return false, nil
	}
	if s.opts.ImageDepth >= MaxImageDepth {
		s.problem(e.Chain, e.Path, 0, fmt.Errorf("%w: a disk image nested %d images deep (fs.MaxImageDepth is %d) is delivered as a plain file", ErrTooDeep, s.opts.ImageDepth+1, MaxImageDepth))
		return false, nil
	}
	src := ImageSource{Entry: e, Opts: s.opts}
	src.Opts.ImageDepth++
	switch {
	case e.osPath != "":
		src.Path = e.osPath
	case ra != nil && !needCopy && e.Size >= 0:
		src.R, src.Size = ra, e.Size
	default:
		// A member of a stream, or a container format inside a file
		// system: its reader needs a file of its own.
		var in io.Reader = stream
		if in == nil {
			in = io.NewSectionReader(ra, 0, e.Size)
		}
		p, cleanup, err := s.spoolImage(e, in)
		if err != nil {
			s.problem(e.Chain, e.Path, -1, err)
			if stream != nil {
				// The stream is consumed: its remains cannot be parsed.
				return true, drain(s, stream)
			}
			return false, nil
		}
		defer cleanup()
		src.Path = p
	}
	w, segments, oerr := s.opts.Images(s.ctx, src)
	if oerr != nil {
		s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: disk image that cannot be opened: %v", ErrUnreadable, oerr))
		return true, s.announce(e)
	}
	if w == nil {
		if src.Path == "" || src.Path == e.osPath {
			return false, nil
		}
		// Spooled, and not an image after all: the copy is the content.
		d := *e
		p := src.Path
		d.open = func() (io.ReadCloser, error) { return os.Open(p) }
		d.readerAt = func() (io.ReaderAt, error) { return os.Open(p) }
		// The copy is removed when this call returns.
		d.osPath, d.lasting = "", false
		return true, s.fn(s.ctx, &d)
	}
	for _, seg := range segments {
		if s.consumed == nil {
			s.consumed = map[string]bool{}
		}
		s.consumed[filepath.Clean(seg)] = true
	}
	if err := s.announce(e); err != nil {
		return true, err
	}
	var stop error // fn asked to stop: that ends this walk too
	fn := func(ctx context.Context, x *Entry) error {
		err := s.fn(ctx, x)
		if err != nil && stop == nil {
			stop = err
		}
		return err
	}
	err = w.Walk(s.ctx, fn, s.report)
	switch {
	case stop != nil:
		return true, stop
	case s.ctx.Err() != nil:
		return true, s.ctx.Err()
	case err != nil:
		// The image could not be walked at all; the walk goes on.
		s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: disk image: %v", ErrUnreadable, err))
	}
	return true, nil
}

// spoolImage copies a member to a folder of its own in Options.TempDir,
// under its own base name (an EWF reader names segments from it), bounded
// by Options.SpoolLimit.
func (s *walkState) spoolImage(e *Entry, in io.Reader) (string, func(), error) {
	if s.opts.TempDir == "" {
		return "", nil, fmt.Errorf("%w: a disk image inside a stream or file system needs a copy, and Options.TempDir is not set", ErrNoSpool)
	}
	dir, err := os.MkdirTemp(s.opts.TempDir, "jejak-image-*")
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrNoSpool, err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	base := path.Base(e.Path)
	if base == "." || base == "/" || base == "" {
		base = "image"
	}
	p := filepath.Join(dir, base)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("%w: %v", ErrNoSpool, err)
	}
	// Each copy is bounded by SpoolLimit, and all copies of one walk
	// together by MaxExpanded, the walk's budget for bytes it makes.
	limit := s.opts.MaxExpanded - s.spooled
	if max := s.opts.SpoolLimit; max > 0 && max < limit {
		limit = max
	}
	n, err := io.Copy(f, io.LimitReader(in, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("%w: disk image larger than %d bytes, the spool limit (ingest --spool-limit) or what is left of this walk's budget of %d copied or decompressed bytes, not opened", ErrNoSpool, limit, s.opts.MaxExpanded)
	}
	if err != nil {
		cleanup()
		if !errors.Is(err, ErrNoSpool) {
			err = fmt.Errorf("%w: copying a disk image to %s: %v", ErrNoSpool, s.opts.TempDir, err)
		}
		return "", nil, err
	}
	s.spooled += n
	return p, cleanup, nil
}

// claimSegments finds, before a folder's files are visited, the files that
// are parts of an image set held in it (an EWF set's .E02…, a VMDK
// descriptor's extents, a QCOW2 or VHD's backing file, a split raw's
// .002…), so that each is delivered for its times only, whatever the order
// of the names: "disk-flat.vmdk" sorts before the "disk.vmdk" that
// describes it, and must not be walked as a disk of its own.
func (s *walkState) claimSegments(abs, rel string, ents []os.DirEntry) {
	if s.opts.Images == nil || s.opts.ImageDepth >= MaxImageDepth {
		return
	}
	head := make([]byte, 512)
	for _, d := range ents {
		if !d.Type().IsRegular() {
			continue
		}
		p := filepath.Join(abs, d.Name())
		if s.consumed[filepath.Clean(p)] {
			continue
		}
		f, err := openReadOnly(p)
		if err != nil {
			continue // reported when the file itself is visited
		}
		n, _ := f.ReadAt(head, 0)
		f.Close()
		if ok, container := imageCandidate(head[:n], nil, -1); !ok || !container {
			if !splitFirst(d.Name()) {
				continue
			}
		}
		e := &Entry{Path: path.Join(rel, d.Name()), Chain: []string{"dir:" + path.Join(rel, d.Name())}, osPath: p}
		src := ImageSource{Entry: e, Path: p, Opts: s.opts}
		src.Opts.ImageDepth++
		_, segments, err := s.opts.Images(s.ctx, src)
		if err != nil {
			continue // reported when the file itself is visited
		}
		for _, seg := range segments {
			if s.consumed == nil {
				s.consumed = map[string]bool{}
			}
			s.consumed[filepath.Clean(seg)] = true
		}
	}
}

// splitFirst says whether name is the first segment of a numbered split
// raw image (disk.001, disk.raw.001, disk.dd.000, disk.aa).
func splitFirst(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".001" || ext == ".000" || ext == ".aa"
}
