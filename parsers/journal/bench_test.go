//go:build unix

package journal

import (
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// BenchmarkParse reads a 100,000-entry journal (compact, zstd, as Debian's
// systemd-journal-remote writes it) and reports entries/s, beside
// journalctl -o json on the same file (its time logged once).
func BenchmarkParse(b *testing.B) {
	journalctl, remote := tools(b)
	const n = 100000
	file := buildJournal(b, remote, b.TempDir(), "bench.journal", writeExport(sampleEntries(n)), true)
	start := time.Now()
	cmd := exec.Command(journalctl, "--file="+file, "-o", "json", "--no-pager")
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		b.Fatal(err)
	}
	jt := time.Since(start)
	jcpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	b.Logf("journalctl --file -o json > /dev/null: %d entries in %s wall (%.0f entries/s), %s CPU (%.0f entries/CPU-s)",
		n, jt, n/jt.Seconds(), jcpu, n/jcpu.Seconds())
	f, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	cpu0 := cputime.Process()
	b.ResetTimer()
	for b.Loop() {
		got := 0
		err := New().Parse(context.Background(), &parsers.Source{R: f, ReaderAt: f, Size: st.Size(), Zone: time.UTC,
			Warn: func(w *parsers.RecordError) { b.Fatal(w) }},
			func(*timeline.Event) error { got++; return nil })
		if err != nil || got != n {
			b.Fatalf("%d events, %v", got, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	// CPU time says more than wall time on a shared machine; it counts
	// the whole process (GC included) over the loop.
	b.ReportMetric(float64(n*b.N)/(cputime.Process()-cpu0).Seconds(), "entries/CPU-s")
}
