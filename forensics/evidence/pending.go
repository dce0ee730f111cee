package evidence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Registration is a file being registered in two steps, so that reading
// it into the timeline need not wait for its SHA-1 and MD5.
//
// Events carry the SHA-256 of their evidence (in their provenance and
// their IDs), so nothing can be read before that hash is known; SHA-1 and
// MD5 are quoted by examiners and older tools only. BeginEvidence hashes
// SHA-256 (of every segment of an image set) in a pass of its own and
// computes SHA-1 and MD5 of the file in a second pass beside it, which
// goes on while the caller ingests. Nothing is written until Commit:
// evidence.json and the "evidence_add" custody entry hold all three
// hashes, as AddEvidence writes them.
//
// The custody log keeps its order: while a registration is pending, any
// custody entry of this Case (an ingest's, a refusal's) first commits the
// pending registrations, in the order they began, waiting for their late
// hashes; when one fails, that entry is not written either, and the error
// is the registration's. So an entry never names an item the log has not
// registered before it.
//
// The price is a second read of the file: from the page cache when it fits
// (the two passes start together and the second follows the first), from
// the disk again when the file is larger than memory and the disk faster
// than MD5 (0.65-0.77 GB/s on one core here). A file of at most heldLimit
// allocated bytes is read a third time: its SHA-1 is held back until the
// ingest leaves a core idle (Case.SpareCore, before its index builds).
type Registration struct {
	c   *Case
	it  *Item // SHA-1 and MD5 set once the late pass has ended
	man *Manifest
	fi  os.FileInfo // the file as the SHA-256 pass found it
	id  string      // the ID promised while pending; "" when not pending

	late    chan struct{} // closed when the late passes have ended
	lateD   Digests
	lateFI  os.FileInfo // the file as the late pass found it
	lateErr error
	cancel  context.CancelFunc

	// The held pass: SHA-1 of a file small enough to be read again from
	// the page cache (heldLimit), computed once something starts it
	// (startHeld) rather than beside the ingest (see Case.SpareCore).
	// hold is nil when there is none.
	hold     chan struct{}
	holdOnce sync.Once
	resume   chan struct{} // closed when the held pass has ended
	// hurried is closed once a caller waits for the late hashes (Commit,
	// a custody entry): nothing is left to leave a core to.
	hurried   chan struct{}
	hurryOnce sync.Once
	heldD     Digests
	heldFI    os.FileInfo
	heldErr   error

	once sync.Once
	out  *Item
	err  error
}

// BeginEvidence starts registering the file or folder at path. A file's
// SHA-256 (and each segment's of its image set) is computed before it
// returns; its SHA-1 and MD5 go on in the background, and Item gives what
// ingest needs meanwhile. The registration is written by Commit, or by the
// first custody entry this Case writes (see Registration).
//
// Whatever AddEvidence would not simply add (a folder, which has no SHA-1
// or MD5; a path or content registered already, or pending; any refusal)
// is registered before BeginEvidence returns, exactly as AddEvidence does
// it, and its error is returned.
//
// Cancelling ctx stops the late pass too: the commit then fails and
// nothing is registered.
func (c *Case) BeginEvidence(ctx context.Context, path string, progress func(done, total int64)) (*Registration, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	r := &Registration{c: c, late: make(chan struct{})}
	// A folder, or a path that fails the checks hashItem makes first:
	// one pass, as AddEvidence.
	st, err := os.Stat(abs)
	if err != nil || st.IsDir() {
		close(r.late)
		if r.it, r.man, _, err = c.hashItem(ctx, abs, allHashes, progress); err != nil {
			return nil, err
		}
		return r.commitNow()
	}
	// The late pass starts with the first: it has the other core while
	// SHA-256 is computed, and reads what the first has just brought into
	// the page cache. One core, not one per hash (hashAside): the SHA-256
	// is what the ingest waits for.
	//
	// Its SHA-1 is held back when the file is small enough to be read a
	// third time from the page cache: computed beside the ingest, it took
	// a core's share from the walk and the store, and then the index
	// builds at the ingest's end ran with a core idle. Held, it runs when
	// the ingest says a core is spare (SpareCore, before the index
	// builds), or when anything commits the registration first.
	lctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	late := withSHA1 | withMD5
	var wg sync.WaitGroup
	if holdSHA1(st) {
		late = withMD5
		r.hold = make(chan struct{})
		r.resume, r.hurried = make(chan struct{}), make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(r.resume)
			select {
			case <-r.hold:
			case <-lctx.Done():
				r.heldErr = lctx.Err()
				return
			}
			buf := make([]byte, asidePart)
			r.heldD, r.heldFI, r.heldErr = hashFileBy(lctx, hashAside, abs, buf, withSHA1, 0, -1, heldProgress)
		}()
	}
	stream := hashAside
	if r.hold != nil {
		// The last part of MD5 waits for the held SHA-1 to end (what is
		// left of the index builds after it), or for a caller to wait
		// for it.
		at := int64(float64(st.Size()) * heldMD5From)
		stream = func(ctx context.Context, rd io.Reader, buf []byte, want hashSet, progress func(int64)) (Digests, error) {
			return hashAsideWith(ctx, rd, buf, want, progress, func(n int64) {
				if n >= at {
					select {
					case <-r.resume:
					case <-r.hurried:
					case <-ctx.Done():
					}
				}
			})
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, asidePart)
		r.lateD, r.lateFI, r.lateErr = hashFileBy(lctx, stream, abs, buf, late, 0, -1, lateProgress)
		if r.lateErr != nil {
			cancel() // the held pass need not start
		}
	}()
	go func() {
		wg.Wait()
		close(r.late)
	}()
	r.it, r.man, r.fi, err = c.hashItem(context.WithValue(ctx, besideKey{}, true), abs, withSHA256, progress)
	if err != nil {
		cancel()
		<-r.late
		return nil, err
	}
	c.pmu.Lock()
	reg, err := c.loadRegistry()
	if err == nil && !c.addsPlainly(reg.Items, r.it) {
		err = errNotPlain
	}
	if err == nil {
		items := append([]*Item{}, reg.Items...)
		for _, p := range c.pending {
			items = append(items, p.Item())
		}
		r.id = uniqueID(items, r.it.SHA256)
		c.pending = append(c.pending, r)
	}
	c.pmu.Unlock()
	if err != nil {
		// Registered (or refused) now, after the pending ones, as
		// AddEvidence would have.
		return r.commitNow()
	}
	return r, nil
}

