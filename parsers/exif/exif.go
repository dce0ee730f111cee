// Package exif reads the EXIF block of photos (JPEG and TIFF) through
// github.com/dsoprea/go-exif/v3 and turns every date it holds into its own
// event: a photo of a tally form is evidence, and each of its clocks
// (taken, digitized, last saved, GPS fix) may tell a different story.
//
// The three camera dates are one clock: a date without its own
// OffsetTime* tag is read at the offset the image gives its sibling dates
// (see "The offset precedence" in events.go), and only an image with no
// offset tag at all is read in the case zone. Each event says which offset
// placed it and why: jejak.data.exif.offset ("+07:00"),
// jejak.data.exif.offset_source (the tag it came from, "case zone", or the
// GPS time's UTC) and, when the date's own tag was absent,
// jejak.time.zone_assumed.
package exif

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the stable parser name.
const Name = "exif"

// maxSegments bounds the walk over JPEG segments before the image data.
const maxSegments = 64

// Parser reads EXIF from JPEG and TIFF files.
type Parser struct{}

var (
	_ parsers.Parser       = (*Parser)(nil)
	_ parsers.RandomAccess = (*Parser)(nil)
)

// New returns the EXIF parser.
func New() *Parser { return &Parser{} }

// Name implements parsers.Parser.
func (*Parser) Name() string { return Name }

// NeedsReaderAt implements parsers.RandomAccess: a TIFF's IFDs may sit
// anywhere in the file.
func (*Parser) NeedsReaderAt() bool { return true }

// Match checks the magic: JPEG (FF D8 FF), TIFF little and big endian.
func (*Parser) Match(_ *jfs.Entry, head []byte) bool {
	return isJPEG(head) || isTIFF(head)
}

// Requires implements parsers.Requirer: a JPEG starts 0xFF, a TIFF "II"
// or "MM".
func (*Parser) Requires() parsers.Requirement {
	return parsers.Requirement{First: parsers.BytesOf("\xffIM")}
}

func isJPEG(b []byte) bool { return len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF }

func isTIFF(b []byte) bool {
	return len(b) >= 4 && (bytes.Equal(b[:4], []byte("II*\x00")) || bytes.Equal(b[:4], []byte("MM\x00*")))
}

// Parse implements parsers.Parser.
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	src = src.As(Name)
	if err := ctx.Err(); err != nil {
		return err
	}
	br := bufio.NewReader(src.R)
	head, _ := br.Peek(4)
	var (
		blob io.ReadSeeker
		size int64
		base int64
		err  error
	)
	switch {
	case isJPEG(head):
		var b []byte
		b, base, err = jpegEXIF(br)
		if b != nil {
			blob, size = bytes.NewReader(b), int64(len(b))
		}
	case isTIFF(head):
		if src.ReaderAt != nil && src.Size > 0 {
			blob, size = io.NewSectionReader(src.ReaderAt, 0, src.Size), src.Size
		} else {
			err = errors.New("TIFF without random access")
		}
	default:
		err = errors.New("neither JPEG nor TIFF")
	}
	if err != nil {
		src.WarnErr(base, 0, err)
		return nil
	}
	if blob == nil {
		return nil // a JPEG without EXIF: nothing to say, nothing lost
	}
	tags, err := readTags(blob, size)
	if err != nil {
		src.WarnErr(base, 0, err)
		if tags == nil {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return emitEvents(tags, base, src, emit)
}

// jpegEXIF walks the JPEG segments up to the image data and returns the
// TIFF block of the first "Exif\0\0" APP1 and its offset in the file.
func jpegEXIF(r *bufio.Reader) ([]byte, int64, error) {
	off := int64(2)
	if _, err := r.Discard(2); err != nil {
		return nil, 0, err
	}
	for i := 0; i < maxSegments; i++ {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return nil, off, fmt.Errorf("JPEG cut before its EXIF segment: %w", err)
		}
		// Fill bytes (FF FF ...) may pad before a marker.
		for hdr[0] == 0xFF && hdr[1] == 0xFF {
			b, err := r.ReadByte()
			if err != nil {
				return nil, off, err
			}
			hdr[1] = b
			off++
		}
		if hdr[0] != 0xFF {
			return nil, off, fmt.Errorf("JPEG: no marker at offset %d", off)
		}
		marker := hdr[1]
		if marker == 0xD9 || marker == 0xDA { // EOI, SOS: no EXIF before the image data
			return nil, off, nil
		}
		if marker >= 0xD0 && marker <= 0xD7 || marker == 0x01 {
			off += 2
			continue
		}
		if _, err := io.ReadFull(r, hdr[2:4]); err != nil {
			return nil, off, err
		}
		n := int(binary.BigEndian.Uint16(hdr[2:4])) - 2
		if n < 0 {
			return nil, off, fmt.Errorf("JPEG: bad segment length at offset %d", off)
		}
		segOff := off + 4
		if marker == 0xE1 && n >= 6 {
			sig, err := r.Peek(6)
			if err == nil && bytes.Equal(sig, []byte("Exif\x00\x00")) {
				// n comes from a 16-bit length: a JPEG's EXIF block
				// never needs more than 64 KiB.
				buf := make([]byte, n)
				got, err := io.ReadFull(r, buf)
				if err != nil {
					// A file cut inside its EXIF block: read what is there.
					if got <= 6 {
						return nil, segOff, fmt.Errorf("JPEG cut inside its EXIF segment: %w", err)
					}
					return buf[6:got], segOff + 6, nil
				}
				return buf[6:], segOff + 6, nil
			}
		}
		if _, err := r.Discard(n); err != nil {
			return nil, off, fmt.Errorf("JPEG cut in a segment: %w", err)
		}
		off = segOff + int64(n)
	}
	return nil, off, errors.New("JPEG: no image data after 64 segments")
}
