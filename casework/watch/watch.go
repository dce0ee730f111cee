// Package watch is jejak's live watch during data entry: it follows log
// files as they grow (across rotations, with offsets kept in the case
// folder so a restart neither loses nor repeats a line) and receives syslog
// over UDP, TCP and TLS (RFC 5424 and RFC 3164, newline-framed or
// octet-counted per RFC 6587). Each line is read by the parsers batch
// ingest uses (the registry's text parser a followed file's content
// selects; parsers/syslog for what arrives over the network), stored in
// batches at most Config.Latency apart, and run through the hunting rules
// that can judge a stream (see hunter), whose findings become alerts.
//
// Provenance of a watched event: evidence name "watch"; the chain names
// the source ("follow:/var/log/auth.log", "syslog-tcp:127.0.0.1:5514");
// the path is the file, or the sender's address; the identity is the
// file's generation (device, inode, hash of its first line) or the watch
// session; offset and record are the line's file offset and line number,
// or the listener's receive sequence number. Event IDs are therefore
// deterministic: a line read again after a crash is a duplicate to the
// store, not a second row. There is no evidence hash: what a watch
// receives was never registered evidence.
//
// Nothing received is dropped silently: lines wait in a bounded queue in
// memory, then in a bounded spool file in the case folder, and only when
// that is full too are they dropped — and counted, per source. A spool a
// killed watch left behind is stored at the next start.
//
// Limits an examiner should know:
//   - Lines are parsed in the runs a batch holds: a record continued on a
//     later line (a syslog continuation, a stack trace) that reaches the
//     watch in a later batch than its first line is a warning, not a part
//     of the record. Parsers that need a file's header (W3C #Fields) see
//     it only in the batch that holds it.
//   - The watch keeps a received line in memory until it is stored: a
//     kill -9 loses what senders had sent and the store had not yet taken
//     (syslog has no acknowledgement to resend it). Followed files lose
//     nothing: their offsets are committed only after the store.
//   - copytruncate itself loses what the writer appends between the copy
//     and the truncation; the watch reads the copy for what it had not
//     read, not that.
//   - The latency bound holds while the store keeps up; beyond that the
//     queue and the spool absorb the excess and Summary.MaxLatency says
//     how long lines waited.
package watch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jejak-forensics/jejak/casework/hunt"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Config says what to watch and where events and alerts go.
type Config struct {
	// Dir is the watch's folder in the case (offsets, spool).
	Dir string
	// Follow lists log files to follow.
	Follow []string
	// Listen lists syslog listeners: udp://HOST:PORT, tcp://…, tls://….
	Listen []string
	// TLS is the server configuration of tls:// listeners.
	TLS *tls.Config
	// Registry picks a followed file's parser by its content; Syslog reads
	// what listeners receive.
	Registry *parsers.Registry
	Syslog   parsers.Parser
	// Zone is the case zone (times without one are read in it).
	Zone *time.Location
	// Sink stores events (the case store, teed to Elasticsearch).
	Sink timeline.Sink
	// Warn receives every warning (unreadable lines, cut messages, missing
	// files); they are also counted per source.
	Warn func(timeline.Warning)
	// Latency bounds how long a received line waits before its batch is
	// stored (default 500 ms, at most 1 s); BatchSize bounds a batch.
	Latency   time.Duration
	BatchSize int
	// QueueSize is the number of lines held in memory (default 65536);
	// SpoolLimit the bytes of the spool file behind it (default 256 MiB).
	QueueSize  int
	SpoolLimit int64
	// Poll is how often followed files are checked (default 200 ms).
	Poll time.Duration
	// Rules are the hunting rules run on the stream (nil: StreamRules of
	// the built-in rules); After is the hunt cut-off (events before it are
	// the baseline). NoHunt turns the stream hunt off.
	Rules  []*hunt.Rule
	After  time.Time
	NoHunt bool
	// Baseline, with After, is read once at the start for the events
	// before the cut-off (the case store: what was ingested before the
	// watch), so first-sighting rules know what is not new.
	Baseline hunt.Searcher
	// Alerts receives each alert as one JSON line (stdout); Webhook, when
	// set, is POSTed each alert as JSON.
	Alerts  io.Writer
	Webhook string
	// Now is the clock (receive times).
	Now func() time.Time
}

