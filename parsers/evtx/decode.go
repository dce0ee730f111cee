package evtx

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// ChunkError is damage DecodeChunk found in a chunk.
type ChunkError struct {
	Offset int64  // file offset of the damage (a record header's, when it is about a record)
	Record uint64 // the record ID, when a record header was read (0 otherwise)
	// SlackWritten is set for a record of the chunk's slack whose header
	// was read and whose body did not decode: its header's written time.
	// With Record it tells a stale copy of a live record (Stats.SlackCopies),
	// which Parse does not warn about, from a lost one.
	SlackWritten time.Time
	Err          error
}

func (e *ChunkError) Error() string { return fmt.Sprintf("offset %d: %v", e.Offset, e.Err) }

func (e *ChunkError) Unwrap() error { return e.Err }

// DecodeCounts is what DecodeFile finds in a file, accounted as
// Parser.ParseStats accounts it.
type DecodeCounts struct {
	// Decoded is every record DecodeChunk handed out, stale slack copies
	// included: what a count of DecodeChunk's records over the chunks gives.
	Decoded int
	// Records is the part of Decoded that Parse emits as events (live and
	// recovered): Decoded less the decoded slack copies. It equals
	// Stats.Live + Stats.Recovered.
	Records int
	// SlackCopies counts records in chunk slack whose header ID and
	// written time are those of a record outside the slack, decoded or
	// not: Stats.SlackCopies. Windows leaves them (byte for byte the
	// records it then writes at the same offsets of the next chunk, in
	// the corpus's security.evtx), and Parse does not emit them twice.
	SlackCopies int
	// Errors is every error DecodeChunk returned; Warnings the part Parse
	// reports (Errors less the undecodable slack copies). Parse adds its
	// per-file warnings (a damaged file header, a zeroed chunk the header
	// counts, the accounting summary) to these.
	Errors, Warnings int
}

// DecodeFile decodes every 64 KiB chunk of an EVTX file with DecodeChunk,
// one after another on the calling goroutine, and accounts for its records
// as ParseStats does: the chunk decoder's cost alone, for benchmark drivers
// (internal/evtxbench -decode) whose record count must be Parse's event
// count. The file header is not read: every chunk is decoded as in use,
// which changes how recovered records are tagged, not how many there are.
// It keeps the keys of the file's records until its end, as ParseStats
// does, to tell slack copies.
func DecodeFile(ra io.ReaderAt, size int64) (DecodeCounts, error) {
	var dc DecodeCounts
	buf := make([]byte, chunkSize)
	// The keys of the records outside the slack, and of the slack records
	// decoded or framed; sorted once at the end (no map grown record by
	// record: this is measured as the decoder's cost).
	var keys, slack, slackErrs []recKey
	for off := int64(fileHeaderBlock); off < size; off += chunkSize {
		n, err := ra.ReadAt(buf, off)
		if n == 0 && err != nil {
			return dc, fmt.Errorf("evtx: chunk at offset %d: %w", off, err)
		}
		if n < chunkSize && err != nil && !errors.Is(err, io.EOF) {
			return dc, fmt.Errorf("evtx: chunk at offset %d: %w", off, err)
		}
		errs := DecodeChunk(buf[:n], off, func(r *Record) {
			dc.Decoded++
			k := recKey{r.ID, r.Written.UnixNano()}
			if r.Recovered == fromSlack {
				slack = append(slack, k)
				return
			}
			keys = append(keys, k)
		})
		dc.Errors += len(errs)
		for _, err := range errs {
			if ce, ok := err.(*ChunkError); ok && !ce.SlackWritten.IsZero() {
				slackErrs = append(slackErrs, recKey{ce.Record, ce.SlackWritten.UnixNano()})
			}
		}
	}
	dc.Records, dc.Warnings = dc.Decoded, dc.Errors
	if len(slack)+len(slackErrs) == 0 {
		return dc, nil
	}
	isLive := liveSet(keys)
	for _, k := range slack {
		if isLive(k) {
			dc.SlackCopies++
			dc.Records--
		}
	}
	for _, k := range slackErrs {
		if isLive(k) {
			dc.SlackCopies++
			dc.Warnings--
		}
	}
	return dc, nil
}
