package hunt

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// BenchmarkBruteForceManySources feeds both brute-force rules
// (JEJAK-AUTH-01 and -02, sharing one hunter as a hunt does) the failed
// logons of an internet-facing sshd where every attempt comes from an
// address seen nowhere else, without a store: the analyzers' own cost per
// event (an episode per source, swept after the window), which a hunt of
// such a log pays on every line (issue 15).
func BenchmarkBruteForceManySources(b *testing.B) {
	const n = 200_000
	base := time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC)
	evs := make([]timeline.Event, n)
	for i := range evs {
		ev := &evs[i]
		*ev = timeline.Event{TimestampDesc: "Event Time", Timestamp: base.Add(time.Duration(i) * time.Second),
			Event: timeline.EventMeta{Kind: "event", Action: "ssh_failed_login", Outcome: "failure"},
			Host:  &timeline.Host{Name: "tabulasi-01"}, User: &timeline.User{Name: "user" + strconv.Itoa(i*7919%20000)},
			Source: &timeline.Endpoint{IP: fmt.Sprintf("%d.%d.%d.%d", 11+i>>24&0x7f, i>>16&0xff, i>>8&0xff, i&0xff)}}
		ev.Jejak.ID = fmt.Sprintf("%032x", i)
		ev.Jejak.Provenance = timeline.Provenance{EvidenceSHA256: "bench", EvidenceName: "auth.log", Path: "auth.log", Parser: "syslog", Record: int64(i + 1)}
		ev.Message = "Failed password for invalid user " + ev.User.Name + " from " + ev.Source.IP + " port 4242 ssh2"
	}
	b.ReportAllocs()
	for b.Loop() {
		h := testHunter(Config{})
		var as []analyzer
		for _, id := range []string{"JEJAK-AUTH-01", "JEJAK-AUTH-02"} {
			a, err := newBruteForce(h, ruleByID(b, id))
			if err != nil {
				b.Fatal(err)
			}
			as = append(as, a)
		}
		for i := range evs {
			for _, a := range as {
				a.observe(&evs[i])
			}
		}
		for _, a := range as {
			if fs := a.finish(); len(fs) != 0 {
				b.Fatalf("%d findings, want none: every source tried once", len(fs))
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}