// SourceStats is what one file or listener delivered.
type SourceStats struct {
	Source      string `json:"source"`
	Parser      string `json:"parser,omitempty"`
	Lines       int64  `json:"lines"`
	Bytes       int64  `json:"bytes"`
	Events      int64  `json:"events"`
	Duplicates  int64  `json:"duplicates,omitempty"` // total only: the store counts per batch
	Warnings    int64  `json:"warnings"`
	Spooled     int64  `json:"spooled"`
	Dropped     int64  `json:"dropped"`
	Alerts      int64  `json:"alerts"`
	Rotations   int64  `json:"rotations,omitempty"`
	Truncations int64  `json:"truncations,omitempty"`
	Connections int64  `json:"connections,omitempty"`
}

// Summary is what a watch received, per source, and what became of it.
type Summary struct {
	Started time.Time     `json:"started"`
	Stopped time.Time     `json:"stopped"`
	Sources []SourceStats `json:"sources"`
	Total   SourceStats   `json:"total"`
	Batches int64         `json:"batches"`
	// Baseline is how many events from before the cut-off the stream
	// hunt compared with.
	Baseline  int64 `json:"baseline_events,omitempty"`
	Recovered int64 `json:"recovered_from_spool,omitempty"`
	// MaxLatency is the longest a line waited between intake and the end
	// of its batch's store write.
	MaxLatency time.Duration `json:"max_latency_ns"`
	Alerts     AlertStats    `json:"alerts"`
}

type counters struct {
	Lines, Bytes, Events, Warnings, Spooled, Dropped, Alerts atomic.Int64
	Rotations, Truncations, Connections                      atomic.Int64
}

type source struct {
	label  string
	parser atomic.Pointer[parserBox]
}

type parserBox struct{ p parsers.Parser }

// Watcher is one watch session.
type Watcher struct {
	cfg       Config
	sources   []*source
	stats     []*counters
	listeners []*listener
	followers []*follower
	offsets   *offsets
	q         *queue
	session   string
	seqMu     sync.Mutex
	hunter    *hunter
	recovered []*item
	started   time.Time
	maxLat    atomic.Int64
	batches   atomic.Int64
	dups      atomic.Int64
}

