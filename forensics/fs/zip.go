package fs

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	kflate "github.com/klauspost/compress/flate"
)

// walkZip reads a zip through its central directory, which needs random
// access: ra is the file on disk, a stored member of an outer zip, or a
// spool.
func (s *walkState) walkZip(e *Entry, ra io.ReaderAt, size int64, prefix []string, depth int, up *guard) error {
	zr, err := zip.NewReader(ra, size)
	// ErrInsecurePath (GODEBUG zipinsecurepath=0) comes with a usable
	// reader; names are checked below like any other.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if !up.failed() {
			s.problem(e.Chain, e.Path, -1, classify(err, noCentralDirectory))
		}
		_, err := s.walkZipLocal(e, io.NewSectionReader(ra, 0, size), localWalk{}, prefix, depth, up)
		return err
	}
	// Same reason as for gzip: klauspost's inflate is faster. Registered on
	// this reader only, so no global state changes.
	zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return kflate.NewReader(r) })
	for i, f := range zr.File {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if err := s.zipMember(e, i+1, f, ra, prefix, depth, up); err != nil {
			return err
		}
	}
	return s.zipUnlisted(e, zr, ra, size, prefix, depth, up)
}

// zipMember delivers the index-th member the central directory lists
// (1-based, the order unzip -l shows). Two members may share a name (zip
// appends a second copy; Python's zipfile writes one with a warning;
// "./a" and "a" clean to one path): each keeps its own Identity.
func (s *walkState) zipMember(e *Entry, index int, f *zip.File, ra io.ReaderAt, prefix []string, depth int, up *guard) error {
	clean, unsafe := safePath(f.Name)
	chain := child(prefix, KindZip, clean)
	off, err := f.DataOffset()
	if err != nil {
		off = -1
	}
	identity := JoinIdentity(e.Identity, "zip#"+strconv.Itoa(index)+"@"+strconv.FormatInt(off, 10))
	if unsafe {
		s.problem(chain, f.Name, off, fmt.Errorf("%w: zip member %q in %s walked as %q", ErrUnsafePath, f.Name, describe(e), clean))
	}
	mode := f.Mode()
	switch {
	case mode.IsDir() || strings.HasSuffix(f.Name, "/"):
		return nil
	case !mode.IsRegular():
		s.problem(chain, clean, off, fmt.Errorf("%w: zip member mode %v", ErrNotRegular, mode))
		return nil
	case f.Flags&1 != 0:
		s.problem(chain, clean, off, ErrEncrypted)
		return nil
	}
	c := &Entry{Path: clean, Chain: chain, Size: int64(f.UncompressedSize64), Mode: mode, Identity: identity}
	// Without an extended timestamp field the zip holds MS-DOS local time
	// of an unknown zone; archive/zip then labels it UTC.
	c.Times.Modified = utc(f.Modified)
	stored := f.Method == zip.Store
	var inSize func() int64
	if !stored {
		inSize = func() int64 { return int64(f.CompressedSize64) }
	}
	c.open = func() (io.ReadCloser, error) {
		rc, err := f.Open()
		if err != nil {
			return nil, err
		}
		g := &guard{s: s, r: rc, up: up, chain: chain, path: clean, kind: "zip member",
			inPos: func() int64 { return off }, inSize: inSize}
		return struct {
			io.Reader
			io.Closer
		}{g, rc}, nil
	}
	if stored && off >= 0 {
		c.readerAt = func() (io.ReaderAt, error) { return io.NewSectionReader(ra, off, c.Size), nil }
	}
	return s.visit(c, chain, depth+1, up)
}

