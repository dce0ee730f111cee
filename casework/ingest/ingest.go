// Package ingest runs the evidence → events → store pipeline: it walks each
// evidence item, picks a parser per file by content, and streams the events
// to one store writer. Every file seen is either parsed or counted as
// skipped with a reason; every record a parser could not read is a stored
// warning. Nothing is dropped silently.
package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/filestat"
	"github.com/jejak-forensics/jejak/timeline"
)

// Item is one registered evidence item, opened for walking.
type Item struct {
	SHA256 string
	Name   string
	Walker jfs.Walker
	// Zone, when set, is the zone this item's zone-less times are read
	// in instead of Config.Zone: the machine's own zone, as the SYSTEM
	// hive of the Windows it holds states it. Events then carry it as
	// jejak.time.zone_assumed.
	Zone *time.Location
	// ZoneSource says where Zone came from, for the summary
	// ("Windows/System32/config/SYSTEM (SE Asia Standard Time)").
	ZoneSource string
}

// Config says how to run.
type Config struct {
	Registry *parsers.Registry
	Zone     *time.Location
	// TempDir receives spool files for parsers that need random access to a
	// member of a compressed stream. It must be inside the case folder.
	TempDir string
	// SpoolLimit caps the bytes one such member may take in TempDir: 0 is
	// DefaultSpoolLimit, NoSpoolLimit lifts the cap. A member that expands
	// beyond it is skipped (SkipSpoolLimit, a warning naming the file and
	// the limit) and the walk goes on with the next file. A member read
	// whole by its first read (under 256 KiB) is given to the parser from
	// memory, takes nothing in TempDir and is not subject to the limit.
	SpoolLimit int64
	// Workers is how many evidence items are walked at once (default: the
	// number of cores). Encoding and storing run beside them.
	Workers int
	// BatchSize is the most events per store transaction. A batch also
	// ends at batchWeight map entries (see emitter.emit).
	BatchSize int
	// Progress, when set, is called about every 200ms and once at the end.
	Progress func(Progress)
	// Warn receives every warning as it happens (for stores and logs); the
	// summary counts them either way.
	Warn func(timeline.Warning)
	// Recycle gives the events of a parser that can reuse their memory
	// (timeline.Recycler: syslog) back to it once the sink's Write of
	// their batch has returned, so that a steady ingest allocates next to
	// nothing per event. Set it only when the sink keeps nothing of an
	// event after Write returns: no pointer to it, nor to a struct it
	// points to, nor a slice of its (the case store, which encodes a
	// batch before Write returns, and an Elasticsearch Stream do not;
	// casework's zone check copies what it keeps). Strings may be kept:
	// their bytes are never reused.
	Recycle bool
}

// Progress is a snapshot of a running ingest.
type Progress struct {
	Files, Events int64
	Bytes         int64 // content bytes read by parsers
	Current       string
	Done          bool
}

// Summary is what an ingest did. It is stored with the run and printed at
// the end, so an examiner can say exactly what was and was not read.
type Summary struct {
	Evidence    int   `json:"evidence"`
	Directories int64 `json:"directories,omitempty"`
	// Containers counts files expanded into their members (archives,
	// compressed files, zip-based documents): their own times are events,
	// their members are counted as files.
	Containers int64 `json:"containers,omitempty"`
	// Special counts symbolic links, devices, FIFOs and sockets: they have
	// times (and a link its target) but no content to parse.
	Special      int64            `json:"special_files,omitempty"`
	FilesSeen    int64            `json:"files_seen"`
	FilesParsed  int64            `json:"files_parsed"`
	FilesSkipped int64            `json:"files_skipped"`
	SkipReasons  map[string]int64 `json:"skip_reasons,omitempty"`
	Parsers      map[string]*Stat `json:"parsers,omitempty"`
	Events       int64            `json:"events"`
	Inserted     int64            `json:"inserted"`
	Duplicates   int64            `json:"duplicates"`
	Warnings     int64            `json:"warnings"`
	// Unrecovered counts deleted-record candidates in slack that could not
	// be decoded (listed in the warnings, not counted among them).
	Unrecovered int64 `json:"unrecovered,omitempty"`
	Problems    int64 `json:"container_problems"`
	// Notes counts what containers said of how they were read (listed in
	// the warnings as kind note): no failure.
	Notes int64 `json:"container_notes,omitempty"`
	Bytes int64 `json:"bytes_parsed"`
	// ZoneAssumed counts, per zone, the events whose source time carried no
	// zone and was read in that zone: the summary must say what was assumed.
	ZoneAssumed map[string]int64 `json:"zone_assumed,omitempty"`
	// ItemZones lists the items read in a zone of their own (Item.Zone)
	// rather than the case zone, and where each zone came from.
	ItemZones []ItemZone `json:"item_zones,omitempty"`
}

// ItemZone is the zone one evidence item's zone-less times were read in.
type ItemZone struct {
	Evidence string `json:"evidence"` // SHA-256
	Name     string `json:"name"`
	Zone     string `json:"zone"`
	Source   string `json:"source"`
}

// Stat counts one parser's work.
type Stat struct {
	Files    int64 `json:"files"`
	Events   int64 `json:"events"`
	Warnings int64 `json:"warnings"`
	Failed   int64 `json:"failed_files,omitempty"`
	// Records sums the accounting of parsers whose files declare their
	// record count (EVTX): declared, read live, recovered, unreadable.
	Records *parsers.Accounting `json:"records,omitempty"`
}

// Clean reports whether the run read everything it could: no record
// warnings, no container problems, no file that failed to open or parse, no
// well-known log left unread. Other files in no format jejak knows (a disk
// image holds thousands: documents, programs) and empty files are counted
// and listed, but are not failures.
func (s *Summary) Clean() bool {
	return s.Warnings == 0 && s.Problems == 0 && s.SkipReasons[SkipOpen] == 0 &&
		s.SkipReasons[SkipFailed] == 0 && s.SkipReasons[SkipKnownLog] == 0 &&
		s.SkipReasons[SkipSpoolLimit] == 0
}

