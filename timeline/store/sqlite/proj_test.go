package sqlite

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestSearchProjected stores every event the parsers make of the corpus
// (Windows event logs for the most part) and Windows records of every
// kind testProj treats apart, and reads them back with Search and with
// SearchProjected: the same events in the same order, but for exactly the
// map entries testProj leaves out.
func TestSearchProjected(t *testing.T) {
	if !modelMatches() {
		t.Skip("the model changed: TestEncoderKnowsTheModel says what to do")
	}
	evs, _ := corpusEvents(t)
	base := time.Date(2024, 2, 14, 8, 0, 0, 0, time.UTC)
	for i := range 300 {
		e := &timeline.Event{Timestamp: base.Add(time.Duration(i%7) * time.Second), Message: fmt.Sprint("record ", i),
			Winlog: &timeline.Winlog{Channel: "Security", EventID: []int{4624, 18456, 4907}[i%3], ProviderName: "p",
				EventData: map[string]string{"TargetUserName": "u", "OldSd": "D:(A;;0x1;;;WD)", "Data_3": "x", "a": ""}},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: "ab", Path: "s.evtx", Parser: "evtx", Record: int64(i)},
				Data: map[string]string{"level": "4", "thread_id": "9"}}}
		if i%5 == 0 {
			e.Winlog.ProviderName = "" // not written: the head is still complete
		}
		evs = append(evs, e)
	}
	for _, e := range evs {
		e.Finalize()
	}
	ctx := context.Background()
	s := open(t)
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var whole []timeline.Event
	if err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		whole = append(whole, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	n, left := 0, 0
	err := s.SearchProjected(ctx, timeline.Query{}, &testProj, func(e *timeline.Event) error {
		if n >= len(whole) {
			return fmt.Errorf("more events than Search's %d", len(whole))
		}
		w := whole[n]
		w.Related = nil // SearchProjected is SearchTransient
		want := projectEvent(w, true)
		if !reflect.DeepEqual(*e, want) {
			t.Fatalf("event %d (%s) projected:\n got  %#v\n want %#v", n, e.Jejak.ID, e, want)
		}
		if w.Winlog != nil {
			left += len(w.Winlog.EventData) - len(e.Winlog.EventData) + len(w.Jejak.Data) - len(e.Jejak.Data)
		}
		n++
		return nil
	})
	if err != nil || n != len(whole) {
		t.Fatalf("SearchProjected gave %d of %d events, %v", n, len(whole), err)
	}
	if left == 0 {
		t.Fatal("no map entry left out: the test would prove nothing")
	}
	t.Logf("%d events, %d map entries left out", n, left)
}

// TestKeys checks the key set's two lookups against each other and the
// expected members: names of lengths 6 and 70 (which a filter by length
// modulo 64 would confuse), the empty name, near misses, prefixes.
func TestKeys(t *testing.T) {
	long := strings.Repeat("k", 70)
	k := NewKeys([]string{"TargetUserName", "a", "", long, "level"}, []string{"Data_"})
	for _, c := range []struct {
		key  string
		want bool
	}{
		{"TargetUserName", true}, {"a", true}, {"", true}, {long, true}, {"level", true},
		{"Data_2", true}, {"Data_", true},
		{"TargetUserNam", false}, {"TargetUserNamx", false}, {"b", false}, {"levels", false},
		{long[:6], false}, {strings.Repeat("k", 6), false}, {long + "k", false}, {"Data", false},
		{"thread_id", false}, {"provider_guid", false},
	} {
		if got, gotB := k.Has(c.key), k.hasBytes([]byte(c.key)); got != c.want || gotB != c.want {
			t.Errorf("%q: Has %v, hasBytes %v, want %v", c.key, got, gotB, c.want)
		}
	}
}

