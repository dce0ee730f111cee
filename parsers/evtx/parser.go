// Package evtx parses Windows XML event logs (.evtx) into timeline events.
//
// It carries its own binary-XML decoder. The served Go library,
// www.velocidex.com/golang/evtx v0.2.0, was measured first on this project's
// corpus: 38,000-87,000 records/s on 2 cores (the target is 150,000), and it
// returns garbage for every record body of ID1149-RDP_success_logins.evtx,
// whose records hold elements directly (no template, no dependency IDs)
// with value-text tokens in attributes. libevtx (evtxexport) refuses the
// same file. So this package decodes chunks itself, in parallel (chunks
// share nothing), with a template cache per chunk, and recovers records
// from damaged chunks; Velocidex stays in the tests as a differential oracle.
//
// Records outside every live record chain (a chunk's slack past its
// free-space offset, the rest of a chunk after a broken record or after the
// record its header names last, chunks without a valid header, chunks a
// clean file header does not count) are emitted too, tagged "recovered"
// with where they were found (see chunk.go, carve.go); libevtx's
// evtxexport -m recovered is their oracle. Stats accounts for every record
// of a file: declared by the chunk headers, read live, recovered, stale
// slack copies of live records, unreadable (each a warning with its
// offset).
package evtx

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Name is the parser name in jejak.provenance.parser.
const Name = "evtx"

var fileMagic = []byte("ElfFile\x00")

// Parser reads EVTX files.
type Parser struct {
	workers int
}

var (
	_ parsers.Parser       = (*Parser)(nil)
	_ parsers.RandomAccess = (*Parser)(nil)
)

// New returns an EVTX parser decoding up to workers chunks at once
// (GOMAXPROCS when workers < 1).
func New(workers int) *Parser {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &Parser{workers: workers}
}

// Name implements parsers.Parser.
func (p *Parser) Name() string { return Name }

// NeedsReaderAt implements parsers.RandomAccess: chunks are read by offset.
func (p *Parser) NeedsReaderAt() bool { return true }

// Match accepts files starting with the EVTX file signature.
func (p *Parser) Match(_ *jfs.Entry, head []byte) bool {
	return bytes.HasPrefix(head, fileMagic)
}

// chunkOut is one chunk's events and damage, in record order.
type chunkOut struct {
	events []*timeline.Event
	keys   []recKey // one per event
	warns  []warning
	res    chunkResult
}

// File header flags.
const fileFlagDirty = 0x1 // not closed cleanly: the header's counts may be stale

// Stats accounts for every record of one EVTX file.
type Stats struct {
	Chunks         int  // 64 KiB chunks in the file (the last may be cut short)
	ChunksDeclared int  // chunks the file header counts
	Dirty          bool // the file header's dirty flag: its counts may be stale
	// Declared is the number of records the chunk headers declare (record
	// numbers first to last, summed over the chunks with a valid magic).
	Declared int
	// Live is the number of records read from chunks' record chains.
	Live int
	// Recovered is the number of records tagged recovered, and
	// RecoveredFrom the same by jejak.data.recovered_from.
	Recovered     int
	RecoveredFrom map[string]int
	// SlackCopies counts slack records whose header ID and written time
	// are a live record's: stale copies Windows leaves in the chunk it
	// writes, not deleted records. They are not emitted again (evtxexport
	// -m recovered does not list them either).
	SlackCopies int
	// Unreadable counts records found but not decoded, each reported as a
	// warning with its offset.
	Unreadable int
	Warnings   int // warnings reported, the summary line included
}

// NotRead is the number of declared records the chains did not yield as
// live: recovered after a break, or unreadable.
func (s Stats) NotRead() int { return max(0, s.Declared-s.Live) }

// Parse implements parsers.Parser (see ParseStats).
func (p *Parser) Parse(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) error {
	_, err := p.ParseStats(ctx, src, emit)
	return err
}

