package registry

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// BenchmarkParse parses every corpus hive (keys, values summarised, the
// plugins) from memory and reports keys per second; compare with
// regfexport on the same files (see the package tests' report).
func BenchmarkParse(b *testing.B) {
	var files [][]byte
	for _, c := range corpusHives {
		d, err := os.ReadFile(parsertest.Corpus(b, c.rel))
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, d)
	}
	b.ResetTimer()
	var keys int64
	for range b.N {
		for _, d := range files {
			e := parsertest.BytesEntry("hive", d, time.Time{})
			ra, _, _ := e.ReaderAt()
			src := &parsers.Source{Entry: e, ReaderAt: ra, Size: int64(len(d)), Zone: time.UTC, Warn: func(*parsers.RecordError) {}}
			st, err := New().ParseStats(context.Background(), src, func(*timeline.Event) error { return nil })
			if err != nil {
				b.Fatal(err)
			}
			keys += st.Keys
		}
	}
	b.ReportMetric(float64(keys)/b.Elapsed().Seconds(), "keys/s")
}