// Skip reasons, stable strings for summaries and scripts.
const (
	SkipEmpty    = "empty file"
	SkipNoParser = "no parser recognises the content"
	// SkipKnownLog is a file named like a well-known log (auth.log, secure,
	// access.log, ERRORLOG, *.evtx, wtmp, *.log in a log folder…) that no
	// parser recognises: a hole in the timeline, so a failure.
	SkipKnownLog = "known log name, content not recognised"
	SkipOpen     = "could not be opened"
	// SkipSpoolLimit is a member of a compressed stream that a parser must
	// read at random (EVTX, a SQLite database…) and that expands beyond
	// Config.SpoolLimit: not read, so a failure.
	SkipSpoolLimit = "larger than the spool limit"
	SkipFailed     = "parser failed on the file"
)

type runner struct {
	cfg   Config
	batch chan *batch
	// spare holds batches written and recycled, for the emitters to fill
	// again (Config.Recycle only).
	spare chan *batch
	// jobs feeds the file workers: files whose whole content the walk has
	// read, parsed beside the walk (see walk).
	jobs chan *fileJob
	// aside is taken by the one file parsed on a goroutine of its own
	// beside the walk (readEntry: the $MFT of a volume), one at a time.
	aside chan struct{}

	mu  sync.Mutex
	sum Summary
	// curItem and curPath name the file seen last (Progress.Current),
	// set under mu with the count of files seen: joined only when
	// progress is reported, not for each of an image's 300k files.
	curItem, curPath string

	files, events, bytes atomic.Int64

	// enc is the sink when it encodes batches ahead, each event as it is
	// emitted (see emitter.emitFrom).
	enc timeline.EncodingSink
	// parsing is how many cores the parses under way keep busy: one for
	// each file parsed, every core for a parser that decodes on every core
	// (decodesOnEveryCore). An emitter encodes a batch in line only when
	// the parses fill every core (see emitter.inline).
	parsing atomic.Int64
}

// Run ingests the items into sink and returns the summary. It returns an
// error only when the run could not finish (store failure, cancellation);
// bad input is in the summary.
func Run(ctx context.Context, cfg Config, items []Item, sink timeline.Sink) (Summary, error) {
	if cfg.Registry == nil {
		return Summary{}, errors.New("ingest: no parser registry")
	}
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.BatchSize <= 0 {
		// Smaller batches were measured (issue 15, alternating runs on
		// two cores) and not kept: they lower the RSS of a syslog analyze
		// (1 GB: 345 -> 290 MB at 4,096, 277 MB at 2,048) but each batch
		// is a savepoint and a transaction ends more often when the
		// store's queue runs dry, so the 1 GB syslog's system time rose
		// (2,048: 4.6-5.7 -> 7.5-9.9 s) and the 300k-file NTFS analyze
		// took 14.4 against 13.9 CPU-s (4,096, medians of 4). An EVTX
		// batch ends at batchWeight first (~1,800 events) whatever this is.
		cfg.BatchSize = 10000
	}
	r := &runner{cfg: cfg, batch: make(chan *batch, 1), spare: make(chan *batch, 2*cfg.Workers+2), aside: make(chan struct{}, 1)}
	r.sum.Evidence = len(items)
	for _, it := range items {
		if it.Zone != nil {
			r.sum.ItemZones = append(r.sum.ItemZones, ItemZone{Evidence: it.SHA256, Name: it.Name, Zone: it.Zone.String(), Source: it.ZoneSource})
		}
	}
	r.sum.SkipReasons = map[string]int64{}
	r.sum.Parsers = map[string]*Stat{}
	r.enc, _ = sink.(timeline.EncodingSink)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// One writer owns the sink.
	writeErr := make(chan error, 1)
	go func() {
		var err error
		for b := range r.batch {
			if err != nil {
				if b.enc != nil {
					b.enc.Discard()
					b.enc = nil
				}
				continue // drain so producers never block after a failure
			}
			var st timeline.WriteStats
			var werr error
			if b.enc != nil {
				st, werr = r.enc.WriteEncoded(ctx, b.events, b.enc)
				b.enc = nil
			} else {
				st, werr = sink.Write(ctx, b.events)
			}
			r.mu.Lock()
			r.sum.Inserted += int64(st.Inserted)
			r.sum.Duplicates += int64(st.Duplicates)
			r.mu.Unlock()
			if werr != nil {
				err = fmt.Errorf("store: %w", werr)
				cancel()
				continue
			}
			r.recycle(b)
		}
		writeErr <- err
	}()

	stopProgress := r.startProgress()

	// File workers: one per core, shared by every walk. Each has its own
	// emitter, flushed when the jobs end.
	r.jobs = make(chan *fileJob, cfg.Workers)
	var workers sync.WaitGroup
	for range cfg.Workers {
		workers.Go(func() {
			out := &emitter{r: r, size: r.cfg.BatchSize}
			defer out.flush()
			for j := range r.jobs {
				j.run(ctx, out)
			}
		})
	}

	sem := make(chan struct{}, cfg.Workers)
	var wg sync.WaitGroup
	walkErrs := make([]error, len(items))
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int, it Item) {
			defer wg.Done()
			defer func() { <-sem }()
			walkErrs[i] = r.walk(ctx, it)
		}(i, it)
	}
	wg.Wait()
	close(r.jobs)
	workers.Wait()
	close(r.batch)
	werr := <-writeErr
	stopProgress()

	sum := r.summary()
	if werr != nil {
		return sum, werr
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}
	for i, err := range walkErrs {
		if err != nil {
			return sum, fmt.Errorf("evidence %s: %w", items[i].Name, err)
		}
	}
	return sum, nil
}

func (r *runner) summary() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.Bytes = r.bytes.Load()
	return s
}

func (r *runner) startProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				r.cfg.Progress(r.progress(true))
				return
			case <-t.C:
				r.cfg.Progress(r.progress(false))
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (r *runner) progress(done bool) Progress {
	r.mu.Lock()
	seen, item, path := r.sum.FilesSeen > 0, r.curItem, r.curPath
	r.mu.Unlock()
	var current string
	if seen {
		current = item + ": " + path
	}
	return Progress{Files: r.files.Load(), Events: r.events.Load(), Bytes: r.bytes.Load(),
		Current: current, Done: done}
}

func (r *runner) warn(w timeline.Warning) {
	r.mu.Lock()
	switch w.Kind {
	case timeline.WarnRecord, timeline.WarnFile:
		r.sum.Warnings++
	case timeline.WarnContainer:
		r.sum.Problems++
	case timeline.WarnUnrecovered:
		r.sum.Unrecovered++
	case timeline.WarnNote:
		r.sum.Notes++
	}
	r.mu.Unlock()
	if r.cfg.Warn != nil {
		r.cfg.Warn(w)
	}
}

