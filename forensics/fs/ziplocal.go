package fs

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"time"

	kflate "github.com/klauspost/compress/flate"
)

// localWalk says where a local-header walk runs and what it delivers.
type localWalk struct {
	// base is the offset of the walked reader in the zip, for identities
	// and problems.
	base int64
	// listed, when set, says whether the central directory lists the
	// member whose content starts at this offset: the walk stops there,
	// before it, since the directory walk delivers that one.
	listed func(dataAt int64) bool
	// unlisted marks members the central directory does not list.
	unlisted bool
}

// walkZipLocal recovers the members of a zip whose central directory is
// gone (a copy cut short, a carved fragment), or the members a present
// directory does not list, by reading the local headers in order, as a
// stream. archive/zip only reads through the central directory, hence this
// small reader: a truncated zip is common evidence and its first members
// are intact. It returns the zip offset of the first bytes that are not a
// local header it read (a listed member's header, the central directory,
// or other data), or -1 when it stopped at damage it reported.
func (s *walkState) walkZipLocal(e *Entry, in io.Reader, lw localWalk, prefix []string, depth int, up *guard) (int64, error) {
	cnt := &counter{r: in}
	br := bufio.NewReaderSize(cnt, 64<<10)
	pos := func() int64 { return cnt.n - int64(br.Buffered()) }
	for {
		if err := s.ctx.Err(); err != nil {
			return -1, err
		}
		start := pos()
		var h [30]byte
		if b, _ := br.Peek(30); len(b) < 30 || binary.LittleEndian.Uint32(b) != 0x04034b50 {
			// Central directory, end, or damage: the caller tells which.
			return lw.base + start, nil
		}
		io.ReadFull(br, h[:])
		flags := binary.LittleEndian.Uint16(h[6:])
		method := binary.LittleEndian.Uint16(h[8:])
		crc := binary.LittleEndian.Uint32(h[14:])
		csize := int64(binary.LittleEndian.Uint32(h[18:]))
		usize := int64(binary.LittleEndian.Uint32(h[22:]))
		meta := make([]byte, int(binary.LittleEndian.Uint16(h[26:]))+int(binary.LittleEndian.Uint16(h[28:])))
		if _, err := io.ReadFull(br, meta); err != nil {
			s.problem(e.Chain, e.Path, lw.base+start, classify(err, "zip local header"))
			return -1, nil
		}
		if lw.listed != nil && lw.listed(lw.base+pos()) {
			return lw.base + start, nil
		}
		nlen := int(binary.LittleEndian.Uint16(h[26:]))
		name := string(meta[:nlen])
		if csize == 0xffffffff || usize == 0xffffffff {
			usize, csize = zip64Sizes(meta[nlen:], usize, csize)
		}
		descriptor := flags&8 != 0
		clean, unsafe := safePath(name)
		chain := child(prefix, KindZip, clean)
		if unsafe {
			s.problem(chain, name, lw.base+start, fmt.Errorf("%w: zip member %q in %s walked as %q", ErrUnsafePath, name, describe(e), clean))
		}
		if lw.unlisted {
			s.problem(chain, clean, lw.base+start, fmt.Errorf("%w: zip member %q with a local header at offset %d is not in the central directory: recovered from its local header and tagged deleted", ErrTrailingData, name, lw.base+start))
		}
		var body io.Reader
		switch {
		case flags&1 != 0:
			s.problem(chain, clean, lw.base+start, ErrEncrypted)
			if descriptor {
				return -1, nil
			}
			body = &exactReader{r: br, n: csize}
		case method == 0 && !descriptor:
			body = &exactReader{r: br, n: csize}
		case method == 8 && descriptor:
			body = kflate.NewReader(br) // deflate marks its own end
		case method == 8:
			body = kflate.NewReader(&exactReader{r: br, n: csize})
		default:
			s.problem(chain, clean, lw.base+start, fmt.Errorf("%w: zip method %d (data descriptor %v) cannot be read without the central directory", ErrCorrupt, method, descriptor))
			return -1, nil
		}
		dataStart := pos()
		size := usize
		if descriptor {
			size = -1
		}
		sum := crc32.NewIEEE()
		g := &guard{s: s, r: io.TeeReader(body, sum), up: up, chain: chain, path: clean, kind: "zip member", inPos: pos}
		if method == 8 {
			g.inSize = func() int64 { return pos() - dataStart }
		}
		c := &Entry{Path: clean, Chain: chain, Size: size, open: onceReader(g)}
		c.Identity = JoinIdentity(e.Identity, "zip-local@"+strconv.FormatInt(lw.base+dataStart, 10))
		// A member the directory leaves out is gone from the archive as
		// its readers see it: its events say so, like a deleted file's.
		c.Deleted = lw.unlisted
		c.Times.Modified = dosTime(binary.LittleEndian.Uint16(h[12:]), binary.LittleEndian.Uint16(h[10:]))
		if flags&1 == 0 {
			if err := s.visit(c, chain, depth+1, g); err != nil {
				return -1, err
			}
		}
		if err := drain(s, g); err != nil {
			return -1, err
		}
		if g.failed() {
			return -1, nil
		}
		if descriptor {
			// Optional signature, CRC, sizes (8 bytes each in zip64: the
			// next signature check resynchronises either way).
			d, _ := br.Peek(4)
			if len(d) == 4 && binary.LittleEndian.Uint32(d) == 0x08074b50 {
				br.Discard(4)
			}
			br.Discard(12)
			if d, _ := br.Peek(4); len(d) == 4 && binary.LittleEndian.Uint32(d) != 0x04034b50 && binary.LittleEndian.Uint32(d) != 0x02014b50 {
				br.Discard(8)
			}
		} else if flags&1 == 0 && sum.Sum32() != crc {
			s.problem(chain, clean, lw.base+dataStart, fmt.Errorf("%w: zip member CRC %08x, header says %08x", ErrCorrupt, sum.Sum32(), crc))
		}
	}
}

func zip64Sizes(extra []byte, usize, csize int64) (int64, int64) {
	for len(extra) >= 4 {
		id, n := binary.LittleEndian.Uint16(extra), int(binary.LittleEndian.Uint16(extra[2:]))
		extra = extra[4:]
		if n > len(extra) {
			break
		}
		if id == 1 {
			f := extra[:n]
			if usize == 0xffffffff && len(f) >= 8 {
				usize, f = int64(binary.LittleEndian.Uint64(f)), f[8:]
			}
			if csize == 0xffffffff && len(f) >= 8 {
				csize = int64(binary.LittleEndian.Uint64(f))
			}
		}
		extra = extra[n:]
	}
	return usize, csize
}

// dosTime is the MS-DOS date and time of a local header, in an unknown
// zone, labelled UTC as archive/zip does.
func dosTime(date, tm uint16) time.Time {
	if date == 0 {
		return time.Time{}
	}
	return time.Date(int(date>>9)+1980, time.Month(date>>5&0xf), int(date&0x1f),
		int(tm>>11), int(tm>>5&0x3f), int(tm&0x1f)*2, 0, time.UTC)
}

const noCentralDirectory = "zip central directory unreadable; members recovered from local headers"

// exactReader is a LimitReader that calls a short stream what it is.
type exactReader struct {
	r io.Reader
	n int64
}

func (x *exactReader) Read(p []byte) (int, error) {
	if x.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > x.n {
		p = p[:x.n]
	}
	n, err := x.r.Read(p)
	x.n -= int64(n)
	if err == io.EOF && x.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
