package exif

import (
	"errors"
	"fmt"
	"io"

	goexif "github.com/dsoprea/go-exif/v3"
	exifcommon "github.com/dsoprea/go-exif/v3/common"
)

var (
	errStop    = errors.New("stop")
	errDamaged = errors.New("damaged EXIF")
)

// tagThumbnailLength is JPEGInterchangeFormatLength.
const tagThumbnailLength = 0x0202

// maxValue bounds a value read for a wanted tag (all are short strings or
// a few rationals).
const maxValue = 4096

// tagSet holds the values of the tags jejak uses, keyed "IFD path/tag".
type tagSet map[string]any

// wanted are the tags read; everything else in the block is skipped so a
// photo costs a few allocations.
var wanted = map[string]bool{
	"IFD/Make": true, "IFD/Model": true, "IFD/Software": true, "IFD/DateTime": true,
	// Some phones (HTC) write Make and Model into the Exif IFD instead.
	"IFD/Exif/Make": true, "IFD/Exif/Model": true, "IFD/Exif/Software": true,
	"IFD/Exif/DateTimeOriginal": true, "IFD/Exif/DateTimeDigitized": true,
	"IFD/Exif/OffsetTime": true, "IFD/Exif/OffsetTimeOriginal": true, "IFD/Exif/OffsetTimeDigitized": true,
	"IFD/Exif/SubSecTime": true, "IFD/Exif/SubSecTimeOriginal": true, "IFD/Exif/SubSecTimeDigitized": true,
	"IFD/GPSInfo/GPSLatitudeRef": true, "IFD/GPSInfo/GPSLatitude": true,
	"IFD/GPSInfo/GPSLongitudeRef": true, "IFD/GPSInfo/GPSLongitude": true,
	"IFD/GPSInfo/GPSAltitudeRef": true, "IFD/GPSInfo/GPSAltitude": true,
	"IFD/GPSInfo/GPSDateStamp": true, "IFD/GPSInfo/GPSTimeStamp": true,
}

// readTags scans the IFDs of a TIFF block (EXIF header at position 0)
// through go-exif's seeker API, so a TIFF is not read whole. go-exif
// reports many errors by panicking; they become an error here, with the
// tags read so far.
func readTags(rs io.ReadSeeker, size int64) (tags tagSet, err error) {
	tags = tagSet{}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("EXIF: %v", r)
		}
	}()
	var hdr [8]byte
	if _, err := io.ReadFull(rs, hdr[:]); err != nil {
		return nil, fmt.Errorf("EXIF header: %w", err)
	}
	eh, err := goexif.ParseExifHeader(hdr[:])
	if err != nil {
		return nil, fmt.Errorf("EXIF header: %w", err)
	}
	im, err := exifcommon.NewIfdMappingWithStandard()
	if err != nil {
		return nil, err
	}
	ti := goexif.NewTagIndex()
	// Universal search finds tags written in the wrong IFD (Make in the
	// Exif IFD), which exiftool reads too.
	ti.SetUniversalSearch(true)
	ie := goexif.NewIfdEnumerate(im, ti, goexif.NewExifReadSeeker(rs), eh.ByteOrder)
	visitor := func(ite *goexif.IfdTagEntry) error {
		if ite.IfdIdentity().Index() > 0 {
			// IFD1 and later describe the thumbnail. Stopping here also keeps
			// go-exif from reading the thumbnail, whose length it allocates
			// before it checks it against the file.
			return errStop
		}
		need := int64(ite.UnitCount()) * unitSize(ite.TagType())
		if ite.TagId() == tagThumbnailLength && need <= 8 {
			v, verr := ite.Value()
			if l, ok := v.([]uint32); verr == nil && ok && len(l) == 1 && int64(l[0]) > size {
				return fmt.Errorf("%w: thumbnail length %d past the end", errDamaged, l[0])
			}
		}
		key := ite.IfdPath() + "/" + ite.TagName()
		if !wanted[key] || need > size || need > maxValue {
			return nil
		}
		v, verr := ite.Value()
		if verr != nil {
			return nil // an unreadable value is skipped, not the photo
		}
		tags[key] = v
		return nil
	}
	_, err = ie.Scan(exifcommon.IfdStandardIfdIdentity, eh.FirstIfdOffset, visitor, nil)
	if err != nil && errors.Is(err, errStop) {
		return tags, nil
	}
	if err != nil {
		return tags, fmt.Errorf("EXIF IFDs: %w", err)
	}
	return tags, nil
}

func (t tagSet) str(key string) string {
	switch v := t[key].(type) {
	case string:
		return v
	}
	return ""
}

func (t tagSet) rationals(key string) []exifcommon.Rational {
	if v, ok := t[key].([]exifcommon.Rational); ok {
		return v
	}
	return nil
}

// unitSize is the TIFF size of one unit of a type; go-exif's own Size()
// panics on UNDEFINED.
func unitSize(t exifcommon.TagTypePrimitive) int64 {
	switch t {
	case 3, 8: // SHORT, SSHORT
		return 2
	case 4, 9, 11: // LONG, SLONG, FLOAT
		return 4
	case 5, 10, 12: // RATIONAL, SRATIONAL, DOUBLE
		return 8
	default: // BYTE, ASCII, SBYTE, UNDEFINED
		return 1
	}
}
