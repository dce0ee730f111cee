package fs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
)

// Expander walks into containers. It sniffs every file it is given by
// content and either hands it to the WalkFunc or expands it (gzip, bzip2,
// xz, zip, tar; nested to Options.MaxDepth) and does the same for every
// member. Folder, disk-image and file-system walkers feed it their files;
// one Expander serves one walk, so the expansion budget covers the walk.
type Expander struct {
	s *walkState
}

// NewExpander returns an expander for one walk.
func NewExpander(ctx context.Context, opts Options, fn WalkFunc, report func(*Problem)) *Expander {
	return &Expander{s: newWalkState(ctx, opts, fn, report)}
}

// Entry delivers e, or its members when it is a container. Members get
// e.Chain followed by their own layers. It returns an error only when fn
// or the context asked to stop. An entry another Expander already
// announced as a container (a file system walker that expands what it
// yields, fed to a disk walker's Expander) is passed on as it is: its
// members follow it.
func (x *Expander) Entry(e *Entry) error {
	if e.Container {
		if err := x.s.ctx.Err(); err != nil {
			return err
		}
		return x.s.fn(x.s.ctx, e)
	}
	return x.s.visit(e, e.Chain, 0, nil)
}

// walkState is what one walk shares: options, callbacks, the budget.
type walkState struct {
	ctx      context.Context
	opts     Options
	fn       WalkFunc
	report   func(*Problem)
	expanded int64
	bufs     [][]byte
	// heads are visit's sniff buffers, one per level of nesting, reused
	// from file to file: a fresh 2 KiB buffer per file was a quarter of
	// what the walk of an image of small files allocated (600 MB at 300k
	// files, zeroed, then collected).
	heads [][]byte
	// consumed are the files on disk that an image already walked is made
	// of (EWF .E02…): met in the folder, they are delivered for their
	// times only.
	consumed map[string]bool
	spooled  int64 // bytes of disk images copied to TempDir in this walk
}

func newWalkState(ctx context.Context, opts Options, fn WalkFunc, report func(*Problem)) *walkState {
	if report == nil {
		report = func(*Problem) {}
	}
	return &walkState{ctx: ctx, opts: opts.withDefaults(), fn: fn, report: report}
}

func (s *walkState) problem(chain []string, path string, off int64, err error) {
	s.report(&Problem{Chain: slices.Clone(chain), Path: path, Offset: off, Err: err})
}

func (s *walkState) scratch() []byte {
	if n := len(s.bufs); n > 0 {
		b := s.bufs[n-1]
		s.bufs = s.bufs[:n-1]
		return b
	}
	return make([]byte, 64<<10)
}

func (s *walkState) release(b []byte) { s.bufs = append(s.bufs, b) }

// head returns a sniff buffer of n bytes for visit (not zeroed: visit uses
// what it reads into it). It is visit's until releaseHead: nothing visit
// hands on keeps it past the call (a stream member's replayed head is
// read within it).
func (s *walkState) head(n int) []byte {
	if k := len(s.heads); k > 0 && cap(s.heads[k-1]) >= n {
		b := s.heads[k-1]
		s.heads = s.heads[:k-1]
		return b[:n]
	}
	return make([]byte, n)
}

func (s *walkState) releaseHead(b []byte) { s.heads = append(s.heads, b) }

const ratioFloor = 1 << 20

func (s *walkState) overBudget(out, in int64) error {
	if s.expanded >= s.opts.MaxExpanded {
		return fmt.Errorf("%w: %d bytes decompressed in this walk (Options.MaxExpanded is %d)", ErrExpansionLimit, s.expanded, s.opts.MaxExpanded)
	}
	if r := s.opts.MaxRatio; r > 0 && out > ratioFloor && out > r*max(in, 1) {
		return fmt.Errorf("%w: %d bytes from %d compressed (Options.MaxRatio is %d)", ErrExpansionLimit, out, in, r)
	}
	return nil
}

// child builds a member's chain: the container's prefix plus one layer.
func child(prefix []string, kind Kind, name string) []string {
	c := make([]string, len(prefix), len(prefix)+1)
	copy(c, prefix)
	return append(c, kind.String()+":"+name)
}

