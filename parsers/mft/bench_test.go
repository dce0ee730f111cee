package mft_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/timeline"
)

// BenchmarkTimeline measures the MFT timeline of the forensics-samples
// NTFS volume (open the volume, find $MFT, every entry's SI and FN events)
// in entries/s, and runs fls -r -m on the same volume as many times for
// the side-by-side figure (fls_ratio: fls time / our time). Each event is
// finalized and dropped, as ingest hands it on: a benchmark that kept them
// (parsertest.Parse does) measures its own memory, about 7 KB per entry.
// scripts/bench.sh runs the same work on volumes of 30k to 1M files.
func BenchmarkTimeline(b *testing.B) {
	img := oracle.Sample(b, "ntfs")
	var entries float64
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		e := volumeMFT(b, img, "")[0]
		ra, ok, err := e.ReaderAt()
		if !ok {
			b.Fatal("$MFT without random access", err)
		}
		src := &parsers.Source{Entry: e, ReaderAt: ra, Size: e.Size, Zone: time.UTC,
			Warn: func(w *parsers.RecordError) { b.Error(w) }}
		err = mft.New().Parse(context.Background(), src, func(ev *timeline.Event) error {
			ev.Finalize()
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		entries = float64(e.Size / 1024)
	}
	ours := time.Since(start)
	b.StopTimer()
	b.ReportMetric(entries*float64(b.N)/ours.Seconds(), "entries/s")
	if _, err := exec.LookPath("fls"); err != nil {
		return
	}
	fstart := time.Now()
	for i := 0; i < b.N; i++ {
		if err := exec.Command("fls", "-r", "-m", "/", "-o", "2048", img).Run(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(time.Since(fstart).Seconds()/ours.Seconds(), "fls_ratio")
}
