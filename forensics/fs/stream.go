package fs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// counter counts the bytes a layer pulls from its input, for the offsets
// that problems name.
type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// bufferedInput gives a decompressor a *bufio.Reader (klauspost/flate and
// compress/bzip2 use their fast paths for it instead of wrapping their own),
// while consumed still knows exactly how many input bytes were used.
type bufferedInput struct {
	cnt *counter
	br  *bufio.Reader
}

func newBufferedInput(r io.Reader) *bufferedInput {
	c := &counter{r: r}
	return &bufferedInput{cnt: c, br: bufio.NewReaderSize(c, 64<<10)}
}

func (b *bufferedInput) consumed() int64 { return b.cnt.n - int64(b.br.Buffered()) }

// guard sits on every stream a layer hands on (a decompressor's output, a
// tar or zip member). A read error becomes a Problem naming the chain and
// offset, and the reader above sees a clean EOF: everything read before the
// damage is still delivered to parsers, and a truncated stream is reported
// once, by the layer where it broke, not again by each layer above it.
type guard struct {
	s      *walkState
	r      io.Reader
	up     *guard // the stream this one reads from, nil for a file on disk
	chain  []string
	path   string
	kind   string
	inPos  func() int64 // input offset reached, for the problem
	inSize func() int64 // compressed bytes so far, for the ratio; nil when not a decompressor
	out    int64
	err    error
}

func (g *guard) failed() bool {
	for x := g; x != nil; x = x.up {
		if x.err != nil {
			return true
		}
	}
	return false
}

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, io.EOF
	}
	if g.inSize != nil {
		if err := g.s.overBudget(g.out, g.inSize()); err != nil {
			g.fail(err)
			return 0, io.EOF
		}
	}
	n, err := g.r.Read(p)
	g.out += int64(n)
	if g.inSize != nil {
		g.s.expanded += int64(n)
	}
	if err != nil && err != io.EOF {
		g.fail(err)
		return n, io.EOF
	}
	return n, err
}

// fail records the first error and reports it unless a stream below
// already broke (its problem is the cause of this one).
func (g *guard) fail(err error) {
	upstream := g.up.failed()
	g.err = err
	if upstream {
		return
	}
	off := int64(-1)
	if g.inPos != nil {
		off = g.inPos()
	}
	g.s.problem(g.chain, g.path, off, classify(err, fmt.Sprintf("%s stream broke at input offset %d after %d bytes of content", g.kind, off, g.out)))
}

// classify wraps a library error in the package's cause, keeping the
// original text for the examiner.
func classify(err error, where string) error {
	switch {
	case errors.Is(err, ErrExpansionLimit), errors.Is(err, ErrCorrupt), errors.Is(err, ErrTruncated):
		return fmt.Errorf("%s: %w", where, err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %s: %v", ErrTruncated, where, err)
	case strings.Contains(err.Error(), "unexpected EOF"):
		// compress/bzip2 and xz wrap the EOF in their own error types.
		return fmt.Errorf("%w: %s: %v", ErrTruncated, where, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrCorrupt, where, err)
}

// drain reads what the consumer left, so damage at the end of a stream (a
// truncated tail, a bad CRC) is found even when no parser read the file.
func drain(s *walkState, r io.Reader) error {
	buf := s.scratch()
	defer s.release(buf)
	for i := 0; ; i++ {
		if i%64 == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
		if _, err := r.Read(buf); err != nil {
			return nil
		}
	}
}

// onceReader backs Entry.open for a stream member: the stream can be read
// only once, while it stands at the member.
func onceReader(r io.Reader) func() (io.ReadCloser, error) {
	var mu sync.Mutex
	used := false
	return func() (io.ReadCloser, error) {
		mu.Lock()
		defer mu.Unlock()
		if used {
			return nil, errors.New("stream member already opened: its content can be read once")
		}
		used = true
		return io.NopCloser(r), nil
	}
}
