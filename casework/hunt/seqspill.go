package hunt

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"time"
)

// The sequence checks hold one entry per record (seqlist.go) until the
// hunt ends: 56 bytes, ~700 MB for a domain controller's 10M archived
// Security records. So the lists hold at most seqBudget entries in
// memory: past it, every file's held entries are sorted and written as a
// run to one spill file in the case's temp folder (Config.TempDir), and
// at the end each file's runs and what is still held are merged. Written
// by hand like timestomp's spillSorter (timestomp_spill.go): the entries
// are fixed-size and keyed per file, and each check reads every file's
// records once or twice.
//
// The order is the same held or spilled: a file's records by sequence
// number (or header number, seqFile.byHdr), records with one number in
// the order the hunt read them. A run holds records read before those of
// the runs after it and what is held was read last, so a merge that
// breaks ties by run reproduces a stable in-memory sort exactly.

// seqBudget is how many entries the sequence lists hold in memory before
// they spill (7 MiB of entries); 0 or less holds all. A variable so
// that tests can make the corpus spill into many runs.
var seqBudget = 1 << 17

// seqSpillCreate makes the spill file (createSpill). A variable so that a
// test can give a file every write fails.
var seqSpillCreate = func(dir string) (f *os.File, linked bool, err error) {
	return createSpill(dir, "seqlists-*.runs")
}

// seqSpill is the file the runs go to, one after another.
type seqSpill struct {
	f    *os.File
	name string // f's name, for messages
	// linked: f still has its name (the system did not let it be
	// removed while open), removed when it is closed.
	linked bool
	w      *bufio.Writer
	end    int64 // bytes in f once w is flushed
	// err: the spill file could not be made or written; every entry is
	// held in memory from then on (none was lost: a run counts only once
	// flushed), and the hunt reports it.
	err error
}

// seqRun is one run of a file: n sorted entries at [off, off+size) of
// the spill file.
type seqRun struct {
	off, size int64
	n         int
}

// seqEnt is a record as a check reads it: the entry, with the ID and time
// of an odd record (recOdd) beside it.
type seqEnt struct {
	seqRec
	oddID string
	oddTS time.Time
}

// ts is the record's timestamp, as the event had it.
func (e *seqEnt) ts() time.Time {
	if e.has(recOdd) {
		return e.oddTS
	}
	return time.Unix(0, e.ns).UTC()
}

// seqRecSize is an entry on disk: seq, hdr, off, ns, id, code, flags.
// An odd record is followed by its ID and time (putOdd).
const seqRecSize = 8 + 8 + 8 + 8 + 16 + 4 + 1

func putSeqRec(b *[seqRecSize]byte, r *seqRec) {
	binary.LittleEndian.PutUint64(b[0:], r.seq)
	binary.LittleEndian.PutUint64(b[8:], r.hdr)
	binary.LittleEndian.PutUint64(b[16:], uint64(r.off))
	binary.LittleEndian.PutUint64(b[24:], uint64(r.ns))
	copy(b[32:48], r.id[:])
	binary.LittleEndian.PutUint32(b[48:], r.code)
	b[52] = r.flags
}

func getSeqRec(b *[seqRecSize]byte, r *seqRec) {
	r.seq = binary.LittleEndian.Uint64(b[0:])
	r.hdr = binary.LittleEndian.Uint64(b[8:])
	r.off = int64(binary.LittleEndian.Uint64(b[16:]))
	r.ns = int64(binary.LittleEndian.Uint64(b[24:]))
	copy(r.id[:], b[32:48])
	r.code = binary.LittleEndian.Uint32(b[48:])
	r.flags = b[52]
}

// Zones of an odd record's time on disk.
const (
	zoneUTC   = 0
	zoneLocal = 1
	zoneFixed = 2 // name and offset follow
)

// appendOdd encodes an odd record's ID and time: the instant, and its zone
// as UTC, Local, or the name and offset it showed (a zone read from a
// document is a fixed one: what the JSON of a finding prints, the offset,
// comes back the same).
func appendOdd(b []byte, o *oddRec) []byte {
	b = binary.AppendUvarint(b, uint64(len(o.id)))
	b = append(b, o.id...)
	b = binary.AppendVarint(b, o.ts.Unix())
	b = binary.AppendUvarint(b, uint64(o.ts.Nanosecond()))
	switch loc := o.ts.Location(); loc {
	case time.UTC:
		b = append(b, zoneUTC)
	case time.Local:
		b = append(b, zoneLocal)
	default:
		name, off := o.ts.Zone()
		b = append(b, zoneFixed)
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendVarint(b, int64(off))
	}
	return b
}

