package casework

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/casework/zonecheck"
	"github.com/jejak-forensics/jejak/forensics/disk"
	"github.com/jejak-forensics/jejak/forensics/evidence"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/image"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// ErrNoEvidence is Ingest's error on a case with no evidence registered.
var ErrNoEvidence = errors.New("no evidence registered")

// IngestOptions are the options of Ingest.
type IngestOptions struct {
	// Verify re-hashes every evidence file before reading it (default:
	// only files whose size or mtime differ from the registry).
	Verify bool
	// MachineZone reads the zone-less logs of an item holding Windows in
	// the zone its SYSTEM hive states, not the case zone.
	MachineZone bool
	// Workers is how many evidence items are parsed at once (0: one per
	// core).
	Workers int
	// SpoolLimit is the largest compressed member copied to the case's
	// temporary folder for random access (ingest.DefaultSpoolLimit is the
	// command line's; 0 is no limit).
	SpoolLimit int64
	// OpenES, when set, connects to the Elasticsearch index that also
	// receives every event in the same pass; at the end it must hold
	// exactly the case's events. It is called once the evidence has been
	// checked, just before reading; Ingest closes what it returns.
	OpenES func(context.Context) (*elastic.Store, error)
	// Progress, when set, is told how far the run got (it is also recorded
	// in the run's record as it goes, whatever Progress is).
	Progress func(ingest.Progress)
}

// IngestResult is what an ingest run read and found.
type IngestResult struct {
	// RunSummary is what the run record and the custody entry hold (the
	// command line's --json).
	RunSummary
	// MachineZones are the machine-zone mismatches (a Windows machine
	// whose SYSTEM hive states another zone than the case's), also stored
	// as warnings.
	MachineZones []timeline.Warning
	// Sample are the first record warnings, for a summary; all of them
	// are in the store.
	Sample []timeline.Warning
	// Names maps each evidence item's SHA-256 to its name.
	Names map[string]string
	// zonesFed: the zone check used the events fed as they were written
	// (see zoneCheck), for tests.
	zonesFed bool
	// digestStreamed: the custody entry's events digest was hashed as the
	// rows were written (see eventsStream), for tests.
	digestStreamed bool
	// warnStreamed: and its warnings digest (see warnStream).
	warnStreamed bool
}

