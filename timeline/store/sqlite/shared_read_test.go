package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// nearEvents are events whose sub-objects the transient read's memos
// remember (event meta, host, user, jejak.time, jejak.data, the
// provenance's chain and leading members) in variants that share a prefix
// of their stored bytes with one another but differ after it: a string
// one byte longer, a member more, a record whose digits go on, a chain one
// layer deeper, a map with one key more.
func nearEvents(n int, seed uint64) []*timeline.Event {
	r := rand.New(rand.NewPCG(seed, 7))
	// Mostly the first variant, so that the memos find enough to stay on
	// (memoJudge), and now and then another.
	at := func(n int) int {
		if r.IntN(4) != 0 {
			return 0
		}
		return r.IntN(n)
	}
	pick := func(s ...string) string { return s[at(len(s))] }
	base := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	out := make([]*timeline.Event, n)
	for i := range out {
		e := &timeline.Event{
			Timestamp: base.Add(time.Duration(r.IntN(600)) * time.Second),
			Message:   fmt.Sprintf("m%d", i),
			Event: timeline.EventMeta{Kind: pick("event", "event", "alert"), Action: pick("a", "ab", "a\"", "a\\"),
				Category: [][]string{{"authentication"}, {"authentication", "session"}, nil}[at(3)],
				Type:     [][]string{{"start"}, {"start", "end"}, nil}[at(3)], Outcome: pick("", "failure")},
			Jejak: timeline.Jejak{Provenance: timeline.Provenance{
				EvidenceSHA256: pick("aa", "aab"), EvidenceName: pick("e", "e2"),
				Chain: [][]string{{"file:a"}, {"file:a", "gzip:"}, {"file:ab"}, nil}[at(4)],
				Path:  pick("p", "p/q", ""), Identity: pick("", "1", "12"),
				Offset: int64(i * 5), Record: []int64{5, 55, 0, 505, -5}[at(5)],
				Parser: pick("syslog", "sys"),
			}},
		}
		switch at(3) {
		case 0:
			e.Host = &timeline.Host{Name: pick("h", "h1")}
		case 1:
			e.Host = &timeline.Host{Name: pick("h", "h1"), Hostname: pick("x", "xy")}
		}
		switch at(4) {
		case 0:
			e.User = &timeline.User{Name: pick("u", "u1")}
		case 1:
			e.User = &timeline.User{Name: pick("u", "u1"), Domain: "d"}
		case 2:
			e.User = &timeline.User{Name: "u", Target: &timeline.User{Name: pick("t", "t2")}}
		}
		switch at(3) {
		case 0:
			e.Jejak.Data = map[string]string{"k": pick("1", "12")}
		case 1:
			e.Jejak.Data = map[string]string{"k": pick("1", "12"), "k2": pick("", "v")}
		}
		switch at(3) {
		case 0:
			e.Jejak.Time = &timeline.TimeNote{ZoneAssumed: pick("UTC", "UTC+1")}
		case 1:
			e.Jejak.Time = &timeline.TimeNote{ZoneAssumed: "UTC", YearInferred: true, YearBasis: pick("b", "bb")}
		}
		e.Finalize()
		out[i] = e
	}
	return out
}

// TestSharedReadEqualsSearch: every event a transient read (memos and
// slabs, decodememo.go) gives is the event Search gives for its row, but
// for Related, over events whose remembered sub-objects nearly repeat.
func TestSharedReadEqualsSearch(t *testing.T) {
	ctx := context.Background()
	for _, seed := range []uint64{1, 2, 3} {
		s := open(t)
		if _, err := s.Write(ctx, nearEvents(6000, seed)); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		err := s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
			e.Related = nil
			b, err := json.Marshal(e)
			want[e.Jejak.ID] = string(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 1000 {
			t.Fatalf("seed %d: %d events", seed, len(want))
		}
		n := 0
		err = s.SearchTransient(ctx, timeline.Query{}, func(e *timeline.Event) error {
			n++
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if w := want[e.Jejak.ID]; string(b) != w {
				return fmt.Errorf("event %s\n shared read %s\n Search      %s", e.Jejak.ID, b, w)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if n != len(want) {
			t.Fatalf("seed %d: the shared read gave %d events, Search %d", seed, n, len(want))
		}
	}
}

// TestNearEventsMemos: nearEvents' documents, as the store's encoder
// writes them, decoded in order through one transient read's memos, are
// json.Unmarshal's, and every memo finds values (the memos stay on).
func TestNearEventsMemos(t *testing.T) {
	in := interner{share: true}
	for i, e := range nearEvents(6000, 1) {
		decodesAsUnmarshal(t, &in, fmt.Sprintf("event %d", i), e)
	}
	m := &in.memo
	for name, hits := range map[string]int{"meta": m.meta.hits, "host": m.host.hits, "user": m.user.hits,
		"time": m.time.hits, "data": m.data.hits, "chain": m.chain.hits, "prov": m.prov.ring.hits + m.prov.found} {
		if hits == 0 {
			t.Errorf("the %s memo found nothing", name)
		}
	}
}

// decodesAsUnmarshal stores e's document and requires the shared read's
// decoder, through in's memos, to give what json.Unmarshal gives of it
// (Related left out, as the read leaves it).
func decodesAsUnmarshal(t *testing.T, in *interner, what string, e *timeline.Event) {
	t.Helper()
	doc, err := appendEvent(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	var want, got timeline.Event
	if err := json.Unmarshal(doc, &want); err != nil {
		t.Fatal(err)
	}
	want.Related = nil
	if err := decodeEventOpts(doc, &got, in, true); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: %s\n got  %#v\n want %#v", what, doc, got, want)
	}
}
