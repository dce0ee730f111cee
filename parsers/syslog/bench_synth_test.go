//go:build unix

package syslog

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// synthAuthLog writes about size bytes of the synthetic auth.log that
// scripts/bench.sh feeds to `jejak analyze` (the same six line shapes in the
// same proportions: sshd failures, invalid users, publickey logins, PAM
// sessions, sudo and cron; one second apart; a third of the addresses new),
// so the parser alone can be measured on the bytes the end-to-end run reads
// without a 1 GB file on disk. The known addresses come from a seeded
// math/rand, not Python's, so the text differs from bench.sh's in those
// digits only.
func synthAuthLog(size int) []byte {
	rnd := rand.New(rand.NewSource(15))
	users := []string{"root", "admin", "kpu", "operator", "ubuntu", "backup"}
	for i := range 200 {
		users = append(users, fmt.Sprintf("u%03d", i))
	}
	known := make([]string, 500)
	for i := range known {
		known[i] = fmt.Sprintf("10.%d.%d.%d", rnd.Intn(256), rnd.Intn(256), 1+rnd.Intn(254))
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	b.Grow(size + 256)
	for i := 1; b.Len() < size; i++ {
		ts := t0.Add(time.Duration(i) * time.Second).Format("Jan _2 15:04:05")
		pid := 1000 + i%30000
		u := users[i%len(users)]
		ip := known[i%500]
		if i%3 == 0 {
			ip = fmt.Sprintf("%d.%d.%d.%d", 1+i%223, (i>>8)%256, (i>>16)%256, 1+i%254)
		}
		port := 1024 + i%60000
		var msg string
		switch k := i % 10; {
		case k < 4:
			msg = fmt.Sprintf("sshd[%d]: Failed password for %s from %s port %d ssh2", pid, u, ip, port)
		case k < 6:
			msg = fmt.Sprintf("sshd[%d]: Invalid user %sx from %s port %d", pid, u, ip, port)
		case k == 6:
			msg = fmt.Sprintf("sshd[%d]: Accepted publickey for %s from %s port %d ssh2: RSA SHA256:%032x", pid, u, ip, port, i)
		case k == 7:
			msg = fmt.Sprintf("sshd[%d]: pam_unix(sshd:session): session opened for user %s by (uid=0)", pid, u)
		case k == 8:
			msg = fmt.Sprintf("sudo:   %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", u, i%8, u)
		default:
			msg = fmt.Sprintf("CRON[%d]: pam_unix(cron:session): session closed for user root", pid)
		}
		fmt.Fprintf(&b, "%s tabulasi-01 %s\n", ts, msg)
	}
	return b.Bytes()
}

// BenchmarkParseAuthLog is the parser's share of the text-log workload of
// issue 15: 32 MB of bench.sh's synthetic auth.log, parsed to events that
// are dropped (no store). MB/cpu-s is the figure to compare: the machine is
// shared, so wall-clock MB/s moves with other people's load.
func BenchmarkParseAuthLog(b *testing.B) { benchAuthLog(b, false, false) }

// BenchmarkParseFinalizeAuthLog is BenchmarkParseAuthLog with every event
// finalized as ingest's emitter does (ID, related.*), the parser's whole
// share of an analyze before the store.
func BenchmarkParseFinalizeAuthLog(b *testing.B) { benchAuthLog(b, true, false) }

// BenchmarkParseRecycleAuthLog is BenchmarkParseFinalizeAuthLog with the
// events given back to the parser (Recycle) in batches of 10,000, as
// ingest does once the store has written a batch: what the parser
// allocates per event in a steady analyze.
func BenchmarkParseRecycleAuthLog(b *testing.B) { benchAuthLog(b, true, true) }

func benchAuthLog(b *testing.B, finalize, recycle bool) {
	input := synthAuthLog(32 << 20)
	entry := parsertest.BytesEntry("auth.log", input, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC))
	p := New()
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	cpu0 := cputime.Process()
	b.ResetTimer()
	for b.Loop() {
		n, warns := 0, 0
		src := &parsers.Source{Entry: entry, R: bytes.NewReader(input), Size: int64(len(input)), Zone: time.UTC,
			Warn: func(*parsers.RecordError) { warns++ }}
		var held []*timeline.Event
		release := func() {
			for _, ev := range held {
				p.Recycle(ev)
			}
			held = held[:0]
		}
		emit := func(ev *timeline.Event) error {
			if finalize {
				ev.Finalize()
			}
			n++
			if recycle {
				if held = append(held, ev); len(held) == 10000 {
					release()
				}
			}
			return nil
		}
		if err := p.Parse(context.Background(), src, emit); err != nil {
			b.Fatal(err)
		}
		release()
		if n == 0 || warns != 0 {
			b.Fatalf("%d events, %d warnings", n, warns)
		}
	}
	if d := cputime.Process() - cpu0; d > 0 {
		b.ReportMetric(float64(len(input))*float64(b.N)/d.Seconds()/1e6, "MB/cpu-s")
	}
}
