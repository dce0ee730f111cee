package evidence

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sync"
)

// lateHashMin is the smallest file whose SHA-1 and MD5 are left to finish
// after its SHA-256: below it the three take a fraction of a second side
// by side, and a second read is not worth it.
const lateHashMin = 64 << 20

// lateHashed is called once a late hash's SHA-1 and MD5 are done, before
// the file is checked again: a test changes the file there.
var lateHashed = func(path string) {}

// lateDigests are a file's three digests when its SHA-256 was handed out
// before its SHA-1 and MD5 were done (hashFileLate). The SHA-256 is the
// evidence's identity and is in every event's provenance, so it is needed
// before the first event; SHA-1 and MD5 are only recorded in the custody
// entry, and computing them after the SHA-256 lets the walk start about a
// second earlier per 1.5 GB (MD5 is the slowest of the three: 1.6 CPU-s
// against 1.0 for SHA-256 with SHA-NI).
type lateDigests struct {
	cancel context.CancelFunc
	done   chan struct{}
	d      Digests // all three, once done is closed and err is nil
	err    error
	// inLine: nothing was left to compute when it was made.
	inLine bool
	// start lets the second read begin (see begin); once closes it.
	start chan struct{}
	once  sync.Once
}

// begin lets the SHA-1 and MD5 start. They wait for it so that their 2.8
// CPU-s per 1.5 GB go where a core is idle: analyze starts them when its
// walk ends, beside the single-core index build and store digest, rather
// than beside the walk, which keeps both cores busy. Waiting for them
// begins them too.
func (l *lateDigests) begin() {
	if l.start != nil {
		l.once.Do(func() { close(l.start) })
	}
}

// finished are digests with nothing left to compute.
func finished(d Digests) *lateDigests {
	l := &lateDigests{cancel: func() {}, done: make(chan struct{}), d: d, inLine: true}
	close(l.done)
	return l
}

// wait returns the three digests once the SHA-1 and MD5 are done, or
// ctx's error (the hashers are then stopped). Digests already done are
// returned whatever ctx says.
func (l *lateDigests) wait(ctx context.Context) (Digests, error) {
	l.begin()
	select {
	case <-l.done:
		return l.d, l.err
	default:
	}
	select {
	case <-l.done:
		return l.d, l.err
	case <-ctx.Done():
		l.stop()
		return Digests{}, ctx.Err()
	}
}

// stop ends the hashers and waits for them: the file is then closed.
func (l *lateDigests) stop() {
	l.cancel()
	<-l.done
}

// hashFileLate is hashFile for a large file, returning as soon as its
// SHA-256 is known. The file is read twice: once for the SHA-256 (read
// and hashed side by side on two cores, as hashStream does), then, in the
// background once begun (lateDigests.begin), once for the SHA-1 and MD5
// together, which the returned lateDigests give. Both reads are of the one open file, and once the
// second ends the file is checked again as after the first: same size,
// mtime and inode change time (which any write moves) and the path still
// naming it, so the three digests describe one state of the file, as
// hashFile's do. The second read costs a copy from the page cache (0.3
// CPU-s per 1.5 GB) and stops when ctx ends. A file smaller than
// lateHashMin is hashed by hashFile, all three at once.
func hashFileLate(ctx context.Context, p string, buf []byte, base, total int64, progress func(done, total int64)) (Digests, os.FileInfo, *lateDigests, error) {
	f, err := openEvidence(p)
	if err != nil {
		return Digests{}, nil, nil, err
	}
	before, err := f.Stat()
	if err != nil {
		f.Close()
		return Digests{}, nil, nil, err
	}
	if !before.Mode().IsRegular() || before.Size() < lateHashMin {
		f.Close()
		d, fi, err := hashFile(ctx, p, buf, base, total, progress)
		if err != nil {
			return Digests{}, nil, nil, err
		}
		return d, fi, finished(d), nil
	}
	if total < 0 {
		total = before.Size()
	}
	var pf func(int64)
	if progress != nil {
		pf = func(n int64) { progress(base+n, total) }
	}
	// changed says whether the file moved since before (nil: it did not)
	// or did not read as long as it is.
	changed := func(n int64) error {
		after, err := f.Stat()
		if err != nil {
			return err
		}
		now, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s disappeared while it was being hashed: %w", p, err)
		}
		switch {
		case after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || !ctimeOf(after).Equal(ctimeOf(before)) || n != before.Size():
			return &ChangedDuringHashError{Path: p,
				Before: statLine(before.Size(), before.ModTime()), After: statLine(after.Size(), after.ModTime())}
		case !os.SameFile(before, now):
			return &ChangedDuringHashError{Path: p,
				Before: statLine(before.Size(), before.ModTime()), After: "the path now names another file"}
		}
		return nil
	}
	h256 := sha256.New()
	n, err := hashWith(ctx, f, buf, pf, []hash.Hash{h256})
	if err == nil {
		err = changed(n)
	} else if ctx.Err() == nil {
		if cerr := changed(before.Size()); cerr != nil {
			err = cerr
		} else {
			err = fmt.Errorf("hash %s: %w", p, err)
		}
	}
	if err != nil {
		f.Close()
		return Digests{}, nil, nil, err
	}
	d := Digests{Size: n, SHA256: hex.EncodeToString(h256.Sum(nil))}
	hctx, cancel := context.WithCancel(ctx)
	l := &lateDigests{cancel: cancel, done: make(chan struct{}), start: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer cancel()
		defer f.Close()
		select {
		case <-l.start:
		case <-hctx.Done():
			l.err = fmt.Errorf("hash %s: %w", p, hctx.Err())
			return
		}
		h1, h5 := sha1.New(), md5.New()
		// One byte past the size: a file that grew reads longer.
		m, err := hashWith(hctx, io.NewSectionReader(f, 0, before.Size()+1), make([]byte, hashBufSize), nil, []hash.Hash{h1, h5})
		lateHashed(p)
		switch {
		case err != nil && hctx.Err() != nil:
			l.err = fmt.Errorf("hash %s: %w", p, err)
			return
		case err != nil:
			if l.err = changed(before.Size()); l.err == nil {
				l.err = fmt.Errorf("hash %s: %w", p, err)
			}
			return
		}
		if l.err = changed(m); l.err != nil {
			return
		}
		l.d = d
		l.d.SHA1, l.d.MD5 = hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h5.Sum(nil))
	}()
	return d, before, l, nil
}
