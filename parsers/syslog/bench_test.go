//go:build unix

package syslog

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// BenchmarkParse runs the parser on ~8 MB of real lines: elastic's auth.log
// (sshd brute force, sudo, cron, PAM: the normalisers' worst case) repeated,
// with the loghub Linux syslog and the RFC 5424 file mixed in.
func BenchmarkParse(b *testing.B) {
	var corpus []byte
	for _, rel := range []string{"more/linux/auth/elastic_examples_auth.log", "logs/loghub/Linux_2k.log", "logs/syslog/syslog_rsyslog_SyslogProtocol23Format"} {
		data, err := os.ReadFile(parsertest.Corpus(b, rel))
		if err != nil {
			b.Fatal(err)
		}
		corpus = append(corpus, data...)
	}
	input := bytes.Repeat(corpus, max(1, (8<<20)/len(corpus)))
	entry := parsertest.BytesEntry("bench", input, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC))
	p := New()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	// The machine is shared: wall-clock MB/s swings with other load, so the
	// process CPU time (all threads, GC included) is reported beside it.
	cpu0 := cputime.Process()
	b.ResetTimer()
	for b.Loop() {
		n := 0
		src := &parsers.Source{Entry: entry, R: bytes.NewReader(input), Size: int64(len(input)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) {}}
		if err := p.Parse(context.Background(), src, func(*timeline.Event) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatal("no events")
		}
	}
	if d := cputime.Process() - cpu0; d > 0 {
		b.ReportMetric(float64(len(input))*float64(b.N)/d.Seconds()/1e6, "MB/cpu-s")
	}
}
