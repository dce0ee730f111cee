package evtx

import (
	"context"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	vevtx "www.velocidex.com/golang/evtx"
)

// BenchmarkParse reports records/s on security.evtx through the whole
// parser (decode, normalise, build events), with GOMAXPROCS workers.
// evtxexport's rate on the same file is measured from the shell (see the
// package report); it is not timed here.
func BenchmarkParse(b *testing.B) {
	path := parsertest.Corpus(b, "logs/windows/security.evtx")
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	p := New(0)
	b.SetBytes(st.Size())
	b.ReportAllocs()
	records := 0
	for b.Loop() {
		src := &parsers.Source{Entry: parsertest.FileEntry(b, path), ReaderAt: f, Size: st.Size(),
			Warn: func(w *parsers.RecordError) { b.Fatalf("warning on an undamaged file: %v", w) }}
		if err := p.Parse(context.Background(), src, func(*timeline.Event) error { records++; return nil }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
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
