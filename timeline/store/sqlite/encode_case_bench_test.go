package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
)

// caseEvents reads the events of the case.db named by JEJAK_BENCH_CASE in
// storage order (the order the writer got them in), decoded by
// encoding/json, or skips the benchmark.
func caseEvents(b *testing.B) []*timeline.Event {
	path := os.Getenv("JEJAK_BENCH_CASE")
	if path == "" {
		b.Skip("JEJAK_BENCH_CASE (a case.db) not set")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var evs []*timeline.Event
	err = ScanDocs(context.Background(), db, func(_ []byte, _ int64, doc []byte) error {
		e := new(timeline.Event)
		if err := json.Unmarshal(doc, e); err != nil {
			return err
		}
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(evs) == 0 {
		b.Fatal("no events")
	}
	return evs
}

// BenchmarkCaseEncode encodes a real case's events as the writer does:
// documents only (appendStored with the memo), and whole chunks
// (documents, blocks, zstd). Set JEJAK_BENCH_CASE to a case.db.
func BenchmarkCaseEncode(b *testing.B) {
	evs := caseEvents(b)
	b.Run("docs", func(b *testing.B) {
		var m encMemo
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			for _, e := range evs {
				buf, _ = appendStored(buf[:0], e, &m)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
	b.Run("chunks", func(b *testing.B) {
		var c chunk
		b.ReportAllocs()
		for b.Loop() {
			for lo := 0; lo < len(evs); lo += encodeChunk {
				c.encode(evs[lo:min(lo+encodeChunk, len(evs))])
				if c.err != nil {
					b.Fatal(c.err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
	})
}