// Ingest runs the pipeline over every registered evidence item into the
// case store.
//
// The run is recorded as running before any evidence is read, and as
// complete only at its successful end: an interrupted or failed run, or one
// killed outright, leaves the case marked incomplete (see Completeness)
// until a run completes.
//
// An error before anything was read (no evidence, ErrNoEvidence; evidence
// refused; a signed case without its key) returns no result. Once the
// pipeline ran, the result is returned with the error that ended the run,
// if any: its counts stop where the run stopped. Record warnings are no
// error: IngestResult.Summary.Clean says whether there were any.
func (c *Case) Ingest(ctx context.Context, o IngestOptions) (_ *IngestResult, rerr error) {
	cs := c.Evidence
	// With the items still being registered (BeginEvidence): their
	// registration is written before this run's custody entry.
	items, err := cs.EvidenceWithPending()
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("case %s has no evidence: add some with 'jejak evidence add %s PATH...': %w", cs.Dir(), cs.Dir(), ErrNoEvidence)
	}
	// A signed case without its key: refuse before the store is touched.
	if err := cs.CheckSigning(); err != nil {
		return nil, err
	}
	store, done, err := c.store(ctx)
	if err != nil {
		return nil, err
	}
	defer done()

	if _, err := store.StartRun(ctx, RunStart(c.now(), c.Config.ToolVersion, items)); err != nil {
		return nil, err
	}
	// The custody entry's digest of the events, hashed as they are written
	// where the store can vouch for it (see eventsStream).
	digest := streamEvents(store)
	// And of the warnings (see warnStream): ws below stores them through
	// it.
	warnDigest := streamWarnings(ctx, store)
	// A first run's inserts go on behind the reading of the evidence (see
	// sqlite.Store.WriteBehind): nothing reads the events back before
	// FinishWrites below.
	store.WriteBehind()
	// Until the pipeline starts, nothing is written to the store: a run
	// that stops before (evidence refused, cancelled) is refused, and its
	// record removed (see sqlite.RunRefused).
	reading := false
	defer func() {
		if !reading {
			if err := store.EndRun(context.WithoutCancel(ctx), c.now(), sqlite.RunRefused, errString(rerr), nil); err != nil && rerr == nil {
				rerr = err
			}
		}
	}()

	// A compressed raw image is decompressed to a temporary copy beside
	// the case's other temporary files, never the machine's /tmp. The
	// walk's images get the case folder with each open (forensics/disk
	// passes jfs.Options.TempDir on); the SYSTEM-hive zone lookup and
	// baseline capture still open images without options, so the process
	// default is set too (atomically; for those two, two cases ingested at
	// once in one process share the last folder set).
	image.SetDefaultTempDir(cs.TempDir())
	var walk []ingest.Item
	var zoneProblems []timeline.Warning // --machine-zone hives that could not be read
	for _, it := range items {
		// Only registered bytes are read: every file of a folder and every
		// segment of an image set is checked against the registry first.
		if err := cs.Recheck(ctx, it, o.Verify); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err() // interrupted, not refused: exit 130
			}
			return nil, fmt.Errorf("evidence %s refused: %w", it.ID, err)
		}
		item := ingest.Item{SHA256: it.SHA256, Name: it.Name}
		zone := cs.Location()
		if o.MachineZone {
			mz, err := zonecheck.SystemZone(ctx, it.Path)
			switch {
			case err == nil:
				item.Zone = mz.TimeZone.Location()
				item.ZoneSource = fmt.Sprintf("%s (%s)", mz.Where, mz.TimeZone.Name)
				zone = item.Zone
			case ctx.Err() != nil:
				return nil, ctx.Err()
			case !errors.Is(err, zonecheck.ErrNoSystemHive):
				// A hive that cannot be read: the item is read in the
				// case zone, and the warning says why.
				zoneProblems = append(zoneProblems, timeline.Warning{Kind: timeline.WarnZone, Evidence: it.SHA256, Offset: -1,
					Message: fmt.Sprintf("--machine-zone: the SYSTEM hive of this evidence could not be read (%v); its logs without a zone were read in the case zone %s", err, cs.Location())})
			}
		}
		w, err := disk.OpenEvidence(ctx, it.Path, jfs.Options{TempDir: cs.TempDir(), SpoolLimit: o.SpoolLimit, Zone: zone})
		if err != nil {
			return nil, fmt.Errorf("open evidence %s: %w", it.Path, err)
		}
		item.Walker = w
		walk = append(walk, item)
	}
	if err := os.MkdirAll(cs.TempDir(), 0o755); err != nil {
		return nil, err
	}

	ws := NewWarningWriter(ctx, store)
	ws.dig = warnDigest.d
	for _, w := range zoneProblems {
		ws.Add(w)
	}
	cfg := ingest.Config{
		Registry:   all.Registry(),
		Zone:       cs.Location(),
		TempDir:    cs.TempDir(),
		SpoolLimit: o.SpoolLimit,
		Workers:    o.Workers,
		Warn:       ws.Add,
		// Every sink below keeps nothing of an event once its Write has
		// returned: the case store encodes a batch before (also written
		// behind), an Elasticsearch Stream marshals it, the zone check
		// copies the strings it keeps and machineFed copies the events it
		// keeps (registry events, which no parser recycles). So the
		// parsers that can reuse their events' memory get it back
		// (TestRecycledIngestPoisoned).
		Recycle: recycleEvents,
	}
	// How far the run got is recorded as it goes: after a kill -9 it is the
	// run's last word.
	cfg.Progress = RecordProgress(context.WithoutCancel(ctx), store, o.Progress)
	// The zone check is fed the logons and web errors as they are
	// written, not read back from the store afterwards (see zoneCheck):
	// when the store is empty, so that it will hold this run's events
	// only. Into a store that holds events already (a re-ingest), the
	// store passes run, and feeding would be wasted.
	var chk *zonecheck.Checker
	if empty, err := storeEmpty(ctx, store); err != nil {
		return nil, err
	} else if empty {
		chk = zonecheck.New()
	}
	var sink timeline.Sink = store
	var es *elastic.Store
	var stream *elastic.Stream
	if o.OpenES != nil {
		if es, err = o.OpenES(ctx); err != nil {
			return nil, err
		}
		defer es.Close()
		stream = es.Stream()
		sink = timeline.Tee(store, stream)
	}
	reading = true
	var machine *machineFed
	if chk != nil {
		machine = &machineFed{}
		sink = withZoneCheck(sink, chk, machine)
	}
	sum, runErr := ingest.Run(ctx, cfg, walk, sink)
	// What is left (the inserts behind, the index builds) keeps one core
	// busy more than two: the held hashes of the items being registered
	// take the other (see evidence.BeginEvidence).
	cs.SpareCore()
	// The check before reading leaves a window: evidence written to while
	// the run read it (a write moves the ctime, whatever is done to the
	// mtime) fails the run, as its events may hold unregistered bytes.
	for _, it := range items {
		if runErr != nil {
			break
		}
		if err := cs.Recheck(ctx, it, false); err != nil {
			runErr = fmt.Errorf("evidence %s changed while it was read, so this run's events may not be of the registered evidence: %w", it.ID, err)
		}
	}
	if stream != nil {
		if _, err := stream.Finish(ctx); err != nil && runErr == nil {
			runErr = err
		}
	}
	// A first run into an empty case defers the unique index on event IDs:
	// an event repeated within it was counted as inserted until now. An
	// interrupted run leaves that work to the next command that opens the
	// case, so Ctrl-C stops at once.
	if ctx.Err() != nil {
		store.LeaveIndexes()
	} else if dups, err := store.FinishWrites(context.WithoutCancel(ctx)); err != nil {
		if runErr == nil {
			runErr = err
		}
	} else {
		sum.Inserted -= int64(dups)
		sum.Duplicates += int64(dups)
	}
	if es != nil && runErr == nil {
		runErr = VerifyIndex(ctx, store, es)
	}
	var zones []zonecheck.Finding
	var machineZones []timeline.Warning
	var zonesFed bool
	if runErr == nil {
		zones, zonesFed, runErr = zoneCheck(ctx, store, chk, sum.Inserted)
		for _, f := range zones {
			if !f.Agree {
				ws.AddQuiet(f.Warning())
			}
		}
	}
	if runErr == nil {
		if !zonesFed {
			machine = nil // the store holds more than this run wrote
		}
		machineZones, runErr = checkMachineZones(ctx, store, cs.Location(), machine)
		// An item read in its own machine's zone (--machine-zone) was
		// read right: the case zone's disagreement with it is no error.
		applied := map[string]bool{}
		for _, z := range sum.ItemZones {
			applied[z.Evidence] = true
		}
		machineZones = slices.DeleteFunc(machineZones, func(w timeline.Warning) bool { return applied[w.Evidence] })
		for _, w := range machineZones {
			ws.AddQuiet(w)
		}
	}
	if n := sum.ZoneAssumed["UTC"]; n > 0 {
		// UTC is what a case gets when no --tz was given: a listed
		// warning, so 'jejak warnings' shows the assumption too.
		ws.AddQuiet(timeline.Warning{Kind: timeline.WarnZoneAssumed, Offset: -1, Message: fmt.Sprintf(
			"%d events from sources without a zone were read as UTC, the case zone and the default when no --tz is given; if they were written in local time, re-create the case with --tz ZONE", n)})
	}
	if err := ws.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	out := RunSummary{Summary: sum, ZoneCheck: zones}
	if err := store.EndRun(context.WithoutCancel(ctx), c.now(), RunState(runErr), errString(runErr), out); err != nil && runErr == nil {
		runErr = err
	}
	// The store digest binds the rows to the chain (verify recomputes it).
	if err := cs.Log("ingest", map[string]any{"summary": out, "error": errString(runErr), "store": storeDetails(ctx, store, digest, warnDigest, IngestStoreParts...)}); err != nil && runErr == nil {
		runErr = err
	}
	res := &IngestResult{RunSummary: out, MachineZones: machineZones, Sample: ws.Sample(), Names: EvidenceNames(items), zonesFed: zonesFed,
		digestStreamed: digest.streamed, warnStreamed: warnDigest.streamed}
	return res, runErr
}

