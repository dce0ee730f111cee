package mft_test

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// BenchmarkTimeline measures the MFT timeline of the forensics-samples
// NTFS volume (open the volume, find $MFT, every entry's SI and FN events)
// in entries/s, and runs fls -r -m on the same volume as many times for
// the side-by-side figure (fls_ratio: fls time / our time).
func BenchmarkTimeline(b *testing.B) {
	img := oracle.Sample(b, "ntfs")
	var entries float64
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		e := volumeMFT(b, img, "")[0]
		res := parsertest.Parse(context.Background(), mft.New(), e, time.UTC)
		if res.Err != nil {
			b.Fatal(res.Err)
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