func (r *runner) skip(sl *slot, it Item, e *jfs.Entry, reason, detail string) {
	msg := reason
	if detail != "" {
		msg += ": " + detail
	}
	r.skipWith(sl, it, e, reason, msg)
}

// skipWith is skip with the whole message (reason, ": ", detail) built by
// the caller: detect writes it at once, with no second copy to join it.
func (r *runner) skipWith(sl *slot, it Item, e *jfs.Entry, reason, msg string) {
	r.mu.Lock()
	r.sum.FilesSkipped++
	r.sum.SkipReasons[reason]++
	r.mu.Unlock()
	sl.warn(timeline.Warning{Kind: timeline.WarnSkipped, Evidence: it.SHA256, Chain: e.Chain,
		Path: e.Path, Offset: -1, Message: msg})
}

// walk ingests one evidence item. The walker hands over one file at a
// time, valid only during the call (a tar member is readable only while
// the stream stands at it), so each file is opened and its first blocks
// read on the walk's goroutine. A file whose whole content fits in that
// first read (most files of a system image: configuration, scripts, small
// logs) is then handed to the file workers with its bytes, and the walk
// goes on to the next file while it is recognised and parsed on another
// core. A larger file is parsed on a worker too when its content stays
// readable after the walker's call (jfs.Entry.Lasting: a file of a folder)
// and a worker is free; otherwise (a member of an archive or of a disk
// image's file system) on the walk's goroutine. Either way the file is
// read once: recognition works on the bytes already read.
//
// Summary counts add up the same in any order. Warnings are what an
// examiner reads in order, so they are released in walk order whatever
// file finishes first (sequencer): the stored warnings of a run do not
// depend on thread timing.
func (r *runner) walk(ctx context.Context, it Item) error {
	w := &walkState{seq: sequencer{r: r}}
	out := &emitter{r: r, size: r.cfg.BatchSize}
	defer out.flush()
	report := func(p *jfs.Problem) {
		kind := timeline.WarnContainer
		if errors.Is(p.Err, jfs.ErrNote) {
			kind = timeline.WarnNote
		}
		warning := timeline.Warning{Kind: kind, Evidence: it.SHA256, Chain: p.Chain,
			Path: p.Path, Offset: p.Offset, Message: p.Err.Error()}
		if w.cur != nil {
			// Met while reading the file at hand: among its warnings,
			// where it happened.
			w.cur.warn(warning)
			return
		}
		sl := w.seq.open()
		sl.warn(warning)
		w.seq.close(sl)
	}
	err := it.Walker.Walk(ctx, func(ctx context.Context, e *jfs.Entry) error {
		if err := w.failed(); err != nil {
			return err
		}
		// Container times are events whatever the content is.
		for _, ev := range filestat.Events(e) {
			if err := out.emit(ctx, it, e, filestat.Name, ev); err != nil {
				return err
			}
		}
		if e.Container {
			// An archive or compressed file the walker expands: its own
			// times are above, its content comes next as its members.
			r.mu.Lock()
			r.sum.Containers++
			r.mu.Unlock()
			return nil
		}
		if !e.Mode.IsRegular() {
			// Directories, links, devices, FIFOs and sockets are yielded for
			// their times only.
			r.mu.Lock()
			if e.Mode.IsDir() {
				r.sum.Directories++
			} else {
				r.sum.Special++
			}
			r.mu.Unlock()
			return nil
		}
		r.files.Add(1)
		r.mu.Lock()
		r.sum.FilesSeen++
		r.curItem, r.curPath = it.Name, e.Path
		r.mu.Unlock()
		return r.readEntry(ctx, w, it, e, out)
	}, report)
	// The files handed to the workers are this walk's too.
	w.pending.Wait()
	// What was parsed aside comes last, in walk order (see readEntry).
	w.seq.releaseAside()
	if err == nil {
		err = w.failed()
	}
	return err
}

// walkState is what one walk shares with the workers parsing its files.
type walkState struct {
	seq     sequencer
	pending sync.WaitGroup
	// cur is the slot of the file the walk's goroutine is reading, if
	// any: a problem the walker reports meanwhile goes into it.
	cur *slot
	mu  sync.Mutex
	err error // the first error that must stop the walk (store, context)
}

func (w *walkState) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

func (w *walkState) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// sequencer releases warnings in walk order. Each file (and each problem
// the walker reports) takes a slot in order; its warnings wait in the slot
// until every earlier slot is closed.
type sequencer struct {
	r     *runner
	mu    sync.Mutex
	queue []*slot // open or waiting slots, oldest first
	// aside are the slots of files parsed aside (readEntry), in walk
	// order: released after every other slot of the walk.
	aside []*slot
}

// slot holds one file's warnings until their turn. Only the goroutine
// working on the file adds to it; close hands it over.
type slot struct {
	warns []timeline.Warning
	done  bool
	// first holds the first warning: most files have one (the skip of a
	// file no parser reads), and an image has hundreds of thousands.
	first [1]timeline.Warning
}

func (sl *slot) warn(w timeline.Warning) {
	if sl.warns == nil {
		sl.warns = sl.first[:0]
	}
	sl.warns = append(sl.warns, w)
}

func (s *sequencer) open() *slot {
	sl := &slot{}
	s.add(sl)
	return sl
}

// add queues sl, a slot held elsewhere (a fileJob's own), as open does.
func (s *sequencer) add(sl *slot) {
	s.mu.Lock()
	s.queue = append(s.queue, sl)
	s.mu.Unlock()
}

// close marks sl finished and releases every finished slot at the head of
// the queue, in order.
func (s *sequencer) close(sl *slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl.done = true
	s.releaseLocked()
}

// setAside takes sl, the walk's newest slot, out of the queue: its
// warnings are released after all the walk's others (releaseAside), so
// that the slots after it need not wait for it. The place is fixed, so the
// stored warnings still do not depend on thread timing.
func (s *sequencer) setAside(sl *slot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.Index(s.queue, sl); i >= 0 {
		s.queue = slices.Delete(s.queue, i, i+1)
	}
	s.aside = append(s.aside, sl)
	s.releaseLocked()
}