// TestProjectorRecent: the projector's cache in front of its maps gives
// each head the keys its func gives, whatever the heads that share a
// slot of the cache (event IDs projRecent apart, one ID in two channels
// or from two providers) and after the maps were cleared (4096 heads):
// the func is asked once per head until then.
func TestProjectorRecent(t *testing.T) {
	asked := map[WinlogHead]int{}
	byHead := map[WinlogHead]*Keys{}
	keysOf := func(data bool) func(WinlogHead) *Keys {
		return func(h WinlogHead) *Keys {
			if !data {
				asked[h]++
			}
			if h.EventID%7 == 0 {
				return nil // every key
			}
			k, ok := byHead[h]
			if !ok {
				k = NewKeys([]string{fmt.Sprint(h.Channel, h.EventID, h.Provider, data)}, nil)
				byHead[h] = k
			}
			return k
		}
	}
	pr := newProjector(&Projection{EventData: keysOf(false), WinData: keysOf(true)})
	var heads []WinlogHead
	for _, id := range []int{4624, 4624 + projRecent, 4624 + 2*projRecent, 7, 4625, 4625 + projRecent*4} {
		for _, ch := range []string{"Security", "System"} {
			for _, p := range []string{"Microsoft-Windows-Security-Auditing", "p"} {
				heads = append(heads, WinlogHead{Channel: ch, EventID: id, Provider: p})
			}
		}
	}
	check := func(h WinlogHead) {
		t.Helper()
		for _, data := range []bool{false, true} {
			hm := pr.keys(h, data)
			want := keysOf(data)(h)
			if !data {
				asked[h]-- // the call just made
			}
			switch {
			case want == nil && hm != nil:
				t.Fatalf("%+v data %v: keys %v, want every key (nil)", h, data, hm.keys)
			case want != nil && (hm == nil || hm.keys != want):
				t.Fatalf("%+v data %v: another head's keys", h, data)
			}
		}
	}
	for round := range 3 {
		for i := range heads {
			// Each head after every other: the slots change hands.
			check(heads[i])
			check(heads[(i*5+round)%len(heads)])
		}
	}
	for h, n := range asked {
		if n != 1 {
			t.Errorf("%+v: asked %d times, want once", h, n)
		}
	}
	// Past 4096 heads the maps are cleared; the cache with them.
	for id := range 5000 {
		check(WinlogHead{Channel: "Application", EventID: 100000 + id, Provider: "x"})
	}
	for _, h := range heads {
		check(h)
	}
}

// TestSearchProjectedSharesEventData: records of one head whose kept
// event_data entries are equal (they differ in an entry left out) share
// one map, as their jejak.data does; a record whose kept entries differ
// gets a map of its own, with its values.
func TestSearchProjectedSharesEventData(t *testing.T) {
	base := time.Date(2024, 2, 14, 8, 0, 0, 0, time.UTC)
	var evs []*timeline.Event
	for i := range 200 {
		user := "u"
		if i%50 == 49 {
			user = fmt.Sprint("other", i)
		}
		e := &timeline.Event{Timestamp: base.Add(time.Duration(i) * time.Second), Message: fmt.Sprint("record ", i),
			Winlog: &timeline.Winlog{Channel: "Security", EventID: 4672, ProviderName: "p",
				EventData: map[string]string{"TargetUserName": user, "OldSd": fmt.Sprint("D:", i)}},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{EvidenceSHA256: "ab", Path: "s.evtx", Parser: "evtx", Record: int64(i)},
				Data: map[string]string{"level": "4", "thread_id": fmt.Sprint(i)}}}
		e.Finalize()
		evs = append(evs, e)
	}
	ctx := context.Background()
	s := open(t)
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	var prev map[string]string
	n, shared := 0, 0
	err := s.SearchProjected(ctx, timeline.Query{}, &testProj, func(e *timeline.Event) error {
		want := map[string]string{"TargetUserName": evs[n].Winlog.EventData["TargetUserName"]}
		if !reflect.DeepEqual(e.Winlog.EventData, want) {
			t.Fatalf("record %d: event_data %v, want %v", n, e.Winlog.EventData, want)
		}
		if prev != nil && reflect.ValueOf(prev).Pointer() == reflect.ValueOf(e.Winlog.EventData).Pointer() {
			shared++
		}
		prev = e.Winlog.EventData
		n++
		return nil
	})
	if err != nil || n != len(evs) {
		t.Fatalf("%d of %d events, %v", n, len(evs), err)
	}
	// Two decoding workers take chunks in turns: each first map of a
	// chunk, and the maps around the four other users, are new.
	if shared < len(evs)/2 {
		t.Errorf("%d of %d event_data maps shared with the record before, want most", shared, len(evs))
	}
}