// New binds the listeners and loads the offsets; Run starts the watch.
func New(cfg Config) (*Watcher, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Latency <= 0 || cfg.Latency > time.Second {
		cfg.Latency = 500 * time.Millisecond
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 5000
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 65536
	}
	if cfg.SpoolLimit <= 0 {
		cfg.SpoolLimit = 256 << 20
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Zone == nil {
		cfg.Zone = time.UTC
	}
	if cfg.Sink == nil || cfg.Syslog == nil || cfg.Registry == nil {
		return nil, errors.New("watch: Sink, Syslog and Registry are required")
	}
	if len(cfg.Follow) == 0 && len(cfg.Listen) == 0 {
		return nil, errors.New("nothing to watch: give --follow FILE or --listen URL")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	w := &Watcher{cfg: cfg, started: cfg.Now()}
	// The session tells this run's received lines from an earlier run's:
	// a listener's sequence numbers start again at 1.
	w.session = "session:" + strconv.FormatInt(w.started.UnixNano(), 10)
	var err error
	if w.offsets, err = loadOffsets(filepath.Join(cfg.Dir, "offsets.json")); err != nil {
		return nil, err
	}
	spool := filepath.Join(cfg.Dir, "spool.jsonl")
	if w.recovered, err = recoverSpool(spool); err != nil {
		return nil, err
	}
	if len(w.recovered) > 0 {
		if err := os.Rename(spool, spool+".recovering"); err != nil {
			return nil, err
		}
	}
	w.q = newQueue(cfg.QueueSize, spool, cfg.SpoolLimit)
	w.q.spooled = func(i int) { w.stats[i].Spooled.Add(1) }
	w.q.dropped = func(i int) {
		if i >= 0 {
			w.stats[i].Dropped.Add(1)
		}
	}
	seen := map[string]bool{}
	for _, p := range cfg.Follow {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		i := w.addSource("follow:" + abs)
		w.followers = append(w.followers, &follower{w: w, src: i, path: abs})
	}
	for _, s := range cfg.Listen {
		network, addr, err := parseListen(s)
		if err != nil {
			w.closeListeners()
			return nil, err
		}
		l := &listener{w: w, network: network}
		if err := l.bind(addr, cfg.TLS); err != nil {
			w.closeListeners()
			return nil, fmt.Errorf("--listen %s: %w", s, err)
		}
		// The label names the bound address (a port 0 is resolved).
		l.src = w.addSource("syslog-" + network + ":" + l.addr().String())
		w.sources[l.src].parser.Store(&parserBox{cfg.Syslog})
		w.listeners = append(w.listeners, l)
	}
	// Lines a killed watch left in the spool belong to the source of
	// their label; a listener of that run on another port gets a source
	// of its own. Done here, before any goroutine reads the sources.
	byLabel := map[string]int{}
	for i, s := range w.sources {
		byLabel[s.label] = i
	}
	for _, it := range w.recovered {
		i, ok := byLabel[it.Label]
		if !ok {
			i = w.addSource(it.Label)
			w.sources[i].parser.Store(&parserBox{cfg.Syslog})
			byLabel[it.Label] = i
		}
		it.Src = i
	}
	if !cfg.NoHunt {
		rules := cfg.Rules
		if rules == nil {
			all, err := hunt.Builtin()
			if err != nil {
				w.closeListeners()
				return nil, err
			}
			rules = StreamRules(all)
		}
		w.hunter = newHunter(w, rules)
		if cfg.Baseline != nil && !cfg.After.IsZero() {
			if err := w.hunter.loadBaseline(context.Background(), cfg.Baseline, cfg.After); err != nil {
				w.closeListeners()
				return nil, fmt.Errorf("read the baseline before %s: %w", cfg.After.Format(time.RFC3339), err)
			}
		}
	}
	return w, nil
}

func (w *Watcher) addSource(label string) int {
	w.sources = append(w.sources, &source{label: label})
	w.stats = append(w.stats, &counters{})
	return len(w.sources) - 1
}

func (w *Watcher) closeListeners() {
	for _, l := range w.listeners {
		l.close()
	}
}

// Addrs are the listeners' bound addresses, in --listen order.
func (w *Watcher) Addrs() []net.Addr {
	var out []net.Addr
	for _, l := range w.listeners {
		out = append(out, l.addr())
	}
	return out
}

// Run watches until ctx ends, then stops intake, stores everything queued
// (memory and spool), persists the offsets and returns the summary.
func (w *Watcher) Run(ctx context.Context) (Summary, error) {
	intake, stopIntake := context.WithCancel(context.WithoutCancel(ctx))
	defer stopIntake()
	var wg sync.WaitGroup
	errs := make(chan error, len(w.listeners)+len(w.followers)+1)
	for _, l := range w.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.run(intake); err != nil {
				errs <- fmt.Errorf("%s: %w", w.sources[l.src].label, err)
			}
		}()
	}
	for _, f := range w.followers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.run(intake); err != nil {
				errs <- fmt.Errorf("%s: %w", f.path, err)
			}
		}()
	}
	var hwg sync.WaitGroup
	hctx, stopHunt := context.WithCancel(context.WithoutCancel(ctx))
	if w.hunter != nil {
		hwg.Add(1)
		go func() { defer hwg.Done(); w.hunter.run(hctx) }()
	}
	storeErr := make(chan error, 1)
	go func() { storeErr <- w.store(ctx) }()

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	case runErr = <-storeErr:
		storeErr = nil
	}
	stopIntake()
	if storeErr == nil {
		// The writer is gone: a follower waiting for room would wait
		// forever.
		w.q.close()
	}
	wg.Wait()
	w.q.close()
	if storeErr != nil {
		if err := <-storeErr; err != nil && runErr == nil {
			runErr = err
		}
	}
	if err := w.q.finish(); err != nil && runErr == nil {
		runErr = err
	}
	if err := w.offsets.save(); err != nil && runErr == nil {
		runErr = err
	}
	if w.hunter != nil {
		w.hunter.final(context.WithoutCancel(ctx))
	}
	stopHunt()
	hwg.Wait()
	if w.hunter != nil {
		w.hunter.close()
	}
	if len(w.recovered) > 0 && runErr == nil {
		os.Remove(filepath.Join(w.cfg.Dir, "spool.jsonl.recovering"))
	}
	return w.summary(), runErr
}

// store is the one writer: it batches queued lines, parses and stores
// them, then commits the followed files' offsets. It ends when the queue
// is closed and empty.
func (w *Watcher) store(ctx context.Context) error {
	wctx := context.WithoutCancel(ctx) // the last batches are stored after a stop
	if len(w.recovered) > 0 {
		if err := w.storeBatch(wctx, w.recovered); err != nil {
			return err
		}
	}
	for {
		deadline := time.Now().Add(w.cfg.Latency)
		var batch []*item
		for len(batch) < w.cfg.BatchSize {
			got := w.q.take(w.cfg.BatchSize-len(batch), deadline)
			if len(got) == 0 {
				break
			}
			batch = append(batch, got...)
		}
		if len(batch) == 0 {
			w.q.mu.Lock()
			done := w.q.closed && len(w.q.mem) == 0 && w.q.pending == 0
			w.q.mu.Unlock()
			if done {
				return nil
			}
			continue
		}
		if err := w.storeBatch(wctx, batch); err != nil {
			return err
		}
	}
}

