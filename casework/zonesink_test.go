package casework

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/zonecheck"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// The zone check's wrapper keeps the case store's encoding ahead: a first
// analyze (the one run with a checker) would otherwise encode every batch
// in the store's Write again. Batches written either way through it are
// stored, and a sink that cannot encode ahead stays a plain Sink.
func TestZoneCheckKeepsEncodingAhead(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	sink := withZoneCheck(store, zonecheck.New(), &machineFed{})
	enc, ok := sink.(timeline.EncodingSink)
	if !ok {
		t.Fatalf("withZoneCheck(store) is %T: not a timeline.EncodingSink", sink)
	}
	batch := func(from int) []*timeline.Event {
		var b []*timeline.Event
		for i := range 50 {
			e := &timeline.Event{Timestamp: time.Unix(int64(1700000000+from+i), 0), TimestampDesc: "Written",
				Message: "sshd: Accepted password", Event: timeline.EventMeta{Action: "logon"}}
			e.Jejak.Provenance = timeline.Provenance{EvidenceSHA256: "aa", Path: "/var/log/auth.log", Parser: "syslog",
				Offset: int64(from + i), Record: int64(from + i + 1)}
			e.Finalize()
			b = append(b, e)
		}
		return b
	}
	ahead := batch(0)
	e := enc.NewEncoding()
	for _, ev := range ahead {
		e.Add(ev)
	}
	if st, err := enc.WriteEncoded(ctx, ahead, e); err != nil || st.Inserted != len(ahead) {
		t.Fatalf("WriteEncoded: %+v, %v", st, err)
	}
	if st, err := sink.Write(ctx, batch(100)); err != nil || st.Inserted != 50 {
		t.Fatalf("Write: %+v, %v", st, err)
	}
	if n, err := store.Count(ctx, timeline.Query{}); err != nil || n != 100 {
		t.Fatalf("stored %d events (%v), want 100", n, err)
	}
	if _, ok := withZoneCheck(timeline.Tee(store), zonecheck.New(), &machineFed{}).(timeline.EncodingSink); ok {
		t.Error("a sink that does not encode ahead became an EncodingSink")
	}
}
