package fs

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
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
		return s.walkZipLocal(e, io.NewSectionReader(ra, 0, size), prefix, depth, up)
	}
	// Same reason as for gzip: klauspost's inflate is faster. Registered on
	// this reader only, so no global state changes.
	zr.RegisterDecompressor(zip.Deflate, func(r io.Reader) io.ReadCloser { return kflate.NewReader(r) })
	for _, f := range zr.File {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if err := s.zipMember(e, f, ra, prefix, depth, up); err != nil {
			return err
		}
	}
	return nil
}

func (s *walkState) zipMember(e *Entry, f *zip.File, ra io.ReaderAt, prefix []string, depth int, up *guard) error {
	clean, unsafe := safePath(f.Name)
	chain := child(prefix, KindZip, clean)
	off, err := f.DataOffset()
	if err != nil {
		off = -1
	}
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
	c := &Entry{Path: clean, Chain: chain, Size: int64(f.UncompressedSize64), Mode: mode}
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