func readOdd(r *bufio.Reader, e *seqEnt) error {
	str := func() (string, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return "", err
		}
		if n > 1<<20 {
			return "", fmt.Errorf("bad string length %d", n)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	var err error
	if e.oddID, err = str(); err != nil {
		return err
	}
	sec, err := binary.ReadVarint(r)
	if err != nil {
		return err
	}
	nsec, err := binary.ReadUvarint(r)
	if err != nil {
		return err
	}
	z, err := r.ReadByte()
	if err != nil {
		return err
	}
	t := time.Unix(sec, int64(nsec))
	switch z {
	case zoneUTC:
		t = t.UTC()
	case zoneLocal:
		t = t.In(time.Local)
	case zoneFixed:
		name, err := str()
		if err != nil {
			return err
		}
		off, err := binary.ReadVarint(r)
		if err != nil {
			return err
		}
		if off < math.MinInt32 || off > math.MaxInt32 {
			return fmt.Errorf("bad zone offset %d", off)
		}
		t = t.In(time.FixedZone(name, int(off)))
	default:
		return fmt.Errorf("bad zone %d", z)
	}
	e.oddTS = t
	return nil
}

// spill writes every file's held entries as a run of it and frees them.
// A failure keeps them all held (the runs of this spill are only counted
// once flushed) and is the hunt's error.
func (l *seqLists) spill() {
	sp := &l.sp
	if sp.err != nil {
		return
	}
	if sp.f == nil {
		dir := l.h.spillDir()
		f, linked, err := seqSpillCreate(dir)
		if err != nil {
			sp.err = fmt.Errorf("sequence checks: no spill file (in %q nor the system's temp folder), the records are held in memory: %w", dir, err)
			l.h.fail(sp.err)
			return
		}
		sp.f, sp.name, sp.w, sp.linked = f, f.Name(), bufio.NewWriterSize(f, 256<<10), linked
	}
	type pending struct {
		f   *seqFile
		run seqRun
	}
	var runs []pending
	off := sp.end
	var b [seqRecSize]byte
	var odd []byte
	write := func(f *seqFile) error {
		f.sortHeld()
		start := off
		for i := range f.recs {
			r := &f.recs[i]
			putSeqRec(&b, r)
			if _, err := sp.w.Write(b[:]); err != nil {
				return err
			}
			off += seqRecSize
			if r.has(recOdd) {
				odd = appendOdd(odd[:0], l.oddOf(r))
				if _, err := sp.w.Write(odd); err != nil {
					return err
				}
				off += int64(len(odd))
			}
		}
		runs = append(runs, pending{f, seqRun{start, off - start, len(f.recs)}})
		return nil
	}
	err := l.eachFile(func(f *seqFile) error {
		if len(f.recs) == 0 {
			return nil
		}
		return write(f)
	})
	if err == nil {
		err = sp.w.Flush()
	}
	if err != nil {
		sp.err = fmt.Errorf("sequence checks: write spill file %s, the records are held in memory: %w", sp.name, err)
		l.h.fail(sp.err)
		return
	}
	sp.end = off
	for _, p := range runs {
		p.f.runs = append(p.f.runs, p.run)
		p.f.sorted = false
	}
	l.keepSlices()
	l.odd, l.held = nil, 0 // not [:0]: a merge under way may read the old one
}

// keepSlices, after a spill: the files keep their emptied slices for the
// records to come while all they keep stays within the budget (rows of
// many files interleave in time order, and each would grow its own
// again: a fifth of a spilling hunt's time went to growing and
// collecting them); of the others the largest is kept aside for the next
// file to grow (a file read alone fills the budget by itself and goes on
// after the spill). What the lists hold is then at most the budget kept,
// the spare, and the budget held anew. Not once the checks read: a merge
// may be reading a slice (log integrity sorting an exported copy by
// header numbers spills too).
func (l *seqLists) keepSlices() {
	kept := 0
	var spare []seqRec
	l.eachFile(func(f *seqFile) error {
		c := cap(f.recs)
		switch {
		case c == 0:
		case !l.reading && kept+c <= seqBudget:
			kept += c
			f.recs = f.recs[:0]
		default:
			if !l.reading && c > cap(spare) {
				spare = f.recs[:0]
			}
			f.recs = nil
		}
		return nil
	})
	if cap(spare) > cap(l.spare) {
		l.spare = spare
	}
}

// eachFile calls fn with every file that holds entries, the one being
// sorted by header number too.
func (l *seqLists) eachFile(fn func(*seqFile) error) error {
	for _, f := range l.files {
		if err := fn(f); err != nil {
			return err
		}
	}
	if l.byHdr != nil {
		return fn(l.byHdr)
	}
	return nil
}

// each calls fn with f's records in order (seqFile.byHdr: by header
// number, else by sequence number; ties in the order read). fn may keep
// a copy of the entry, not the pointer.
func (l *seqLists) each(ctx context.Context, f *seqFile, fn func(*seqEnt)) error {
	l.reading, l.spare = true, nil
	f.sortHeld()
	if len(f.runs) == 0 {
		// All held: no merge.
		// fn may make the lists spill (logIntegrity sorting by header
		// numbers adds entries): what was held stays valid as it was.
		recs, odd := f.recs, l.odd
		var e seqEnt
		for i := range recs {
			if i%65536 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			l.entOf(&e, &recs[i], odd)
			fn(&e)
		}
		return nil
	}
	m := seqMerge{byHdr: f.byHdr}
	for i, r := range f.runs {
		size := min(r.size, 64<<10)
		c := &seqCursor{run: i, left: r.n, r: bufio.NewReaderSize(io.NewSectionReader(l.sp.f, r.off, r.size), int(max(size, 16)))}
		if err := m.add(c); err != nil {
			return l.readErr(err)
		}
	}
	if len(f.recs) > 0 {
		// What is held was read after every run: last among equals.
		if err := m.add(&seqCursor{run: len(f.runs), l: l, recs: f.recs, odd: l.odd}); err != nil {
			return err
		}
	}
	heap.Init(&m)
	for n := 0; len(m.c) > 0; n++ {
		if n%65536 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		c := m.c[0]
		fn(&c.e)
		ok, err := c.next()
		if err != nil {
			return l.readErr(err)
		}
		if ok {
			heap.Fix(&m, 0)
		} else {
			heap.Pop(&m)
		}
	}
	return nil
}

func (l *seqLists) readErr(err error) error {
	return fmt.Errorf("sequence checks: read spill file %s: %w", l.sp.name, err)
}

// entOf fills e with r and, for an odd record, what odd holds of it.
func (l *seqLists) entOf(e *seqEnt, r *seqRec, odd []oddRec) {
	e.seqRec = *r
	if r.has(recOdd) {
		o := &odd[binary.LittleEndian.Uint64(r.id[:8])]
		e.oddID, e.oddTS = o.id, o.ts
	} else {
		e.oddID, e.oddTS = "", time.Time{}
	}
}

// seqCursor reads one run: from the spill file (r), or what is held (recs).
type seqCursor struct {
	run  int // its place among the runs: the tie-break that keeps the order stable
	e    seqEnt
	r    *bufio.Reader
	l    *seqLists
	recs []seqRec
	odd  []oddRec // the odd records recs index, as they were when the merge began
	i    int
	left int // records yet to read from r: a run that ends before is an error
}

func (c *seqCursor) next() (bool, error) {
	if c.r == nil {
		if c.i >= len(c.recs) {
			return false, nil
		}
		c.l.entOf(&c.e, &c.recs[c.i], c.odd)
		c.i++
		return true, nil
	}
	if c.left == 0 {
		return false, nil
	}
	var b [seqRecSize]byte
	if _, err := io.ReadFull(c.r, b[:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return false, fmt.Errorf("run %d ends %d records short: %w", c.run, c.left, err)
	}
	c.left--
	getSeqRec(&b, &c.e.seqRec)
	c.e.oddID, c.e.oddTS = "", time.Time{}
	if c.e.has(recOdd) {
		if err := readOdd(c.r, &c.e); err != nil {
			return false, fmt.Errorf("odd record: %w", err)
		}
	}
	return true, nil
}

// seqMerge orders the runs' current records by key, then by run.
type seqMerge struct {
	c     []*seqCursor
	byHdr bool
}

func (m *seqMerge) add(c *seqCursor) error {
	ok, err := c.next()
	if ok {
		m.c = append(m.c, c)
	}
	return err
}

func (m *seqMerge) Len() int { return len(m.c) }
func (m *seqMerge) Less(i, j int) bool {
	a, b := m.c[i], m.c[j]
	ka, kb := a.e.seq, b.e.seq
	if m.byHdr {
		ka, kb = a.e.hdr, b.e.hdr
	}
	if ka != kb {
		return ka < kb
	}
	return a.run < b.run
}
func (m *seqMerge) Swap(i, j int) { m.c[i], m.c[j] = m.c[j], m.c[i] }
func (m *seqMerge) Push(x any)    { m.c = append(m.c, x.(*seqCursor)) }
func (m *seqMerge) Pop() any {
	x := m.c[len(m.c)-1]
	m.c = m.c[:len(m.c)-1]
	return x
}

// sortHeld sorts f's held entries by its key, stably (ties stay in the
// order read), once.
func (f *seqFile) sortHeld() {
	if f.sorted {
		return
	}
	if f.byHdr {
		slices.SortStableFunc(f.recs, func(a, b seqRec) int { return cmpU64(a.hdr, b.hdr) })
	} else {
		slices.SortStableFunc(f.recs, func(a, b seqRec) int { return cmpU64(a.seq, b.seq) })
	}
	f.sorted = true
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// release closes and removes the spill file and drops every entry. The
// hunt calls it however it ends (hunt.go), the last check to finish too.
func (l *seqLists) release() error {
	l.files, l.odd, l.lastF, l.byHdr, l.spare = nil, nil, nil, nil, nil
	sp := &l.sp
	if sp.f == nil {
		return nil
	}
	err := sp.f.Close()
	if sp.linked {
		err = errors.Join(err, os.Remove(sp.name))
	}
	sp.f, sp.w = nil, nil
	if err != nil {
		return fmt.Errorf("sequence checks: remove spill file %s: %w", sp.name, err)
	}
	return nil
}
