package fs

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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
	src := stream
	if max := s.opts.SpoolLimit; max > 0 {
		// One byte past the cap tells a zip of exactly the cap from a
		// larger one.
		src = io.LimitReader(stream, max-n+1)
	}
	size, err := io.Copy(f, src)
	if err == nil && s.opts.SpoolLimit > 0 && n+size > s.opts.SpoolLimit {
		s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: zip inside a stream is larger than the spool limit of %d bytes (ingest --spool-limit), skipped", ErrNoSpool, s.opts.SpoolLimit))
		return drain(s, stream)
	}
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
// offset, and the reading resumes at the next local header.
func (s *walkState) zipUnlisted(e *Entry, zr *zip.Reader, ra io.ReaderAt, size int64, prefix []string, depth int, up *guard) error {
	z := &zipScan{ra: ra, size: size, listed: make(map[int64]*zip.File, len(zr.File))}
	for _, f := range zr.File {
		if off, err := f.DataOffset(); err == nil {
			z.listed[off] = f
			z.starts = append(z.starts, off)
		}
	}
	slices.Sort(z.starts)
	isListed := func(at int64) bool { return z.listed[at] != nil }
	p := int64(0)
	if z.sig(0) == sigSpanned {
		p = 4
	}
	for i := 0; ; i++ {
		if i%256 == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		switch z.sig(p) {
		case sigLocal:
		case sigCentral, sigEnd, sigEnd64, sigDigital, sigArchiveData:
			return nil
		default:
			if p >= size || up.failed() {
				return nil
			}
			q, ok := z.resync(p + 1)
			if !ok {
				s.problem(e.Chain, e.Path, p, fmt.Errorf("%w: bytes from offset %d are neither a zip local header nor the central directory: not read", ErrTrailingData, p))
				return nil
			}
			s.problem(e.Chain, e.Path, p, fmt.Errorf("%w: %d bytes at offset %d are neither a zip local header nor the central directory: not read", ErrTrailingData, q-p, p))
			p = q
			continue
		}
		var h [30]byte
		if _, err := ra.ReadAt(h[:], p); err != nil {
			return nil // the directory walk met the same damage
		}
		dataAt := p + 30 + int64(binary.LittleEndian.Uint16(h[26:])) + int64(binary.LittleEndian.Uint16(h[28:]))
		if f := z.listed[dataAt]; f != nil {
			p = z.after(dataAt)
			continue
		}
		next, err := s.walkZipLocal(e, io.NewSectionReader(ra, p, size-p), localWalk{base: p, listed: isListed, unlisted: true}, prefix, depth, up)
		if err != nil {
			return err
		}
		if next < 0 {
			// Damage in a recovered member, reported by walkZipLocal:
			// go on from the next header after its own.
			q, ok := z.resync(p + 4)
			if !ok {
				return nil
			}
			next = q
		}
		p = next
	}
}

// zipScan is what zipUnlisted knows of a zip: its bytes and the members the
// central directory lists, by the offset of their content.
type zipScan struct {
	ra     io.ReaderAt
	size   int64
	listed map[int64]*zip.File
	starts []int64 // the listed content offsets, sorted
}

func (z *zipScan) sig(at int64) uint32 {
	var b [4]byte
	if _, err := z.ra.ReadAt(b[:], at); err != nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b[:])
}

// after is the offset past the listed member whose content starts at
// dataAt: past its content and, when it has one, its data descriptor (12
// or 20 bytes for zip64, after an optional signature).
func (z *zipScan) after(dataAt int64) int64 {
	f := z.listed[dataAt]
	end := dataAt + int64(f.CompressedSize64)
	if f.Flags&8 == 0 {
		return end
	}
	for _, d := range []int64{12, 16, 20, 24} {
		switch z.sig(end + d) {
		case sigLocal, sigCentral, sigEnd, sigEnd64, sigDigital, sigArchiveData:
			return end + d
		}
	}
	if z.sig(end) == sigDescriptor {
		return end + 16
	}
	return end + 12
}

// resync finds where the zip's records go on from p: the first local or
// central header signature before the next listed member's content, or
// else the end of that member (whose header is the damage). Past the last
// listed member it searches to the end of the zip; ok is false when
// nothing is found there.
func (z *zipScan) resync(p int64) (int64, bool) {
	limit := z.size
	i, _ := slices.BinarySearch(z.starts, p)
	if i < len(z.starts) {
		limit = z.starts[i]
	}
	buf := make([]byte, 64<<10)
	for at := p; at < limit; {
		n, _ := z.ra.ReadAt(buf[:min(int64(len(buf)), limit-at)], at)
		if n < 4 {
			break
		}
		for k := 0; k+4 <= n; k++ {
			k += max(0, bytes.IndexByte(buf[k:n], 'P'))
			if k+4 > n || buf[k] != 'P' {
				break
			}
			if sg := binary.LittleEndian.Uint32(buf[k:]); sg == sigLocal || sg == sigCentral {
				return at + int64(k), true
			}
		}
		at += int64(n) - 3 // a signature may straddle two reads
	}
	if i < len(z.starts) {
		return z.after(limit), true
	}
	return 0, false
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
