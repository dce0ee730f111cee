// Package storetest is the contract every store.Store must keep (the
// SQLite case store and the Elasticsearch store alike): same input, same
// events back, same order, same counts, the same events for the same KQL,
// the same documents from a raw scan, the same findings back. A store's
// tests call Run with a function that opens a fresh, empty store; a
// difference between the stores is a failure of one of them.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
)

// Run runs the whole contract: every method of store.Store. open must
// return a new, empty store for each call and arrange its cleanup with
// t.Cleanup (closing it there: the Close test closes its store first, so
// a second Close must be harmless); Run closes nothing else itself.
//
// known lists contract tests the store is known to fail, each with why
// and where the fix belongs: they are skipped, saying so in the test
// output, so that the rest of the contract stays a gate. An entry is
// taken out once the store is fixed.
func Run(t *testing.T, open func(t *testing.T) store.Store, known ...Known) {
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"Empty", func(t *testing.T) { testEmpty(t, open(t)) }},
		{"WriteThenRewrite", func(t *testing.T) { testRewrite(t, open(t)) }},
		{"DuplicateInBatch", func(t *testing.T) { testDuplicateInBatch(t, open(t)) }},
		{"OrderAndRoundTrip", func(t *testing.T) { testOrderAndRoundTrip(t, open(t)) }},
		{"Range", func(t *testing.T) { testRange(t, open(t)) }},
		{"FarBounds", func(t *testing.T) { testFarBounds(t, open(t)) }},
		{"OutOfRangeTimes", func(t *testing.T) { testOutOfRange(t, open(t)) }},
		{"OddValues", func(t *testing.T) { testOdd(t, open(t)) }},
		{"NulInText", func(t *testing.T) { testNul(t, open(t)) }},
		{"Paging", func(t *testing.T) { testPaging(t, open(t)) }},
		{"CallbackError", func(t *testing.T) { testCallbackError(t, open(t)) }},
		{"Query", func(t *testing.T) { testQuery(t, open(t)) }},
		{"QueryPaging", func(t *testing.T) { testQueryPaging(t, open(t)) }},
		{"Raw", func(t *testing.T) { testRaw(t, open) }},
		{"Findings", func(t *testing.T) { testFindings(t, open(t)) }},
		{"Cancel", func(t *testing.T) { testCancel(t, open(t)) }},
		{"Close", func(t *testing.T) { testClose(t, open(t)) }},
	}
	why := map[string]string{}
	for _, k := range known {
		why[k.Test] = k.Why
	}
	for _, c := range tests {
		reason, isKnown := why[c.name]
		delete(why, c.name)
		if isKnown && os.Getenv("JEJAK_STORETEST_KNOWN") == "" {
			t.Run(c.name, func(t *testing.T) {
				t.Skipf("known failure of this store (JEJAK_STORETEST_KNOWN=1 runs it): %s", reason)
			})
			continue
		}
		t.Run(c.name, c.run)
	}
	for name := range why {
		t.Errorf("known failure %q names no contract test", name)
	}
}

// Known is a contract test a store is known to fail, and why.
type Known struct {
	Test string
	Why  string
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func write(t *testing.T, s timeline.Store, evs []*timeline.Event) timeline.WriteStats {
	t.Helper()
	st, err := s.Write(ctx(t), evs)
	if err != nil {
		t.Fatalf("Write(%d events): %v", len(evs), err)
	}
	return st
}

func count(t *testing.T, s timeline.Store, q timeline.Query) int64 {
	t.Helper()
	n, err := s.Count(ctx(t), q)
	if err != nil {
		t.Fatalf("Count(%+v): %v", q, err)
	}
	return n
}

func search(t *testing.T, s timeline.Store, q timeline.Query) []*timeline.Event {
	t.Helper()
	var got []*timeline.Event
	if err := s.Search(ctx(t), q, func(e *timeline.Event) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatalf("Search(%+v): %v", q, err)
	}
	return got
}

// sorted returns the events in the contract's order: @timestamp, then ID.
func sorted(evs []*timeline.Event) []*timeline.Event {
	out := slices.Clone(evs)
	slices.SortFunc(out, func(a, b *timeline.Event) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		return strings.Compare(a.Jejak.ID, b.Jejak.ID)
	})
	return out
}

func ids(evs []*timeline.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Jejak.ID
	}
	return out
}

func testEmpty(t *testing.T, s timeline.Store) {
	if n := count(t, s, timeline.Query{}); n != 0 {
		t.Errorf("Count on a new store = %d, want 0", n)
	}
	if got := search(t, s, timeline.Query{}); len(got) != 0 {
		t.Errorf("Search on a new store returned %d events", len(got))
	}
	st, err := s.Write(ctx(t), nil)
	if err != nil || st != (timeline.WriteStats{}) {
		t.Errorf("Write(nil) = %+v, %v; want zero stats, nil", st, err)
	}
}

