package lines

import (
	"bufio"
	"context"
	"errors"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// TextReader yields the lines of a UTF-8 or UTF-16LE text (Windows writes
// SQL Server's ERRORLOG and Defender's MPLog as UTF-16) with the byte offset
// of each in the file, so provenance points at the bytes on disk whatever
// the encoding. No Go module for text encodings is in go.mod, and one is
// not needed for this: UTF-16 is decoded here.
type TextReader struct {
	utf16 bool
	r     *bufio.Reader
	u8    *Reader
	off   int64 // UTF-16: offset of the next code unit
	num   int64
	units []uint16
	buf   []byte
}

// ErrOddByte is a UTF-16 text ending in half a code unit.
var ErrOddByte = errors.New("UTF-16 text ends with an odd byte")

// NewTextReader reads from br, which starts at the file's first byte;
// isUTF16 says the file is UTF-16LE (its BOM, if any, is skipped here; a
// UTF-8 BOM is dropped from the first line).
func NewTextReader(br *bufio.Reader, isUTF16 bool) *TextReader {
	lr := &TextReader{utf16: isUTF16, r: br}
	if !isUTF16 {
		lr.u8 = NewReader(br)
		return lr
	}
	if b, err := br.Peek(2); err == nil && b[0] == 0xFF && b[1] == 0xFE {
		br.Discard(2)
		lr.off = 2
	}
	return lr
}

// Next returns the line as UTF-8, without its end, with its offset and
// 1-based number; io.EOF at the end, ErrTooLong for a line over Max bytes
// (skipped), ErrOddByte for a last half unit.
func (lr *TextReader) Next() (string, int64, int64, error) {
	if !lr.utf16 {
		line, off, num, err := lr.u8.NextString()
		if num == 1 && err == nil && len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
			line = line[3:]
		}
		return line, off, num, err
	}
	start := lr.off
	lr.units = lr.units[:0]
	tooLong := false
	for {
		lo, err := lr.r.ReadByte()
		if err == io.EOF {
			if len(lr.units) == 0 && !tooLong {
				return "", start, lr.num, io.EOF
			}
			break
		}
		if err != nil {
			return "", start, lr.num, err
		}
		hi, err := lr.r.ReadByte()
		if err == io.EOF {
			lr.num++
			lr.off++
			return "", lr.off - 1, lr.num, ErrOddByte
		}
		if err != nil {
			return "", start, lr.num, err
		}
		lr.off += 2
		u := uint16(lo) | uint16(hi)<<8
		if u == '\n' {
			break
		}
		if len(lr.units)*2 >= Max {
			tooLong = true
			continue
		}
		lr.units = append(lr.units, u)
	}
	lr.num++
	if tooLong {
		return "", start, lr.num, ErrTooLong
	}
	if n := len(lr.units); n > 0 && lr.units[n-1] == '\r' {
		lr.units = lr.units[:n-1]
	}
	lr.buf = lr.buf[:0]
	for _, r := range utf16.Decode(lr.units) {
		lr.buf = utf8.AppendRune(lr.buf, r)
	}
	return string(lr.buf), start, lr.num, nil
}

// DecodeHead turns a file's head into UTF-8 text for matching, and says
// whether it was UTF-16LE (with a BOM, or ASCII with zero high bytes).
func DecodeHead(head []byte) (string, bool) {
	switch {
	case len(head) >= 2 && head[0] == 0xFF && head[1] == 0xFE:
		return decode16(head[2:]), true
	case len(head) >= 4 && head[1] == 0 && head[3] == 0 && head[0] != 0 && head[2] != 0:
		return decode16(head), true
	}
	if len(head) >= 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF {
		head = head[3:]
	}
	return string(head), false
}

func decode16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// Each calls fn with every line, its offset and number, until the end or
// fn's first error. A line over Max bytes or a last half code unit goes to
// warn and the reading goes on; ctx is looked at every 256 lines.
func (lr *TextReader) Each(ctx context.Context, fn func(line string, off, num int64) error, warn func(off, num int64, err error)) error {
	for {
		line, off, num, err := lr.Next()
		if err == io.EOF {
			return nil
		}
		if num%256 == 1 {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
		}
		if errors.Is(err, ErrTooLong) || errors.Is(err, ErrOddByte) {
			warn(off, num, err)
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(line, off, num); err != nil {
			return err
		}
	}
}
