//go:build linux

package evidence

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// directFile writes a file of size bytes with data (no zero bytes) in
// the runs given, holes elsewhere, in dir.
func directFile(t *testing.T, dir, name string, size int64, runs [][2]int64, rng *rand.Rand) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		b := make([]byte, r[1])
		for i := range b {
			b[i] = byte(rng.Uint32() | 1)
		}
		if _, err := f.WriteAt(b, r[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// directPasses hashes p the ways the direct reads serve (BeginEvidence's
// in-line SHA-256 pass, the late pass) and the ring's way, and compares
// with coreutils.
func directPasses(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Digests{Size: fi.Size(), SHA256: coreutilsSum(t, "sha256sum", p),
		SHA1: coreutilsSum(t, "sha1sum", p), MD5: coreutilsSum(t, "md5sum", p)}
	ctx := context.Background()
	got, _, err := hashFile(context.WithValue(ctx, besideKey{}, true), p, make([]byte, hashBufSize), allHashes, 0, -1, nil)
	if err != nil || got != want {
		t.Fatalf("in line: %+v, %v; coreutils say %+v", got, err, want)
	}
	got, _, err = hashFileBy(ctx, hashAside, p, make([]byte, asidePart), allHashes, 0, -1, nil)
	if err != nil || got != want {
		t.Fatalf("aside: %+v, %v; coreutils say %+v", got, err, want)
	}
	got, _, err = hashFile(ctx, p, make([]byte, hashBufSize), allHashes, 0, -1, nil)
	if err != nil || got != want {
		t.Fatalf("ring: %+v, %v; coreutils say %+v", got, err, want)
	}
}

// directUsed reads p from off through its direct lender and reports
// whether reads were still direct at the end (lent without hashing, the
// reads are all waited for: the adaptive switch ends them after
// directMinReads), and how many reads were direct.
func directUsed(t *testing.T, p string, off int64) (bool, int) {
	t.Helper()
	f, err := openEvidence(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	sr, ok := holesSkipped(f, fi.Size()).(*sparseReader)
	if !ok {
		return false, 0
	}
	sr.off = off
	defer sr.release()
	l := sr.direct()
	if l == nil {
		return false, 0
	}
	n := off
	for {
		b, err := l.lend(asidePart)
		n += int64(len(b))
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != fi.Size() {
		t.Fatalf("lent %d bytes of %d", n, fi.Size())
	}
	return sr.d.direct, sr.d.reads
}

const mib = 1 << 20

// TestDirectHash: the digests of files of odd sizes and sparse files with
// holes at odd places, read directly where the file is large enough,
// equal coreutils'.
func TestDirectHash(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int64{0, 1, 511, 4095, 4097, 3*mib + 3, directMin - 1, directMin + 3, 21*mib + 4097} {
		p := directFile(t, dir, "dense", size, [][2]int64{{0, size}}, rng)
		directPasses(t, p)
		if size >= directMin {
			if _, reads := directUsed(t, p, 0); reads == 0 {
				t.Logf("size %d: not read directly in %s", size, dir)
			}
		}
	}
	for name, l := range map[string]struct {
		size int64
		runs [][2]int64
	}{
		"holes between": {30*mib + 5, [][2]int64{{0, 4096}, {2*mib - 7, 300 * 1024}, {9*mib + 4095, 3*mib + 1}, {16 * mib, 1}, {20*mib - 1, 5*mib + 3}}},
		"hole first":    {12*mib + 1, [][2]int64{{9*mib + 511, 2 * mib}}},
		"hole last":     {40*mib + 100, [][2]int64{{0, 17*mib + 17}}},
		"hole only":     {9 * mib, nil},
	} {
		p := directFile(t, dir, name, l.size, l.runs, rng)
		directPasses(t, p)
	}
}

// TestDirectFromMiddle: a direct stream that starts past the first
// megabyte (the in-line pass reads that first, buffered) at an odd
// offset.
func TestDirectFromMiddle(t *testing.T) {
	p := directFile(t, t.TempDir(), "f", 19*mib+3, [][2]int64{{0, 19*mib + 3}}, rand.New(rand.NewPCG(7, 8)))
	for _, off := range []int64{mib, mib + 7} {
		directUsed(t, p, off)
	}
	directPasses(t, p)
}

// TestDirectTmpfs: on tmpfs O_DIRECT is refused or accepted, depending on
// the kernel; the digests are right either way.
func TestDirectTmpfs(t *testing.T) {
	dir, err := os.MkdirTemp("/dev/shm", "jejak-direct-")
	if err != nil {
		t.Skip("no /dev/shm:", err)
	}
	defer os.RemoveAll(dir)
	rng := rand.New(rand.NewPCG(9, 10))
	p := directFile(t, dir, "f", 18*mib+4097, [][2]int64{{0, 3 * mib}, {7*mib + 3, 11 * mib}}, rng)
	directPasses(t, p)
	ok, reads := directUsed(t, p, 0)
	t.Logf("tmpfs: direct %v, %d direct reads", ok, reads)
}

// TestDirectFallback: a direct read the kernel refuses (first or later),
// and a disk too slow for the hashes, switch the pass to buffered reads
// with the same digests.
func TestDirectFallback(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 12))
	p := directFile(t, dir, "f", 26*mib+4097, [][2]int64{{0, 26*mib + 4097}}, rng)
	if _, reads := directUsed(t, p, 0); reads == 0 {
		t.Skipf("no direct reads in %s", dir)
	}
	defer func() { directSubmitHook = nil }()
	for _, from := range []int{0, 5} {
		n := 0
		directSubmitHook = func(cb *iocb) {
			if n++; n > from {
				cb.offset++ // unaligned: EINVAL
			}
		}
		directPasses(t, p)
		n = 0
		if ok, reads := directUsed(t, p, 0); ok || reads != from {
			t.Errorf("refused from read %d: still direct %v, %d direct reads", from+1, ok, reads)
		}
	}
	directSubmitHook = nil
	directTestSlow = true
	defer func() { directTestSlow = false }()
	size := int64(directMinReads+8)*directBuf + 4097
	p = directFile(t, dir, "slow", size, [][2]int64{{0, size}}, rng)
	directPasses(t, p)
	// The switch comes at the directMinReads-th read; the reads in flight
	// then end as they were submitted.
	if ok, reads := directUsed(t, p, 0); ok || reads > directMinReads+directBufs-1 {
		t.Errorf("slow reads: direct at the end %v, %d direct reads", ok, reads)
	}
}

// TestDirectChangedDuringHash: a file that grows or shrinks while it is
// read directly fails with the changed-during-hash error naming it.
func TestDirectChangedDuringHash(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(13, 14))
	for _, grow := range []bool{true, false} {
		p := directFile(t, dir, "f", 20*mib+5, [][2]int64{{0, 20*mib + 5}}, rng)
		if _, reads := directUsed(t, p, 0); reads == 0 {
			t.Skipf("no direct reads in %s", dir)
		}
		done := false
		stream := func(ctx context.Context, rd io.Reader, buf []byte, want hashSet, progress func(int64)) (Digests, error) {
			return hashAsideWith(ctx, rd, buf, want, progress, func(n int64) {
				if n < 6*mib || done {
					return
				}
				done = true
				size := int64(30 * mib)
				if !grow {
					size = 8*mib + 1
				}
				if err := os.Truncate(p, size); err != nil {
					t.Fatal(err)
				}
			})
		}
		_, _, err := hashFileBy(context.Background(), stream, p, make([]byte, asidePart), allHashes, 0, -1, nil)
		var ce *ChangedDuringHashError
		if !errors.As(err, &ce) || ce.Path != p {
			t.Errorf("grow %v: %v, want the changed-during-hash error naming %s", grow, err, p)
		}
	}
}

// TestDirectSegments: a split raw image registered by BeginEvidence (its
// segments' SHA-256 in line, the late SHA-1 and MD5 of the first): every
// digest equals coreutils'.
func TestDirectSegments(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(15, 16))
	var names []string
	for i, size := range []int64{directMin + 4097, 3*mib + 3, directMin + 511} {
		p := directFile(t, dir, "img.00"+string(rune('1'+i)), size, [][2]int64{{0, size / 2}, {size - 3000, 3000}}, rng)
		names = append(names, p)
	}
	c := newCase(t)
	r, err := c.BeginEvidence(context.Background(), names[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if it.SHA256 != coreutilsSum(t, "sha256sum", names[0]) || it.SHA1 != coreutilsSum(t, "sha1sum", names[0]) || it.MD5 != coreutilsSum(t, "md5sum", names[0]) {
		t.Errorf("item %+v", it)
	}
	if len(it.Segments) != len(names) {
		t.Fatalf("segments %+v", it.Segments)
	}
	for i, s := range it.Segments {
		if s.Path != names[i] || s.SHA256 != coreutilsSum(t, "sha256sum", names[i]) {
			t.Errorf("segment %d: %+v", i, s)
		}
	}
}
