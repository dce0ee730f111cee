//go:build unix

package hunt

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/timeline"
)

// memTimeline is a timeline already decoded, read back in its order: it
// takes the store out of a hunt, to measure what the rules themselves cost.
type memTimeline []timeline.Event

func (m memTimeline) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	for i := range m {
		ev := &m[i]
		if !q.From.IsZero() && ev.Timestamp.Before(q.From) || !q.To.IsZero() && !ev.Timestamp.Before(q.To) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// readAll decodes a store's whole timeline once, into memory.
func readAll(b *testing.B, st timeline.Store) memTimeline {
	var m memTimeline
	if err := st.Search(context.Background(), timeline.Query{}, func(ev *timeline.Event) error {
		m = append(m, *ev)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkHuntRules runs the built-in rules over timelines held in memory
// (the corpus's EVTX files; a 300,000-line auth.log with a baseline, and
// one where every failed attempt comes from a new address): the hunt's own
// CPU per event, rule evaluation and the findings, without reading or
// decoding stored rows, which is what the whole-hunt benchmarks
// (BenchmarkHuntBuiltinEVTX, BenchmarkHuntSyslog*) add (issue 15).
func BenchmarkHuntRules(b *testing.B) {
	run := func(b *testing.B, m memTimeline, cfg Config) {
		cfg.Rules = nil
		b.ReportAllocs()
		var findings int
		cpu0 := cputime.Process()
		for b.Loop() {
			fs, err := Hunt(context.Background(), m, cfg)
			if err != nil {
				b.Fatal(err)
			}
			findings = len(fs)
		}
		cpu := (cputime.Process() - cpu0) / time.Duration(b.N)
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(len(m)), "cpu-ns/event")
		b.ReportMetric(float64(len(m))/cpu.Seconds(), "events/cpu-s")
		b.ReportMetric(float64(findings), "findings")
	}
	b.Run("evtx", func(b *testing.B) {
		evtx := corpusEVTX(b)
		st, _ := casetest.Build(b, evtx...)
		run(b, readAll(b, st), Config{})
	})
	for _, c := range []struct {
		name string
		pool int
	}{{"syslog", 2_000}, {"syslog-many-sources", 0}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 300_000
			path := filepath.Join(b.TempDir(), "auth.log")
			base := time.Date(2024, 2, 10, 0, 0, 0, 0, time.UTC)
			writeAuthLog(b, path, base, n, c.pool)
			st, _ := casetest.Build(b, path)
			run(b, readAll(b, st), Config{After: base.Add(n / 2 * time.Second)})
		})
	}
}