// releaseAside releases the warnings of the slots set aside, in walk
// order, once they and every other slot of the walk are closed.
func (s *sequencer) releaseAside() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.aside {
		for _, w := range sl.warns {
			s.r.warn(w)
		}
	}
	s.aside = nil
}

// releaseLocked releases every finished slot at the head of the queue.
func (s *sequencer) releaseLocked() {
	n := 0
	for n < len(s.queue) && s.queue[n].done {
		for _, w := range s.queue[n].warns {
			s.r.warn(w)
		}
		s.queue[n] = nil
		n++
	}
	s.queue = s.queue[n:]
}

// readBuffers holds the per-file read buffers, 256 KiB each: large enough
// for detection's longer heads and the parsers' reads. One fresh buffer per
// file was most of what an image of many small files allocated (73 GiB at
// 300k files, zeroed each time, and collected: a fifth of the CPU and as
// much again in GC); a pooled one is reused as each file ends.
var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 256<<10) }}

// fileJob is one regular file between its first read and the end of its
// parse.
type fileJob struct {
	r    *runner
	w    *walkState
	sl   *slot
	it   Item
	e    *jfs.Entry
	br   *bufio.Reader   // the content from byte 0; returned to readBuffers by run
	cr   *countingReader // what br has read of the file
	head []byte          // the first parsers.HeadSize bytes (fewer for a short file)
	// whole is the file's whole content when it fit in the first read
	// (then the job runs on a worker and e is a detached copy), else nil.
	whole []byte
	// random says e gives random access (asked only where detection
	// depends on it: see readEntry).
	random bool
	// rc is the file's open content when the job runs on a worker with
	// whole nil (a Lasting entry), closed when the parse ends.
	rc io.Closer
	// p is the parser Registry.Match chose by the head when matched (nil:
	// none did), so that parse does not ask again.
	p       parsers.Parser
	matched bool
	// ownSlot, count and ownEntry are sl, cr and the detached e (of a
	// job handed to a worker with its whole content), allocated with the
	// job: a volume's files are a few hundred thousand jobs.
	ownSlot  slot
	count    countingReader
	ownEntry jfs.Entry
}

// decodesOnEveryCore tells the parsers that read at random (EVTX, $MFT):
// they decode a large file's chunks on every core themselves, and two of
// them side by side on two cores cost more CPU than one after the other
// (40 EVTX files: 0.9 CPU-s against 0.6), so their files stay on the walk's
// goroutine.
func decodesOnEveryCore(p parsers.Parser) bool {
	ra, ok := p.(parsers.RandomAccess)
	return ok && ra.NeedsReaderAt()
}

// readEntry opens e, reads its first blocks and either parses it here or,
// when that read holds the whole file or e is Lasting, hands it to a
// worker.
func (r *runner) readEntry(ctx context.Context, w *walkState, it Item, e *jfs.Entry, out *emitter) error {
	j := &fileJob{r: r, w: w, it: it, e: e}
	sl := &j.ownSlot
	j.sl = sl
	w.seq.add(sl)
	w.cur = sl
	defer func() { w.cur = nil }()
	rc, err := e.Open()
	if err != nil {
		r.skip(sl, it, e, SkipOpen, err.Error())
		w.seq.close(sl)
		return nil
	}
	cr := &j.count
	cr.r, cr.n = rc, &r.bytes
	j.cr = cr
	br := readBuffers.Get().(*bufio.Reader)
	br.Reset(cr)
	j.br = br
	head, err := br.Peek(parsers.HeadSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		// A broken stream before the first bytes: the walker reports the
		// container problem; the file itself is skipped.
		rc.Close()
		br.Reset(nil)
		readBuffers.Put(br)
		r.skip(sl, it, e, SkipOpen, err.Error())
		w.seq.close(sl)
		return nil
	}
	// Is the whole file in the buffer? bufio's first fill asked the
	// container for a whole buffer, so a small file usually is already;
	// at most one more read of a file known to be smaller than the buffer
	// (or of unknown size) tells. A larger file is not read further here.
	var whole []byte
	switch {
	case e.Size >= 0 && e.Size < int64(br.Size()):
		if b, err := br.Peek(int(e.Size) + 1); errors.Is(err, io.EOF) && len(b) == int(e.Size) {
			whole = b
		}
	case e.Size < 0:
		if b, err := br.Peek(br.Size()); errors.Is(err, io.EOF) && len(b) < br.Size() {
			whole = b
		}
	}
	if whole != nil {
		rc.Close()
		// Nothing reads the entry again: the bufio.Reader has it all.
		cr.r = eofReader{}
		j.whole = whole
		j.head = whole[:min(len(whole), parsers.HeadSize)]
		// Detection asks the entry for random access in two cases only
		// (matchLongHead, and sampling a file longer than the sample
		// windows): known now, while the entry is valid.
		if len(whole) > parsers.SampleWindows*parsers.SampleWindowSize ||
			(len(j.head) >= parsers.HeadSize && (isBinary(j.head) || zeroed(j.head))) {
			if a, ok, _ := e.ReaderAt(); ok {
				j.random = true
				if c, ok := a.(io.Closer); ok {
					c.Close()
				}
			}
		}
		detach(&j.ownEntry, e)
		j.e = &j.ownEntry
		w.cur = nil // the slot is the worker's now
		w.pending.Add(1)
		select {
		case r.jobs <- j:
			return nil
		case <-ctx.Done():
			w.pending.Done()
			j.release()
			w.seq.close(sl)
			return ctx.Err()
		}
	}
	// Nothing was consumed, so no Peek moved the buffered bytes: head
	// still holds the first ones.
	j.head = head
	j.p, j.matched = r.cfg.Registry.Match(e, head), true
	if decodesOnEveryCore(j.p) && e.Held() {
		r.aside <- struct{}{} // the one before is parsed
		j.e, j.rc = e.Detach(), rc
		w.cur = nil
		w.seq.setAside(sl)
		w.pending.Add(1)
		go j.runAside(ctx, r.cfg.BatchSize)
		return nil
	}
	if e.Lasting() && !decodesOnEveryCore(j.p) {
		// A larger file whose content stays readable after this call (a
		// file of a folder): a free worker parses it and the walk goes on,
		// so that a folder of large logs is parsed on every core. With
		// every worker busy it is parsed here, as any other large file,
		// rather than the walk waiting for one.
		d := e.Detach()
		j.e, j.rc = d, rc
		w.cur = nil
		w.pending.Add(1)
		select {
		case r.jobs <- j:
			return nil
		default:
			w.pending.Done()
			d.Release() // a held entry's: read here, within the call
			j.e, j.rc = e, nil
			w.cur = sl
		}
	}
	defer rc.Close()
	err = j.parse(ctx, out)
	j.release()
	w.seq.close(sl)
	return err
}

