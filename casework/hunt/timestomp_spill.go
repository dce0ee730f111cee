package hunt

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// The timestomp check needs every time of an MFT entry before it can judge
// it, and the hunt reads the timeline in time order, where an entry's
// events lie far apart. Holding every entry until the end grew the hunt by
// over 2 KB an entry (0.78 GB at 300k files). Instead each MFT event is
// written as a compact record keyed by its entry into a spillSorter, an
// external merge sort: records gather in memory up to spillLimit bytes,
// are sorted by key and written as a run to a file in the case's temp
// folder, and at the end the runs are merged, so the check sees the
// entries one at a time, each with its events in the order the hunt read
// them (a stable sort, runs merged in the order they were written).
// Written by hand: the standard library has no external sort, and the one
// SQLite would do for a temp table spills to the shared temp folder.

// spillLimit is how many bytes of records a spillSorter holds before it
// writes them out as a sorted run. A variable so that tests can make a
// small volume spill into many runs.
var spillLimit = 16 << 20

// spillSorter sorts byte records by key, stably, in bounded memory.
type spillSorter struct {
	dir   string // where the run file goes; "" is the system's temp folder
	limit int
	buf   []byte // the records held: uvarint record length, uvarint key length, record
	spans []recSpan
	f     *os.File // the runs, one after another
	name  string   // f's name, removed when f is closed
	w     *bufio.Writer
	runs  []int64 // where each run ends in f
	// held: no file could be made (in dir nor in the system's temp
	// folder), so every record stays in memory; nothing is lost.
	held bool
	err  error // the first write failure: the runs on disk are lost
}

// recSpan is one held record: rec = buf[start:end], its key the first
// klen bytes.
type recSpan struct{ start, klen, end int }

func newSpillSorter(dir string, limit int) *spillSorter {
	return &spillSorter{dir: dir, limit: limit}
}

// add copies a record whose first klen bytes are its key.
func (s *spillSorter) add(rec []byte, klen int) {
	if len(s.buf)+len(rec) > s.limit && len(s.spans) > 0 && s.err == nil && !s.held {
		s.spill()
	}
	start := len(s.buf)
	if need := start + len(rec); need > cap(s.buf) {
		// Grown by hand so that it never passes the limit by more than a
		// record (append would double it up to twice the limit); a small
		// hunt never holds more than its records.
		c := min(max(2*cap(s.buf), 64<<10), max(s.limit, need))
		s.buf = append(make([]byte, 0, max(c, need)), s.buf...)
	}
	s.buf = append(s.buf, rec...)
	s.spans = append(s.spans, recSpan{start: start, klen: klen, end: len(s.buf)})
}

func (s *spillSorter) key(sp recSpan) []byte { return s.buf[sp.start : sp.start+sp.klen] }

func (s *spillSorter) sortHeld() {
	slices.SortStableFunc(s.spans, func(a, b recSpan) int { return bytes.Compare(s.key(a), s.key(b)) })
}

