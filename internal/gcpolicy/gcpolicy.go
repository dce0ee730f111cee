// Package gcpolicy sets the garbage collector's pace for a whole jejak
// process (cmd/jejak, and the benchmark drivers so that they measure what
// ships). It is written by hand: the runtime offers GOGC (a ratio of the
// live heap) and GOMEMLIMIT (a ceiling), and neither alone says what jejak
// needs, which is "never collect more often than the default, and let a
// small heap gather a fixed amount of garbage before collecting".
//
// Why (issue 15, docs/PERFORMANCE.md): jejak's parsers allocate fast and
// keep little. The MFT timeline allocates about 10 KB per MFT entry (eight
// events with their data maps) over a live heap of 5 to 20 MB, so with the
// default GOGC=100 the collector ran every 5 to 20 MB: 366 collections for
// the 100k-entry volume, a third of the run's CPU in the collector and in
// the scheduling it brings. A fixed GOGC=400 took that run from 1.19 to
// 0.85 CPU-s, but it multiplies every heap by five, and the syslog
// analyze's, which holds far more, doubled its RSS with it.
//
// The policy here: after every collection, GOGC is set so that the next
// one comes when the heap has grown by Headroom (64 MiB) or by the live
// heap, whichever is more. A heap of more than Headroom is collected as
// with the default GOGC=100; a small heap gathers at most Headroom of
// garbage. So a process's heap stays under its live heap plus
// max(live heap, 64 MiB): the default's bound plus 64 MiB at most.
//
// A GOGC is set after a collection from the heap that collection left
// (the live heap): the one after it is paced by that GOGC whatever it
// finds live, and at a gigabyte a second of allocation (the parallel MFT
// timeline) a GOGC of 1600 set for a 4 MB heap let one cycle run to 243
// MB when 15 MB turned out live. So the policy also sets a memory limit,
// live heap plus twice max(live heap, Headroom), that the next collections
// cannot pass; it is raised after each collection with the GOGC, so a heap
// that grows for good is collected a few times more often until the
// policy follows it, never held to a stale size.
//
// A larger Headroom was measured and not kept (session 25, load 4-15, A/B
// user+sys CPU under the bench lock, medians; base = 64 MiB). The
// collector is a small share of these runs (CPU profile of the 300k-file
// whole-image analyze: mark workers and write barriers 0.30 of 10.1 s;
// 0.13 of 20 s for 1000 EVTX files' analyze, 0.40 of 12 s for their
// hunt, 0.11 of 11 s for 200 MB of syslog), so there is little to win:
//   - 96 MiB: 300k image 10.87 -> 10.86 CPU-s (4 pairs), RSS 187 -> 215
//     MB; 1M image 32.1 -> 32.8 (3 pairs); MFT timeline of the 1M image
//     (mftbench) 3.34 -> 3.22 (8 pairs), RSS 85 -> 121 MB; 40 EVTX
//     analyze 0.96 -> 0.93 (9 pairs, callgrind 10.107 -> 10.038 G
//     instructions), hunt 0.47 -> 0.49 with RSS 132 -> 163 MB; 1000 EVTX
//     hunt RSS 565 -> 595 MB, CPU 11.5 -> 11.7; 200 MB syslog 11.07 ->
//     11.30 (its live heap is above 96 MiB: the same pace).
//   - 128 MiB: 300k image 10.36 -> 10.25 (9 pairs), RSS 184 -> 261 MB;
//     MFT timeline 3.34 -> 3.18 (callgrind, 300k: 11.864 -> 11.758 G);
//     1000 EVTX hunt RSS 571 -> 643 MB.
//   - 256 MiB, and GOGC=400: 300k image 10.2 CPU-s either way, RSS 400 MB;
//     1000 EVTX hunt 789 MB.
//
// Only the MFT timeline, already faster than fls, gained beyond the noise
// (±5 % at that load); the whole-image analyze did not, and every hunt
// paid 30 MB or more.
//
// GOGC or GOMEMLIMIT in the environment turn the policy off: the runtime
// then does what they say, as for any Go program.
package gcpolicy

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Headroom is the garbage a heap smaller than it may gather between two
// collections.
const Headroom = 64 << 20

// minLive is the smallest live heap the percentage is computed for: before
// the first collection the runtime reports none.
const minLive = 4 << 20

// Percent is the GOGC that lets a heap of live bytes grow by
// max(live, Headroom) before the next collection. Below minLive the
// runtime's own floor (4 MB times GOGC/100) sets the pace, so the
// percentage is that of minLive.
func Percent(live uint64) int {
	live = max(live, minLive)
	return max(100, int(Headroom*100/live))
}

// Limit is the memory limit that goes with Percent(live): the heap the
// runtime may hold when a collection comes later than that GOGC says.
func Limit(live uint64) int64 {
	return int64(live + 2*max(live, Headroom))
}

// Apply sets the policy for the rest of the process, unless GOGC or
// GOMEMLIMIT is set in the environment. stop ends it and puts back the
// GOGC that was in effect before; it is for tests, a command never needs
// to call it.
func Apply() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	p := &pacer{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	live := p.live()
	p.current = Percent(live)
	p.previous = debug.SetGCPercent(p.current)
	p.previousLimit = debug.SetMemoryLimit(Limit(live))
	p.arm()
	return p.stop
}

// pacer re-sets GOGC after every collection, from a cleanup attached to an
// object that each collection frees.
type pacer struct {
	previous      int
	previousLimit int64
	// mu orders a collection's update with stop: no GOGC of the policy is
	// set after stop has put the previous one back.
	mu      sync.Mutex
	sample  []metrics.Sample
	current int
	stopped bool
}

// live is the heap the last collection left (0 before the first).
func (p *pacer) live() uint64 {
	metrics.Read(p.sample)
	if p.sample[0].Value.Kind() == metrics.KindUint64 {
		return p.sample[0].Value.Uint64()
	}
	return 0
}

// arm attaches the cleanup to a new unreachable object: the next
// collection frees it and the cleanup runs right after. 32 bytes, so that
// the object is not combined with others by the tiny allocator, which
// would delay its cleanup.
func (p *pacer) arm() {
	runtime.AddCleanup(new([32]byte), func(p *pacer) { p.collected() }, p)
}

// collected runs on the runtime's cleanup goroutine after a collection.
func (p *pacer) collected() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	live := p.live()
	debug.SetMemoryLimit(Limit(live))
	if pct := next(p.current, live); pct != p.current {
		p.current = pct
		debug.SetGCPercent(pct)
	}
	p.arm()
}

// next is the GOGC to set after a collection that left live bytes, with
// current in effect. Only a change of a tenth or more of GOGC is passed
// on: it costs little, but the limit already bounds the heap. The default
// (100, a heap of Headroom or more) is always passed on: otherwise a heap
// that grew through 61 MiB kept GOGC 104 for good, the last step to 100
// being less than a tenth.
func next(current int, live uint64) int {
	pct := Percent(live)
	if pct == 100 || pct*10 < current*9 || pct*10 > current*11 {
		return pct
	}
	return current
}

func (p *pacer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	debug.SetGCPercent(p.previous)
	debug.SetMemoryLimit(p.previousLimit)
}
