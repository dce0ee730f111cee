package ingest

import (
	"context"
	"fmt"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestBatchWeight: a batch ends at BatchSize events or at batchWeight
// events plus map entries, whichever comes first, and every event is
// handed on exactly once.
func TestBatchWeight(t *testing.T) {
	for _, tc := range []struct {
		name      string
		entries   int // map entries per event
		size      int
		wantFirst int
	}{
		{"plain events end at BatchSize", 0, 10000, 10000},
		{"small BatchSize wins", 19, 100, 100},
		{"Windows-like events end at the weight", 19, 10000, batchWeight / 20},
		{"partly weighted", 5, 10000, (batchWeight + 5) / 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n = 25000
			r := &runner{cfg: Config{BatchSize: tc.size}, batch: make(chan *batch, n)}
			o := &emitter{r: r, size: tc.size}
			ctx := context.Background()
			e := &jfs.Entry{Path: "Security.evtx"}
			for i := range n {
				ev := &timeline.Event{Timestamp: time.Unix(int64(i), 0).UTC(), Message: "m"}
				if tc.entries > 0 {
					// Split between the two maps, as a Windows record has them.
					ev.Jejak.Data = map[string]string{}
					ev.Winlog = &timeline.Winlog{EventData: map[string]string{}}
					for k := range tc.entries {
						if k%2 == 0 {
							ev.Jejak.Data[fmt.Sprint("d", k)] = "v"
						} else {
							ev.Winlog.EventData[fmt.Sprint("e", k)] = "v"
						}
					}
				}
				if err := o.emit(ctx, Item{SHA256: "ab", Name: "x"}, e, "evtx", ev); err != nil {
					t.Fatal(err)
				}
			}
			o.flush()
			close(r.batch)
			total, first := 0, -1
			for b := range r.batch {
				if first < 0 {
					first = len(b.events)
				}
				if len(b.events) > tc.size {
					t.Fatalf("batch of %d events, BatchSize %d", len(b.events), tc.size)
				}
				total += len(b.events)
			}
			if first != tc.wantFirst {
				t.Errorf("first batch: %d events, want %d", first, tc.wantFirst)
			}
			if total != n || r.sum.Events != n {
				t.Errorf("handed on %d events, counted %d, want %d", total, r.sum.Events, n)
			}
		})
	}
}
