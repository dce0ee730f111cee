package elastic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// BenchmarkWrite measures Write into a fresh index of the node in
// JEJAK_TEST_ES, in batches of 5,000 distinct events (the batch `jejak
// index` uses), and reports events/s. scripts/bench-es.sh measures the whole
// `jejak index` against a plain curl replay.
func BenchmarkWrite(b *testing.B) {
	esURLs(b)
	const batch = 5000
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			// Every round gets its own index (open's cleanup runs after each),
			// so no event is ever a duplicate, which would be cheaper.
			s := open(b, elastic.Config{Workers: workers})
			evs := storetest.Many(b.N * batch)
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				st, err := s.Write(ctx, evs[i*batch:(i+1)*batch])
				if err != nil {
					b.Fatal(err)
				}
				if st.Inserted != batch {
					b.Fatalf("Write inserted %d of %d", st.Inserted, batch)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkWriteRaw is BenchmarkWrite for events already encoded, as `jejak
// index` can send them from the case store: the difference is the cost of
// encoding.
func BenchmarkWriteRaw(b *testing.B) {
	esURLs(b)
	const batch = 5000
	s := open(b, elastic.Config{})
	raw := rawEvents(b, storetest.Many(b.N*batch))
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		st, err := s.WriteRaw(ctx, raw[i*batch:(i+1)*batch])
		if err != nil {
			b.Fatal(err)
		}
		if st.Inserted != batch {
			b.Fatalf("WriteRaw inserted %d of %d", st.Inserted, batch)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// TestWriteRaw: pre-encoded events land as Write would put them, with the
// same IDs, and re-sending them either way only finds duplicates.
func TestWriteRaw(t *testing.T) {
	s := open(t, elastic.Config{})
	ctx := context.Background()
	evs := storetest.Many(3000)
	raw := rawEvents(t, evs)
	want := map[string]string{}
	for _, r := range raw {
		want[r.ID] = string(r.Doc)
	}
	st, err := s.WriteRaw(ctx, raw)
	if err != nil || st.Inserted != len(raw) || st.Duplicates != 0 {
		t.Fatalf("WriteRaw = %+v, %v; want %d inserted", st, err, len(raw))
	}
	got := 0
	if err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		doc, _ := json.Marshal(e)
		if want[e.Jejak.ID] != string(doc) {
			t.Errorf("event %s came back as %s, want %s", e.Jejak.ID, doc, want[e.Jejak.ID])
		}
		got++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got != len(raw) {
		t.Errorf("Search found %d events, want %d", got, len(raw))
	}
	if st, err := s.Write(ctx, evs); err != nil || st.Duplicates != len(evs) {
		t.Errorf("Write after WriteRaw = %+v, %v; want all duplicates", st, err)
	}
	if st, err := s.WriteRaw(ctx, raw[:10]); err != nil || st.Duplicates != 10 {
		t.Errorf("WriteRaw again = %+v, %v; want all duplicates", st, err)
	}
	if _, err := s.WriteRaw(ctx, []elastic.RawEvent{{Doc: raw[0].Doc}}); err == nil {
		t.Error("WriteRaw took an event without an ID")
	}
}
