package evidence

import (
	"context"
	"io"
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
	buf = buf[:asidePart]
	zr, _ := r.(zeroRuns)
	var n int64
	for {
		if pause != nil {
			pause(n)
		}
		if err := ctx.Err(); err != nil {
			return Digests{}, err
		}
		src, k := buf, 0
		var err error
		if zr != nil && zr.zeros(len(buf)) {
			// A hole of a sparse file: hashed from the run of zeros,
			// neither read nor cleared (see zeroPart).
			src, k = zeroPart[:len(buf)], len(buf)
		} else {
			k, err = io.ReadFull(r, buf)
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
			break
		}
		if err != nil {
			return Digests{}, err
		}
	}
	return digests(n), nil
}
