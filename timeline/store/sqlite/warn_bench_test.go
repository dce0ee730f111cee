package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/timeline"
)

// imageWarnings are the warnings of the bench's NTFS image of n small
// files as its ingest hands them to the store: one "skipped" warning per
// file, all but a few with one message (each its own string, as the
// ingest formats it per file), the chain the image's head and the path.
func imageWarnings(n int) []timeline.Warning {
	const sha = "2011afe9e6f1e352ef0f07fff2aff4cc061980598ae4dba30552a8e51f2bc805"
	ws := make([]timeline.Warning, n)
	for i := range ws {
		p := fmt.Sprintf("dir%04d/file%07d.txt", i/1000, i)
		m := fmt.Sprintf("no parser recognises the content: text in no known log format (tried %d formats; none accepted any of %d sampled lines)", 37, 1)
		switch {
		case i%500 == 7:
			m = fmt.Sprintf("empty file: %d bytes, nothing to parse", 0)
		case i%5000 == 11:
			m = fmt.Sprintf("no parser recognises the content: binary content, first bytes %02x 00 53 00 54 00 41 00", i%256)
		}
		ws[i] = timeline.Warning{Kind: timeline.WarnSkipped, Evidence: sha, Chain: []string{"raw:", "ntfs:" + p}, Path: p, Offset: -1, Message: m}
	}
	return ws
}

// BenchmarkAddWarningsImage stores the 300,013 skipped files of the
// bench's 300k NTFS image as the ingest does: the WarningWriter's batches
// of 25,000 through AddWarningsBetweenWrites, hashed into the custody
// digest (SHA-256 behind a buffer), in CPU seconds per run.
func BenchmarkAddWarningsImage(b *testing.B) {
	ctx := context.Background()
	const total, batch = 300013, 25000
	ws := imageWarnings(total)
	var cpu float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := open(b)
		if _, err := s.BeginRun(ctx, time.Unix(0, 0), "bench"); err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		d := s.DigestWarnings(ctx, h)
		if d == nil {
			b.Fatal("no digest stream")
		}
		b.StartTimer()
		cpu -= cputime.Process().Seconds()
		for lo := 0; lo < total; lo += batch {
			if err := s.AddWarningsBetweenWrites(ctx, ws[lo:min(lo+batch, total)], d); err != nil {
				b.Fatal(err)
			}
		}
		cpu += cputime.Process().Seconds()
		b.StopTimer()
		if n, ok, err := d.Finish(ctx); err != nil || !ok || n != total {
			b.Fatalf("digest: %d rows, ok %v, %v (%s)", n, ok, err, d.Broken())
		}
		b.StartTimer()
	}
	b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
}
