package image

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzEWF opens arbitrary bytes as a one-segment EWF set and reads the media:
// no panic, no unbounded allocation, errors only.
func FuzzEWF(f *testing.F) {
	for _, rel := range []string{"images/image.E01", "more/disk/e01/image-split.E02"} {
		if dir, err := parsertest.CorpusDir(); err == nil {
			if b, err := os.ReadFile(dir + "/" + rel); err == nil {
				if len(b) > 64<<10 {
					b = b[:64<<10]
				}
				f.Add(b)
			}
		}
	}
	f.Add(append(append([]byte{}, ewfSignature...), 1, 1, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := newEWF(func(n int) (*ewfSegment, error) {
			if n > 1 {
				return nil, errors.New("one segment only")
			}
			return &ewfSegment{name: "fuzz.E01", r: bytes.NewReader(data), size: int64(len(data))}, nil
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
