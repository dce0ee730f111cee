package hunt

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// The two record-sequence checks, log integrity (logs.go) and sequence vs
// time (clock.go), judge each log file by all its records in write order,
// so a hunt keeps one entry per EVTX (wtmp, $UsnJrnl) record until it
// finishes. They keep the same records, so they share one list per file
// (seqLists), and an entry is kept compact and free of pointers (seqRec):
// 56 bytes where each check used to keep its own 88-byte entry holding an
// event ID string allocated per record, a code string and a time.Time with
// its location pointer — several GB and a heap for the collector to scan
// on a domain controller's 20M Security records (issue 15). Past
// seqBudget entries they spill to the case's temp folder (seqspill.go).

// seqRec is one record of a log, as the sequence checks keep it.
type seqRec struct {
	seq uint64 // EVTX EventRecordID, utmp record number, USN
	hdr uint64 // EVTX record header number (provenance record)
	off int64  // provenance offset
	// ns is the timestamp in UTC Unix nanoseconds. An odd record (flag
	// recOdd) has its ID and time in seqLists.odd instead, at the index in
	// the first 8 bytes of id.
	ns    int64
	id    [16]byte // the event ID's 32 hex digits, decoded
	code  uint32   // event.code, an index in seqLists.codes
	flags uint8
}

const (
	recClears    uint8 = 1 << iota // a record saying the log was cleared (1102, 104)
	recRecovered                   // decoded from a damaged or unused chunk
	recSlack                       // carved from chunk slack (recovered_from)
	recOdd                         // ID or time kept aside, in seqLists.odd
)

func (r *seqRec) has(f uint8) bool { return r.flags&f != 0 }

// oddRec is what a record whose ID is not 32 lower-case hex digits, or
// whose time is not UTC within int64 nanoseconds (a FILETIME of zero is
// 1601), keeps as it came: no event ID is rewritten and no time is moved
// or dropped to fit the compact entry.
type oddRec struct {
	id string
	ts time.Time
}

// seqFile is one log file's records and what both checks say about it,
// taken from its first record.
type seqFile struct {
	prov    timeline.Provenance // of the first record; Offset/Record are per record
	kind    string              // what the sequence number is: "record", "wtmp record", "USN"
	channel string              // EVTX channel
	winHost string              // EVTX computer name
	recs    []seqRec            // held: read after every run's
	sorted  bool                // recs are in order (sortHeld)
	runs    []seqRun            // spilled, in the order written
	byHdr   bool                // ordered by header number, not sequence number
}

// seqLists collects the records of every file for the sequence checks
// loaded in a hunt. The first of them to be made feeds it from its
// observe; each reads it at its finish, and the last to finish releases it.
type seqLists struct {
	h     *hunter
	files map[string]*seqFile
	// lastK and lastF: the file the event before was of (rows come in
	// runs from one file; its key is the same string, compared at once).
	lastK string
	lastF *seqFile
	// integrity: log integrity is loaded (it reads clears and slack);
	// other: sequence vs time is (it reads wtmp and USN records too).
	integrity, other bool
	feeder           analyzer
	users            int // checks yet to finish
	codes            []string
	codeIdx          map[string]uint32
	lastCode         string
	lastCodeI        uint32
	odd              []oddRec // of the held entries
	held             int      // entries held, all files
	sp               seqSpill
	spare            []seqRec // a slice a spill freed, for the next file to grow
	reading          bool     // a check reads the lists: a spill frees, keeps nothing
	// byHdr: the file whose records log integrity is sorting by header
	// number (an exported copy), spilled with the others.
	byHdr *seqFile
}

