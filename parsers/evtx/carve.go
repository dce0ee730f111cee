package evtx

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
)

// Written times outside this range mark a carved header as chance bytes.
var (
	carveMinTime = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	carveMaxTime = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxCarveID bounds a plausible record ID: Windows numbers records from 1
// and no log comes near 2^48 records.
const maxCarveID = 1 << 48

// carve scans a chunk's slack, from start (the free-space offset) to the
// chunk end, for records an earlier use of the chunk left there: a log
// that was cleared, or a chunk reused after the log wrapped, keeps the old
// records' bytes until new records overwrite them. It returns the number of
// records recovered.
//
// A slack record is decoded with the chunk's own name and template tables,
// which is what its references point into; c.strict makes every reference
// prove it still points at what the record was written against (see
// chunk.strict). Event IDs: timeline.ComputeID hashes the provenance
// offset, and a recovered record's offset is its own header's file offset,
// which no live record shares (the live records of this chunk all end
// before start; other chunks are other byte ranges; within the slack the
// scan moves past each record it decodes). So a recovered record's ID never
// equals a live one's, and the same bytes are never emitted twice.
//
// The scan is not aligned: a signature is only a candidate until its size
// and the size copy at its end agree, and a stray "**\0\0" in binary data
// that fails that framing is not a record header and is not reported.
//
// Carving starts where the chunk's record chain stopped: at the free-space
// offset, or before it when the chain broke or ended early. A record found
// before recordsEnd (the free-space offset) was not reached by the chain
// and is tagged with area (fromBroken, fromPastChain); one after it is a
// slack record (fromSlack).
func carve(c *chunk, x *expander, start, recordsEnd int, area string, stop func() bool, warn func(off int, rec uint64, written time.Time, err error), fn func(*Record)) int {
	buf := c.buf
	c.strict = true
	defer func() { c.strict = false }()
	n, seen := 0, 0
	for pos := start; pos+recordHeaderSize <= len(buf); {
		i := bytes.Index(buf[pos:], recordMagic)
		if i < 0 {
			break
		}
		pos += i
		if pos+recordHeaderSize > len(buf) {
			break
		}
		size := int(binary.LittleEndian.Uint32(buf[pos+4:]))
		if size < recordHeaderSize+4 || size > len(buf)-pos || int(binary.LittleEndian.Uint32(buf[pos+size-4:])) != size {
			pos++
			continue
		}
		if seen++; seen%64 == 0 && stop() {
			return n
		}
		id := binary.LittleEndian.Uint64(buf[pos+8:])
		written, ok := filetime(binary.LittleEndian.Uint64(buf[pos+16:]))
		if id == 0 || id >= maxCarveID || !ok || written.Before(carveMinTime) || !written.Before(carveMaxTime) {
			warn(pos, id, time.Time{}, fmt.Errorf("%w: header at chunk offset %d has an implausible record ID %d or written time 0x%016x",
				parsers.ErrUnrecovered, pos, id, binary.LittleEndian.Uint64(buf[pos+16:])))
			// Framing held but the header is not believable: look for a
			// real record inside these bytes rather than skip them.
			pos++
			continue
		}
		ev, err := decodeRecordBody(c, x, pos+recordHeaderSize, pos+size-4)
		if err != nil {
			warn(pos, id, written, fmt.Errorf("%w: record %d at chunk offset %d: %w", parsers.ErrUnrecovered, id, pos, err))
		} else {
			from := fromSlack
			if pos < recordsEnd && area != "" {
				from = area
			}
			r := Record{Offset: c.fileOff + int64(pos), ID: id, Written: written, Event: ev, Recovered: from, ft: x.ft, fts: x.fts}
			if len(c.notes) > 0 {
				slices.Sort(c.notes)
				r.Partial = strings.Join(slices.Compact(c.notes), "; ")
			}
			n++
			fn(&r)
		}
		pos += size
	}
	return n
}