func testRewrite(t *testing.T, s timeline.Store) {
	evs := Events()
	if st := write(t, s, evs); st.Inserted != len(evs) || st.Duplicates != 0 {
		t.Fatalf("first Write = %+v, want %d inserted, 0 duplicates", st, len(evs))
	}
	// A second ingest parses the same records again into new values.
	again := Events()
	if st := write(t, s, again); st.Inserted != 0 || st.Duplicates != len(again) {
		t.Errorf("re-Write = %+v, want 0 inserted, %d duplicates", st, len(again))
	}
	if n := count(t, s, timeline.Query{}); n != int64(len(evs)) {
		t.Errorf("Count after re-Write = %d, want %d", n, len(evs))
	}
	// The first write of an ID wins: an event parsed again differently
	// (a newer parser) is a duplicate and changes nothing stored.
	changed := Events()[:1]
	changed[0].Message = "parsed again, differently"
	if st := write(t, s, changed); st.Duplicates != 1 {
		t.Errorf("re-Write of a changed event = %+v, want 1 duplicate", st)
	}
	for _, e := range search(t, s, timeline.Query{From: changed[0].Timestamp, To: changed[0].Timestamp.Add(1)}) {
		if e.Jejak.ID == changed[0].Jejak.ID && e.Message != evs[0].Message {
			t.Errorf("stored event changed by a duplicate: message %q", e.Message)
		}
	}
	// A mixed batch: some known, some new.
	more := Many(5)
	mixed := append(Events()[:3], more...)
	if st := write(t, s, mixed); st.Inserted != len(more) || st.Duplicates != 3 {
		t.Errorf("mixed Write = %+v, want %d inserted, 3 duplicates", st, len(more))
	}
	if n := count(t, s, timeline.Query{}); n != int64(len(evs)+len(more)) {
		t.Errorf("Count after mixed Write = %d, want %d", n, len(evs)+len(more))
	}
}

func testDuplicateInBatch(t *testing.T, s timeline.Store) {
	evs := Events()
	batch := []*timeline.Event{evs[0], evs[1], Events()[0]}
	if st := write(t, s, batch); st.Inserted != 2 || st.Duplicates != 1 {
		t.Errorf("Write with a repeated event = %+v, want 2 inserted, 1 duplicate", st)
	}
	if n := count(t, s, timeline.Query{}); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
}