// visit sniffs e and delivers or expands it. prefix is the chain its
// members will extend (nil for the evidence file itself, whose own layer
// is the container's); up is the stream e's content comes from.
func (s *walkState) visit(e *Entry, prefix []string, depth int, up *guard) error {
	if err := s.ctx.Err(); err != nil {
		return err
	}
	if e.osPath != "" && s.consumed[filepath.Clean(e.osPath)] {
		// A segment of an image set walked already: its own times only.
		return s.announce(e)
	}
	hsize := SniffSize
	if s.opts.Images != nil {
		hsize = ImageHeadSize
	}
	head := s.head(hsize)
	defer s.releaseHead(head)
	var (
		ra     io.ReaderAt
		stream io.Reader
		n      int
		err    error
	)
	if e.random() {
		if ra, err = e.randomAccess(); err == nil {
			if c, ok := ra.(io.Closer); ok {
				defer c.Close()
			}
			n, err = ra.ReadAt(head, 0)
			if err == io.EOF {
				err = nil
			}
		}
	} else {
		var rc io.ReadCloser
		if rc, err = e.Open(); err == nil {
			defer rc.Close()
			n, err = io.ReadFull(rc, head)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = nil
			}
			stream = io.MultiReader(bytes.NewReader(head[:n]), rc)
		}
	}
	if err != nil {
		if !up.failed() {
			s.problem(e.Chain, e.Path, -1, fmt.Errorf("%w: %v", ErrUnreadable, err))
		}
		return nil
	}
	head = head[:n]

	kind := Sniff(head)
	if kind != KindPlain && depth >= s.opts.MaxDepth {
		s.problem(e.Chain, e.Path, 0, fmt.Errorf("%w: %s at depth %d (Options.MaxDepth is %d), delivered unexpanded", ErrTooDeep, kind, depth, s.opts.MaxDepth))
		kind = KindPlain
	}
	if kind == KindPlain && s.opts.Images != nil {
		if handled, err := s.visitImage(e, head, ra, stream); handled || err != nil {
			return err
		}
	}
	if stream == nil && kind != KindPlain {
		// A container read through its random access: the walks below
		// read a stream. A plain file is delivered with ra (deliver does
		// not read stream when ra is set), so it needs none: no reader
		// made for each file of a file system.
		size := e.Size
		if size < 0 {
			size = 1<<63 - 1
		}
		stream = io.NewSectionReader(ra, 0, size)
	}
	if kind != KindPlain {
		if err := s.announce(e); err != nil {
			return err
		}
	}
	switch kind {
	case KindGzip, KindBzip2, KindXz:
		return s.walkCompressed(kind, e, stream, prefix, depth, up)
	case KindTar:
		return s.walkTar(e, stream, prefix, depth, up)
	case KindZip:
		if e.random() && e.Size >= 0 {
			return s.walkZip(e, ra, e.Size, prefix, depth, up)
		}
		return s.walkSpooledZip(e, stream, prefix, depth, up)
	}
	if ra != nil && e.plainOpen && !e.lasting {
		// The content is opened: the entry fn is handed reads it through
		// the same reader for as long as the call lasts, rather than
		// opening it again (a non-resident NTFS file's Open looked its
		// MFT entry up and opened its stream a second time). Not a zip
		// member, whose Open checks its CRC, nor a Lasting file, which
		// may be read after the call.
		//
		// e itself is changed for the call and restored after it: a copy
		// of it per file was a fifth of what the walk of an image of small
		// files allocated, and nothing keeps a file that is not Lasting
		// past the call but by a copy (Detach). The reader is set in e's
		// fields (Entry.shared), which Open and ReaderAt serve first: two
		// closures a file were the walk's allocations after that.
		size := e.Size
		if size < 0 {
			size = 1<<63 - 1
		}
		e.shared, e.sharedSize = ra, size
		defer func() { e.shared, e.sharedSize = nil, 0 }()
	}
	return s.deliver(e, stream, ra == nil)
}

// sharedReaderAt is a reader visit opened and closes: whoever it is handed
// to may not close it (it has no Close).
type sharedReaderAt struct{ r io.ReaderAt }

func (s sharedReaderAt) ReadAt(p []byte, off int64) (int, error) { return s.r.ReadAt(p, off) }

// Unwrap lets what the reader is through (a $MFT's volume, for its
// non-resident attribute lists: ntfs.VolumeOf); the reader it returns is
// still visit's to close.
func (s sharedReaderAt) Unwrap() io.ReaderAt { return s.r }

// announce hands fn the container e itself, before its members, so its own
// times (an inode's, a tar or zip member's) and provenance stay on the
// timeline. The copy has no content: its bytes are the members'.
func (s *walkState) announce(e *Entry) error {
	c := *e
	c.Container = true
	c.open, c.readerAt, c.shared, c.mem, c.lasting = nil, nil, nil, nil, false
	return s.fn(s.ctx, &c)
}

// deliver hands a plain file to fn. For a stream member the first Open
// replays the sniffed head and continues the stream; later Opens go back to
// the container (a zip member can be reopened, a tar member cannot).
func (s *walkState) deliver(e *Entry, stream io.Reader, streamed bool) error {
	if !streamed {
		return s.fn(s.ctx, e)
	}
	d := *e
	d.lasting, d.plainOpen = false, false // its first Open is the walk's stream
	first := onceReader(stream)
	d.open = func() (io.ReadCloser, error) {
		if rc, err := first(); err == nil {
			return rc, nil
		}
		return e.Open()
	}
	if err := s.fn(s.ctx, &d); err != nil {
		return err
	}
	return drain(s, stream)
}
