package ingest

import (
	"context"
	"maps"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestZoneAssumedCounts: the events read in an assumed zone are counted per
// zone in the summary, whatever way the zones alternate, across batches and
// with events read in no assumed zone between them (the emitter counts runs
// of one zone, not each event in a map).
func TestZoneAssumedCounts(t *testing.T) {
	zones := []string{"Asia/Jakarta", "Asia/Jakarta", "", "UTC", "Asia/Jakarta", "UTC", "UTC", "", "", "Europe/Berlin"}
	r := &runner{cfg: Config{BatchSize: 7}, batch: make(chan *batch, 1000)}
	o := &emitter{r: r, size: 7}
	ctx := context.Background()
	e := &jfs.Entry{Path: "auth.log"}
	want := map[string]int64{}
	for i := range 1000 {
		ev := &timeline.Event{Timestamp: time.Unix(int64(i), 0).UTC(), Message: "m"}
		// Runs of several events, of changing length, in each zone.
		z := zones[(i/(1+i%5))%len(zones)]
		switch {
		case z != "":
			ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: z}
			want[z]++
		case i%2 == 0:
			ev.Jejak.Time = &timeline.TimeNote{YearInferred: true}
		}
		if err := o.emit(ctx, Item{SHA256: "ab", Name: "x"}, e, "syslog", ev); err != nil {
			t.Fatal(err)
		}
	}
	o.flush()
	if !maps.Equal(r.sum.ZoneAssumed, want) || r.sum.Events != 1000 {
		t.Errorf("%d events, zones %v; want 1000, %v", r.sum.Events, r.sum.ZoneAssumed, want)
	}
}