// detach copies what parsers and warnings read of e (its exported fields)
// into d, an entry that outlives the walker's call (the job's own): its
// content is not reachable through it (Open fails, as of
// jfs.NewEntry(path, chain, size, nil, nil)), and nothing asks it.
func detach(d, e *jfs.Entry) {
	*d = jfs.Entry{Path: e.Path, Chain: slices.Clone(e.Chain), Size: e.Size,
		Mode: e.Mode, Times: e.Times, Deleted: e.Deleted, Inode: e.Inode,
		Identity: e.Identity, Link: e.Link, Container: e.Container,
		InheritedTimes: e.InheritedTimes, ZoneAssumed: e.ZoneAssumed}
}

// eofReader stands in for a file's reader once all of it is buffered.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// run parses a file on a worker and closes its slot.
func (j *fileJob) run(ctx context.Context, out *emitter) {
	defer j.w.pending.Done()
	if err := j.parse(ctx, out); err != nil {
		j.w.fail(err)
	}
	if j.rc != nil {
		j.rc.Close()
	}
	j.release()
	j.e.Release() // a held entry's detached copy (jfs.Hold): read
	j.w.seq.close(j.sl)
}

// runAside parses a file beside the walk: the $MFT of a volume in a disk
// image (jfs.Hold), whose timeline is most of a volume's events and whose
// parse, on the walk's goroutine, held the walk of every other file of
// the volume until it ended (at 300k files, the two ran one after the
// other: docs/PERFORMANCE.md). Its parser decodes on every core already,
// so one such file at a time is parsed aside (runner.aside), as on the
// walk's goroutine; and its warnings come after the walk's others
// (sequencer.setAside), not before the files the walk met meanwhile.
func (j *fileJob) runAside(ctx context.Context, batch int) {
	defer func() { <-j.r.aside }()
	defer j.w.pending.Done()
	// Its events are not encoded as emitted (emitter.plain): the store
	// encodes its batches on every core.
	out := &emitter{r: j.r, size: batch, plain: true}
	if err := j.parse(ctx, out); err != nil {
		j.w.fail(err)
	}
	out.flush()
	j.rc.Close()
	j.release()
	j.e.Release() // the walker's Walk may end now
	j.w.seq.close(j.sl)
}

func (j *fileJob) release() {
	j.br.Reset(nil)
	readBuffers.Put(j.br)
	j.br, j.head, j.whole = nil, nil, nil
}

// parse recognises the file from its head (and, failing that, lines
// sampled from the bytes read) and runs the parser on it. It returns an
// error only when the run must stop.
func (j *fileJob) parse(ctx context.Context, out *emitter) error {
	r, it, e, br, head := j.r, j.it, j.e, j.br, j.head
	if len(head) == 0 {
		r.skip(j.sl, it, e, SkipEmpty, "0 bytes, nothing to parse")
		return nil
	}
	p := j.p
	if !j.matched {
		p = r.cfg.Registry.Match(e, head)
	}
	if p == nil {
		p = j.detect()
		if p == nil {
			return nil
		}
	}
	zone := r.cfg.Zone
	if it.Zone != nil {
		zone = it.Zone
	}
	src := &parsers.Source{Entry: e, R: br, Size: e.Size, Zone: zone, Parser: p.Name()}
	var (
		fileWarnings int64
		account      *parsers.Accounting
	)
	src.Account = func(a parsers.Accounting) { account = &a }
	src.Warn = func(re *parsers.RecordError) {
		kind := timeline.WarnRecord
		if errors.Is(re.Err, parsers.ErrUnrecovered) {
			kind = timeline.WarnUnrecovered
		} else {
			fileWarnings++
		}
		j.sl.warn(recordWarning(kind, it, e, p.Name(), re))
	}
	if ra, ok := p.(parsers.RandomAccess); ok && ra.NeedsReaderAt() {
		if j.whole != nil {
			// The bytes are here: a copy, so that reading src.R (which
			// may move the buffer's contents) leaves it alone.
			src.ReaderAt, src.Size = bytes.NewReader(bytes.Clone(j.whole)), int64(len(j.whole))
		} else {
			at, size, cleanup, err := r.readerAt(e, br)
			if errors.Is(err, ErrSpoolLimit) {
				r.skip(j.sl, it, e, SkipSpoolLimit, err.Error())
				return nil
			}
			if err != nil {
				r.skip(j.sl, it, e, SkipOpen, err.Error())
				return nil
			}
			defer cleanup()
			src.ReaderAt, src.Size = at, size
			// A parser given the file's own random access (an EVTX file
			// in an image) reads it there, not through the counted
			// stream: what the stream did not read is counted as parsed,
			// once, after the parse, so that bytes_parsed is the size of
			// what parsers were given whatever way they read it (it said
			// 10 MiB for 87 MB of EVTX).
			defer func() {
				if j.cr != nil && size > j.cr.read {
					r.bytes.Add(size - j.cr.read)
				}
			}()
		}
	}
	var (
		events int64
		rc     timeline.Recycler
	)
	if r.cfg.Recycle {
		rc, _ = p.(timeline.Recycler)
	}
	busy := int64(1)
	if decodesOnEveryCore(p) {
		busy = int64(runtime.GOMAXPROCS(0))
	}
	r.parsing.Add(busy)
	perr := p.Parse(ctx, src, func(ev *timeline.Event) error {
		events++
		return out.emitFrom(ctx, it, e, p.Name(), rc, ev)
	})
	r.parsing.Add(-busy)
	r.mu.Lock()
	st := r.sum.Parsers[p.Name()]
	if st == nil {
		st = &Stat{}
		r.sum.Parsers[p.Name()] = st
	}
	st.Files++
	st.Events += events
	st.Warnings += fileWarnings
	if account != nil {
		if st.Records == nil {
			st.Records = &parsers.Accounting{}
		}
		st.Records.Add(*account)
	}
	r.mu.Unlock()
	if perr != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if out.err != nil {
			return out.err
		}
		r.mu.Lock()
		st.Failed++
		r.sum.SkipReasons[SkipFailed]++
		r.mu.Unlock()
		// Events emitted before the failure are kept; the file is reported.
		j.sl.warn(timeline.Warning{Kind: timeline.WarnFile, Evidence: it.SHA256, Chain: e.Chain,
			Path: e.Path, Parser: p.Name(), Offset: -1, Message: perr.Error()})
		return nil
	}
	r.mu.Lock()
	r.sum.FilesParsed++
	r.mu.Unlock()
	return nil
}