// seqListsFor returns the hunt's shared lists, made for a: its observe
// feeds them when it is the first check to ask (feeds).
func seqListsFor(h *hunter, a analyzer, integrity bool) (l *seqLists, feeds bool) {
	if h.seqs == nil {
		h.seqs = &seqLists{h: h, files: map[string]*seqFile{}, codeIdx: map[string]uint32{}, feeder: a}
	}
	l = h.seqs
	l.users++
	if integrity {
		l.integrity = true
	} else {
		l.other = true
	}
	return l, l.feeder == a
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// wants: EVTX records, and with the sequence-time rule loaded the other
// sources sequenceOf numbers.
func (l *seqLists) wants() interest {
	if !l.other {
		return interest{win: true}
	}
	return interest{win: true, parsers: []string{"utmp", "usnjrnl"}}
}

func (l *seqLists) observe(ev *timeline.Event) {
	if ev.Winlog == nil && !l.other {
		return // only log integrity is loaded: EVTX records alone
	}
	seq, kind, ok := sequenceOf(ev)
	if !ok {
		return
	}
	k := l.h.fileKeyOf(ev.Jejak.Provenance)
	f := l.lastF
	if f == nil || k != l.lastK {
		if f = l.files[k]; f == nil {
			f = &seqFile{prov: l.h.internProv(ev.Jejak.Provenance), kind: kind}
			if w := ev.Winlog; w != nil {
				f.channel, f.winHost = w.Channel, w.ComputerName
			}
			l.files[k] = f
		}
		l.lastK, l.lastF = k, f
	}
	r := seqRec{seq: seq, hdr: uint64(ev.Jejak.Provenance.Record), off: ev.Jejak.Provenance.Offset, code: l.code(ev.Event.Code)}
	if ev.Winlog != nil && l.integrity {
		if clearedLog(ev) != "" {
			r.flags |= recClears
		}
		if slices.Contains(ev.Jejak.Tags, "recovered") {
			r.flags |= recRecovered
			if ev.Jejak.Data["recovered_from"] == slackSource {
				r.flags |= recSlack
			}
		}
	}
	t := ev.Timestamp
	if t.Location() != time.UTC || t.Before(minNanoTime) || t.After(maxNanoTime) || !decodeID(&r.id, ev.Jejak.ID) {
		l.add(f, r, &oddRec{id: ev.Jejak.ID, ts: t})
		return
	}
	r.ns = t.UnixNano()
	l.add(f, r, nil)
}

// add holds r in f, with what an odd record keeps aside (o), and spills
// when the lists hold their budget.
func (l *seqLists) add(f *seqFile, r seqRec, o *oddRec) {
	if o != nil {
		r.flags |= recOdd
		binary.LittleEndian.PutUint64(r.id[:8], uint64(len(l.odd)))
		l.odd = append(l.odd, *o)
	}
	if len(f.recs) == cap(f.recs) {
		f.recs = l.grow(f.recs)
	}
	f.recs = append(f.recs, r)
	f.sorted = false
	l.held++
	if l.held >= seqBudget && seqBudget > 0 && l.sp.err == nil {
		l.spill()
	}
}

// grow makes room for one more entry in recs: the spare slice a spill
// left (seqspill.go), or as append would grow it (twice, then by a
// quarter: a case may have thousands of small logs), never past the
// budget, which is all a file can hold before a spill (append would pass
// it, and a spill could not keep the slice for reuse).
func (l *seqLists) grow(recs []seqRec) []seqRec {
	if len(recs) == 0 && l.spare != nil {
		recs, l.spare = l.spare, nil
		return recs
	}
	c := cap(recs)
	n := max(2*c, 8)
	if c >= 256 {
		n = c + (c+3*256)/4
	}
	if seqBudget > 0 && len(recs) < seqBudget {
		// Past it only when the lists could not spill.
		n = min(n, seqBudget)
	}
	return append(make([]seqRec, 0, n), recs...)
}

// code interns an event code: a log has a few dozen.
func (l *seqLists) code(c string) uint32 {
	if c == l.lastCode && len(l.codes) > 0 {
		return l.lastCodeI
	}
	i, ok := l.codeIdx[c]
	if !ok {
		i = uint32(len(l.codes))
		l.codes = append(l.codes, c)
		l.codeIdx[c] = i
	}
	l.lastCode, l.lastCodeI = l.codes[i], i
	return i
}

// decodeID decodes an event ID of 32 lower-case hex digits (what
// timeline.ComputeID makes), and only such an ID: one that would not come
// back the same from hex.Encode is kept aside whole. By table, with one
// test at the end: a digit at a time with a test each was 200 ns, half of
// what the lists cost per record (encoding/hex takes upper case too).
func decodeID(dst *[16]byte, id string) bool {
	if len(id) != 32 {
		return false
	}
	var bad byte
	for i := 0; i < 16; i++ {
		hi, lo := lowerHex[id[2*i]], lowerHex[id[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// lowerHex is the value of a lower-case hex digit; 0xff for any other byte.
var lowerHex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

func (l *seqLists) oddOf(r *seqRec) *oddRec {
	return &l.odd[binary.LittleEndian.Uint64(r.id[:8])]
}

// eventID is a record's event ID.
func (e *seqEnt) eventID() string {
	if e.has(recOdd) {
		return e.oddID
	}
	return hex.EncodeToString(e.id[:])
}

// ref is a finding's row for a record of f. withState: say "recovered"
// for a record decoded from a damaged or unused chunk (log integrity
// does; sequence vs time never has).
func (l *seqLists) ref(f *seqFile, e *seqEnt, desc string, withState bool) EventRef {
	p := f.prov
	p.Offset, p.Record = e.off, int64(e.hdr)
	ref := EventRef{ID: e.eventID(), Timestamp: e.ts(), TimestampDesc: desc, Code: l.codes[e.code], RecordID: e.seq, Provenance: p}
	if withState && e.has(recRecovered) {
		ref.State = []string{"recovered"}
	}
	return ref
}

// done: a check has finished; the last to finish releases the lists and
// removes the spill file.
func (l *seqLists) done() {
	l.users--
	if l.users == 0 {
		if err := l.release(); err != nil {
			l.h.fail(err)
		}
	}
}