// ParseStats parses like Parse and returns the file's record accounting.
// Chunks are decoded by a pool of workers and emitted in file order, with
// at most two chunks per worker in memory; records carved from slack are
// held back to the end, where those that are copies of a live record
// (same header ID and written time, wherever it is in the file) are
// counted in Stats.SlackCopies instead of emitted twice. When the chains
// did not yield every declared record, or a record was unreadable, a
// last warning sums the accounting up for the file.
func (p *Parser) ParseStats(ctx context.Context, src *parsers.Source, emit func(*timeline.Event) error) (Stats, error) {
	st := Stats{RecoveredFrom: map[string]int{}}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if src.ReaderAt == nil || src.Size < 0 {
		return st, errors.New("evtx: random access with a known size is required")
	}
	path := ""
	if src.Entry != nil {
		path = src.Entry.Path
	}
	report := func(w warning) {
		st.Warnings++
		if src.Warn != nil {
			src.Warn(&parsers.RecordError{Parser: Name, Path: path, Offset: w.off, Record: int64(w.rec), Err: w.err})
		}
	}
	hdr := make([]byte, 128)
	if n, err := src.ReaderAt.ReadAt(hdr, 0); n < len(hdr) {
		return st, fmt.Errorf("evtx: file header: %w", orEOF(err))
	}
	if !bytes.Equal(hdr[:8], fileMagic) {
		return st, errors.New("evtx: not an EVTX file (no ElfFile signature)")
	}
	declared := int64(binary.LittleEndian.Uint16(hdr[42:]))
	flags := binary.LittleEndian.Uint32(hdr[120:])
	st.ChunksDeclared, st.Dirty = int(declared), flags&fileFlagDirty != 0
	// Which chunks are in use is libevtx's rule: in a clean file, the
	// chunks the header counts; their records are live, and those of the
	// chunks past the count are recovered (an unused chunk, as after the
	// log was cleared or shrunk). A dirty file (flag 0x1: the log was not
	// closed cleanly, as on a running or crashed system) updates its
	// header's count lazily, so a stale count is normal there, not
	// deletion: every chunk is in use and its chain is live, which is also
	// how the evtx crate reads every file. An untrusted header (bad
	// checksum, or a count of 0, which no writer leaves) counts every
	// chunk as in use too.
	inUseCount := declared
	// Flag 0x4 marks files written without checksums (they are zero).
	if flags&chunkFlagNoCRC == 0 && crc32.ChecksumIEEE(hdr[:120]) != binary.LittleEndian.Uint32(hdr[124:]) {
		report(warning{off: 0, err: fmt.Errorf("file header checksum mismatch (flags 0x%x): header fields not trusted, every chunk is read", flags)})
		inUseCount = 0
	}
	if inUseCount == 0 || st.Dirty {
		inUseCount = math.MaxInt64
	}
	nChunks := (src.Size - fileHeaderBlock + chunkSize - 1) / chunkSize
	if nChunks <= 0 {
		return st, nil
	}
	st.Chunks = int(nChunks)
	workers := int64(max(1, p.workers))
	workers = min(workers, nChunks)

	ctx, cancel := context.WithCancel(ctx)
	results := make([]chan chunkOut, nChunks)
	for i := range results {
		results[i] = make(chan chunkOut, 1)
	}
	jobs := make(chan int64)
	window := make(chan struct{}, 2*workers)
	var wg sync.WaitGroup
	go func() {
		defer close(jobs)
		for i := int64(0); i < nChunks; i++ {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	for w := int64(0); w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, chunkSize)
			stop := func() bool { return ctx.Err() != nil }
			for i := range jobs {
				off := fileHeaderBlock + i*chunkSize
				n, err := src.ReaderAt.ReadAt(buf, off)
				var out chunkOut
				if n < chunkSize && err != nil && err != io.EOF {
					out.warns = []warning{{off: off, err: fmt.Errorf("reading chunk: %w", err)}}
				}
				out.res = decodeChunk(buf[:n], off, i < inUseCount, stop, func(r *Record) {
					out.events = append(out.events, toEvent(r))
					out.keys = append(out.keys, recKey{r.ID, r.Written.UnixNano()})
				})
				out.warns = append(out.warns, out.res.warns...)
				out.res.warns = nil
				results[i] <- out
			}
		}()
	}
	// Cancel before waiting: the dispatcher may be parked on the window.
	defer func() { cancel(); wg.Wait() }()

	// The keys of the live records, kept as a slice while chunks stream
	// past and made a set only when slack records need checking.
	var liveKeys []recKey
	type held struct {
		ev  *timeline.Event
		key recKey
	}
	var slack []held
	var slackWarns []warning
	chainLost := 0 // unreadable records of record chains
	count := func(ev *timeline.Event) {
		if from := ev.Jejak.Data["recovered_from"]; from != "" {
			st.Recovered++
			st.RecoveredFrom[from]++
		} else {
			st.Live++
		}
	}
	for i := int64(0); i < nChunks; i++ {
		var out chunkOut
		select {
		case out = <-results[i]:
		case <-ctx.Done():
			return st, ctx.Err()
		}
		<-window
		if out.res.empty && i < declared {
			report(warning{off: fileHeaderBlock + i*chunkSize, err: fmt.Errorf("chunk %d of %d counted by the file header is zeroed", i, declared)})
		}
		st.Declared += out.res.declared
		st.Unreadable += out.res.unreadable
		chainLost += out.res.chainUnreadable
		for _, w := range out.warns {
			if w.copyOf != (recKey{}) {
				slackWarns = append(slackWarns, w)
				continue
			}
			report(w)
		}
		for j, ev := range out.events {
			if j%256 == 255 && ctx.Err() != nil {
				return st, ctx.Err()
			}
			if ev.Jejak.Data["recovered_from"] == fromSlack {
				slack = append(slack, held{ev, out.keys[j]})
				continue
			}
			liveKeys = append(liveKeys, out.keys[j])
			count(ev)
			if err := emit(ev); err != nil {
				return st, err
			}
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
	}
	var live map[recKey]struct{}
	if len(slack) > 0 || len(slackWarns) > 0 {
		live = make(map[recKey]struct{}, len(liveKeys))
		for _, k := range liveKeys {
			live[k] = struct{}{}
		}
	}
	liveKeys = nil
	for _, w := range slackWarns {
		if _, ok := live[w.copyOf]; ok {
			st.SlackCopies++
			st.Unreadable--
			continue
		}
		report(w)
	}
	for _, h := range slack {
		if _, ok := live[h.key]; ok {
			st.SlackCopies++
			continue
		}
		count(h.ev)
		if err := emit(h.ev); err != nil {
			return st, err
		}
	}
	// The summary is for a file whose chains did not give every record:
	// slack records that cannot be recovered are warned one by one and
	// do not by themselves make a chunk's accounting short.
	if st.Live < st.Declared || chainLost > 0 {
		report(warning{off: 0, err: fmt.Errorf("%w: %s", errAccounting, st.summary())})
	}
	return st, nil
}