// recordWarning is the stored form of a parser's RecordError. It keeps
// what the parser said of itself (issue 18): the parser's own name when it
// gives one (a parser may hand part of a file to another), and its path
// when that names something inside the file (a member, a stream), which
// the entry's path alone would not.
func recordWarning(kind timeline.WarningKind, it Item, e *jfs.Entry, matched string, re *parsers.RecordError) timeline.Warning {
	w := timeline.Warning{Kind: kind, Evidence: it.SHA256, Chain: e.Chain, Path: e.Path,
		Parser: matched, Offset: re.Offset, Record: re.Record, Message: re.Err.Error()}
	if re.Parser != "" {
		w.Parser = re.Parser
	}
	if len(re.Path) > len(e.Path) && strings.HasPrefix(re.Path, e.Path) {
		w.Path = re.Path
	}
	return w
}

// readerAt gives random access to an entry: directly when the container
// allows it, else by spooling the stream to a temp file in the case folder.
func (r *runner) readerAt(e *jfs.Entry, br *bufio.Reader) (io.ReaderAt, int64, func(), error) {
	if at, ok, err := e.ReaderAt(); ok {
		cleanup := func() {}
		if c, ok := at.(io.Closer); ok {
			cleanup = func() { c.Close() }
		}
		return at, e.Size, cleanup, nil
	} else if err != nil {
		return nil, 0, nil, err
	}
	if r.cfg.TempDir == "" {
		return nil, 0, nil, errors.New("random access needed but no spool folder configured")
	}
	limit := r.cfg.SpoolLimit
	if limit == 0 {
		limit = DefaultSpoolLimit
	}
	tooLarge := func(what string) error {
		return fmt.Errorf("%w: %s %s, more than the spool limit of %d bytes (%s); raise --spool-limit to read it",
			ErrSpoolLimit, e.Path, what, limit, sizeName(limit))
	}
	if limit > 0 && e.Size > limit {
		// Known ahead (a tar member): nothing is written.
		return nil, 0, nil, tooLarge(fmt.Sprintf("is %d bytes", e.Size))
	}
	f, err := os.CreateTemp(r.cfg.TempDir, "spool-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spool: %w", err)
	}
	cleanup := func() { f.Close(); os.Remove(f.Name()) }
	var src io.Reader = br
	if limit > 0 {
		// One byte past the limit tells "exactly the limit" from "more".
		src = io.LimitReader(br, limit+1)
	}
	n, err := io.Copy(f, src)
	if err != nil {
		cleanup()
		return nil, 0, nil, fmt.Errorf("spool %s: %w", e.Path, err)
	}
	if limit > 0 && n > limit {
		cleanup()
		return nil, 0, nil, tooLarge("expands to")
	}
	return f, n, cleanup, nil
}

// emitter fills in what the pipeline owns (evidence, chain, path, identity,
// parser), finalizes each event and hands full batches to the writer. Each
// goroutine that parses has its own; its counts join the summary with each
// batch, not under the summary's lock for every event.
type emitter struct {
	r    *runner
	size int
	buf  *batch
	err  error
	// plain: the events are not encoded as they are emitted, even when
	// the sink could (timeline.EncodingSink), but by the sink's Write.
	// For a file parsed aside (runAside): one goroutine emits all of a
	// volume's $MFT events, which its parser decodes on every core, and
	// encoding them in line made that goroutine the pipeline's slowest
	// (300k-file image analyze: wall 5.57, 5.87 -> 6.60, 5.99 s in two
	// pairs; with this, 15.6 -> 13.9 s mean of 3 at a higher load).
	plain bool
	// inline says buf's events are encoded as they are emitted. It is
	// decided as each batch starts: only while the parses under way keep
	// every core busy (runner.parsing). A single large text file is parsed
	// on one goroutine, and encoding and compressing its events in line
	// made that goroutine the run's pace with the other core half idle;
	// left to the store's Write, they are encoded on every core (1 GB
	// syslog analyze, idle host: 39.2 -> 33.2 s wall, 56.4 -> 54.7 CPU-s;
	// 200 MB, two pairs: 7.45, 7.60 -> 6.67, 6.78 s, CPU equal).
	inline bool
	// weight is the events in buf plus their map entries.
	weight int
	// events and zoneAssumed are counted since the last batch.
	events      int64
	zoneAssumed map[string]int64
	// zone and zoneRun count the run of events read in one assumed zone
	// that the last ones were: a file's events are all read in its zone,
	// so the map above takes a count per run, not a lookup per event.
	zone    string
	zoneRun int64
}

func (o *emitter) emit(ctx context.Context, it Item, e *jfs.Entry, parser string, ev *timeline.Event) error {
	return o.emitFrom(ctx, it, e, parser, nil, ev)
}

