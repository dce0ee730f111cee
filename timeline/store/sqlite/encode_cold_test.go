package sqlite

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/evtx"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// BenchmarkEncodeEVTXCold encodes EVTX events as a write-behind encoder
// does, each in turn, to tell what encoding costs from what waiting for
// memory costs: "hot" writes the first 64 events of the corpus's
// security.evtx round and round (all in cache), copies=1 its 2,263 events
// (beyond the core's cache), copies=16 about 36,000 (beyond the last-level
// cache: maps, values and events come from memory, as a large analyze's
// come to the store's encoders a batch after the parser built them).
// ns/op is per event; cpu-ns/op is the process's CPU time per event,
// steadier than the wall time on a loaded machine (s21, 2 cores at load
// 5-9: hot 1.35-1.45 µs, copies=16 1.77-1.81 µs).
func BenchmarkEncodeEVTXCold(b *testing.B) {
	path := parsertest.Corpus(b, "logs/windows/security.evtx")
	for _, copies := range []int{0, 1, 16} {
		var evs []*timeline.Event
		for range max(copies, 1) {
			res := parsertest.ParseFile(b, evtx.New(2), path, nil)
			if res.Err != nil {
				b.Fatal(res.Err)
			}
			evs = append(evs, res.Events...)
		}
		name := fmt.Sprintf("copies=%d", copies)
		if copies == 0 {
			// Hot: the first 64 events round and round.
			evs, name = evs[:64], "hot"
		}
		b.Run(name, func(b *testing.B) {
			var memo encMemo
			buf := make([]byte, 0, 4<<20)
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				if i%encodeChunk == 0 {
					buf = buf[:0]
				}
				var err error
				buf, err = appendStored(buf, evs[i], &memo)
				if err != nil {
					b.Fatal(err)
				}
				if i++; i == len(evs) {
					i = 0
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far, in ns: on a
// loaded machine it varies less than the wall time benchmarks report.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