func (w *Watcher) storeBatch(ctx context.Context, batch []*item) error {
	evs := w.parse(batch)
	var st timeline.WriteStats
	var err error
	// A store that refuses a batch (busy, a network store away) is
	// retried with backoff; meanwhile intake goes on into the spool.
	for attempt := 0; ; attempt++ {
		if st, err = w.cfg.Sink.Write(ctx, evs); err == nil {
			break
		}
		if attempt == 5 {
			for _, it := range batch {
				w.stats[it.Src].Dropped.Add(1)
			}
			return fmt.Errorf("store: %w", err)
		}
		time.Sleep(time.Duration(100<<attempt) * time.Millisecond)
	}
	w.dups.Add(int64(st.Duplicates))
	now := time.Now()
	for _, it := range batch {
		if it.file != nil {
			w.offsets.set(it.file.path, it.file.state)
		}
		if !it.Recv.IsZero() {
			if d := now.Sub(it.Recv); int64(d) > w.maxLat.Load() {
				w.maxLat.Store(int64(d))
			}
		}
	}
	if err := w.offsets.save(); err != nil {
		return err
	}
	w.batches.Add(1)
	if w.hunter != nil {
		w.hunter.add(evs)
	}
	return nil
}

// chooseParser picks a followed file's parser by its content, as ingest
// does for files in evidence; a file no parser takes is read as syslog
// (what a server's log files mostly are) with a warning.
func (w *Watcher) chooseParser(src int, f *os.File) {
	head := make([]byte, parsers.HeadSize)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	e := &jfs.Entry{Path: f.Name()}
	p := w.cfg.Registry.Match(e, head)
	if p == nil && n > 0 {
		fi, err := f.Stat()
		if err == nil {
			d := w.cfg.Registry.Detect(e, parsers.SampleLines(head, n < parsers.HeadSize, f, fi.Size()))
			p = d.Parser
		}
	}
	if p == nil {
		p = w.cfg.Syslog
		if n > 0 {
			w.warnf(src, f.Name(), -1, "no parser recognises %s: its lines are read as syslog", f.Name())
		}
	}
	w.sources[src].parser.Store(&parserBox{p})
}

// parse turns a batch into events. A followed file's consecutive lines are
// parsed together (so a parser sees continuation lines with their record).
// Received messages are parsed together too when they are one line each,
// for speed (a parser and its buffers per message cost more than the
// message), but each must come out as its own record: if the parser joined
// one to the message before it (a message that does not start like a
// record), the run is parsed again one message at a time.
func (w *Watcher) parse(batch []*item) []*timeline.Event {
	var out []*timeline.Event
	for i := 0; i < len(batch); {
		j := i + 1
		if batch[i].file != nil {
			for j < len(batch) && batch[j].file != nil && batch[j].Src == batch[i].Src &&
				batch[j].Ident == batch[i].Ident && batch[j].Off == batch[j-1].End {
				j++
			}
		} else if bytes.IndexByte(batch[i].Text, '\n') < 0 {
			for j < len(batch) && j-i < 512 && batch[j].file == nil && batch[j].Src == batch[i].Src &&
				bytes.IndexByte(batch[j].Text, '\n') < 0 {
				j++
			}
		}
		run := batch[i:j]
		evs, ws, ok := w.parseRun(run, run[0].file == nil && len(run) > 1)
		if !ok {
			evs, ws = nil, nil
			for k := range run {
				e, x, _ := w.parseRun(run[k:k+1], false)
				evs, ws = append(evs, e...), append(ws, x...)
			}
		}
		st := w.stats[run[0].Src]
		st.Events.Add(int64(len(evs)))
		st.Warnings.Add(int64(len(ws)))
		if w.cfg.Warn != nil {
			for _, x := range ws {
				w.cfg.Warn(x)
			}
		}
		out = append(out, evs...)
		i = j
	}
	return out
}