// commitNow registers r at once, after the pending registrations.
func (r *Registration) commitNow() (*Registration, error) {
	r.hurry()
	if err := r.c.commitPending(); err != nil {
		r.abandon(err)
		return nil, r.err
	}
	if _, err := r.commit(); err != nil {
		return nil, err
	}
	return r, nil
}

// lateProgress, when set (by tests), is told how far late passes got;
// heldProgress how far held ones did.
var lateProgress, heldProgress func(done, total int64)

// heldLimit is the most a file may hold (its allocated bytes: a sparse
// image's holes are not read) for its SHA-1 to be held back: a third read
// that should come from the page cache, not the disk after the ingest.
const heldLimit = 4 << 30

// heldMD5From is how far into such a file MD5 goes before it waits for the
// held SHA-1 to end.
const heldMD5From = 0.8

// holdSHA1 says whether a file's SHA-1 is held back (see BeginEvidence).
func holdSHA1(fi os.FileInfo) bool {
	return allocated(fi) <= heldLimit
}

// startHeld starts r's held pass, if it has one waiting.
func (r *Registration) startHeld() {
	if r.hold != nil {
		r.holdOnce.Do(func() { close(r.hold) })
	}
}

// hurry starts r's held pass and lets its late pass run to its end: a
// caller waits for them.
func (r *Registration) hurry() {
	r.startHeld()
	if r.hurried != nil {
		r.hurryOnce.Do(func() { close(r.hurried) })
	}
}

// SpareCore starts the held passes of the registrations pending in this
// Case (see BeginEvidence): the caller is about to leave a core idle, as an
// ingest's index builds do. A Commit, or any custody entry, starts them
// too; CommitWhenHashed does not.
func (c *Case) SpareCore() {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	for _, r := range c.pending {
		r.startHeld()
	}
}

// errNotPlain: an item whose registration is more than an addition.
var errNotPlain = errors.New("not a plain addition")

// addsPlainly says whether registering it would simply add it: neither its
// path nor its content is registered or pending. Called with pmu held.
func (c *Case) addsPlainly(registered []*Item, it *Item) bool {
	for _, old := range registered {
		if old.Path == it.Path || old.SHA256 == it.SHA256 {
			return false
		}
	}
	for _, p := range c.pending {
		if p.it.Path == it.Path || p.it.SHA256 == it.SHA256 {
			return false
		}
	}
	return true
}

// Item is the item as it will be registered, for reading it before its
// registration is written: its ID, SHA-256, segments and size are final;
// SHA-1, MD5 and AddedAt are not set. It is a copy.
func (r *Registration) Item() *Item {
	if r.id == "" {
		return r.out // registered before BeginEvidence returned
	}
	it := *r.it
	it.ID, it.SHA1, it.MD5 = r.id, "", ""
	return &it
}

// Commit waits for the late hashes and writes the registration (and,
// first, those of this Case that began before it), returning the item as
// registered. A late hash that failed (a read error, the file changed
// since the SHA-256 pass, ctx cancelled) fails it: nothing is written.
// Calling it again returns the same result.
func (r *Registration) Commit() (*Item, error) {
	r.hurry()
	// Commits or abandons r too when it is pending; its own result is
	// kept by commit's once.
	_ = r.c.commitPending()
	return r.commit()
}

