// Package lines reads text logs one line at a time for the parsers, with
// the byte offset and 1-based number every warning and event needs for its
// provenance.
package lines

import (
	"bufio"
	"bytes"
	"errors"
	"io"
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
