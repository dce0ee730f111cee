package fs

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/jejak-forensics/jejak/internal/rofile"
)

// Open returns the walker for an evidence path: a folder tree or a single
// file, either expanded through every container it holds. The path itself
// is followed if it is a symlink (the examiner named it); links met inside
// a folder are not.
func Open(ctx context.Context, name string, opts Options) (Walker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.IsDir():
		return &dirWalker{root: name, opts: opts}, nil
	case fi.Mode().IsRegular():
		return &fileWalker{name: name, opts: opts}, nil
	}
	return nil, fmt.Errorf("%s: %w (%v)", name, ErrNotRegular, fi.Mode().Type())
}

// diskEntry describes a file on disk; its content is opened afresh (and
// read-only, without touching atime) at each Open.
func diskEntry(abs, rel string, chain []string) (*Entry, error) {
	fi, err := os.Lstat(abs)
	if err != nil {
		return nil, err
	}
	e := &Entry{Path: rel, Chain: chain, Size: fi.Size(), Mode: fi.Mode()}
	e.Times, e.Inode = fileTimes(abs, fi)
	e.open = func() (io.ReadCloser, error) { return openReadOnly(abs) }
	e.readerAt = func() (io.ReaderAt, error) { return openReadOnly(abs) }
	e.osPath = abs
	// Each Open and ReaderAt opens the file by its path: readable after
	// the walker's call and from any goroutine.
	e.lasting = true
	return e, nil
}

// specialEntry describes a folder entry that is neither a file nor a
// folder: its times, inode and mode, and a link's target. It has no
// content to open.
func specialEntry(abs, rel string, chain []string) (*Entry, error) {
	fi, err := os.Lstat(abs)
	if err != nil {
		return nil, err
	}
	e := &Entry{Path: rel, Chain: chain, Size: fi.Size(), Mode: fi.Mode()}
	e.Times, e.Inode = fileTimes(abs, fi)
	if fi.Mode()&os.ModeSymlink != 0 {
		if e.Link, err = os.Readlink(abs); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// EvidenceFile describes a file registered as evidence that another
// walker reads as a container (a disk image, each segment of an EWF set):
// its own times and inode, as stat gives them, under the chain
// ["file:<base name>"] that a registered plain file gets. It is marked
// Container: its content comes as the entries of that walker.
func EvidenceFile(abs string) (*Entry, error) {
	base := filepath.Base(abs)
	e, err := diskEntry(abs, base, []string{"file:" + base})
	if err != nil {
		return nil, err
	}
	e.Container = true
	e.open, e.readerAt, e.osPath, e.lasting = nil, nil, "", false
	return e, nil
}

// fileWalker walks one evidence file. A container's members do not repeat
// the file in their chain (the evidence is named by its hash elsewhere):
// logs.tgz yields ["gzip:", "tar:var/log/syslog"], a plain file
// ["file:auth.log"].
type fileWalker struct {
	name string
	opts Options
}

func (w *fileWalker) Walk(ctx context.Context, fn WalkFunc, report func(*Problem)) error {
	s := newWalkState(ctx, w.opts, fn, report)
	base := filepath.Base(w.name)
	e, err := diskEntry(w.name, base, []string{"file:" + base})
	if err != nil {
		return err
	}
	return s.visit(e, nil, 0, nil)
}

// dirWalker walks a folder tree in byte order of names, depth first, so two
// walks of the same tree meet the files in the same order.
type dirWalker struct {
	root string
	opts Options
}

func (w *dirWalker) Walk(ctx context.Context, fn WalkFunc, report func(*Problem)) error {
	s := newWalkState(ctx, w.opts, fn, report)
	if _, err := readDir(w.root); err != nil {
		return err
	}
	return w.walkDir(s, w.root, "")
}

func (w *dirWalker) walkDir(s *walkState, abs, rel string) error {
	ents, err := readDir(abs)
	if err != nil {
		// Keep whatever was listed before the error.
		s.problem([]string{"dir:" + relOrDot(rel)}, relOrDot(rel), -1, fmt.Errorf("%w: listing folder: %v", ErrUnreadable, err))
	}
	s.claimSegments(abs, rel, ents)
	for _, d := range ents {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		crel := path.Join(rel, d.Name())
		cabs := filepath.Join(abs, d.Name())
		chain := []string{"dir:" + crel}
		switch t := d.Type(); {
		case t.IsDir():
			if err := w.walkDir(s, cabs, crel); err != nil {
				return err
			}
		case t.IsRegular():
			e, err := diskEntry(cabs, crel, chain)
			if err != nil {
				s.problem(chain, crel, -1, fmt.Errorf("%w: %v", ErrUnreadable, err))
				continue
			}
			if err := s.visit(e, chain, 0, nil); err != nil {
				return err
			}
		default:
			// A link, FIFO, socket or device is on the timeline with its
			// own times (a link with its target), as the ext4 walker yields
			// them; it is never followed or opened: a link may point out
			// of the evidence, a FIFO would block.
			e, err := specialEntry(cabs, crel, chain)
			if err != nil {
				s.problem(chain, crel, -1, fmt.Errorf("%w: %v", ErrUnreadable, err))
				continue
			}
			if err := s.fn(s.ctx, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func relOrDot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// readDir lists a folder without following links and without touching its
// atime where the kernel allows, sorted by name.
func readDir(abs string) ([]os.DirEntry, error) { return rofile.ReadDir(abs) }

// openReadOnly opens evidence read-only without touching its access time
// where the OS allows, and refuses (never blocks on) a FIFO, socket or
// device swapped in for a file after it was listed.
func openReadOnly(name string) (*os.File, error) { return rofile.Open(name) }
