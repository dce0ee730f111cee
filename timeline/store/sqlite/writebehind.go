package sqlite

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Write-behind: in a bulk run (see BeginRun) the inserts of a batch need
// not hold up the next one. Write encodes and compresses the batch (on
// every core), hands its chunks to one goroutine that inserts them (in
// transactions of the batches queued: see insertBehind), and returns:
// the caller goes on reading evidence while SQLite inserts, instead of
// waiting for the inserts and then having the inserts wait for its next
// batch. Measured
// on a 50 MB syslog: the parser waited half the run for Write, and Write
// a third of its time for the encoders (go tool trace, -pprof=sync).
//
// A bulk run has no unique index, so a Write's counts are known before
// its rows are in: every event is inserted. (An insert that ignores a
// row anyway is counted, and FinishWrites reports it with the repeats.)
// What changes for the caller: an error of an insert is returned by a
// later Write or by FinishWrites (or Close), and another connection sees
// a batch's rows only once its transaction commits, after Write returned.
// Only the ingest asks for it (WriteBehind), which reads nothing back
// before FinishWrites.

// behindTx is how long a write-behind transaction may last: it spans
// batches while the next one is already waiting (see insertBehind).
const behindTx = time.Second

// behindChunks is how many chunks encoded ahead may wait for the
// inserter (a chunk is encodeChunk events, about 1.3 MB of JSON for a
// syslog): two and a half batches of the ingest's 10,000 events, so that
// one batch is inserted while the next waits and a third is encoded. A
// batch also ends at the ingest's map weight (an EVTX batch is about
// 1,800 events), so more such batches fit; the bound is on chunks, which
// is what holds memory.
const behindChunks = 24

// behind is the write-behind of a bulk run: the chunks in insert order,
// the chunks free for encoding, and the inserting goroutine's end.
type behind struct {
	queue chan *chunk // in order; room for every chunk, so a send never waits
	free  chan *chunk
	sem   chan struct{} // encoders running
	done  chan struct{} // closed when the inserter has ended

	// gap counts callers waiting for the writer's connection or for a
	// gap between transactions (BetweenWrites, SetRunProgress): the
	// inserter then commits at the end of the batch in hand.
	gap atomic.Int32
	// gapc wakes an inserter waiting for the next batch (linger) when a
	// caller starts to wait for a gap.
	gapc chan struct{}
	// open counts batches being encoded ahead (encoding) not yet written:
	// the inserter waits for them (linger) rather than commit.
	open atomic.Int32

	mu  sync.Mutex
	err error // the first failure of the inserter
	// missing counts rows Write reported inserted that an insert ignored;
	// read once done is closed.
	missing int64
	mine    []*chunk // Write's chunks of the batch in hand
}

func (b *behind) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *behind) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

// WriteBehind makes the Writes of this bulk run return once their events
// are encoded, inserting them on a goroutine of the store's (see above),
// and reports whether they do: only a bulk run that deferred its indexes
// can, asked before its first write. It lasts until FinishWrites or Close.
func (s *Store) WriteBehind() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.behind != nil {
		return true
	}
	if !s.bulk || !s.deferred || s.written != 0 {
		return false
	}
	b := &behind{
		queue: make(chan *chunk, behindChunks),
		free:  make(chan *chunk, behindChunks),
		sem:   make(chan struct{}, runtime.GOMAXPROCS(0)),
		done:  make(chan struct{}),
		gapc:  make(chan struct{}, 1),
	}
	for range behindChunks {
		b.free <- &chunk{}
	}
	s.behind = b
	s.behindNow.Store(b)
	go s.insertBehind(b)
	return true
}

// BetweenWrites runs fn while no write-behind transaction is open. A
// write on another connection (the ingest's warnings) waits for SQLite's
// write lock with a busy timeout, polling: the inserter, which opens its
// next transaction microseconds after the last commit, could keep it out
// until the timeout. Writes without write-behind leave gaps themselves.
func (s *Store) BetweenWrites(fn func() error) error {
	defer s.wantGap()()
	s.txMu.Lock()
	defer s.txMu.Unlock()
	return fn()
}

// wantGap tells the write-behind's inserter, if any, that a caller waits
// for the end of its transaction, until the function it returns is
// called.
func (s *Store) wantGap() (done func()) {
	b := s.behindNow.Load()
	if b == nil {
		return func() {}
	}
	b.gap.Add(1)
	select {
	case b.gapc <- struct{}{}:
	default:
	}
	return func() { b.gap.Add(-1) }
}

