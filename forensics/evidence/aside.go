package evidence

import (
	"context"
	"hash"
	"io"
	"slices"
)

// asidePart is how much hashAside reads and hashes at a time: 64 KiB
// stays in the core's caches while each hash reads it in turn.
const asidePart = 64 << 10

// A part of a hole is hashed from zeroPart, so a part must fit in it:
// this stops the build when asidePart is set larger (at 1 MiB every
// sparse image's late pass panicked on its first hole).
var _ = zeroPart[asidePart-1]

// hashAside is hashStream for a pass that nothing waits for until much
// later: the SHA-1 and MD5 of a Registration, which only its commit, at
// the end of an ingest, needs. It hashes on the caller's goroutine alone,
// each part with every hash in turn, so that it takes one core, not one
// per hash.
//
// With hashStream's goroutine per hash, the late pass's SHA-1 and MD5 and
// the SHA-256 pass were three goroutines on the two cores of the bench
// machine, and the SHA-256 the ingest waits for got two thirds of a core;
// then the two late hashes took the cores' share of two goroutines from
// the ingest. Side by side the late pass ended sooner, but its end is
// only waited for after the store's index build, a one-core stretch. The
// digests are the same bytes' whatever the order of the work.
func hashAside(ctx context.Context, r io.Reader, buf []byte, want hashSet, progress func(n int64)) (Digests, error) {
	return hashAsideWith(ctx, r, buf, want, progress, nil)
}

// hashAsideWith is hashAside calling pause, when set, with how many bytes
// were hashed before each part.
func hashAsideWith(ctx context.Context, r io.Reader, buf []byte, want hashSet, progress func(n int64), pause func(n int64)) (Digests, error) {
	hs, digests := newHashes(want)
	if len(buf) < asidePart {
		buf = make([]byte, asidePart)
	}
	n, err := hashParts(ctx, r, buf[:asidePart], hs, 0, progress, pause)
	if err != nil {
		return Digests{}, err
	}
	return digests(n), nil
}

// hashParts reads r to its end into part, one part after the other on
// the caller's goroutine, and writes each to every hash of hs: the loop of
// a pass that hashes in line (hashAside's, and hashStream's beside
// another). n is how many bytes were hashed before; pause, when set, is
// called with the count before each part. It returns the count at the
// end.
func hashParts(ctx context.Context, r io.Reader, part []byte, hs []hash.Hash, n int64, progress, pause func(n int64)) (int64, error) {
	if dl, ok := r.(directLender); ok {
		if l := dl.direct(); l != nil {
			return hashLent(ctx, l, len(part), hs, n, progress, pause)
		}
	}
	zr, _ := r.(zeroRuns)
	for {
		if pause != nil {
			pause(n)
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		src, k := part, 0
		var err error
		if zr != nil && len(part) <= len(zeroPart) && zr.zeros(len(part)) {
			// A hole of a sparse file: hashed from the run of zeros,
			// neither read nor cleared (see zeroPart).
			src, k = zeroPart[:len(part)], len(part)
		} else {
			k, err = io.ReadFull(r, part)
		}
		if k > 0 {
			for _, h := range hs {
				h.Write(src[:k]) // hash.Hash writes never fail
			}
			n += int64(k)
			if progress != nil {
				progress(n)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// lender is a reader that lends its own buffers: lend returns the next up
// to n bytes of the stream (a run of zeros, for a hole, is zeroPart),
// valid until the next call, and io.EOF at the end.
type lender interface {
	lend(n int) ([]byte, error)
}

// directLender is a reader that can read the rest of its stream with
// O_DIRECT into buffers it lends (sparseReader, whose lender is a
// directReader): direct returns that lender, or nil when direct reads are
// refused or not worth it (a small file).
type directLender interface {
	direct() lender
}

// releaser is a reader holding something to free after the pass
// (hashFileBy releases it).
type releaser interface {
	release()
}

// hashLent is hashParts's loop over a lender, part bytes at a time: the
// hashes read the lender's buffers, nothing is copied.
//
// Each part goes to the hashes in the reverse of newHashes' order, MD5
// (the slowest) first: a direct read leaves the data in memory, not in
// the caches as a copy did, and the first hash to read a part waits on
// it; the slowest hides that best. A SHA-1 and MD5 pass over the 300k
// NTFS image, three runs of each order twice: 2.86 -> 2.78 s user.
func hashLent(ctx context.Context, l lender, part int, hs []hash.Hash, n int64, progress, pause func(n int64)) (int64, error) {
	hs = slices.Clone(hs)
	slices.Reverse(hs)
	for {
		if pause != nil {
			pause(n)
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		src, err := l.lend(part)
		if len(src) > 0 {
			for _, h := range hs {
				h.Write(src) // hash.Hash writes never fail
			}
			n += int64(len(src))
			if progress != nil {
				progress(n)
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