// recycleEvents is Config.Recycle for Ingest; a test turns it off to
// compare a run without it.
var recycleEvents = true

// RunSummary is what a run reports: the ingest counts and, beside them,
// the zone check's verdicts (agreements too, so a reader sees it ran).
type RunSummary struct {
	ingest.Summary
	ZoneCheck []zonecheck.Finding `json:"zone_check,omitempty"`
}

// zoneSink passes every batch on to the store and then feeds the zone
// checker the events a store pass of the check would read
// (zonecheck.Feed): reading them back after the ingest cost a quarter of
// an analyze of a large sshd log, where nearly every event is a logon.
// Write is called by one goroutine (timeline.Sink).
//
// It also keeps the few events that state a Windows machine's zone
// (zonecheck.StatesMachineZone), for checkMachineZones.
type zoneSink struct {
	timeline.Sink
	chk     *zonecheck.Checker
	machine *machineFed
}

// The checker is fed beside the store's write of the same batch, not after
// it: the writer is the pipeline's slowest stage, and feeding in line was
// 3 % of an analyze of a syslog whose every line is a logon. Both only
// read the events. A batch the store failed to write leaves the checker
// fed with it, but then the run fails and its checker is not used.
func (z zoneSink) Write(ctx context.Context, batch []*timeline.Event) (timeline.WriteStats, error) {
	return z.write(batch, func() (timeline.WriteStats, error) { return z.Sink.Write(ctx, batch) })
}