// writeBehind is Write in a write-behind run: s.mu is held.
func (s *Store) writeBehind(ctx context.Context, batch []*timeline.Event) (timeline.WriteStats, error) {
	b := s.behind
	if err := b.failed(); err != nil {
		return timeline.WriteStats{}, err
	}
	if err := ctx.Err(); err != nil {
		return timeline.WriteStats{}, err
	}
	mine := b.mine[:0]
	for lo := 0; lo < len(batch); lo += encodeChunk {
		hi := min(lo+encodeChunk, len(batch))
		var c *chunk
		select {
		case c = <-b.free:
		case <-b.done:
			return timeline.WriteStats{}, b.failed()
		}
		c.done, c.last = make(chan struct{}), hi == len(batch)
		evs := batch[lo:hi]
		b.sem <- struct{}{}
		go func() {
			c.encode(evs)
			<-b.sem
			close(c.done)
		}()
		b.queue <- c
		mine = append(mine, c)
	}
	// The events are the caller's again once encoded. A chunk already
	// inserted may have been taken again above: its done is then that of
	// its later part of this batch.
	var err error
	for _, c := range mine {
		<-c.done
		if c.err != nil && err == nil {
			err = c.err
		}
	}
	clear(mine)
	b.mine = mine[:0]
	if err != nil {
		// The inserter rolls the batch back when it comes to the chunk.
		return timeline.WriteStats{}, err
	}
	s.written += int64(len(batch))
	return timeline.WriteStats{Inserted: len(batch)}, nil
}

// insertBehind inserts the chunks of b's queue until the queue is closed
// or an insert fails; then it hands every chunk back and ends.
//
// A transaction holds whole batches (up to a chunk marked last), and goes
// on with the next batch when that one is waiting already, for up to
// behindTx: each commit waits for the file and its journal to reach the
// disk (fsync), and committing every batch of 10,000 events made the
// inserter wait on the disk for every one of them (a 50 MB syslog: 221
// fsyncs, 1.2-1.6 s; now about 100, 0.5-0.7 s). It commits after the
// batch in hand when no batch waits, when behindTx is over or when another
// writer waits (gap). A batch that fails is taken out alone (undo) and
// the batches before it are committed, as when each batch was a
// transaction.
//
// Not with a savepoint per batch, which did the same: SQLite copies every
// page a savepoint's writes change that was in the file when it opened to
// a temporary file (its sub-journal), in case it is rolled back, and in
// a transaction spanning batches that includes the pages the batches
// before it wrote: a 200 MB syslog's analyze wrote 507 MB to it in 60,618
// writes, 1.3 times the case.db it made (now 731 MB written in all, was
// 1,076 MB; 2 % less CPU, 0.1 s less system time).
func (s *Store) insertBehind(b *behind) {
	defer close(b.done)
	bg := context.Background()
	c, ok := <-b.queue
	for ok {
		var st timeline.WriteStats
		var failed error // a batch that failed, rolled back alone
		s.txMu.Lock()
		begun := time.Now()
		err := s.w.Raw(func(dc any) error {
			return inRawTx(bg, dc, "", func(conn rawConn) error {
				ins := s.newInserter(conn)
				for {
					ins.mark()
					if c, failed = ins.batch(b, c, &st); failed != nil {
						return ins.undo()
					}
					if b.gap.Load() > 0 || time.Since(begun) >= behindTx {
						return nil
					}
					if len(b.queue) == 0 {
						if b.open.Load() == 0 {
							return nil
						}
						if c, ok = b.linger(begun); c == nil {
							return nil
						}
					} else if c, ok = <-b.queue; !ok {
						return nil
					}
				}
			})
		})
		s.txMu.Unlock()
		if err == nil {
			err = failed
		}
		if err != nil {
			if c != nil {
				<-c.done
				s.giveBack(b, c)
			}
			if s.dig != nil {
				// Rows hashed may have been rolled back.
				s.dig.fail("a write failed: %v", err)
			}
			b.fail(err)
			for c := range b.queue {
				<-c.done
				s.giveBack(b, c)
			}
			return
		}
		b.missing += int64(st.Duplicates)
		if ok {
			c, ok = <-b.queue
		}
	}
}

// linger waits for the next chunk in the transaction begun at begun,
// while a batch is being encoded ahead (b.open): its chunks reach the
// queue only once the whole batch is, where Write's chunks are queued as
// their encoding starts. Committing whenever the queue ran dry between
// such batches nearly doubled the commits, each two fsyncs (200 EVTX
// files: 354 -> 620). It returns no chunk, to commit, when a caller waits
// for a gap or the transaction has lasted behindTx; ok is false when the
// queue was closed.
func (b *behind) linger(begun time.Time) (c *chunk, ok bool) {
	t := time.NewTimer(behindTx - time.Since(begun))
	defer t.Stop()
	select {
	case c, ok = <-b.queue:
		return c, ok
	case <-b.gapc:
		return nil, true
	case <-t.C:
		return nil, true
	}
}

