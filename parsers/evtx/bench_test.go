package evtx

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	vevtx "www.velocidex.com/golang/evtx"
)

// openBenchFile opens the corpus security.evtx for a benchmark, which
// reports its bytes per second; the file is closed with the benchmark.
func openBenchFile(b *testing.B) (f *os.File, path string, size int64) {
	path = parsertest.Corpus(b, "logs/windows/security.evtx")
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	return f, path, st.Size()
}

// BenchmarkParse reports records/s on security.evtx through the whole
// parser (decode, normalise, build events, carve slack), with GOMAXPROCS
// workers.
// evtxexport's rate on the same file is measured from the shell (see the
// package report); it is not timed here.
func BenchmarkParse(b *testing.B) {
	f, path, size := openBenchFile(b)
	p := New(0)
	b.ReportAllocs()
	records, recovered := 0, 0
	for b.Loop() {
		// The file's only warnings are about slack records whose template
		// was overwritten (see TestRecoveredAgainstEvtxexport).
		src := &parsers.Source{Entry: parsertest.FileEntry(b, path), ReaderAt: f, Size: size,
			Warn: func(w *parsers.RecordError) {
				if !errors.Is(w.Err, parsers.ErrUnrecovered) {
					b.Fatalf("warning on an undamaged file: %v", w)
				}
			}}
		err := p.Parse(context.Background(), src, func(ev *timeline.Event) error {
			if isRecovered(ev) {
				recovered++
			} else {
				records++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// records/s counts live records only, so that it compares with the
	// figures from before slack carving; the time includes the carving.
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(recovered)/float64(b.N), "recovered/op")
}

// BenchmarkVelocidex decodes the same file with the Velocidex library, the
// number this package's own decoder is measured against.
func BenchmarkVelocidex(b *testing.B) {
	f, err := os.Open(parsertest.Corpus(b, "logs/windows/security.evtx"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	records := 0
	for b.Loop() {
		chunks, err := vevtx.GetChunks(f)
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range chunks {
			recs, _ := c.Parse(0)
			records += len(recs)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParseRecycled is BenchmarkParse as the ingest runs the parser:
// every event is given back (Parser.Recycle) once stored, a batch later,
// here when 2,048 newer events have been emitted, so that blocks and maps
// come back as cold as the store leaves them.
func BenchmarkParseRecycled(b *testing.B) {
	f, path, size := openBenchFile(b)
	p := New(0)
	b.ReportAllocs()
	var ring [2048]*timeline.Event
	n := 0
	for b.Loop() {
		src := &parsers.Source{Entry: parsertest.FileEntry(b, path), ReaderAt: f, Size: size,
			Warn: func(*parsers.RecordError) {}}
		err := p.Parse(context.Background(), src, func(ev *timeline.Event) error {
			if old := ring[n%len(ring)]; old != nil {
				p.Recycle(old)
			}
			ring[n%len(ring)] = ev
			n++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
