package evidence

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Pending is an evidence registration whose item is known (ID, SHA-256,
// segments, size) while the SHA-1 and MD5 of a large file are still being
// computed. Nothing is written for it until Commit: the registry entry and
// its evidence_add custody entry are then written exactly as AddEvidence
// writes them, with all three digests, checked to describe one state of
// the file (see hashFileLate).
//
// It exists so that `analyze` can start reading an image as soon as its
// SHA-256 (the identity in every event's provenance) is known, and have
// its SHA-1 and MD5 computed in the single-core phases after the walk
// (StartPending); Ingest commits a case's pending registrations before it
// records its run.
type Pending struct {
	c    *Case
	it   *Item
	man  *Manifest
	late *lateDigests

	mu        sync.Mutex
	committed bool
	out       *Item
	err       error
}

// BeginEvidence does what AddEvidence does (the same checks, the same
// refusals recorded the same way, a no-op for a path registered with the
// same content) except that a new file item is not yet registered: the
// returned Pending's Commit does that once its SHA-1 and MD5 are done.
// Until then it is listed by PendingItems. A folder, a small file, or an
// add that is a no-op or refused is settled before BeginEvidence returns.
//
// The hashing still going on stops when ctx ends; the registration is
// then lost, as that of an interrupted AddEvidence.
func (c *Case) BeginEvidence(ctx context.Context, path string, progress func(done, total int64)) (*Pending, error) {
	it, man, late, err := c.hashEvidence(ctx, path, progress)
	if err != nil {
		return nil, err
	}
	p := &Pending{c: c, it: it, man: man, late: late}
	// A path or content this process is registering already is settled
	// first, so that this one is decided against the registry as it
	// would stand had that one been added in full: a no-op, a refusal as
	// changed, or as a duplicate, recorded in the same order.
	for _, q := range c.pendingList() {
		if q.it.Path == it.Path || q.it.SHA256 == it.SHA256 {
			if _, err := q.Commit(ctx); err != nil {
				late.stop()
				return nil, err
			}
		}
	}
	var out *Item
	err = c.withLock(func(w *custodyWriter) error {
		reg, err := c.loadRegistry()
		if err != nil {
			return err
		}
		if out, err = c.decide(w, reg, it); err != nil || out != nil {
			return err
		}
		// New: its ID is reserved now, the one the run record and the
		// messages name; Commit keeps it.
		c.pmu.Lock()
		defer c.pmu.Unlock()
		taken := reg.Items
		for _, q := range c.pending {
			taken = append(slices.Clip(taken), q.it)
		}
		it.ID = uniqueID(taken, it.SHA256)
		return nil
	})
	if err != nil || out != nil {
		late.stop()
		if err != nil {
			return nil, fmt.Errorf("add evidence: %w", err)
		}
		p.committed, p.out = true, out
		return p, nil
	}
	if late.inLine {
		// Nothing was left to compute (a folder, a small file):
		// registered now, as AddEvidence always did.
		if _, err := p.commit(ctx); err != nil {
			return nil, err
		}
		return p, nil
	}
	c.pmu.Lock()
	c.pending = append(c.pending, p)
	c.pmu.Unlock()
	return p, nil
}

// Item is the item as it is (or will be) registered: ID, path, SHA-256,
// size, segments. Its SHA-1 and MD5 are set once Commit succeeded.
func (p *Pending) Item() *Item {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out != nil {
		return p.out
	}
	return p.it
}

// Commit waits for the SHA-1 and MD5 (or ctx's end, which abandons the
// registration) and registers the item as AddEvidence does: it returns the
// registered item, or the existing one when the same path and content were
// registered meanwhile, or the refusal. Called again, it returns the same.
func (p *Pending) Commit(ctx context.Context) (*Item, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.commit(ctx)
}

func (p *Pending) commit(ctx context.Context) (*Item, error) {
	if p.committed {
		return p.out, p.err
	}
	defer p.c.dropPending(p)
	p.committed = true
	d, err := p.late.wait(ctx)
	if err != nil {
		p.err = fmt.Errorf("add evidence: %w", err)
		return nil, p.err
	}
	it := p.it
	if it.Kind == "file" {
		it.SHA1, it.MD5 = d.SHA1, d.MD5
	}
	err = p.c.withLock(func(w *custodyWriter) error {
		// Reload under the lock: another process may have registered since.
		reg, err := p.c.loadRegistry()
		if err != nil {
			return err
		}
		out, err := p.c.decide(w, reg, it)
		if err != nil || out != nil {
			p.out = out
			return err
		}
		if err := p.c.register(w, reg, it, p.man); err != nil {
			return err
		}
		p.out = it
		return nil
	})
	if err != nil {
		p.out, p.err = nil, fmt.Errorf("add evidence: %w", err)
	}
	return p.out, p.err
}

func (c *Case) pendingList() []*Pending {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return slices.Clone(c.pending)
}

func (c *Case) dropPending(p *Pending) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	c.pending = slices.DeleteFunc(c.pending, func(q *Pending) bool { return q == p })
}

// StartPending lets the SHA-1 and MD5 of every pending registration
// start: until then they wait, so that a caller can run them where a core
// is idle (casework.Ingest starts them when its walk ends). Commit starts
// them too.
func (c *Case) StartPending() {
	for _, p := range c.pendingList() {
		p.late.begin()
	}
}

// PendingItems are the items of the registrations begun (BeginEvidence)
// and not yet committed, in the order begun.
func (c *Case) PendingItems() []*Item {
	var items []*Item
	for _, p := range c.pendingList() {
		items = append(items, p.it)
	}
	return items
}

// Settle commits every pending registration, in the order begun, and
// returns their errors joined. With ctx ended, those whose hashes are done
// are still registered; the others are abandoned.
func (c *Case) Settle(ctx context.Context) error {
	var errs []error
	for _, p := range c.pendingList() {
		if _, err := p.Commit(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