// batch inserts the chunks of one batch, c and those after it in b's
// queue up to one marked last, handing each back to b.free once
// inserted. On a failure it returns the chunk in hand, not handed back.
func (in *inserter) batch(b *behind, c *chunk, st *timeline.WriteStats) (*chunk, error) {
	for {
		<-c.done
		if c.err != nil {
			return c, c.err
		}
		if err := in.chunk(c, st); err != nil {
			return c, err
		}
		last := c.last
		in.s.giveBack(b, c)
		if last {
			return nil, nil
		}
		var ok bool
		if c, ok = <-b.queue; !ok {
			return nil, errors.New("write-behind: a batch ended without its last chunk")
		}
	}
}

// mark starts a batch: undo removes what the inserts after it added.
func (in *inserter) mark() { in.firstBlk, in.firstRow = 0, 0 }

// undo removes the blocks and rows inserted since mark, in the
// transaction in hand: a bulk run only appends (the rowids after the
// largest; the blocks' too), so they are those from the first of each.
// It is what rolling back to a savepoint opened at mark does, without
// the savepoint's copies of pages (see insertBehind); the pages freed are
// left free in the file. If SQLite rolled the whole transaction back (a
// full disk, an I/O error), these delete nothing and the commit fails.
func (in *inserter) undo() error {
	if in.firstRow != 0 {
		if err := execRaw(in.conn, fmt.Sprintf(`DELETE FROM event_rows WHERE rowid >= %d`, in.firstRow)); err != nil {
			return err
		}
	}
	if in.firstBlk != 0 {
		if err := execRaw(in.conn, fmt.Sprintf(`DELETE FROM blocks WHERE id >= %d`, in.firstBlk)); err != nil {
			return err
		}
	}
	in.mark()
	return nil
}

// giveBack hands an inserted (or dropped) chunk back: to b.free, or to
// the store's pool when it was encoded ahead (encoding).
func (s *Store) giveBack(b *behind, c *chunk) {
	if c.pooled {
		c.pooled = false
		s.chunks.Put(c)
		return
	}
	b.free <- c
}

// writeBehindEncoded is WriteEncoded in a write-behind run (s.mu is
// held): the chunks were encoded ahead (encoding), and are queued for the
// inserter as writeBehind queues those it encodes. The queue has room
// for behindChunks: the chunks of b.free's and these share it, so a send
// may wait here for the inserter, which bounds what is encoded ahead of
// it.
func (s *Store) writeBehindEncoded(ctx context.Context, batch []*timeline.Event, en *encoding) (timeline.WriteStats, error) {
	b := s.behind
	if err := b.failed(); err != nil {
		en.Discard()
		return timeline.WriteStats{}, err
	}
	if err := ctx.Err(); err != nil {
		en.Discard()
		return timeline.WriteStats{}, err
	}
	chunks := en.chunks
	for i, c := range chunks {
		c.done, c.last, c.pooled = closedDone, i == len(chunks)-1, true
		select {
		case b.queue <- c: // the inserter's now
			chunks[i] = nil
		case <-b.done:
			// The inserter ended (it failed): these are not queued.
			en.Discard()
			return timeline.WriteStats{}, b.failed()
		}
	}
	err := en.err
	en.release()
	if err != nil {
		// The inserter rolls the batch back when it comes to the chunk.
		return timeline.WriteStats{}, err
	}
	s.written += int64(len(batch))
	return timeline.WriteStats{Inserted: len(batch)}, nil
}

// closedDone is the done of a chunk encoded ahead.
var closedDone = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// execRaw runs q on conn.
func execRaw(conn rawConn, q string) error {
	st, err := prepareRaw(context.Background(), conn, fmt.Sprintf("%q", q), q)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.ExecContext(context.Background(), nil); err != nil {
		return fmt.Errorf("%s: %w", q, err)
	}
	return nil
}

// stopBehind waits for the write-behind's inserts and ends it (s.mu is
// held). Its error is the first insert that failed, then and in every
// later call: the run's rows are not all stored.
func (s *Store) stopBehind() error {
	if b := s.behind; b != nil {
		s.behind = nil
		s.behindNow.Store(nil)
		close(b.queue)
		<-b.done
		s.unstored += b.missing
		if err := b.failed(); err != nil && s.behindErr == nil {
			s.behindErr = err
		}
	}
	return s.behindErr
}
