package mft

import (
	"context"
	"runtime"
	"sync"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/timeline"
)

// The MFT timeline on every core (issue 15: at least fls's entries/s).
//
// The $MFT is cut into chunks of entries. Worker w of W takes chunks w,
// w+W, w+2W, ...: it reads and decodes their records, resolves their paths
// through a Table of its own (its own bounded parent cache: nothing is
// shared between workers but the io.ReaderAt) and builds their events into
// a batch. The caller's goroutine takes the batches in chunk order and
// emits them, with the warnings where the serial scan reports them, so the
// output is the serial one, event for event (TestParallelSameOutput).
//
// Memory stays bounded: each worker has at most one batch built and one
// being built (an unbuffered hand-over would leave a core idle while the
// caller emits), so about 2W+1 batches of chunkEntries entries are alive,
// whatever the size of the MFT.
//
// An earlier pipeline (one goroutine decoding and resolving for builders
// on every core) lost to the serial scan at load 15: the decoding goroutine
// handed every record over, and collections were frequent enough for GC
// assists and the runtime's locks to eat the second core. Here a worker
// hands over one batch per chunk, and cmd/jejak's collector policy
// (internal/gcpolicy) lets the heap grow between collections; the numbers
// are in docs/PERFORMANCE.md.

// chunkEntries is the number of MFT entries of one batch: a multiple of
// ntfs.ScanBatch, so that a worker reads the same batches of records as
// one serial scan (and reports an unreadable part of $MFT the same way).
// A batch holds up to 8 events per entry (one per distinct time of $SI
// and of each $FN; 2 to 4 on most volumes), at most some 700 KB; at
// 256 entries a chunk, the batches in flight made the live heap, and the
// collector's work, three times the serial scan's (at 100k entries, 1.0
// CPU-s against 0.8 at 64, load 5).
var chunkEntries uint64 = ntfs.ScanBatch

// maxWorkers bounds the workers on a large machine: ingest parses other
// files beside the $MFT, and the caller's single emitting goroutine is the
// limit beyond a few.
const maxWorkers = 4

// workers is the number of goroutines building the timeline of an MFT of
// count entries: one per core, and none (the caller's goroutine builds)
// when there is one core or a single chunk.
var workers = func(count uint64) int {
	w := min(runtime.GOMAXPROCS(0), maxWorkers)
	if chunks := (count + chunkEntries - 1) / chunkEntries; uint64(w) > chunks {
		w = int(chunks)
	}
	return max(w, 1)
}

// scanTimeline emits the events of every entry of t in entry order, and
// calls warn with every record that could not be decoded, in the order a
// serial scan meets them.
func scanTimeline(ctx context.Context, t *ntfs.Table, emit func(*timeline.Event) error, warn func(entry uint64, off int64, err error)) error {
	n := workers(t.Count())
	if n <= 1 {
		var (
			buf   []*timeline.Event
			names []resolved
		)
		b := newBuilder()
		defer b.Close()
		return t.Scan(ctx, func(r *ntfs.Record, off int64) error {
			if err := unlisted(r); err != nil {
				warn(r.Entry, int64(r.Extension)*int64(t.RecordSize()), err)
			}
			names = paths(t, r, names[:0])
			buf = b.events(r, off, t.RecordSize(), names, buf[:0])
			for i, ev := range buf {
				buf[i] = nil // the caller owns the event now
				if err := emit(ev); err != nil {
					return err
				}
			}
			return nil
		}, warn)
	}
	return scanParallel(ctx, t, n, emit, warn)
}

// batch is one chunk's events, and the warnings met while reading it.
type batch struct {
	events []*timeline.Event
	warns  []warning
	// err ends the scan after this batch (a cancelled context).
	err error
}

// warning is a record that could not be decoded; before is the number of
// the batch's events the serial scan emits before reporting it.
type warning struct {
	before int
	entry  uint64
	off    int64
	err    error
}

func scanParallel(ctx context.Context, t *ntfs.Table, n int, emit func(*timeline.Event) error, warn func(uint64, int64, error)) error {
	chunks := (t.Count() + chunkEntries - 1) / chunkEntries
	done := make(chan struct{})
	outs := make([]chan *batch, n)
	var wg sync.WaitGroup
	// On every return (the end, an emit error, a cancelled context) the
	// workers are told to stop and waited for: none outlives Parse.
	defer wg.Wait()
	defer close(done)
	for w := range n {
		out := make(chan *batch, 1)
		outs[w] = out
		tw := t.Clone()
		wg.Go(func() {
			var names []resolved
			eb := newBuilder()
			defer eb.Close()
			for c := uint64(w); c < chunks; c += uint64(n) {
				b := &batch{events: make([]*timeline.Event, 0, 8*chunkEntries)}
				b.err = tw.ScanRange(ctx, c*chunkEntries, (c+1)*chunkEntries, func(r *ntfs.Record, off int64) error {
					if err := unlisted(r); err != nil {
						b.warns = append(b.warns, warning{before: len(b.events), entry: r.Entry, off: int64(r.Extension) * int64(tw.RecordSize()), err: err})
					}
					names = paths(tw, r, names[:0])
					b.events = eb.events(r, off, tw.RecordSize(), names, b.events)
					return nil
				}, func(entry uint64, off int64, err error) {
					b.warns = append(b.warns, warning{before: len(b.events), entry: entry, off: off, err: err})
				})
				select {
				case out <- b:
				case <-done:
					return
				}
				if b.err != nil {
					return
				}
			}
		})
	}
	for c := range chunks {
		// As the serial scan does before each batch of records: a
		// cancelled context stops the timeline even when the workers
		// have already built what is left.
		if err := ctx.Err(); err != nil {
			return err
		}
		b := <-outs[c%uint64(n)]
		ws := b.warns
		for i, ev := range b.events {
			for len(ws) > 0 && ws[0].before <= i {
				warn(ws[0].entry, ws[0].off, ws[0].err)
				ws = ws[1:]
			}
			b.events[i] = nil // the caller owns the event now
			if err := emit(ev); err != nil {
				return err
			}
		}
		for _, w := range ws {
			warn(w.entry, w.off, w.err)
		}
		if b.err != nil {
			return b.err
		}
	}
	return nil
}
