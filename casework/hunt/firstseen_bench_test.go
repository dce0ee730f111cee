package hunt

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// BenchmarkFirstSeenManySources feeds first-seen (JEJAK-AUTH-03) the failed
// logons of an internet-facing sshd where every attempt comes from an
// address seen nowhere else, n before the cut-off and n after, without a
// store, and reports the live heap it holds before finish per source: the
// state issue 15 asks to bound. With the candidates folded past
// maxCandidates it stays flat as n grows, apart from the baseline's 4
// bytes per address.
func BenchmarkFirstSeenManySources(b *testing.B) {
	for _, n := range []int{250_000, 1_000_000, 3_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			base := time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC)
			cut := base.Add(time.Duration(n) * 100 * time.Millisecond)
			r := ruleByID(b, "JEJAK-AUTH-03")
			ev := &timeline.Event{TimestampDesc: "Event Time", Event: timeline.EventMeta{Kind: "event", Action: "ssh_failed_login", Outcome: "failure"},
				Host: &timeline.Host{Name: "tabulasi-01"}, User: &timeline.User{}, Source: &timeline.Endpoint{}}
			ev.Jejak.Provenance = timeline.Provenance{EvidenceSHA256: "bench", EvidenceName: "auth.log", Path: "auth.log", Parser: "syslog"}
			for b.Loop() {
				h := testHunter(Config{After: cut})
				a, err := newFirstSeen(h, r)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				var m0 runtime.MemStats
				runtime.ReadMemStats(&m0)
				for i := range 2 * n {
					// New strings per event, as a store's decoder gives them.
					ev.Timestamp = base.Add(time.Duration(i) * 100 * time.Millisecond)
					ev.Source.IP = fmt.Sprintf("%d.%d.%d.%d", 11+i>>24&0x7f, i>>16&0xff, i>>8&0xff, i&0xff)
					ev.User.Name = "user" + strconv.Itoa(i*7919%20000)
					ev.Jejak.ID = fmt.Sprintf("%032x", i)
					ev.Message = "Failed password for invalid user " + ev.User.Name + " from " + ev.Source.IP + " port 4242 ssh2"
					a.observe(ev)
				}
				runtime.GC()
				var m1 runtime.MemStats
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(2*n), "live-B/source")
				b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/(1<<20), "live-MB")
				runtime.KeepAlive(a)
			}
		})
	}
}