// parseRun parses consecutive lines of one source as one chunk. With
// oneEach it reports !ok when a line did not become its own event or
// warning.
func (w *Watcher) parseRun(run []*item, oneEach bool) (evs []*timeline.Event, ws []timeline.Warning, ok bool) {
	first := run[0]
	src := w.sources[first.Src]
	pb := src.parser.Load()
	if pb == nil {
		pb = &parserBox{w.cfg.Syslog}
	}
	p := pb.p
	// The chunk holds the lines joined by "\n"; starts[k] is line k's
	// offset in it, to map a parser's offsets back to the lines.
	var buf []byte
	starts := make([]int64, len(run))
	for k, it := range run {
		starts[k] = int64(len(buf))
		buf = append(buf, it.Text...)
		buf = append(buf, '\n')
	}
	index := func(off, rec int64) int {
		if rec > 0 && int(rec) <= len(run) {
			return int(rec) - 1
		}
		k := sort.Search(len(starts), func(k int) bool { return starts[k] > off }) - 1
		return max(k, 0)
	}
	var seen []bool
	if oneEach {
		seen = make([]bool, len(run))
	}
	mark := func(k int) {
		if seen != nil {
			if seen[k] {
				ok = false
			}
			seen[k] = true
		}
	}
	ok = true
	chain := []string{src.label}
	entry := &jfs.Entry{Path: first.Path, Times: jfs.Times{Modified: first.Recv}}
	ps := &parsers.Source{Entry: entry, R: bytes.NewReader(buf), Size: int64(len(buf)), Zone: w.cfg.Zone,
		Warn: func(re *parsers.RecordError) {
			k := index(re.Offset, re.Record)
			mark(k)
			it := run[k]
			ws = append(ws, timeline.Warning{Kind: timeline.WarnRecord, Chain: chain, Path: it.Path, Parser: re.Parser,
				Offset: it.Off, Record: it.Rec, Message: re.Err.Error()})
		}}
	err := p.Parse(context.Background(), ps, func(ev *timeline.Event) error {
		k := index(ev.Jejak.Provenance.Offset, ev.Jejak.Provenance.Record)
		mark(k)
		it := run[k]
		ev.Jejak.Provenance = timeline.Provenance{EvidenceName: "watch", Chain: chain, Path: it.Path,
			Identity: it.Ident, Offset: it.Off, Record: it.Rec, Parser: p.Name()}
		if ev.Jejak.Data == nil {
			ev.Jejak.Data = map[string]string{}
		}
		ev.Jejak.Data["watch.received"] = it.Recv.UTC().Format(time.RFC3339Nano)
		ev.Finalize()
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		ok = false
		ws = append(ws, timeline.Warning{Kind: timeline.WarnFile, Chain: chain, Path: first.Path, Parser: p.Name(),
			Offset: first.Off, Record: first.Rec, Message: err.Error()})
	}
	for _, s := range seen {
		ok = ok && s
	}
	if !oneEach {
		ok = true
	}
	return evs, ws, ok
}

func (w *Watcher) warnf(src int, path string, off int64, format string, args ...any) {
	w.stats[src].Warnings.Add(1)
	if w.cfg.Warn != nil {
		w.cfg.Warn(timeline.Warning{Kind: timeline.WarnRecord, Chain: []string{w.sources[src].label}, Path: path,
			Offset: off, Message: fmt.Sprintf(format, args...)})
	}
}

func (w *Watcher) summary() Summary {
	s := Summary{Started: w.started.UTC(), Stopped: w.cfg.Now().UTC(), Batches: w.batches.Load(),
		Recovered: int64(len(w.recovered)), MaxLatency: time.Duration(w.maxLat.Load())}
	if w.hunter != nil {
		s.Alerts = w.hunter.stats()
		s.Baseline = int64(len(w.hunter.baseline))
	}
	for i, src := range w.sources {
		c := w.stats[i]
		ss := SourceStats{Source: src.label, Lines: c.Lines.Load(), Bytes: c.Bytes.Load(), Events: c.Events.Load(),
			Warnings: c.Warnings.Load(), Spooled: c.Spooled.Load(), Dropped: c.Dropped.Load(),
			Alerts: c.Alerts.Load(), Rotations: c.Rotations.Load(), Truncations: c.Truncations.Load(), Connections: c.Connections.Load()}
		if pb := src.parser.Load(); pb != nil {
			ss.Parser = pb.p.Name()
		}
		s.Sources = append(s.Sources, ss)
		t := &s.Total
		t.Lines += ss.Lines
		t.Bytes += ss.Bytes
		t.Events += ss.Events
		t.Warnings += ss.Warnings
		t.Spooled += ss.Spooled
		t.Dropped += ss.Dropped
		t.Alerts += ss.Alerts
	}
	s.Total.Source = "total"
	s.Total.Duplicates = w.dups.Load()
	return s
}

// JSON is the summary as the custody log and --json print it.
func (s Summary) JSON() ([]byte, error) { return json.MarshalIndent(s, "", "  ") }