// spill writes the held records out as a sorted run. When no file can be
// made the records stay in memory (the hunt needs them more than it needs
// the bound); a failure to write is kept in s.err and reported by each,
// as the runs already written are then lost.
func (s *spillSorter) spill() {
	if s.f == nil {
		f, linked, err := createSpill(s.dir, "timestomp-*.runs")
		if err != nil {
			s.held = true
			return
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
		if linked {
			s.name = f.Name()
		}
	}
	s.sortHeld()
	var hdr [2 * binary.MaxVarintLen64]byte
	for _, sp := range s.spans {
		n := binary.PutUvarint(hdr[:], uint64(sp.end-sp.start))
		n += binary.PutUvarint(hdr[n:], uint64(sp.klen))
		if _, err := s.w.Write(hdr[:n]); err != nil {
			s.err = fmt.Errorf("timestomp: write spill file (the entries written before are not judged): %w", err)
			return
		}
		if _, err := s.w.Write(s.buf[sp.start:sp.end]); err != nil {
			s.err = fmt.Errorf("timestomp: write spill file (the entries written before are not judged): %w", err)
			return
		}
	}
	if err := s.w.Flush(); err != nil {
		s.err = fmt.Errorf("timestomp: write spill file (the entries written before are not judged): %w", err)
		return
	}
	end, err := s.f.Seek(0, io.SeekCurrent)
	if err != nil {
		s.err = fmt.Errorf("timestomp: spill file (the entries written before are not judged): %w", err)
		return
	}
	s.runs = append(s.runs, end)
	s.buf, s.spans = s.buf[:0], s.spans[:0]
}

// each calls fn with every record in key order (records of one key in
// the order they were added); fn must copy what it keeps. It ends the
// sorter: its file is closed and removed.
func (s *spillSorter) each(ctx context.Context, fn func(rec []byte, klen int) error) (err error) {
	defer func() { err = errors.Join(err, s.close()) }()
	if s.f == nil || s.err != nil {
		// Everything fits in memory (or the runs could not be written:
		// what is held is still judged, and the error says the rest
		// was lost).
		s.sortHeld()
		for i, sp := range s.spans {
			if i%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if err := fn(s.buf[sp.start:sp.end], sp.klen); err != nil {
				return err
			}
		}
		return s.err
	}
	if len(s.spans) > 0 {
		s.spill()
		if s.err != nil {
			return s.err
		}
	}
	s.buf, s.spans = nil, nil // the merge needs none of it
	var m runHeap
	start := int64(0)
	for i, end := range s.runs {
		r := &runReader{run: i, r: bufio.NewReaderSize(io.NewSectionReader(s.f, start, end-start), 64<<10)}
		start = end
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			m = append(m, r)
		}
	}
	heap.Init(&m)
	for n := 0; len(m) > 0; n++ {
		if n%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		r := m[0]
		if err := fn(r.rec, r.klen); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&m, 0)
		} else {
			heap.Pop(&m)
		}
	}
	return nil
}

func (s *spillSorter) close() error {
	s.buf, s.spans = nil, nil
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	if s.name != "" {
		err = errors.Join(err, os.Remove(s.name))
	}
	s.f = nil
	return err
}

// runReader reads one sorted run back.
type runReader struct {
	run  int // its place among the runs: the tie-break that keeps the sort stable
	r    *bufio.Reader
	rec  []byte
	klen int
}

func (r *runReader) next() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("timestomp: read spill file: %w", err)
	}
	k, err := binary.ReadUvarint(r.r)
	if err != nil || k > n {
		return false, fmt.Errorf("timestomp: read spill file: bad record header (%d, %d): %v", n, k, err)
	}
	if uint64(cap(r.rec)) < n {
		r.rec = make([]byte, n)
	}
	r.rec, r.klen = r.rec[:n], int(k)
	if _, err := io.ReadFull(r.r, r.rec); err != nil {
		return false, fmt.Errorf("timestomp: read spill file: %w", err)
	}
	return true, nil
}

// runHeap orders the runs' current records by key, then by run.
type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].rec[:h[i].klen], h[j].rec[:h[j].klen]); c != 0 {
		return c < 0
	}
	return h[i].run < h[j].run
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// spillDir is the folder the hunt spills to: Config.TempDir, which
// casework sets to the case's temp folder; empty (a library caller's
// hunt) is the system's temp folder, os.TempDir().
func (h *hunter) spillDir() string {
	return h.cfg.TempDir
}

// createSpill makes a spill file named by pattern in dir, or in the
// system's temp folder when dir is empty or refuses it, and unlinks it at
// once where the system allows it (the file lives while open), so that a
// killed hunt leaves nothing in the case; linked says it still has its
// name, to remove when closed.
func createSpill(dir, pattern string) (f *os.File, linked bool, err error) {
	f, err = os.CreateTemp(dir, pattern)
	if err != nil && dir != "" {
		f, err = os.CreateTemp("", pattern)
	}
	if err != nil {
		return nil, false, err
	}
	return f, os.Remove(f.Name()) != nil, nil
}