// emitFrom is emit of an event that rc, when not nil, takes back once
// its batch is written (see runner.recycle).
func (o *emitter) emitFrom(ctx context.Context, it Item, e *jfs.Entry, parser string, rc timeline.Recycler, ev *timeline.Event) error {
	p := &ev.Jejak.Provenance
	p.EvidenceSHA256 = it.SHA256
	p.EvidenceName = it.Name
	p.Chain = e.Chain
	p.Path = e.Path
	p.Identity = e.Identity
	p.Parser = parser
	if e.Deleted && !slices.Contains(ev.Jejak.Tags, "deleted") {
		// Content read from a deleted file: say so on every event of it.
		ev.Jejak.Tags = append(ev.Jejak.Tags, "deleted")
	}
	ev.Finalize()
	if o.buf == nil {
		o.buf = o.r.newBatch(o.size)
		o.inline = o.r.enc != nil && !o.plain && o.r.parsing.Load() >= int64(runtime.GOMAXPROCS(0))
	}
	b := o.buf
	b.events = append(b.events, ev)
	if o.inline {
		// Encoded now, on this core, while the event is in its caches.
		if b.enc == nil {
			b.enc = o.r.enc.NewEncoding()
		}
		b.enc.Add(ev)
	}
	if rc != nil {
		if n := len(b.owners); n == 0 || b.owners[n-1].rc != rc || b.owners[n-1].end != len(b.events)-1 {
			b.owners = append(b.owners, owner{start: len(b.events) - 1, rc: rc})
		}
		b.owners[len(b.owners)-1].end = len(b.events)
	}
	o.r.events.Add(1)
	o.events++
	if t := ev.Jejak.Time; t != nil && t.ZoneAssumed != "" {
		if t.ZoneAssumed != o.zone {
			o.endZoneRun()
			o.zone = t.ZoneAssumed
		}
		o.zoneRun++
	}
	o.weight += 1 + len(ev.Jejak.Data)
	if ev.Winlog != nil {
		o.weight += len(ev.Winlog.EventData)
	}
	if len(b.events) >= o.size || o.weight >= batchWeight {
		return o.send(ctx)
	}
	return nil
}

// batchWeight bounds a batch by what its events hold rather than by their
// number: a Windows record carries two maps of ~10 entries each, and 10,000
// of them held until their batch is stored cost memory and cache for
// nothing. At 40,000, EVTX batches hold ~1,800 events (analyze median CPU
// 1.76 -> 1.67 and 1.70 -> 1.50 CPU-s in two series of 7 alternating runs,
// peak RSS 177 -> 131-142 MB), while syslog events (weight 1-3) keep their
// batches of 10,000 (50 MB analyze unchanged). Weighing events moves only
// where batches, and so the store's compressed blocks, end: the documents
// stored are the same. Lighter and heavier weights were measured again on
// the 40-copy EVTX analyze (3 alternating rounds): 5,000 to 20,000 cost
// 1.05-1.21 CPU-s against 1.00-1.05, 80,000 raised peak RSS to 142-150 MB;
// minor page faults stayed 31k-37k at every weight (and 30k-33k with the
// collector at GOGC=100), so they are not the batches'.
const batchWeight = 40000

// endZoneRun adds the run of events counted in o.zone to zoneAssumed.
func (o *emitter) endZoneRun() {
	if o.zoneRun == 0 {
		return
	}
	if o.zoneAssumed == nil {
		o.zoneAssumed = map[string]int64{}
	}
	o.zoneAssumed[o.zone] += o.zoneRun
	o.zoneRun = 0
}

// count adds what was counted since the last batch to the summary.
func (o *emitter) count() {
	if o.events == 0 {
		return
	}
	o.endZoneRun()
	o.r.mu.Lock()
	o.r.sum.Events += o.events
	for z, n := range o.zoneAssumed {
		if o.r.sum.ZoneAssumed == nil {
			o.r.sum.ZoneAssumed = map[string]int64{}
		}
		o.r.sum.ZoneAssumed[z] += n
	}
	o.r.mu.Unlock()
	o.events = 0
	clear(o.zoneAssumed)
}

func (o *emitter) send(ctx context.Context) error {
	o.count()
	o.weight = 0
	if o.buf == nil || len(o.buf.events) == 0 {
		return nil
	}
	select {
	case o.r.batch <- o.buf:
		o.buf = nil
		return nil
	case <-ctx.Done():
		o.err = ctx.Err()
		return o.err
	}
}

func (o *emitter) flush() { _ = o.send(context.Background()) }

// batch is what an emitter hands the writer: events, and which of them
// go back to the parser that made them once written (Config.Recycle).
type batch struct {
	events []*timeline.Event
	owners []owner
	// enc is the events' encoding, made as they were emitted, when the
	// sink encodes ahead (timeline.EncodingSink).
	enc timeline.Encoding
}

// owner says that events[start:end] of a batch are rc's to take back.
type owner struct {
	start, end int
	rc         timeline.Recycler
}

// newBatch returns an empty batch, one written and recycled when there is
// one (its slices keep their capacity).
func (r *runner) newBatch(size int) *batch {
	select {
	case b := <-r.spare:
		return b
	default:
		return &batch{events: make([]*timeline.Event, 0, size)}
	}
}

// recycle gives b's events back to the parsers that made them, now that
// the sink has written them, and b itself to the emitters. Nothing of the
// pipeline holds an event past its Write: emit copies what it counts
// (zone names are strings), progress and warnings hold no event.
func (r *runner) recycle(b *batch) {
	if !r.cfg.Recycle {
		return
	}
	for _, o := range b.owners {
		for _, ev := range b.events[o.start:o.end] {
			o.rc.Recycle(ev)
		}
	}
	clear(b.events)
	b.events, b.owners = b.events[:0], b.owners[:0]
	select {
	case r.spare <- b:
	default:
	}
}