// withZoneCheck wraps sink in a zoneSink, which keeps the sink's way of
// encoding batches ahead (timeline.EncodingSink: the case store) where it
// has one: hiding it would leave every first analyze, the one run with a
// checker, encoding in the store's Write again.
func withZoneCheck(sink timeline.Sink, chk *zonecheck.Checker, machine *machineFed) timeline.Sink {
	zs := zoneSink{Sink: sink, chk: chk, machine: machine}
	if enc, ok := sink.(timeline.EncodingSink); ok {
		return zoneEncSink{zs, enc}
	}
	return zs
}

// zoneEncSink is zoneSink over a sink that encodes batches ahead.
type zoneEncSink struct {
	zoneSink
	enc timeline.EncodingSink
}

func (z zoneEncSink) NewEncoding() timeline.Encoding { return z.enc.NewEncoding() }

func (z zoneEncSink) WriteEncoded(ctx context.Context, batch []*timeline.Event, enc timeline.Encoding) (timeline.WriteStats, error) {
	return z.write(batch, func() (timeline.WriteStats, error) { return z.enc.WriteEncoded(ctx, batch, enc) })
}

// write feeds the checker batch beside store, the store's write of it.
func (z zoneSink) write(batch []*timeline.Event, store func() (timeline.WriteStats, error)) (timeline.WriteStats, error) {
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		for _, ev := range batch {
			z.chk.Feed(ev)
			if zonecheck.StatesMachineZone(ev) {
				// A copy: the event is the parser's, which may reuse it.
				c := *ev
				c.Jejak.Data = maps.Clone(ev.Jejak.Data)
				z.machine.events = append(z.machine.events, &c)
			}
		}
	}()
	st, err := store()
	<-fed
	return st, err
}

// machineFed holds the events stating a machine's zone that a run wrote,
// in the order written (zoneSink); a SYSTEM hive has one.
type machineFed struct {
	events []*timeline.Event
}

// inStoreOrder returns the events as a store query gives them: once each
// (the store keeps one event per ID) and in the store's order, @timestamp
// then ID. ok is false when an event's time is outside what the store's
// time column holds as nanoseconds since 1970 (such events are stored
// last, by ID): the query is asked then.
func (m *machineFed) inStoreOrder() (_ []*timeline.Event, ok bool) {
	lo, hi := time.Unix(0, 0), time.Unix(0, math.MaxInt64)
	seen := make(map[string]bool, len(m.events))
	out := make([]*timeline.Event, 0, len(m.events))
	for _, ev := range m.events {
		if ev.Timestamp.Before(lo) || ev.Timestamp.After(hi) {
			return nil, false
		}
		if !seen[ev.Jejak.ID] {
			seen[ev.Jejak.ID] = true
			out = append(out, ev)
		}
	}
	slices.SortStableFunc(out, func(a, b *timeline.Event) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Jejak.ID, b.Jejak.ID)
	})
	return out, true
}

