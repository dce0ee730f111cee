package fstest

import (
	"errors"
	"io"
	"slices"
)

// MaxPatch bounds the patch a fuzz target reads over its image. Go
// minimises every input that finds new coverage, in steps that grow with
// the square of its length, for up to -fuzzminimizetime (60 s by
// default), and the mutator grows a []byte to kilobytes: a walk of an
// image costs 0.1-1 ms, so minimising a long patch took the fuzzer's whole
// time. Bytes past MaxPatch change nothing, so the minimiser cuts them
// off first, in a few executions.
const MaxPatch = 128

// Patched reads base with patch written over it at off (cut at the end
// of base, nothing when off is past it), as copy(clone[off:], patch)
// would leave a clone of base, without the clone. The fuzz targets that
// patch real images call it once per input: a clone was a 1-1.5 MiB
// allocation per execution, zeroed, copied and collected.
func Patched(base []byte, off uint32, patch []byte) io.ReaderAt {
	if int64(off) >= int64(len(base)) {
		patch = nil
	} else if end := int64(off) + int64(len(patch)); end > int64(len(base)) {
		patch = patch[:int64(len(base))-int64(off)]
	}
	return &patched{base: base, off: int64(off), patch: patch}
}

type patched struct {
	base  []byte
	off   int64
	patch []byte
}

// ReadAt is bytes.Reader's: io.EOF with a short read at the end.
func (p *patched) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("fstest.Patched: negative offset")
	}
	if off >= int64(len(p.base)) {
		return 0, io.EOF
	}
	n := copy(b, p.base[off:])
	if lo, hi := max(off, p.off), min(off+int64(n), p.off+int64(len(p.patch))); lo < hi {
		copy(b[lo-off:hi-off], p.patch[lo-p.off:hi-p.off])
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// PatchedSeed is the input of the fuzz targets that take (which, size,
// off, patch) over real images: seeds[which] (modulo their number), cut
// to size bytes, with at most MaxPatch bytes of patch read over it at off.
// It returns the reader and its size.
func PatchedSeed(seeds [][]byte, which uint8, size, off uint32, patch []byte) (io.ReaderAt, int64) {
	base := seeds[int(which)%len(seeds)]
	base = base[:min(uint32(len(base)), size)]
	return Patched(base, off, patch[:min(len(patch), MaxPatch)]), int64(len(base))
}

// PatchedSeedBytes is PatchedSeed for the targets whose code under test
// takes a []byte (an EVTX chunk, a file's head): a fresh copy of
// seeds[which] cut to size, with at most MaxPatch bytes of patch written
// over it at off. The copy is the cut seed's length: a few KiB per input,
// not the megabytes of a whole image.
func PatchedSeedBytes(seeds [][]byte, which uint8, size, off uint32, patch []byte) []byte {
	base := seeds[int(which)%len(seeds)]
	b := slices.Clone(base[:min(uint32(len(base)), size)])
	if int64(off) < int64(len(b)) {
		copy(b[off:], patch[:min(len(patch), MaxPatch)])
	}
	return b
}