// countingReader counts the bytes parsers read, and keeps a read error:
// the first read of a file asks for a whole buffer, and bufio hands the
// error met there to that read only. A parser reading on from the
// buffered bytes must meet it again where the content broke, not a clean
// end of file.
type countingReader struct {
	r    io.Reader
	n    *atomic.Int64
	read int64 // of this file
	err  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	c.read += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// detect looks past the head of a file no parser took by its head: comment
// lines, a banner or a damaged first block may hide a log whose other lines
// are well formed. Lines sampled from through the file are scored against
// the text formats (parsers.Registry.Detect). It returns the parser to read
// the whole file with, or nil after reporting the skip with the formats
// tried and the nearest one. br is not consumed: parsing starts at byte 0.
func (j *fileJob) detect() parsers.Parser {
	r, it, e, br, head := j.r, j.it, j.e, j.br, j.head
	if p := j.matchLongHead(); p != nil {
		return p
	}
	if name := untimedFormat(head); name != "" {
		// Recognised, with no time in it to read (see untimed.go): not a
		// hole in the timeline, whatever the file is named.
		r.skip(j.sl, it, e, SkipUntimed, name+"; the file's own times are on the timeline")
		return nil
	}
	reason := SkipNoParser
	// The evidence item's own name counts as the top folder: /var/log
	// registered as evidence is a log folder.
	known := knownLogIn(it.Name, e.Path, e.Chain)
	if known {
		reason = SkipKnownLog
	}
	binary := isBinary(head)
	what := "text in no known log format"
	switch {
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}) || bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		// SQL Server's ERRORLOG and many Windows logs: text all the same,
		// and the examiner should hear it is one no parser decodes.
		what = "UTF-16 text, which no parser reads"
	case binary:
		what = binaryWhat(head)
	}
	if binary && !zeroed(head) && !known {
		// A binary file (a program, an image, a database) is not searched
		// for text lines: a disk image holds too many. A log's name or a
		// zeroed first block is reason enough to look.
		r.skip(j.sl, it, e, reason, what)
		return nil
	}
	const windows = parsers.SampleWindows * parsers.SampleWindowSize
	var (
		at       io.ReaderAt
		start    []byte
		complete bool
	)
	if j.whole != nil {
		// The whole file was read at once: sampled from those bytes, the
		// same sample the entry would give, without reading it again.
		start, complete = j.whole, true
		if j.random && len(j.whole) > windows {
			// As with the entry's random access: the first windows'
			// worth, the other windows at their offsets.
			at, start, complete = bytes.NewReader(j.whole), j.whole[:windows], false
		}
	} else {
		budget := br.Size() // a stream: sample what one buffer holds
		// Without random access (a compressed member, or the container
		// failed to give it) the buffered stream serves alone.
		if a, ok, _ := e.ReaderAt(); ok {
			if c, ok := a.(io.Closer); ok {
				defer c.Close()
			}
			at, budget = a, windows
		}
		// A stream that breaks after the head is sampled as far as it was
		// read; the walker reports the container problem.
		var err error
		start, err = br.Peek(budget)
		complete = errors.Is(err, io.EOF)
	}
	d := r.cfg.Registry.DetectSample(e, start, complete, at, e.Size)
	if d.Parser != nil {
		return d.Parser
	}
	// reason: what (d), without fmt: see parsers.Detection.String.
	var buf [256]byte // on the stack: only the string is kept
	msg := buf[:0]
	msg = append(append(append(msg, reason...), ": "...), what...)
	msg = append(msg, " ("...)
	msg = append(d.AppendText(msg), ')')
	r.skipWith(j.sl, it, e, reason, string(msg))
	return nil
}

// binaryWhat is fmt.Sprintf("binary content, first bytes % x", the first
// eight bytes of head) without fmt: an image's programs and databases are
// many (TestBinaryWhat).
func binaryWhat(head []byte) string {
	const hex = "0123456789abcdef"
	var buf [len("binary content, first bytes ") + 8*3]byte
	b := append(buf[:0], "binary content, first bytes "...)
	for i, c := range head[:min(8, len(head))] {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, hex[c>>4], hex[c&0x0f])
	}
	return string(b)
}

// streamHead is how far matchLongHead looks into a stream: the file
// header block of an EVTX file and its first two chunks' signatures.
const streamHead = 4096 + 2*65536 + 8

// matchLongHead asks the parsers again, with a longer head, about a binary
// or zeroed head of a stream member: without random access, Match sees only
// the head, and a format whose header is damaged may still be known by the
// structures after it (EVTX chunks at 4096 + n·65536). A file with random
// access gives each parser its own look past the head already.
func (j *fileJob) matchLongHead() parsers.Parser {
	e, head := j.e, j.head
	if len(head) < parsers.HeadSize || !(isBinary(head) || zeroed(head)) {
		return nil
	}
	var long []byte
	if j.whole != nil {
		if j.random {
			return nil
		}
		long = j.whole[:min(len(j.whole), streamHead)]
	} else {
		if a, ok, _ := e.ReaderAt(); ok {
			if c, ok := a.(io.Closer); ok {
				c.Close()
			}
			return nil
		}
		long, _ = j.br.Peek(min(j.br.Size(), streamHead))
	}
	if len(long) <= len(head) {
		return nil
	}
	return j.r.cfg.Registry.Match(e, long)
}

// isBinary tells content that is not text: more than one byte in twenty a
// NUL or a control character other than tab and line ends. Eight bytes
// are judged at a time (controlBytes): it runs on the head of every file
// no parser takes by its head, most files of an image.
func isBinary(b []byte) bool {
	bin, n := 0, len(b)
	for ; len(b) >= 8; b = b[8:] {
		// A word of text (every byte 0x20 or more, most words of most
		// heads) counts nothing.
		if x := binary.LittleEndian.Uint64(b); atLeast20(x) != highs {
			bin += bits.OnesCount64(controlBytes(x))
		}
	}
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' {
			bin++
		}
	}
	return bin > n/20
}

// Word constants of controlBytes and zeroBytes.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	low7  = 0x7f7f7f7f7f7f7f7f
)

// controlBytes returns the high bit of each byte of x that is below 0x20
// but for tab, line feed and carriage return (a NUL is one), and no other
// bit. Each byte is judged alone: no sum carries into the next byte.
func controlBytes(x uint64) uint64 {
	blanks := zeroBytes(x^'\t'*ones) | zeroBytes(x^'\n'*ones) | zeroBytes(x^'\r'*ones)
	return ^atLeast20(x) & highs &^ blanks
}

// atLeast20 returns the high bit of each byte of x that is 0x20 or more:
// (c&0x7f)+0x60 reaches 0x80 exactly when c&0x7f >= 0x20, and c's own
// high bit stands for c >= 0x80.
func atLeast20(x uint64) uint64 {
	return ((x & low7) + (0x80-0x20)*ones | x) & highs
}

// zeroBytes returns the high bit of each zero byte of y: (c&0x7f)+0x7f
// reaches 0x80 exactly when c&0x7f is not 0, and c's high bit is set
// when c >= 0x80.
func zeroBytes(y uint64) uint64 {
	return ^((y & low7) + low7 | y) & highs
}

// zeroed reports a block of NUL bytes (line ends allowed): space a damaged
// or preallocated log had not written, not the content of another format.
func zeroed(b []byte) bool {
	for _, c := range b {
		if c != 0 && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// SortedReasons returns the skip reasons in a stable order for printing.
func (s *Summary) SortedReasons() []string {
	keys := make([]string, 0, len(s.SkipReasons))
	for k := range s.SkipReasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
