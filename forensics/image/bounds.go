package image

import (
	"fmt"
	"io"
	"os"

	"github.com/jejak-forensics/jejak/internal/rofile"
)

// clip bounds a read of p at off to a medium of size bytes, the check every
// reader of this package makes before it reads: it returns the part of p
// that lies inside the medium, and the error ReadAt gives once that part is
// filled: io.EOF when it is shorter than p (io.ReaderAt: fewer bytes than
// asked need an error), nil otherwise. At or past the end, even an empty p
// gets io.EOF, as io.SectionReader and bytes.Reader give it.
func clip(p []byte, off, size int64) ([]byte, error) {
	if off >= size {
		return p[:0], io.EOF
	}
	if int64(len(p)) > size-off {
		return p[:size-off], io.EOF
	}
	return p, nil
}

// readPieces is the ReadAt of a medium of size bytes that is read a piece
// (a block, a cluster, a chunk, a segment) at a time: a negative offset is
// refused with an error naming format, the read is clipped to the medium,
// and piece fills the start of what is left until all is read. piece
// returns how many bytes it filled (at least one unless it fails); on an
// error the bytes filled before it are returned with it.
func readPieces(format string, p []byte, off, size int64, piece func(p []byte, off int64) (int, error)) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", format, off)
	}
	p, eof := clip(p, off, size)
	n := 0
	for n < len(p) {
		m, err := piece(p[n:], off+int64(n))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, eof
}

// readParent fills dst with what the parent (the backing file of a QCOW2,
// the parent of a differencing VHD, VHDX or VMDK) holds at off: zeros
// without a parent and past its end, which is how the formats define a
// parent shorter than its child. It returns how many bytes it filled: all
// of dst, or on an error those the parent gave before it.
func readParent(parent Image, dst []byte, off int64) (int, error) {
	if parent == nil || off >= parent.Size() {
		clear(dst)
		return len(dst), nil
	}
	q := dst[:min(int64(len(dst)), parent.Size()-off)]
	n, err := parent.ReadAt(q, off)
	if err != nil && !(err == io.EOF && n == len(q)) {
		return n, err
	}
	clear(dst[len(q):])
	return len(dst), nil
}

// openSized opens path read-only (rofile: no access-time update, no FIFO
// or device) and returns it with its size. A failed stat is wrapped as
// "format: path: ..." as each reader wrote it, or returned as the system
// gave it when format is "".
func openSized(path, format string) (*os.File, int64, error) {
	f, err := rofile.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		if format != "" {
			err = fmt.Errorf("%s: %s: %w", format, path, err)
		}
		return nil, 0, err
	}
	return f, st.Size(), nil
}
