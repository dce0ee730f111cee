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
