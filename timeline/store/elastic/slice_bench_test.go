package elastic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// BenchmarkRead reads a whole index through the single point-in-time
// reader and through 2, 3 and 4 slices of one, on one primary shard and on
// three, and reports events/s (wall), the CPU this process spent per event
// (fetch, decode, merge) and the CPU the Elasticsearch JVM spent per event
// (from its own _nodes stats: on the test cluster, one JVM runs every
// node). JEJAK_BENCH_EVENTS sets the index size (default 100,000).
func BenchmarkRead(b *testing.B) {
	urls := esURLs(b)
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("JEJAK_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	evs := storetest.Many(n)
	for _, shards := range []int{1, 3} {
		s := open(b, elastic.Config{URLs: urls})
		if shards != 1 {
			reshard(b, s, shards)
		}
		ctx := context.Background()
		for lo := 0; lo < n; lo += 5000 {
			if _, err := s.Write(ctx, evs[lo:min(lo+5000, n)]); err != nil {
				b.Fatal(err)
			}
		}
		for _, slices := range []int{1, 2, 3, 4} {
			b.Run(fmt.Sprintf("shards=%d/slices=%d", shards, slices), func(b *testing.B) {
				var r reader = s.PIT()
				if slices > 1 {
					r = s.Sliced(slices)
				}
				cpu0, es0 := cputime.Process(), jvmCPU(b, s)
				b.ResetTimer()
				for range b.N {
					got := 0
					if err := r.Search(ctx, timeline.Query{}, func(*timeline.Event) error { got++; return nil }); err != nil {
						b.Fatal(err)
					}
					if got != n {
						b.Fatalf("read %d events of %d", got, n)
					}
				}
				b.StopTimer()
				total := float64(b.N * n)
				b.ReportMetric(total/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64((cputime.Process()-cpu0).Microseconds())/total, "cpu-µs/event")
				b.ReportMetric(float64((jvmCPU(b, s)-es0).Microseconds())/total, "es-cpu-µs/event")
			})
		}
	}
}

// jvmCPU is the CPU time the Elasticsearch process answering s has used.
func jvmCPU(b *testing.B, s *elastic.Store) time.Duration {
	c := s.Client()
	res, err := c.Nodes.Stats(c.Nodes.Stats.WithNodeID("_local"), c.Nodes.Stats.WithMetric("process"))
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Nodes map[string]struct {
			Process struct {
				CPU struct {
					TotalInMillis int64 `json:"total_in_millis"`
				} `json:"cpu"`
			} `json:"process"`
		} `json:"nodes"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		b.Fatal(err)
	}
	for _, n := range st.Nodes {
		return time.Duration(n.Process.CPU.TotalInMillis) * time.Millisecond
	}
	b.Fatal("no node in _nodes/_local/stats")
	return 0
}
