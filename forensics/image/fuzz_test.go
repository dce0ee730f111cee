package image

import (
	"errors"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzEWF opens real EWF segments (their first 64 KiB), cut to size and
// with bytes patched in at off, as a one-segment EWF set and reads the
// media: no panic, no unbounded allocation, errors only.
//
// The input is the patch, not the whole segment: Go minimises every input
// that finds new coverage (for up to -fuzzminimizetime, 60 s by default,
// in steps that grow with the square of its length), and with the 64 KiB
// segment itself as the input the fuzzer spent its time minimising: 6
// executions in its first 6 s, where a patch of a few bytes minimises at
// once.
func FuzzEWF(f *testing.F) {
	var seeds [][]byte
	for _, rel := range []string{"images/image.E01", "more/disk/e01/image-split.E02"} {
		if dir, err := parsertest.CorpusDir(); err == nil {
			if b, err := os.ReadFile(dir + "/" + rel); err == nil {
				seeds = append(seeds, b[:min(len(b), 64<<10)])
			}
		}
	}
	seeds = append(seeds, append(append([]byte{}, ewfSignature...), 1, 1, 0, 0, 0))
	for i := range seeds {
		f.Add(uint8(i), uint32(1<<20), uint32(0), []byte{})
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		r, size64 := fstest.PatchedSeed(seeds, which, size, off, patch)
		img, err := newEWF(func(n int) (*ewfSegment, error) {
			if n > 1 {
				return nil, errors.New("one segment only")
			}
			return &ewfSegment{name: "fuzz.E01", r: r, size: size64}, nil
		})
		if err != nil {
			return
		}
		buf := make([]byte, 64<<10)
		for off := int64(0); off < img.Size() && off < 1<<20; off += int64(len(buf)) {
			img.ReadAt(buf, off)
		}
		img.ReadAt(buf, img.Size()-1)
	})
}

func FuzzEWFSectionParsers(f *testing.F) {
	f.Add(make([]byte, 1200))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseSectionDesc(b, 13)
		parseVolume(b)
		parseTable(b, 0)
		parseHash(b)
		parseDigest(b)
		parseError2(b)
		parseHeader(b, true)
		parseHeader(b, false)
	})
}