func testOrderAndRoundTrip(t *testing.T, s timeline.Store) {
	evs := Events()
	// Written out of order on purpose: the store, not the writer, orders.
	rev := slices.Clone(evs)
	slices.Reverse(rev)
	write(t, s, rev)
	got := search(t, s, timeline.Query{})
	want := sorted(evs)
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("Search order:\n got  %v\n want %v", ids(got), ids(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		if string(wj) != string(gj) {
			t.Errorf("event %s did not round-trip:\n got  %s\n want %s", w.Jejak.ID, gj, wj)
			continue
		}
		if !g.Timestamp.Equal(w.Timestamp) || g.Timestamp.Location() != time.UTC {
			t.Errorf("event %s: @timestamp %v, want %v in UTC", w.Jejak.ID, g.Timestamp, w.Timestamp)
		}
	}
	// Field by field on the richest events, so a failure names what broke.
	byID := map[string]*timeline.Event{}
	for _, e := range got {
		byID[e.Jejak.ID] = e
	}
	logon := byID[evs[0].Jejak.ID]
	if logon == nil {
		t.Fatal("logon event missing")
	}
	if logon.Timestamp.Nanosecond() != 123456789 {
		t.Errorf("timestamp nanoseconds = %d, want 123456789", logon.Timestamp.Nanosecond())
	}
	if logon.User == nil || logon.User.Name != "operator1" || logon.User.Domain != "KPU" {
		t.Errorf("user = %+v", logon.User)
	}
	if logon.Source == nil || logon.Source.IP != "10.20.30.40" || logon.Source.Port != 51123 {
		t.Errorf("source = %+v", logon.Source)
	}
	if logon.Winlog == nil || logon.Winlog.EventData["LogonType"] != "10" || logon.Winlog.EventData["LogonProcessName"] != "User32 " {
		t.Errorf("winlog.event_data = %+v", logon.Winlog)
	}
	p := logon.Jejak.Provenance
	if p.Parser != "evtx" || p.Offset != 1183744 || p.Record != 88213 ||
		!slices.Equal(p.Chain, []string{"ewf:", "gpt:p2", "ntfs:Windows/System32/winevt/Logs/Security.evtx"}) {
		t.Errorf("provenance = %+v", p)
	}
	if timeline.ComputeID(p, logon.TimestampDesc) != logon.Jejak.ID {
		t.Errorf("stored provenance no longer hashes to the stored ID")
	}
	ssh := byID[evs[4].Jejak.ID]
	if ssh == nil || ssh.Jejak.Time == nil || ssh.Jejak.Time.ZoneAssumed != "Asia/Jakarta" ||
		ssh.Log == nil || ssh.Log.Syslog == nil || ssh.Log.Syslog.StructuredData["origin@32473"]["software"] != "rsyslogd" {
		t.Errorf("syslog event lost its time note or structured data: %+v", ssh)
	}
	if ssh != nil && ssh.Timestamp.Hour() != 1 { // 08:02:09 WIB is 01:02:09 UTC
		t.Errorf("syslog event at %v, want 01:02:09 UTC", ssh.Timestamp)
	}
}

func testRange(t *testing.T, s timeline.Store) {
	evs := Events()
	write(t, s, evs)
	all := sorted(evs)
	cases := []struct {
		name string
		q    timeline.Query
		want []*timeline.Event
	}{
		{"all", timeline.Query{}, all},
		// From is inclusive: the two events at base are in.
		{"from inclusive", timeline.Query{From: base}, filter(all, func(e *timeline.Event) bool { return !e.Timestamp.Before(base) })},
		// To is exclusive: the two events at base are out.
		{"to exclusive", timeline.Query{To: base}, filter(all, func(e *timeline.Event) bool { return e.Timestamp.Before(base) })},
		{"one nanosecond wide", timeline.Query{From: base, To: base.Add(1)}, filter(all, func(e *timeline.Event) bool { return e.Timestamp.Equal(base) })},
		{"window", timeline.Query{From: base.Add(time.Minute), To: base.Add(2*time.Hour + 6*time.Microsecond)},
			filter(all, func(e *timeline.Event) bool {
				return !e.Timestamp.Before(base.Add(time.Minute)) && e.Timestamp.Before(base.Add(2*time.Hour+6*time.Microsecond))
			})},
		{"empty window", timeline.Query{From: base.Add(time.Second), To: base.Add(2 * time.Second)}, nil},
		{"limit", timeline.Query{Limit: 3}, all[:3]},
		{"limit with from", timeline.Query{From: base, Limit: 2}, filter(all, func(e *timeline.Event) bool { return !e.Timestamp.Before(base) })[:2]},
		{"limit above total", timeline.Query{Limit: 1000}, all},
		// The caller's zone must not matter: the same instants in +07:00.
		{"zoned bounds", timeline.Query{From: base.In(time.FixedZone("WIB", 7*3600)), To: base.Add(time.Hour).In(time.FixedZone("WIB", 7*3600))},
			filter(all, func(e *timeline.Event) bool {
				return !e.Timestamp.Before(base) && e.Timestamp.Before(base.Add(time.Hour))
			})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "one nanosecond wide" && len(c.want) != 2 {
				t.Fatalf("fixture: want 2 events at base, have %d", len(c.want))
			}
			got := search(t, s, c.q)
			if !slices.Equal(ids(got), ids(c.want)) {
				t.Errorf("Search:\n got  %v\n want %v", ids(got), ids(c.want))
			}
			if n := count(t, s, c.q); n != int64(len(c.want)) {
				t.Errorf("Count = %d, want %d", n, len(c.want))
			}
		})
	}
}

func filter(evs []*timeline.Event, keep func(*timeline.Event) bool) []*timeline.Event {
	var out []*timeline.Event
	for _, e := range evs {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// testPaging writes more events than a store is likely to fetch per round
// trip, in several batches, and reads them back whole and in windows.
func testPaging(t *testing.T, s timeline.Store) {
	evs := Many(2500)
	var total timeline.WriteStats
	for lo := 0; lo < len(evs); lo += 700 {
		total.Add(write(t, s, evs[lo:min(lo+700, len(evs))]))
	}
	if total.Inserted != len(evs) || total.Duplicates != 0 {
		t.Fatalf("Write stats %+v, want %d inserted", total, len(evs))
	}
	want := sorted(evs)
	got := search(t, s, timeline.Query{})
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("Search returned %d events (want %d) or a different order", len(got), len(want))
	}
	if n := count(t, s, timeline.Query{}); n != int64(len(evs)) {
		t.Errorf("Count = %d, want %d", n, len(evs))
	}
	q := timeline.Query{From: want[1000].Timestamp, Limit: 1200}
	gotw := search(t, s, q)
	first := slices.IndexFunc(want, func(e *timeline.Event) bool { return !e.Timestamp.Before(q.From) })
	if !slices.Equal(ids(gotw), ids(want[first:first+1200])) {
		t.Errorf("windowed Search returned %d events or a different order", len(gotw))
	}
}

var errStop = errors.New("storetest: stop")

func testCallbackError(t *testing.T, s timeline.Store) {
	write(t, s, Many(30))
	calls := 0
	err := s.Search(ctx(t), timeline.Query{}, func(*timeline.Event) error {
		calls++
		if calls == 5 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Errorf("Search returned %v, want the callback's error", err)
	}
	if calls != 5 {
		t.Errorf("callback called %d times after returning an error at 5", calls)
	}
}
