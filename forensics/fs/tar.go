package fs

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/jejak-forensics/jejak/internal/zeros"
)

// walkTar reads a tar stream member by member. Members are delivered while
// the stream stands at them; whatever a consumer leaves unread is skipped
// by Next. Two members may share a name (tar -r appends a newer copy;
// "./a" and "a" clean to one path): each keeps its own Identity, its place
// in the listing and its content's offset.
func (s *walkState) walkTar(e *Entry, in io.Reader, prefix []string, depth int, up *guard) error {
	cnt := &counter{r: in}
	var src io.Reader = cnt
	pos := func() int64 { return cnt.n }
	index := 0
	for {
		var last *guard
		tr := tar.NewReader(src)
		for {
			if err := s.ctx.Err(); err != nil {
				return err
			}
			hdrStart := pos()
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			// ErrInsecurePath (GODEBUG tarinsecurepath=0) comes with a usable
			// header; the name is checked below like any other.
			if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
				if !up.failed() && !last.failed() {
					s.problem(e.Chain, e.Path, pos(), classify(err, fmt.Sprintf("tar header after offset %d", hdrStart)))
				}
				return nil
			}
			index++
			// archive/tar reads no further than the header blocks: the
			// content starts here.
			dataAt := pos()
			clean, unsafe := safePath(hdr.Name)
			chain := child(prefix, KindTar, clean)
			if unsafe {
				s.problem(chain, hdr.Name, hdrStart,
					fmt.Errorf("%w: tar member %q in %s walked as %q", ErrUnsafePath, hdr.Name, describe(e), clean))
			}
			switch hdr.Typeflag {
			case tar.TypeReg, tar.TypeGNUSparse, tar.TypeCont, 0: // 0: v7 regular file
			case tar.TypeDir:
				continue
			default:
				s.problem(chain, clean, hdrStart, fmt.Errorf("%w: tar type %q, link target %q", ErrNotRegular, hdr.Typeflag, hdr.Linkname))
				continue
			}
			last = &guard{s: s, r: tr, up: up, chain: chain, path: clean, kind: "tar member", inPos: pos}
			c := &Entry{Path: clean, Chain: chain, Size: hdr.Size, Mode: hdr.FileInfo().Mode(), open: onceReader(last)}
			c.Identity = JoinIdentity(e.Identity, "tar#"+strconv.Itoa(index)+"@"+strconv.FormatInt(dataAt, 10))
			c.Times.Modified = utc(hdr.ModTime)
			c.Times.Accessed = utc(hdr.AccessTime)
			c.Times.Changed = utc(hdr.ChangeTime)
			if err := s.visit(c, chain, depth+1, last); err != nil {
				return err
			}
		}
		if up.failed() || last.failed() {
			return nil
		}
		next, nextPos, err := s.tarTail(e, src, pos)
		if err != nil || next == nil {
			return err
		}
		src, pos = next, nextPos
	}
}

// tarTail reads what follows a tar's end-of-archive marker. Zero blocks
// (the blocking factor's padding) are expected; anything else is reported
// with its offset. When it is another tar header on a block boundary (tars
// joined with cat, which GNU tar reads with --ignore-zeros), the returned
// reader walks on from it; other data is read to its end, counted and not
// parsed.
func (s *walkState) tarTail(e *Entry, src io.Reader, pos func() int64) (io.Reader, func() int64, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	bpos := func() int64 { return pos() - int64(br.Buffered()) }
	for i := 0; ; i++ {
		if i%128 == 0 {
			if err := s.ctx.Err(); err != nil {
				return nil, nil, err
			}
		}
		blk, err := br.Peek(blockSize)
		if len(blk) == 0 {
			return nil, nil, nil
		}
		if zeros.All(blk) {
			br.Discard(len(blk))
			if err != nil {
				return nil, nil, nil
			}
			continue
		}
		at := bpos() + int64(len(blk)-len(bytes.TrimLeft(blk, "\x00")))
		if len(blk) == blockSize && isTarHeader(blk) {
			s.problem(e.Chain, e.Path, bpos(), fmt.Errorf("%w: tar header at offset %d after the end-of-archive marker (archives joined?): walked on", ErrTrailingData, bpos()))
			return br, bpos, nil
		}
		start := bpos()
		c := &counter{r: br}
		if err := drain(s, c); err != nil {
			return nil, nil, err
		}
		s.problem(e.Chain, e.Path, at, fmt.Errorf("%w: %d bytes after the tar end-of-archive marker from offset %d (first non-zero byte at %d), not tar headers: not read", ErrTrailingData, c.n, start, at))
		return nil, nil, nil
	}
}

const blockSize = 512
