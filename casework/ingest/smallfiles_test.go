//go:build unix

package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
)

// countSink counts what ingest writes and keeps nothing, so a benchmark's
// allocations are the pipeline's.
type countSink struct{ n int }

func (s *countSink) Write(_ context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	s.n += len(b)
	return timeline.WriteStats{Inserted: len(b)}, nil
}

func (s *countSink) Close() error { return nil }

// BenchmarkIngestSmallFiles ingests a folder of 2,000 small files — the
// shape of a system image, where most files are a few KB and most are not
// logs — on every core. Bytes allocated per file (B/op divided by 2,000)
// is what the per-file read buffer costs (issue 15: 73 GiB allocated at
// 300k files when every file had a fresh 256 KiB one).
func BenchmarkIngestSmallFiles(b *testing.B) {
	const files = 2000
	root := b.TempDir()
	ev := filepath.Join(root, "evidence")
	for i := range files {
		dir := filepath.Join(ev, fmt.Sprintf("d%02d", i%50))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		var content []byte
		switch i % 4 {
		case 0: // a small auth log
			content = fmt.Appendf(nil, "Feb 14 08:%02d:00 host sshd[%d]: Failed password for root from 203.0.113.%d port 22 ssh2\n", i%60, i, i%250)
		case 1: // binary that matches nothing
			content = make([]byte, 3000)
			for j := range content {
				content[j] = byte(j*7 + i)
			}
		default: // text that is no log
			content = fmt.Appendf(nil, "# configuration %d\nkey=value\nother=%d\n", i, i*3)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	b.ReportAllocs()
	cpu := cputime.Process().Seconds()
	for b.Loop() {
		w, err := jfs.Open(ctx, ev, jfs.Options{TempDir: root})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: root},
			[]ingest.Item{{SHA256: "e", Name: "evidence", Walker: w}}, &countSink{})
		if err != nil {
			b.Fatal(err)
		}
		if sum.FilesSeen != int64(files) {
			b.Fatalf("%d files seen, want %d", sum.FilesSeen, files)
		}
	}
	b.ReportMetric(float64(files)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric((cputime.Process().Seconds()-cpu)*1e6/float64(files*b.N), "cpu-µs/file")
}
