// Package lines reads text logs one line at a time for the parsers, with
// the byte offset and 1-based number every warning and event needs for its
// provenance.
package lines

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// Max bounds one line, its end-of-line bytes included; a longer one is
// reported and skipped so a corrupted file cannot make a parser hold it whole.
const Max = 1 << 20

// ErrTooLong reports a line longer than Max.
var ErrTooLong = errors.New("line longer than 1 MiB")

// Reader yields lines with their byte offset and 1-based number.
// bufio.Scanner is not used because it stops for good at an over-long line,
// while a log must go on past it and count it.
type Reader struct {
	r      *bufio.Reader
	off    int64 // offset of the next line
	num    int64
	long   []byte
	tooBig bool
	// chunk holds the whole lines NextString has cut from the buffer but
	// not returned yet; it always ends with '\n' when not empty.
	chunk string
}

// NewReader reads r through a 64 KiB buffer: a line up to that size is
// returned without a copy.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the line without its "\n" or "\r\n", valid until the next
// call. err is io.EOF at the end (a last line without "\n" is still
// returned first); ErrTooLong for an over-long line, whose offset and number
// are still returned, and the next call goes on after it. Any other error is
// the underlying reader's, with the offset of the line it interrupted.
func (lr *Reader) Next() (line []byte, off, num int64, err error) {
	if lr.chunk != "" {
		// Lines NextString already took from the buffer come first.
		s, off, num, _ := lr.fromChunk()
		return []byte(s), off, num, nil
	}
	off = lr.off
	lr.long = lr.long[:0]
	lr.tooBig = false
	for {
		frag, e := lr.r.ReadSlice('\n')
		lr.off += int64(len(frag))
		if e == bufio.ErrBufferFull {
			if len(lr.long)+len(frag) <= Max {
				lr.long = append(lr.long, frag...)
			} else {
				lr.tooBig = true
			}
			continue
		}
		if len(lr.long) > 0 || lr.tooBig {
			if !lr.tooBig && len(lr.long)+len(frag) <= Max {
				lr.long = append(lr.long, frag...)
			} else {
				lr.tooBig = true
			}
			frag = lr.long
		}
		if e != nil && e != io.EOF {
			return nil, off, lr.num, e
		}
		if len(frag) == 0 && e == io.EOF {
			return nil, off, lr.num, io.EOF
		}
		lr.num++
		if lr.tooBig {
			return nil, off, lr.num, ErrTooLong
		}
		frag = bytes.TrimSuffix(frag, []byte{'\n'})
		frag = bytes.TrimSuffix(frag, []byte{'\r'})
		return frag, off, lr.num, nil
	}
}

// NextString is Next with the line as a string, for parsers that keep
// substrings of their lines in events. Converting each line costs an
// allocation per line (a third of a syslog line's allocations); instead,
// every whole line the buffer holds is converted at once, one string per
// buffer fill (up to 64 KiB), and lines are cut from it. The lines share
// that string, so an event kept alive keeps its chunk alive too: at most
// 64 KiB per kept line, and a parser's events are stored and dropped in
// batches. A line the buffer does not hold whole (at its edge, longer
// than the buffer, the last one without '\n') goes through Next, so
// offsets, numbers, ErrTooLong and read errors are Next's exactly
// (TestNextStringSame, FuzzNextString).
func (lr *Reader) NextString() (string, int64, int64, error) {
	if lr.chunk == "" {
		lr.fillChunk()
	}
	if lr.chunk != "" {
		return lr.fromChunk()
	}
	line, off, num, err := lr.Next()
	return string(line), off, num, err
}

// fillChunk moves the whole lines already in the buffer into lr.chunk.
// It only looks at bytes buffered: it never reads, so a read error stays
// for Next to meet at the line it interrupts.
func (lr *Reader) fillChunk() {
	n := lr.r.Buffered()
	if n == 0 {
		return
	}
	b, err := lr.r.Peek(n)
	if err != nil {
		return
	}
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		return
	}
	lr.chunk = string(b[:end+1])
	_, _ = lr.r.Discard(end + 1) // cannot fail: the bytes are buffered
}

// fromChunk returns the next line of lr.chunk, which is not empty.
func (lr *Reader) fromChunk() (string, int64, int64, error) {
	i := strings.IndexByte(lr.chunk, '\n')
	line := lr.chunk[:i]
	lr.chunk = lr.chunk[i+1:]
	off := lr.off
	lr.off += int64(i + 1)
	lr.num++
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, off, lr.num, nil
}
