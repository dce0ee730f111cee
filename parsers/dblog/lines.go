package dblog

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// maxLine bounds one log line; a longer one is reported and skipped so a
// corrupted file cannot make the parser hold it whole.
const maxLine = 1 << 20

// ErrLongLine reports a line over 1 MiB.
var ErrLongLine = errors.New("line longer than 1 MiB")

// LineReader yields lines with their byte offset and 1-based number.
// bufio.Scanner is not used because it stops for good at an over-long line.
type LineReader struct {
	r      *bufio.Reader
	off    int64 // offset of the next line
	num    int64
	long   []byte
	tooBig bool
}

func NewLineReader(r io.Reader) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the line without its end-of-line bytes, valid until the next
// call. err is io.EOF at the end; ErrLongLine for an over-long line (whose
// offset and number are still returned).
func (lr *LineReader) Next() (line []byte, off, num int64, err error) {
	off = lr.off
	lr.long = lr.long[:0]
	lr.tooBig = false
	for {
		frag, e := lr.r.ReadSlice('\n')
		lr.off += int64(len(frag))
		if e == bufio.ErrBufferFull {
			if len(lr.long)+len(frag) <= maxLine {
				lr.long = append(lr.long, frag...)
			} else {
				lr.tooBig = true
			}
			continue
		}
		if len(lr.long) > 0 || lr.tooBig {
			if !lr.tooBig && len(lr.long)+len(frag) <= maxLine {
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
			return nil, off, lr.num, ErrLongLine
		}
		frag = bytes.TrimSuffix(frag, []byte{'\n'})
		frag = bytes.TrimSuffix(frag, []byte{'\r'})
		return frag, off, lr.num, nil
	}
}