// walkSpooledZip gives a zip met inside a stream the random access its
// central directory needs: memory up to Options.SpoolMemory, above that a
// temporary file in Options.TempDir, removed when the zip is done.
func (s *walkState) walkSpooledZip(e *Entry, stream io.Reader, prefix []string, depth int, up *guard) error {
	limit := s.opts.SpoolMemory
	var buf bytes.Buffer
	if e.Size >= 0 && e.Size <= limit {
		buf.Grow(int(e.Size))
	}
	n, err := buf.ReadFrom(io.LimitReader(stream, limit+1))
	if err != nil {
		s.problem(e.Chain, e.Path, n, fmt.Errorf("%w: %v", ErrUnreadable, err))
		return nil
	}
	if n <= limit {
		b := buf.Bytes()
		return s.walkZip(e, bytes.NewReader(b), int64(len(b)), prefix, depth, up)
	}
	if s.opts.TempDir == "" {
		s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: zip inside a stream is larger than %d bytes and Options.TempDir is not set", ErrNoSpool, limit))
		return drain(s, stream)
	}
	f, err := os.CreateTemp(s.opts.TempDir, "jejak-spool-*.zip")
	if err != nil {
		s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: %v", ErrNoSpool, err))
		return drain(s, stream)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := buf.WriteTo(f); err != nil {
		s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: %v", ErrNoSpool, err))
		return drain(s, stream)
	}
	buf = bytes.Buffer{}
	size, err := io.Copy(f, stream)
	if err != nil {
		s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: %v", ErrNoSpool, err))
		return nil
	}
	return s.walkZip(e, f, n+size, prefix, depth, up)
}

// Zip record signatures.
const (
	sigLocal       = 0x04034b50
	sigCentral     = 0x02014b50
	sigEnd         = 0x06054b50
	sigEnd64       = 0x06064b50
	sigDigital     = 0x05054b50
	sigArchiveData = 0x08064b50
	sigDescriptor  = 0x08074b50
	sigSpanned     = 0x30304b50
)

// zipUnlisted reads the local headers in order, as a reader without the
// central directory would, and recovers the members the central directory
// does not list: an editor can drop a member from the directory and leave
// its bytes, and archive/zip, reading only the directory, never sees them.
// Listed members are stepped over with the directory's sizes. Bytes that
// are neither a local header nor the directory are reported with their
// offset.
func (s *walkState) zipUnlisted(e *Entry, zr *zip.Reader, ra io.ReaderAt, size int64, prefix []string, depth int, up *guard) error {
	listed := make(map[int64]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if off, err := f.DataOffset(); err == nil {
			listed[off] = f
		}
	}
	isListed := func(at int64) bool { return listed[at] != nil }
	sig := func(at int64) uint32 {
		var b [4]byte
		if _, err := ra.ReadAt(b[:], at); err != nil {
			return 0
		}
		return binary.LittleEndian.Uint32(b[:])
	}
	p := int64(0)
	if sig(0) == sigSpanned {
		p = 4
	}
	for i := 0; ; i++ {
		if i%256 == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		switch sig(p) {
		case sigLocal:
		case sigCentral, sigEnd, sigEnd64, sigDigital, sigArchiveData:
			return nil
		default:
			if p < size && !up.failed() {
				s.problem(e.Chain, e.Path, p, fmt.Errorf("%w: bytes at offset %d are neither a zip local header nor the central directory: not read", ErrTrailingData, p))
			}
			return nil
		}
		var h [30]byte
		if _, err := ra.ReadAt(h[:], p); err != nil {
			return nil // the directory walk met the same damage
		}
		dataAt := p + 30 + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
		if f := listed[dataAt]; f != nil {
			end := dataAt + int64(f.CompressedSize64)
			p = end
			if f.Flags&8 != 0 {
				// A data descriptor follows: 12 or 20 bytes (zip64),
				// after an optional signature.
				p = -1
				for _, d := range []int64{12, 16, 20, 24} {
					switch sig(end + d) {
					case sigLocal, sigCentral, sigEnd, sigEnd64, sigDigital, sigArchiveData:
						p = end + d
					}
					if p >= 0 {
						break
					}
				}
				if p < 0 {
					p = end + 12
					if sig(end) == sigDescriptor {
						p = end + 16
					}
				}
			}
			continue
		}
		next, err := s.walkZipLocal(e, io.NewSectionReader(ra, p, size-p), localWalk{base: p, listed: isListed, unlisted: true}, prefix, depth, up)
		if err != nil || next < 0 {
			return err
		}
		p = next
	}
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// describe names a container for a problem message.
func describe(e *Entry) string {
	if len(e.Chain) == 0 {
		return e.Path
	}
	return strings.Join(e.Chain, " > ")
}
