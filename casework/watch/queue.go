package watch

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// item is one received or read line on its way to the store.
type item struct {
	Src   int       `json:"-"`               // index into the watcher's sources
	Label string    `json:"label"`           // the source's label (survives a restart, Src does not)
	Path  string    `json:"path"`            // the followed file, or the sender's address
	Ident string    `json:"ident,omitempty"` // file identity, or "session:N" for a listener
	Off   int64     `json:"off"`             // file offset of the line; receive sequence number for a listener
	Rec   int64     `json:"rec"`             // 1-based line number in the file; the sequence number for a listener
	End   int64     `json:"end,omitempty"`   // file offset after the line
	Text  []byte    `json:"text"`
	Recv  time.Time `json:"recv"`
	// file is what a file line commits once stored (nil for a
	// listener's line).
	file *fileMark
}

// fileMark is the position a file line commits when it is stored.
type fileMark struct {
	path  string
	state fileState
}

// queue holds lines between intake and the store: a bounded slice in
// memory and, behind it, a bounded spool file on disk in the case folder.
// Listeners never wait on it (a syslog sender cannot be told to slow down):
// what memory cannot take goes to the spool, and what the spool cannot take
// is dropped and counted. File followers do wait: a file keeps its lines,
// and its offset is committed only once they are stored.
type queue struct {
	mu       sync.Mutex
	nonEmpty *sync.Cond
	room     *sync.Cond
	mem      []*item
	memMax   int
	closed   bool

	spoolPath  string
	spoolLimit int64
	spoolW     *os.File
	spoolR     *bufio.Reader
	spoolRF    *os.File
	written    int64 // bytes appended to the spool since it was last emptied
	pending    int   // spooled items not yet taken
	spoolErr   error

	spooled, dropped func(src int) // counters, called with mu held
}

func newQueue(memMax int, spoolPath string, spoolLimit int64) *queue {
	q := &queue{memMax: memMax, spoolPath: spoolPath, spoolLimit: spoolLimit}
	q.nonEmpty = sync.NewCond(&q.mu)
	q.room = sync.NewCond(&q.mu)
	q.spooled = func(int) {}
	q.dropped = func(int) {}
	return q
}

// putWait queues a file line, waiting while memory is full.
func (q *queue) putWait(it *item) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.mem) >= q.memMax && !q.closed {
		q.room.Wait()
	}
	if q.closed {
		return false
	}
	q.mem = append(q.mem, it)
	q.nonEmpty.Signal()
	return true
}

// put queues a received line without waiting: memory, else the spool,
// else it is dropped (and counted). It reports whether the line was kept.
func (q *queue) put(it *item) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	// Once lines are spooled, later ones follow them there, so one
	// sender's lines reach the store in the order they came.
	if len(q.mem) < q.memMax && q.pending == 0 && !q.closed {
		q.mem = append(q.mem, it)
		q.nonEmpty.Signal()
		return true
	}
	if err := q.spool(it); err != nil {
		q.dropped(it.Src)
		return false
	}
	q.spooled(it.Src)
	q.nonEmpty.Signal()
	return true
}

var errSpoolFull = errors.New("spool full")

func (q *queue) spool(it *item) error {
	if q.spoolPath == "" || q.spoolErr != nil {
		return errSpoolFull
	}
	b, err := json.Marshal(it)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if q.written+int64(len(b)) > q.spoolLimit {
		return errSpoolFull
	}
	if q.spoolW == nil {
		if q.spoolW, err = os.OpenFile(q.spoolPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
			q.spoolErr = err
			return err
		}
		if q.spoolRF, err = os.Open(q.spoolPath); err != nil {
			q.spoolErr = err
			return err
		}
		q.spoolR = bufio.NewReaderSize(q.spoolRF, 1<<16)
	}
	if _, err := q.spoolW.Write(b); err != nil {
		q.spoolErr = err
		return err
	}
	q.written += int64(len(b))
	q.pending++
	return nil
}

// take returns up to max items, waiting until at least one is there, the
// deadline passes, or the queue is closed and empty.
func (q *queue) take(max int, deadline time.Time) []*item {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.mem) == 0 && q.pending == 0 && !q.closed {
		d := time.Until(deadline)
		if d <= 0 {
			return nil
		}
		// sync.Cond has no timed wait: a timer wakes it.
		t := time.AfterFunc(d, func() {
			q.mu.Lock()
			q.nonEmpty.Broadcast()
			q.mu.Unlock()
		})
		q.nonEmpty.Wait()
		t.Stop()
		if time.Now().After(deadline) && len(q.mem) == 0 && q.pending == 0 {
			return nil
		}
	}
	var out []*item
	n := min(max, len(q.mem))
	if n > 0 {
		out = append(out, q.mem[:n]...)
		q.mem = append(q.mem[:0], q.mem[n:]...)
		q.room.Broadcast()
	}
	for len(out) < max && q.pending > 0 {
		it, err := q.readSpool()
		if err != nil {
			// A spool that cannot be read back loses what it holds:
			// count it all as dropped rather than spin.
			for ; q.pending > 0; q.pending-- {
				q.dropped(-1)
			}
			q.spoolErr = err
			break
		}
		q.pending--
		out = append(out, it)
	}
	if q.pending == 0 && q.spoolW != nil && q.spoolErr == nil {
		// Empty again: start the file over so the limit is on what waits.
		if err := q.spoolW.Truncate(0); err == nil {
			if _, err := q.spoolRF.Seek(0, io.SeekStart); err == nil {
				q.spoolR.Reset(q.spoolRF)
				q.written = 0
			}
		}
	}
	return out
}

func (q *queue) readSpool() (*item, error) {
	line, err := q.spoolR.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var it item
	if err := json.Unmarshal(line, &it); err != nil {
		return nil, err
	}
	return &it, nil
}

// close wakes every waiter; take still returns what is queued.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.nonEmpty.Broadcast()
	q.room.Broadcast()
	q.mu.Unlock()
}

// finish removes the spool file once everything in it was taken.
func (q *queue) finish() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.spoolW == nil {
		return nil
	}
	q.spoolW.Close()
	q.spoolRF.Close()
	q.spoolW = nil
	if q.pending == 0 {
		return os.Remove(q.spoolPath)
	}
	return nil
}

// recoverSpool reads a spool a killed watcher left behind: lines received
// but perhaps not stored. Storing them again is harmless (event IDs are
// deterministic, so the store counts repeats as duplicates).
func recoverSpool(path string) ([]*item, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*item
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			break // a torn last line was never acknowledged as spooled
		}
		var it item
		if json.Unmarshal(line, &it) == nil {
			out = append(out, &it)
		}
	}
	return out, nil
}
