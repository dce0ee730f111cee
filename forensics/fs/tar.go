package fs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
)

// walkTar reads a tar stream member by member. Members are delivered while
// the stream stands at them; whatever a consumer leaves unread is skipped
// by Next.
func (s *walkState) walkTar(e *Entry, in io.Reader, prefix []string, depth int, up *guard) error {
	cnt := &counter{r: in}
	tr := tar.NewReader(cnt)
	var last *guard
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		hdrStart := cnt.n
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		// ErrInsecurePath (GODEBUG tarinsecurepath=0) comes with a usable
		// header; the name is checked below like any other.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			if !up.failed() && !last.failed() {
				s.problem(e.Chain, e.Path, cnt.n, classify(err, fmt.Sprintf("tar header after offset %d", hdrStart)))
			}
			return nil
		}
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
		last = &guard{s: s, r: tr, up: up, chain: chain, path: clean, kind: "tar member",
			inPos: func() int64 { return cnt.n }}
		c := &Entry{Path: clean, Chain: chain, Size: hdr.Size, Mode: hdr.FileInfo().Mode(), open: onceReader(last)}
		c.Times.Modified = utc(hdr.ModTime)
		c.Times.Accessed = utc(hdr.AccessTime)
		c.Times.Changed = utc(hdr.ChangeTime)
		if err := s.visit(c, chain, depth+1, last); err != nil {
			return err
		}
	}
}