// errAccounting marks the per-file summary warning.
var errAccounting = errors.New("evtx record accounting")

// summary is the accounting in one line.
func (s Stats) summary() string {
	var from []string
	for k, n := range s.RecoveredFrom {
		from = append(from, fmt.Sprintf("%d from %s", n, k))
	}
	slices.Sort(from)
	msg := fmt.Sprintf("chunk headers declare %d records; %d read live, %d recovered", s.Declared, s.Live, s.Recovered)
	if len(from) > 0 {
		msg += " (" + strings.Join(from, ", ") + ")"
	}
	msg += fmt.Sprintf(", %d unreadable (each warned with its offset)", s.Unreadable)
	if s.SlackCopies > 0 {
		msg += fmt.Sprintf(", %d stale slack copies of live records not repeated", s.SlackCopies)
	}
	return msg
}

func orEOF(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

// DecodeChunk decodes one chunk's bytes (64 KiB, or fewer when the file is
// cut short) read from fileOff, for tools and fuzzing that work below the
// Parser. Each record goes to fn and is valid only during the call (the
// records carved from the chunk's slack too, with Record.Recovered set);
// damage is returned as errors.
func DecodeChunk(buf []byte, fileOff int64, fn func(*Record)) []error {
	res := decodeChunk(buf, fileOff, true, func() bool { return false }, fn)
	errs := make([]error, len(res.warns))
	for i, w := range res.warns {
		errs[i] = fmt.Errorf("offset %d: %w", w.off, w.err)
	}
	return errs
}
