package casework

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/jejak-forensics/jejak/forensics/evidence"
	"github.com/jejak-forensics/jejak/forensics/image"
)

// AddOptions are the options of AddEvidence.
type AddOptions struct {
	// Progress, when set, is told how many bytes were hashed of how many
	// (total 0 while unknown).
	Progress func(done, total int64)
}

// AddEvidence registers the file or folder at path: hashed once (SHA-256,
// SHA-1, MD5; a folder gets a per-file manifest, an image set every
// segment), recorded in the registry and the custody log, never modified.
// Adding an unchanged path again returns its item; a changed one is
// refused.
func (c *Case) AddEvidence(ctx context.Context, path string, o AddOptions) (*evidence.Item, error) {
	return c.Evidence.AddEvidence(ctx, path, o.Progress)
}

// BeginEvidence starts registering the file or folder at path so that an
// ingest can read it before its SHA-1 and MD5 are done (see
// evidence.Registration): Ingest reads the case's pending items too, and
// its custody entry comes after their registration. The caller commits
// every registration it began (Commit), and when one fails, the events an
// ingest read meanwhile are of unregistered evidence: the caller discards
// them (DiscardUnboundStore).
func (c *Case) BeginEvidence(ctx context.Context, path string, o AddOptions) (*evidence.Registration, error) {
	return c.Evidence.BeginEvidence(ctx, path, o.Progress)
}

// IngestRegistering runs ingest (a call of Ingest, or a command's
// wrapper of it) while the registrations regs, begun with BeginEvidence,
// are completed: each is written as soon as its late hashes are done, and
// the first that fails cancels ingest's context. Its error is then the
// result, and the store ingest wrote, of evidence that is not registered,
// is removed (DiscardUnboundStore): only a store this run made has no
// custody entry binding it. Without a failure the result is ingest's. A
// Case holding its store open registers regs before ingest starts.
func (c *Case) IngestRegistering(ctx context.Context, regs []*evidence.Registration, ingest func(context.Context) error) error {
	if c.Store != nil {
		// A store held open is not this run's to remove: registered
		// first, as AddEvidence would have.
		for _, r := range regs {
			if _, err := r.Commit(); err != nil {
				return err
			}
		}
		regs = nil
	}
	if len(regs) == 0 {
		return ingest(ctx)
	}
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, r := range regs {
		go func() {
			// Without starting the held hashes, which wait for the
			// ingest's end (Ingest calls SpareCore).
			if _, err := r.CommitWhenHashed(); err != nil {
				cancel(err)
			}
		}()
	}
	err := ingest(ictx)
	for _, r := range regs {
		if _, cerr := r.Commit(); cerr != nil {
			if derr := DiscardUnboundStore(c.Evidence); derr != nil {
				return errors.Join(cerr, derr)
			}
			return cerr
		}
	}
	return err
}

// DiscardUnboundStore removes the case store when no custody entry binds
// it (no entry of an ingest, index or merge ever recorded its digest): what
// an ingest wrote for evidence whose registration then failed, which no
// later command may read as the case's. A store that an entry binds is
// kept, and that is an error.
func DiscardUnboundStore(cs *evidence.Case) error {
	entries, err := cs.VerifyCustody()
	if err != nil {
		return fmt.Errorf("discard store: %w", err)
	}
	for _, e := range entries {
		if _, bound := e.Details["store"]; bound {
			return fmt.Errorf("discard store: custody entry %d (%s) records the store %s: kept", e.Seq, e.Action, cs.StorePath())
		}
	}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		if err := os.Remove(cs.StorePath() + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("discard store: %w", err)
		}
	}
	return nil
}

// MediaCheck is the check of an acquired image's media against the hashes
// its acquisition tool stored in it (EWF/E01 stores MD5 and SHA-1).
type MediaCheck struct {
	// Computed over the decompressed media, and as stored in the image.
	Computed, Stored image.Hashes
	// Mismatches name the hashes that differ ("md5 …"); none: it verifies.
	Mismatches []string
}

// CheckStoredHashes decompresses an EWF image item's media and compares
// it with the hashes stored in the image at acquisition. Other items (not
// a file, or not an image jejak opens as EWF) have none: nil, nil. A
// media that cannot be read is an error.
func CheckStoredHashes(ctx context.Context, it *evidence.Item) (*MediaCheck, error) {
	if it.Kind != "file" {
		return nil, nil
	}
	img, err := image.Open(it.Path)
	if err != nil || img.Info().Format != "ewf" {
		return nil, nil // not an image jejak can open: the file hash is the check
	}
	defer img.Close()
	computed, stored, err := image.Verify(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", it.Path, err)
	}
	return &MediaCheck{Computed: computed, Stored: stored, Mismatches: computed.Mismatches(stored)}, nil
}

// VerifyEvidenceOptions are the callbacks of VerifyEvidence, for a caller
// that says what it finds as it goes.
type VerifyEvidenceOptions struct {
	// File, when set, is told of every segment of an image set (err nil
	// when it verifies) and of every file of a folder that differs.
	File func(it *evidence.Item, file string, err error)
	// Item, when set, is given each item's check once it is done, before
	// the next item is read.
	Item func(ItemCheck)
}

// ItemCheck is VerifyEvidence's verdict on one evidence item.
type ItemCheck struct {
	Item *evidence.Item
	// Err is why the item's hashes do not verify (changed, missing,
	// unreadable); nil when they do.
	Err error
	// Media is the check of an EWF image's media against the hashes
	// stored at acquisition (CheckStoredHashes), when the item verified
	// and stores some; MediaErr says why its media could not be read.
	Media    *MediaCheck
	MediaErr error
}

// Failure is the error the item's check counts as: its hashes, its media
// unreadable, or its media differing from the stored hashes; nil when all
// of it verifies.
func (ic ItemCheck) Failure() error {
	switch {
	case ic.Err != nil:
		return ic.Err
	case ic.MediaErr != nil:
		return ic.MediaErr
	case ic.Media != nil && len(ic.Media.Mismatches) > 0:
		return fmt.Errorf("%s: stored hashes do not verify", ic.Item.Path)
	}
	return nil
}

// VerifyEvidence re-hashes every registered item (each segment of an image
// set, each file of a folder) and compares it with the registry; an EWF
// image that verifies is also decompressed and checked against the hashes
// its acquisition tool stored in it. Each item's outcome is recorded in the
// custody log ("verify") by the registry. A mismatch is a verdict in the
// returned checks, not an error: the error is the registry unreadable or
// ctx ended, which stops the checks.
func (c *Case) VerifyEvidence(ctx context.Context, o VerifyEvidenceOptions) ([]ItemCheck, error) {
	items, err := c.Evidence.Evidence()
	if err != nil {
		return nil, err
	}
	checks := make([]ItemCheck, 0, len(items))
	for _, it := range items {
		report := func(file string, err error) {
			if o.File != nil {
				o.File(it, file, err)
			}
		}
		ic := ItemCheck{Item: it}
		if ic.Err = c.Evidence.VerifyEvidenceEach(ctx, it, report); ic.Err != nil && ctx.Err() != nil {
			return checks, ic.Err // interrupted: the rest not checked
		}
		if ic.Err == nil {
			ic.Media, ic.MediaErr = CheckStoredHashes(ctx, it)
		}
		checks = append(checks, ic)
		if o.Item != nil {
			o.Item(ic)
		}
	}
	return checks, nil
}