// zoneCheck returns the zone check's findings over the whole case, as the
// store passes (checkZones) give them. fed was fed every event this run
// wrote (zoneSink); when the store holds exactly those, as after a first
// ingest (its count of events is the run's inserted count: nothing was
// there before and nobody else wrote), fed stands for the first two
// passes and only the access requests of the loose web hosts are read
// back. Otherwise (a re-ingest, whose events were all stored before; a
// store holding events of earlier runs this run did not read again) the
// store passes run as before. fedUsed says which.
func zoneCheck(ctx context.Context, store *sqlite.Store, fed *zonecheck.Checker, inserted int64) (_ []zonecheck.Finding, fedUsed bool, _ error) {
	if fed == nil {
		fs, err := checkZones(ctx, store)
		return fs, false, err
	}
	n, err := store.Count(ctx, timeline.Query{})
	if err != nil {
		return nil, false, fmt.Errorf("zone check: %w", err)
	}
	if n != inserted {
		fs, err := checkZones(ctx, store)
		return fs, false, err
	}
	fs, err := finishZones(ctx, store, fed)
	return fs, true, err
}

// storeEmpty says whether the store holds no event: one read in the
// store's order, which its time index answers at once.
func storeEmpty(ctx context.Context, store *sqlite.Store) (bool, error) {
	empty := true
	err := store.Search(ctx, timeline.Query{Limit: 1}, func(*timeline.Event) error {
		empty = false
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("zone check: %w", err)
	}
	return empty, nil
}

// checkZones runs the zone check over the logons and web records of the
// case, streamed from the store in passes that each stay cheap whatever
// else the case holds: logons by their stored action; web server errors
// of the weblog parser (a column; only their documents are read); and
// then the access-log requests of the clients those errors name, never
// every request of the case (finishZones). It is what the events fed by
// zoneSink stand for (zonecheck.Feed, zonecheck.Selects).
func checkZones(ctx context.Context, store *sqlite.Store) ([]zonecheck.Finding, error) {
	chk := zonecheck.New()
	pass := func(kql string) error {
		f, err := query.New(kql, query.Options{})
		if err != nil {
			return err
		}
		err = store.Query(ctx, f, timeline.Query{}, func(ev *timeline.Event) error {
			chk.Add(ev)
			return nil
		})
		if err != nil {
			return fmt.Errorf("zone check: %w", err)
		}
		return nil
	}
	if err := pass("event.action:(" + strings.Join(zonecheck.LogonActions, " or ") + ")"); err != nil {
		return nil, err
	}
	// The parser is a column and the dataset is inside the stored
	// document: naming the parser first spares reading every other row's.
	if err := pass("jejak.provenance.parser:weblog and event.dataset:(" + strings.Join(zonecheck.WebErrorDatasets, " or ") + ")"); err != nil {
		return nil, err
	}
	return finishZones(ctx, store, chk)
}

// finishZones reads the access requests of the loose web hosts of chk
// (those its web errors name) and returns the findings.
func finishZones(ctx context.Context, store *sqlite.Store, chk *zonecheck.Checker) ([]zonecheck.Finding, error) {
	if hosts := chk.LooseWebHosts(); len(hosts) > 0 {
		if err := accessOf(ctx, store, hosts, chk.Add); err != nil {
			return nil, fmt.Errorf("zone check: %w", err)
		}
	}
	return chk.Findings(), nil
}

// accessGroup is how many clients one query of accessOf asks for.
const accessGroup = 32

// errGroupDone stops a query of accessOf once every client of its group
// has its share.
var errGroupDone = errors.New("every client of the group has its requests")

// accessOf streams, client by client in the order of hosts, each client's
// first access-log requests in the store's order (@timestamp, then ID), as
// many as zonecheck keeps per client: the requests whose source.ip is the
// client's name as written.
//
// It asks through KQL, not SQL on the stored documents, a group of
// clients at a time: a KQL source.ip test is no index lookup (each row
// read is tested), so a query per client would read the timeline once per
// client. A name that is no address (a web server logging host names)
// cannot be a source.ip value in KQL: such clients are looked for among
// all the access requests, in groups of their own, so that the order of
// hosts is kept.
func accessOf(ctx context.Context, store *sqlite.Store, hosts []string, fn func(*timeline.Event)) error {
	datasets := "event.dataset:(" + strings.Join(zonecheck.WebAccessDatasets, " or ") + ")"
	// An IPv6 address with a zone (fe80::1%eth0) is no KQL ip value.
	isIP := func(h string) bool { a, err := netip.ParseAddr(h); return err == nil && a.Zone() == "" }
	for len(hosts) > 0 {
		ip := isIP(hosts[0])
		n := 1
		for n < len(hosts) && n < accessGroup && isIP(hosts[n]) == ip {
			n++
		}
		group := hosts[:n]
		hosts = hosts[n:]
		kql := datasets
		if ip {
			quoted := make([]string, len(group))
			for i, h := range group {
				quoted[i] = strconv.Quote(h)
			}
			kql = "source.ip:(" + strings.Join(quoted, " or ") + ") and " + datasets
		}
		f, err := query.New(kql, query.Options{})
		if err != nil {
			return err
		}
		// KQL compares addresses, not how they are written: the name must
		// be the one the error logged, as the checker's keys are.
		byHost := make(map[string][]*timeline.Event, len(group))
		for _, h := range group {
			byHost[h] = nil
		}
		full := 0
		err = store.Query(ctx, f, timeline.Query{}, func(ev *timeline.Event) error {
			if ev.Source == nil {
				return nil
			}
			evs, ok := byHost[ev.Source.IP]
			if !ok || len(evs) >= zonecheck.PerKey {
				return nil
			}
			byHost[ev.Source.IP] = append(evs, ev)
			if len(evs)+1 == zonecheck.PerKey {
				if full++; full == len(group) {
					return errGroupDone
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errGroupDone) {
			return err
		}
		for _, h := range group {
			for _, ev := range byHost[h] {
				fn(ev)
			}
		}
	}
	return nil
}

// checkMachineZones compares the zone each Windows machine of the case
// states in its SYSTEM hive with the case zone: a machine in another zone
// wrote its zone-less logs in it (zonecheck.MachineZone). fed, when set,
// holds the events this run wrote that state a zone, and the store holds
// exactly this run's events (see zoneCheck): they are used instead of a
// query, which reads every stored row (a fifth of a second per 800k
// events) to find a SYSTEM hive's one event.
func checkMachineZones(ctx context.Context, store *sqlite.Store, caseZone *time.Location, fed *machineFed) ([]timeline.Warning, error) {
	var out []timeline.Warning
	if fed != nil {
		if evs, ok := fed.inStoreOrder(); ok {
			for _, ev := range evs {
				if w, ok := zonecheck.MachineZone(ev, caseZone); ok {
					out = append(out, w)
				}
			}
			return out, nil
		}
	}
	f, err := query.New(zonecheck.MachineZoneQuery, query.Options{})
	if err != nil {
		return nil, err
	}
	err = store.Query(ctx, f, timeline.Query{}, func(ev *timeline.Event) error {
		if w, ok := zonecheck.MachineZone(ev, caseZone); ok {
			out = append(out, w)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("zone check: %w", err)
	}
	return out, nil
}

// WarningWriter stores warnings in batches and keeps the first few (Sample)
// for a summary. Its methods may be called from several goroutines.
//
// Full batches are written by a goroutine of their own, in the order they
// filled: Add is called by ingest's workers under the lock that releases
// warnings in walk order, and a batch written in line there held every
// worker and the walk while the warnings waited for the SQLite write lock
// the event writer held (busy_timeout): an image whose every file is
// skipped has as many warnings as files. At most warnBacklog batches wait;
// beyond that Add waits for the writer, so memory stays bounded.
type WarningWriter struct {
	store  *sqlite.Store
	ctx    context.Context
	dig    *sqlite.WarnDigest // the ingest's warnings digest (nil: none)
	mu     sync.Mutex
	buf    []timeline.Warning
	sample []timeline.Warning
	// queue feeds the writing goroutine (nil until a batch fills; Flush
	// closes it) and done closes when that goroutine has written all.
	queue chan []timeline.Warning
	done  chan struct{}

	errMu sync.Mutex
	err   error
}

const (
	summarySample = 10
	// warnBatch is how many warnings one transaction stores. Each batch
	// is written between two transactions of the event writes
	// (BetweenWrites), so each one also ends the event inserter's: at
	// 5,000, the 300k skip warnings of the bench's NTFS image were 60
	// such hand-overs, and a runtime trace of its analyze showed the
	// inserter and this writer waiting for each other for 2.4-2.5 s of
	// the 6.3 s walk, the $MFT's events held behind them. At 25,000 (12
	// hand-overs) the walk took 5.0-5.4 s; the ingest 10.4 -> 9.4 s and
	// the analyze 14.9 -> 14.1 s, means of 6 pairs at load 5-10, RSS
	// 181 -> 194 MB. At 100,000 RSS was 380-390 MB, and no faster.
	warnBatch = 25000
	// warnBacklog is how many full batches may wait for the writer.
	warnBacklog = 2
)

// NewWarningWriter stores warnings in store; ctx is the command's (writes
// go on without its cancellation, so no warning read is lost).
func NewWarningWriter(ctx context.Context, store *sqlite.Store) *WarningWriter {
	return &WarningWriter{store: store, ctx: ctx}
}

func (w *WarningWriter) Add(x timeline.Warning) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.sample) < summarySample {
		w.sample = append(w.sample, x)
	}
	w.buf = append(w.buf, x)
	if len(w.buf) >= warnBatch {
		w.handOffLocked()
	}
}

// AddQuiet stores a warning the summary prints by itself, so that it is
// not in the sample a second time.
func (w *WarningWriter) AddQuiet(x timeline.Warning) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, x)
}

// handOffLocked gives the buffered warnings to the writing goroutine,
// starting it if none runs. A goroutine started after a Flush waits for
// the one before it, so batches are stored in the order they were added.
func (w *WarningWriter) handOffLocked() {
	if len(w.buf) == 0 {
		return
	}
	if w.queue == nil {
		prev := w.done
		w.queue, w.done = make(chan []timeline.Warning, warnBacklog), make(chan struct{})
		go w.write(w.queue, prev, w.done)
	}
	w.queue <- w.buf
	w.buf = make([]timeline.Warning, 0, warnBatch)
}

// write stores each batch of queue in turn; after a failure the rest are
// dropped, and the error is what Flush returns.
func (w *WarningWriter) write(queue <-chan []timeline.Warning, prev <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	if prev != nil {
		<-prev
	}
	for b := range queue {
		w.errMu.Lock()
		failed := w.err != nil
		w.errMu.Unlock()
		if failed {
			continue
		}
		// Between two transactions of the event writes: see
		// sqlite.Store.BetweenWrites.
		if err := w.store.AddWarningsBetweenWrites(context.WithoutCancel(w.ctx), b, w.dig); err != nil {
			w.errMu.Lock()
			w.err = err
			w.errMu.Unlock()
		}
	}
}

// Flush stores every warning added so far and returns the first error
// met storing any of them.
func (w *WarningWriter) Flush() error {
	w.mu.Lock()
	w.handOffLocked()
	queue, done := w.queue, w.done
	w.queue = nil
	w.mu.Unlock()
	if queue != nil {
		close(queue)
		<-done
	}
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// Sample are the first warnings added with Add (at most 10).
func (w *WarningWriter) Sample() []timeline.Warning {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.sample)
}

// EvidenceNames maps each registered item's SHA-256 to its name, for
// warning lines.
func EvidenceNames(items []*evidence.Item) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		m[it.SHA256] = it.Name
	}
	return m
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
