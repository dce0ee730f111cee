//go:build linux

package evidence

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// sparseReader reads a regular file from its start to its end for the
// hashes, and hands out the holes of a sparse file as the zeros they read
// as, without reading them. Raw images are often written sparse (mkntfs on
// a truncated file, ddrescue --sparse, qemu-img convert): three quarters
// of the bench's 300k-file NTFS image are holes, and reading them cost the
// kernel as much as reading data (zeroed page-cache pages, copied out), on
// both hash passes, before the ingest could start.
//
// The holes are what lseek's SEEK_DATA and SEEK_HOLE report, asked once
// per run of data or hole, not per read; a file system that cannot tell
// reports the whole file as data. A file written to while it is hashed is
// caught as before, by its size and mtime after the pass (hashFile).
type sparseReader struct {
	f   *os.File
	off int64
	// The run off is in: data up to dataEnd, or a hole up to holeEnd.
	dataEnd, holeEnd int64
	// plain: lseek could not say, so the rest is read as it is.
	plain bool
	// read counts the bytes read from the file (the tests look at it).
	read int64
	// size is the file's at open; d reads the rest of the pass directly
	// once a pass that hashes in line asks for it (direct).
	size int64
	d    *directReader
	// noDirect: direct was asked once and refused (or is off for a test).
	noDirect bool
}

// holesSkipped is the reader hashFile hashes f, of size bytes, through. A
// file smaller than the hash buffer is read in one call: asking for its
// holes would add three system calls to each file of a folder of small
// files, and save nothing.
func holesSkipped(f *os.File, size int64) io.Reader {
	if size < hashBufSize {
		return f
	}
	return &sparseReader{f: f, size: size}
}

// direct implements directLender: the rest of the file from where s is,
// read with O_DIRECT (directReader), or nil when that is refused or the
// file is too small for it.
func (s *sparseReader) direct() lender {
	if s.d == nil && !s.noDirect {
		s.d = newDirectReader(s.f, s.size, s.off)
		s.noDirect = s.d == nil
	}
	if s.d == nil {
		return nil
	}
	return s.d
}

// release implements releaser.
func (s *sparseReader) release() {
	if s.d != nil {
		s.d.release()
	}
}

func (s *sparseReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !s.plain && s.off >= s.dataEnd && s.off >= s.holeEnd {
		if err := s.locate(); err != nil {
			return 0, err
		}
	}
	if s.off < s.holeEnd {
		n := int(min(int64(len(p)), s.holeEnd-s.off))
		clear(p[:n])
		s.off += int64(n)
		return n, nil
	}
	if !s.plain && int64(len(p)) > s.dataEnd-s.off {
		p = p[:s.dataEnd-s.off]
	}
	n, err := s.f.ReadAt(p, s.off)
	s.off += int64(n)
	s.read += int64(n)
	if err == io.EOF && n > 0 {
		err = nil // the next Read says it
	}
	return n, err
}

// zeros implements zeroRuns.
func (s *sparseReader) zeros(n int) bool {
	if !s.plain && s.off >= s.dataEnd && s.off >= s.holeEnd {
		if err := s.locate(); err != nil {
			return false // Read says it
		}
	}
	if s.holeEnd-s.off < int64(n) {
		return false
	}
	s.off += int64(n)
	return true
}

// locate finds the run of data or hole that starts at s.off; io.EOF when
// s.off is at the end of the file.
func (s *sparseReader) locate() error {
	data, err := s.f.Seek(s.off, unix.SEEK_DATA)
	switch {
	case errors.Is(err, syscall.ENXIO):
		// No data from s.off on: a hole up to the end, or the end.
		fi, err := s.f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() <= s.off {
			return io.EOF
		}
		s.holeEnd = fi.Size()
		return nil
	case err != nil:
		s.plain = true
		return nil
	case data > s.off:
		s.holeEnd = data
		return nil
	}
	hole, err := s.f.Seek(s.off, unix.SEEK_HOLE)
	if err != nil || hole <= s.off {
		s.plain = true
		return nil
	}
	s.dataEnd = hole
	return nil
}