// CommitWhenHashed is Commit without starting the held passes: it waits
// until SpareCore, a Commit or a custody entry of this Case starts them,
// and the late hashes are done. For a caller that commits as soon as it
// can while an ingest runs (casework.IngestRegistering).
func (r *Registration) CommitWhenHashed() (*Item, error) {
	_ = r.c.commitPendingHeld(false)
	return r.commit()
}

// EvidenceWithPending lists the registered items and, after them, those
// whose registration began in this Case and is not written yet: what an
// ingest reads. An item being written at that moment is listed once.
func (c *Case) EvidenceWithPending() ([]*Item, error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	r, err := c.loadRegistry()
	if err != nil {
		return nil, err
	}
	items := r.Items
	for _, p := range c.pending {
		if it := p.Item(); it != nil && !slices.ContainsFunc(r.Items, func(x *Item) bool { return x.ID == it.ID }) {
			items = append(items, it)
		}
	}
	return items, nil
}

// commitPending writes the pending registrations in the order they began.
// After one fails, the later ones are abandoned (their late pass stopped)
// with its error: a run that registers several items stops at the first
// that fails, as one after another AddEvidence calls do. A registration
// leaves the pending list only once it is written (or has failed), so that
// EvidenceWithPending never misses it; pmu is not held while waiting for
// a late pass, cmu keeps the order.
//
// A failure sticks: every later custody entry of this Case is refused with
// it, for what the process did meanwhile (an ingest's events) may be of
// evidence that is not registered.
func (c *Case) commitPending() error {
	return c.commitPendingHeld(true)
}

// commitPendingHeld is commitPending, starting the held passes first when
// start is set. Only CommitWhenHashed waits without: every other caller
// starts them, before it can wait on cmu behind one that waits for them.
func (c *Case) commitPendingHeld(start bool) error {
	if start {
		c.pmu.Lock()
		for _, r := range c.pending {
			r.hurry()
		}
		c.pmu.Unlock()
	}
	c.cmu.Lock()
	defer c.cmu.Unlock()
	first := c.failed
	for {
		c.pmu.Lock()
		if len(c.pending) == 0 {
			c.pmu.Unlock()
			c.failed = first
			return first
		}
		r := c.pending[0]
		c.pmu.Unlock()
		if first != nil {
			r.abandon(first)
		} else if _, err := r.commit(); err != nil {
			first = err
		}
		c.pmu.Lock()
		c.pending = c.pending[1:]
		c.pmu.Unlock()
	}
}

// commit waits for the late pass and registers the item, once.
func (r *Registration) commit() (*Item, error) {
	r.once.Do(func() {
		<-r.late
		if r.cancel != nil {
			r.cancel()
		}
		for _, err := range []error{r.lateErr, r.heldErr} {
			if err != nil {
				r.err = fmt.Errorf("add evidence: %w", err)
				return
			}
		}
		// r.it stays as Begin left it (Item copies it meanwhile): the
		// copy registered gets the late hashes, ID and time.
		it := *r.it
		if r.fi != nil {
			lates := []os.FileInfo{r.lateFI}
			if r.hold != nil {
				lates = append(lates, r.heldFI)
			}
			if err := sameState(it.Path, r.fi, lates...); err != nil {
				r.err = fmt.Errorf("add evidence: %w", err)
				return
			}
			it.SHA1, it.MD5 = r.lateD.SHA1, r.lateD.MD5
			if r.hold != nil {
				it.SHA1 = r.heldD.SHA1
			}
		}
		r.out, r.err = r.c.register(&it, r.man, r.id)
	})
	return r.out, r.err
}

// abandon ends a pending registration without writing it.
func (r *Registration) abandon(cause error) {
	r.once.Do(func() {
		if r.cancel != nil {
			r.cancel()
		}
		<-r.late
		r.err = fmt.Errorf("add evidence: %s not registered: %w", r.it.Path, cause)
	})
}

// sameState refuses two passes that may have read two states of the file:
// the files the late passes opened and the file now (after all passes) must
// be the one the SHA-256 pass opened, with its size, mtime and inode
// change time. Each pass checks size and mtime over itself; the ctime,
// which no write can set back, also catches a write between or around the
// two whose mtime was, as the re-check before ingest does.
func sameState(p string, first os.FileInfo, late ...os.FileInfo) error {
	now, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("%s disappeared while it was being hashed: %w", p, err)
	}
	for _, fi := range append(late, now) {
		switch {
		case !os.SameFile(first, fi):
			return &ChangedDuringHashError{Path: p, Before: statLine(first.Size(), first.ModTime()), After: "the path now names another file"}
		case fi.Size() != first.Size() || !fi.ModTime().Equal(first.ModTime()) || !ctimeOf(fi).Equal(ctimeOf(first)):
			return &ChangedDuringHashError{Path: p, Before: ctimeLine(first), After: ctimeLine(fi)}
		}
	}
	return nil
}

func ctimeLine(fi os.FileInfo) string {
	return statLine(fi.Size(), fi.ModTime()) + ", inode changed " + ctimeOf(fi).UTC().Format(time.RFC3339Nano)
}
