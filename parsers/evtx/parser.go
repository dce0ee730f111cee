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
//
// A damaged file header (a changed or zeroed signature, a bad checksum,
// wrong sizes or version) hides nothing: the chunks carry their own
// signatures and checksums, so such a file is recognised by its chunk
// signatures at 4096 + n·65536 and read chunk by chunk, with one warning
// naming what is wrong and jejak.data.file_header_damaged on its events.
// evtxexport and the evtx crate refuse such a file outright. The warning
// is a record warning, so ingest exits 3: every record was read, but a
// damaged structure was met and the header's own fields (dirty flag,
// chunk count) were not, which an examiner must hear about.
package evtx

import (
	"bytes"
	"cmp"
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
	"sync/atomic"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/zeros"
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
	_ timeline.Recycler    = (*Parser)(nil)
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

// Match accepts files starting with the EVTX file signature, and files
// whose file header is damaged (a changed or zeroed signature) when their
// chunks bear them out (see damagedHeaderMatch).
func (p *Parser) Match(e *jfs.Entry, head []byte) bool {
	return bytes.HasPrefix(head, fileMagic) || damagedHeaderMatch(e, head)
}

// The file header, as libevtx documents it: the signature, at 32 the header
// size (128), at 36 and 38 the minor (1 or 2) and major (3) version, at 40
// the size of the header block (4096), at 42 the chunk count; the flags at
// 120 and at 124 the CRC-32 of bytes 0-119. The rest of the 4096-byte block
// is zero.
const (
	fileHeaderSize = 128
	// slotsChecked is how many chunk slots (4096 + n·65536) detection
	// looks at: a few reads of 8 bytes each.
	slotsChecked = 8
)

// headerFields counts the fields of a header that still read as EVTX: the
// signature (6 of its 8 bytes), the header size, the version, and the
// header block size.
func headerFields(h []byte) int {
	n, same := 0, 0
	for i, c := range fileMagic {
		if h[i] == c {
			same++
		}
	}
	if same >= 6 {
		n++
	}
	if binary.LittleEndian.Uint32(h[32:]) == fileHeaderSize {
		n++
	}
	if minor := binary.LittleEndian.Uint16(h[36:]); (minor == 1 || minor == 2) && binary.LittleEndian.Uint16(h[38:]) == 3 {
		n++
	}
	if binary.LittleEndian.Uint16(h[40:]) == fileHeaderBlock {
		n++
	}
	return n
}

// damagedHeaderMatch recognises an EVTX file whose header is damaged. The
// 64 KiB chunks that follow the 4096-byte header block each start with
// their own signature, so the file is still an EVTX file when chunk
// signatures stand at 4096 + n·65536. Detection looks there only when the
// head itself still looks like a header block, damaged: its padding
// (bytes 128-4095) zero, as in a header with damaged fields or a zeroed
// block, or most of its fields intact. So an arbitrary file costs nothing
// more than a look at its head, and one with a zeroed head (sparse files,
// preallocated logs) a few reads of 8 bytes.
//
// A member of a compressed stream has no random access before the pipeline
// spools it: it is taken when its padding is zero and three of the four
// header fields hold (no chance bytes do that), and Parse then refuses it
// unless its chunks bear it out. A zeroed header in such a member is not
// recognised; its name, when it ends in .evtx, makes ingest report it as a
// known log it could not read.
func damagedHeaderMatch(e *jfs.Entry, head []byte) bool {
	if len(head) < fileHeaderBlock || e == nil || (e.Size >= 0 && e.Size < fileHeaderBlock+chunkHeaderSize) {
		return false
	}
	zeroPad := zeros.All(head[fileHeaderSize:fileHeaderBlock])
	fields := headerFields(head)
	if !zeroPad && fields < 3 {
		return false
	}
	ra, ok, _ := e.ReaderAt()
	if !ok {
		// A stream member: the chunk slots its head reaches (ingest gives a
		// longer head when the usual one does not match) are all there is.
		if sig, other := chunkSlots(bytes.NewReader(head), int64(len(head))); chunksBearOut(sig, other) {
			return true
		}
		return zeroPad && fields >= 3
	}
	if c, ok := ra.(io.Closer); ok {
		defer c.Close()
	}
	sig, other := chunkSlots(ra, e.Size)
	return chunksBearOut(sig, other)
}

// chunkSlots reads the first bytes of up to slotsChecked chunk slots and
// counts those holding the chunk signature and those holding something
// else; a slot starting with zeros (an unused, preallocated chunk, or one
// whose first bytes were zeroed) counts as neither. size < 0 is unknown.
func chunkSlots(ra io.ReaderAt, size int64) (sig, other int) {
	var b [8]byte
	for i := range int64(slotsChecked) {
		off := fileHeaderBlock + i*chunkSize
		if size >= 0 && off+int64(len(b)) > size {
			break
		}
		if n, _ := ra.ReadAt(b[:], off); n < len(b) {
			break
		}
		switch {
		case bytes.Equal(b[:], chunkMagic):
			sig++
		case b != [8]byte{}:
			other++
		}
	}
	return sig, other
}

// chunksBearOut: at least one chunk signature, and more signatures than
// slots holding other bytes (a damaged file may have damaged chunks too,
// but then not most of them).
func chunksBearOut(sig, other int) bool { return sig > 0 && sig > other }

// errHeaderDamaged marks the one warning about a damaged file header.
var errHeaderDamaged = errors.New("file header damaged")

// headerDamage lists what is wrong with a file header (nil when nothing
// is). Any of it makes the header's fields untrusted.
func headerDamage(h []byte) []string {
	var out []string
	if !bytes.Equal(h[:8], fileMagic) {
		out = append(out, fmt.Sprintf("signature %q is not %q", h[:8], fileMagic))
	}
	if size := binary.LittleEndian.Uint32(h[32:]); size != fileHeaderSize {
		out = append(out, fmt.Sprintf("header size %d, not %d", size, fileHeaderSize))
	}
	if minor, major := binary.LittleEndian.Uint16(h[36:]), binary.LittleEndian.Uint16(h[38:]); major != 3 || (minor != 1 && minor != 2) {
		out = append(out, fmt.Sprintf("version %d.%d, not 3.1 or 3.2", major, minor))
	}
	if bs := binary.LittleEndian.Uint16(h[40:]); bs != fileHeaderBlock {
		out = append(out, fmt.Sprintf("header block size %d, not %d", bs, fileHeaderBlock))
	}
	if binary.LittleEndian.Uint16(h[42:]) == 0 {
		// No writer leaves it: a log has at least the chunk it writes.
		out = append(out, "chunk count 0")
	}
	// Flag 0x4 marks files written without checksums (they are zero).
	flags, stored, computed := binary.LittleEndian.Uint32(h[120:]), binary.LittleEndian.Uint32(h[124:]), crc32.ChecksumIEEE(h[:120])
	if stored != computed && !(flags&chunkFlagNoCRC != 0 && stored == 0) {
		out = append(out, fmt.Sprintf("checksum mismatch (stored 0x%08x, computed 0x%08x)", stored, computed))
	}
	return out
}

// chunkOut is one chunk's events and damage, in record order.
type chunkOut struct {
	events []*timeline.Event
	keys   []recKey // one per event
	from   []string // one per event: Record.Recovered ("" for a live record)
	warns  []warning
	res    chunkResult
}

// File header flags.
const fileFlagDirty = 0x1 // not closed cleanly: the header's counts may be stale

// Stats accounts for every record of one EVTX file.
type Stats struct {
	Chunks         int  // 64 KiB chunks in the file (the last may be cut short)
	ChunksDeclared int  // chunks the file header counts (0 when HeaderDamage is set)
	Dirty          bool // the file header's dirty flag: its counts may be stale
	// HeaderDamage says what is wrong with the file header ("" when
	// nothing is): its fields were not trusted, the chunks were counted
	// from the file size and all read as in use (see ParseStats).
	HeaderDamage string
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
	src = src.As(Name)
	st, err := p.ParseStats(ctx, src, emit)
	if src.Account != nil {
		src.Account(parsers.Accounting{Declared: int64(st.Declared), Live: int64(st.Live),
			Recovered: int64(st.Recovered), Unreadable: int64(st.Unreadable)})
	}
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
	report := func(w warning) {
		st.Warnings++
		src.WarnErr(w.off, int64(w.rec), w.err)
	}
	hdr := make([]byte, fileHeaderSize)
	if n, err := src.ReaderAt.ReadAt(hdr, 0); n < len(hdr) {
		return st, fmt.Errorf("evtx: file header: %w", orEOF(err))
	}
	nChunks := (src.Size - fileHeaderBlock + chunkSize - 1) / chunkSize
	// A damaged header (see headerDamage) is not trusted in any field:
	// the chunks are counted from the file size, and as the dirty flag is
	// unknown, every chunk is in use and its chain live, as in a dirty
	// file. Records are live or recovered by their chunks alone (a valid
	// chunk's records are not "recovered" because the file header is
	// damaged); each event carries jejak.data.file_header_damaged, and one
	// warning says what is wrong. Without the file signature, the file is
	// read only when its chunk signatures bear it out, as in Match.
	damage := headerDamage(hdr)
	if len(damage) > 0 && !bytes.Equal(hdr[:8], fileMagic) {
		sig, other := chunkSlots(src.ReaderAt, src.Size)
		if !chunksBearOut(sig, other) {
			return st, fmt.Errorf("evtx: not an EVTX file: no ElfFile signature, and %d of the first %d chunk slots hold a chunk signature (%d hold other bytes)",
				sig, min(int64(slotsChecked), max(0, nChunks)), other)
		}
	}
	var declared int64 // chunks the file header counts: 0 when untrusted
	inUseCount := int64(math.MaxInt64)
	if len(damage) > 0 {
		st.HeaderDamage = strings.Join(damage, "; ")
		report(warning{off: 0, err: fmt.Errorf("%w: %s: no header field is trusted; %d chunks counted from the file size, the dirty flag unknown, so every chunk with a valid header is read live, as in a dirty file",
			errHeaderDamaged, st.HeaderDamage, max(0, nChunks))})
	} else {
		declared = int64(binary.LittleEndian.Uint16(hdr[42:]))
		flags := binary.LittleEndian.Uint32(hdr[120:])
		st.ChunksDeclared, st.Dirty = int(declared), flags&fileFlagDirty != 0
		// Which chunks are in use is libevtx's rule: in a clean file, the
		// chunks the header counts; their records are live, and those of
		// the chunks past the count are recovered (an unused chunk, as
		// after the log was cleared or shrunk). A dirty file (flag 0x1:
		// the log was not closed cleanly, as on a running or crashed
		// system) updates its header's count lazily, so a stale count is
		// normal there, not deletion: every chunk is in use and its chain
		// is live, which is also how the evtx crate reads every file.
		if !st.Dirty {
			inUseCount = declared
		}
	}
	if nChunks <= 0 {
		return st, nil
	}
	st.Chunks = int(nChunks)
	// With the header's count unknown, a zeroed chunk is an unused one only
	// past the last chunk in use: one before a chunk that bears a
	// signature is a hole in the log, warned as a counted chunk is.
	lastSigned := int64(-1)
	if len(damage) > 0 {
		var b [8]byte
		for i := nChunks - 1; i >= 0; i-- {
			if n, _ := src.ReaderAt.ReadAt(b[:], fileHeaderBlock+i*chunkSize); n == len(b) && bytes.Equal(b[:], chunkMagic) {
				lastSigned = i
				break
			}
		}
	}
	// The keys of the live records, kept as a slice while chunks stream
	// past and sorted only when slack records need checking.
	kl := keyLists.Get().(*[]recKey)
	liveKeys := (*kl)[:0]
	defer func() {
		*kl = liveKeys[:0]
		keyLists.Put(kl)
	}()
	type held struct {
		ev   *timeline.Event
		key  recKey
		from string
	}
	var slack []held
	var slackWarns []warning
	chainLost := 0 // unreadable records of record chains
	// from is the event's Record.Recovered, which toEvent put in
	// jejak.data.recovered_from: kept beside the event, so that this
	// serial loop need not look it up in the event's map.
	count := func(from string) {
		if from != "" {
			st.Recovered++
			st.RecoveredFrom[from]++
		} else {
			st.Live++
		}
	}
	send := func(ev *timeline.Event) error {
		if st.HeaderDamage != "" {
			// The warning is once per file; an event read on its own
			// must still tell that its file's header was damaged.
			ev.Jejak.Data["file_header_damaged"] = "true"
		}
		return emit(ev)
	}
	// consume accounts for chunk i's records and damage and emits its
	// events, in record order, holding back those carved from slack.
	consume := func(i int64, out *chunkOut) error {
		switch {
		case out.res.empty && i < declared:
			report(warning{off: fileHeaderBlock + i*chunkSize, err: fmt.Errorf("chunk %d of %d counted by the file header is zeroed", i, declared)})
		case out.res.empty && i < lastSigned:
			report(warning{off: fileHeaderBlock + i*chunkSize, err: fmt.Errorf("chunk %d is zeroed, before chunk %d which holds a chunk signature (the damaged file header counts nothing)", i, lastSigned)})
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
				return ctx.Err()
			}
			if out.from[j] == fromSlack {
				slack = append(slack, held{ev, out.keys[j], fromSlack})
				continue
			}
			liveKeys = append(liveKeys, out.keys[j])
			count(out.from[j])
			if err := send(ev); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Emptied, the held events not kept alive by the lists.
		clear(out.events)
		return nil
	}
	// The workers are the cores the files parsed beside this one leave
	// free (an ingest parses one EVTX file at a time, on every core).
	// This goroutine, which emits, decodes the chunks itself in file
	// order, and workers-1 helpers decode the chunks ahead of it, each
	// claiming the first one nobody has (next), at most window of them
	// waiting: when a helper is behind (no core free for it) or done, the
	// chunk is decoded here (about half of them, with two cores). Before,
	// every chunk was decoded by a worker goroutine (two, and a
	// dispatcher) and its events handed over to this one, which only
	// emitted: the hand-overs cost CPU in the scheduler and in caches (the
	// events built on one core and encoded on another). Analyze of 200
	// copies of security.evtx, 4 alternating pairs: 4.52 -> 4.33 CPU-s;
	// decoding every chunk here (no helper) took 5 % less CPU again but
	// about 10 % more wall.
	others := parsing.Add(1) - 1
	defer parsing.Add(-1)
	workers := max(1, int64(p.workers)-others)
	workers = min(workers, nChunks)
	helpers := workers - 1
	const window = 2      // chunks decoded ahead per helper
	var next atomic.Int64 // the first chunk not claimed
	var (
		results []chan chunkOut
		slots   chan struct{}
		spare   chan chunkOut
	)
	if helpers > 0 {
		hctx, cancel := context.WithCancel(ctx)
		results = make([]chan chunkOut, nChunks)
		for i := range results {
			results[i] = make(chan chunkOut, 1)
		}
		slots = make(chan struct{}, window*helpers)
		// spare takes a chunk's event, key and origin lists back once
		// they are emitted, for a helper's next chunk.
		spare = make(chan chunkOut, window*helpers)
		stop := func() bool { return hctx.Err() != nil }
		var wg sync.WaitGroup
		for range helpers {
			wg.Go(func() {
				d := newChunkDecoder()
				defer d.close()
				for {
					select {
					case slots <- struct{}{}:
					case <-hctx.Done():
						return
					}
					j := next.Add(1) - 1
					if j >= nChunks {
						return
					}
					var out chunkOut
					select {
					case out = <-spare:
					default:
					}
					results[j] <- d.decode(src.ReaderAt, j, j < inUseCount, stop, out)
				}
			})
		}
		// Cancel before waiting: a helper may be parked on the slots.
		defer func() { cancel(); wg.Wait() }()
	}
	d := newChunkDecoder()
	defer d.close()
	stop := func() bool { return ctx.Err() != nil }
	var own chunkOut
	for i := int64(0); i < nChunks; i++ {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if next.CompareAndSwap(i, i+1) {
			own = d.decode(src.ReaderAt, i, i < inUseCount, stop,
				chunkOut{events: own.events[:0], keys: own.keys[:0], from: own.from[:0]})
			if err := consume(i, &own); err != nil {
				return st, err
			}
			continue
		}
		var out chunkOut
		select {
		case out = <-results[i]:
		case <-ctx.Done():
			return st, ctx.Err()
		}
		<-slots
		if err := consume(i, &out); err != nil {
			return st, err
		}
		select {
		case spare <- chunkOut{events: out.events[:0], keys: out.keys[:0], from: out.from[:0]}:
		default:
		}
	}
	isLive := func(recKey) bool { return false } // nothing to look up
	if len(slack) > 0 || len(slackWarns) > 0 {
		isLive = liveSet(liveKeys)
	}
	for _, w := range slackWarns {
		if isLive(w.copyOf) {
			st.SlackCopies++
			st.Unreadable--
			continue
		}
		report(w)
	}
	for _, h := range slack {
		if isLive(h.key) {
			st.SlackCopies++
			// Never emitted, so no one else holds it: its block goes
			// back now. Left to the collector, it kept its slab's other
			// 48 blocks from ever being reused (a slab comes back only
			// whole), so every file with slack copies took new ones.
			recycleDropped(p, h.ev)
			continue
		}
		count(h.from)
		if err := send(h.ev); err != nil {
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

// chunkDecoder is what decodes a file's chunks one after the other: a
// pooled expander (its arena and caches serve every chunk), the builder
// of its events (its scratch serves every event) and the chunk buffer,
// kept with the expander from file to file (events copy what they keep
// out of it).
type chunkDecoder struct {
	x *expander
	b *builder
}

func newChunkDecoder() *chunkDecoder {
	x := getExpander()
	if x.readBuf == nil {
		x.readBuf = make([]byte, chunkSize)
	}
	b := newBuilder()
	b.msgs = &x.msgs
	return &chunkDecoder{x: x, b: b}
}

func (d *chunkDecoder) close() {
	d.b.close()
	putExpander(d.x)
}

// decode reads chunk i and decodes it into out, whose lists (emptied) it
// reuses when they are large enough.
func (d *chunkDecoder) decode(ra io.ReaderAt, i int64, inUse bool, stop func() bool, out chunkOut) chunkOut {
	buf := d.x.readBuf
	off := fileHeaderBlock + i*chunkSize
	n, err := ra.ReadAt(buf, off)
	if hint := declaredRecords(buf[:n]); hint > cap(out.events) {
		// Sized once, not grown record by record.
		out.events = make([]*timeline.Event, 0, hint)
		out.keys = make([]recKey, 0, hint)
		out.from = make([]string, 0, hint)
	}
	if n < chunkSize && err != nil && err != io.EOF {
		out.warns = []warning{{off: off, err: fmt.Errorf("reading chunk: %w", err)}}
	}
	b := d.b
	out.res = decodeChunk(d.x, buf[:n], off, inUse, stop, func(r *Record) {
		out.events = append(out.events, b.event(r))
		out.keys = append(out.keys, recKey{r.ID, r.Written.UnixNano()})
		out.from = append(out.from, r.Recovered)
	})
	out.warns = append(out.warns, out.res.warns...)
	out.res.warns = nil
	return out
}

// parsing counts the files being parsed at once in this process (see
// ParseStats).
var parsing atomic.Int64

// recycleDropped gives back an event ParseStats built and did not emit
// (a stale slack copy); a variable so that a test can see which.
var recycleDropped = (*Parser).Recycle

// keyLists keeps the live-key lists of ParseStats from file to file: a
// list grown record by record for every file was a tenth of the bytes the
// parser allocated.
var keyLists = sync.Pool{New: func() any { return new([]recKey) }}

// liveSet sorts keys (the live records' keys of a file) and returns the
// test of a key's being among them. Sorted and searched, not a map: a set
// was a map of every record's key built for each file with slack records
// (most Windows logs), a sixth of the bytes the parser allocated.
func liveSet(keys []recKey) func(recKey) bool {
	slices.SortFunc(keys, cmpRecKey)
	return func(k recKey) bool {
		_, ok := slices.BinarySearchFunc(keys, k, cmpRecKey)
		return ok
	}
}

// cmpRecKey orders record keys by ID, then written time.
func cmpRecKey(a, b recKey) int {
	return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.written, b.written))
}

// declaredRecords is the number of records a chunk's header declares, as
// a size hint only (0 when the header is not there; at most what a chunk
// can hold).
func declaredRecords(b []byte) int {
	if len(b) < chunkHeaderSize || !bytes.Equal(b[:8], chunkMagic) {
		return 0
	}
	h := readChunkHeader(b)
	if h.lastNum < h.firstNum || h.lastNum-h.firstNum >= (chunkSize-chunkHeaderSize)/(recordHeaderSize+4) {
		return 0
	}
	return int(h.lastNum-h.firstNum) + 1
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

// expanders keeps expanders (their arena, value cache and tables) from
// call to call, for DecodeChunk and the Parser's workers: a fresh one is
// about 100 KB.
var expanders = sync.Pool{New: func() any { return new(expander) }}

// DecodeChunk decodes one chunk's bytes (64 KiB, or fewer when the file is
// cut short) read from fileOff, for tools and fuzzing that work below the
// Parser. Each record goes to fn and is valid only during the call (the
// records carved from the chunk's slack too, with Record.Recovered set);
// damage is returned as errors, each a *ChunkError. Records of the slack
// that are stale copies of live records (see Stats.SlackCopies) are among
// them: only a whole file tells them apart (see DecodeFile).
func DecodeChunk(buf []byte, fileOff int64, fn func(*Record)) []error {
	x := getExpander()
	defer putExpander(x)
	res := decodeChunk(x, buf, fileOff, true, func() bool { return false }, fn)
	errs := make([]error, len(res.warns))
	for i, w := range res.warns {
		ce := &ChunkError{Offset: w.off, Record: w.rec, Err: w.err}
		if w.copyOf != (recKey{}) {
			ce.SlackWritten = time.Unix(0, w.copyOf.written).UTC()
		}
		errs[i] = ce
	}
	return errs
}
