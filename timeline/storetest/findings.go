package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline/store"
)

// findingJSON is shaped like casework/hunt.Finding's JSON (which this
// package, below casework, cannot import): the members a store reads and
// free text with characters JSON escapes.
type findingJSON struct {
	ID          string     `json:"id"`
	RuleID      string     `json:"rule_id"`
	Title       string     `json:"title"`
	Severity    string     `json:"severity"`
	Technique   string     `json:"technique,omitempty"`
	Key         string     `json:"key"`
	First       time.Time  `json:"first"`
	Last        time.Time  `json:"last"`
	Explanation string     `json:"explanation"`
	Events      []eventRef `json:"events"`
}

type eventRef struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"@timestamp"`
	RecordID  uint64    `json:"record_id,omitempty"`
}

// Finding returns a finding record whose document is json.Marshal of a
// finding with n events, as `jejak hunt` stores them. First and Last are
// given in +07:00 to check that stores hand them back in UTC.
func Finding(id, rule, severity string, first time.Time, n int) store.Finding {
	wib := time.FixedZone("WIB", 7*3600)
	f := findingJSON{ID: id, RuleID: rule, Title: "Brute force <then> logon & \"success\" — ölçü",
		Severity: severity, Technique: "T1110.001", Key: "host=TALLY-SRV01 user=operator1",
		Explanation: fmt.Sprintf("%d failures then a success from 10.20.30.40\nwithin 5 minutes", n)}
	if n > 0 { // as casework/hunt does: no events, no span (zero times)
		f.First, f.Last = first.In(wib), first.Add(time.Duration(n-1)*time.Second).In(wib)
	}
	for i := range n {
		f.Events = append(f.Events, eventRef{ID: fmt.Sprintf("%064x", i+1), Timestamp: first.Add(time.Duration(i) * time.Second), RecordID: uint64(88000 + i)})
	}
	doc, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	return store.Finding{ID: id, RuleID: rule, Severity: severity, First: f.First, Last: f.Last, Events: n, Doc: doc}
}

func hunt(key string, finished time.Time, params string) store.Hunt {
	return store.Hunt{Key: key, Params: json.RawMessage(params), Started: finished.Add(-90 * time.Second),
		Finished: finished, ToolVersion: "jejak-test 1.0"}
}

func putHunt(t *testing.T, s store.Findings, h store.Hunt, fs []store.Finding) {
	t.Helper()
	if err := s.PutHunt(ctx(t), h, fs); err != nil {
		t.Fatalf("PutHunt(%s, %d findings): %v", h.Key, len(fs), err)
	}
}

func readFindings(t *testing.T, s store.Findings, key string) []store.Finding {
	t.Helper()
	var out []store.Finding
	if err := s.Findings(ctx(t), key, func(f store.Finding) error {
		out = append(out, f)
		return nil
	}); err != nil {
		t.Fatalf("Findings(%q): %v", key, err)
	}
	return out
}

func hunts(t *testing.T, s store.Findings) []store.Hunt {
	t.Helper()
	hs, err := s.Hunts(ctx(t))
	if err != nil {
		t.Fatalf("Hunts: %v", err)
	}
	return hs
}

// sameFindings compares records field by field: the document byte for
// byte, times as instants that must come back in UTC.
func sameFindings(t *testing.T, what string, got, want []store.Finding) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d findings, want %d", what, len(got), len(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.RuleID != w.RuleID || g.Severity != w.Severity || g.Events != w.Events ||
			!g.First.Equal(w.First) || !g.Last.Equal(w.Last) || g.First.Location() != time.UTC || g.Last.Location() != time.UTC {
			t.Errorf("%s: finding %d = %s %s %s %v %v %d, want %s %s %s %v %v %d (times in UTC)", what, i,
				g.ID, g.RuleID, g.Severity, g.First, g.Last, g.Events, w.ID, w.RuleID, w.Severity, w.First, w.Last, w.Events)
		}
		if !bytes.Equal(g.Doc, w.Doc) {
			t.Errorf("%s: finding %s's document changed:\n got  %s\n want %s", what, w.ID, g.Doc, w.Doc)
		}
	}
}

func sameHunt(t *testing.T, got, want store.Hunt, findings int) {
	t.Helper()
	wantParams := want.Params
	if len(wantParams) == 0 {
		wantParams = json.RawMessage(`{}`)
	}
	if got.Key != want.Key || !bytes.Equal(got.Params, wantParams) || got.ToolVersion != want.ToolVersion || got.Findings != findings ||
		!got.Started.Equal(want.Started) || !got.Finished.Equal(want.Finished) ||
		got.Started.Location() != time.UTC || got.Finished.Location() != time.UTC {
		t.Errorf("hunt read back as\n %+v\nwant\n %+v with %d findings, times in UTC", got, want, findings)
	}
}

func testFindings(t *testing.T, s store.Store) {
	if hs := hunts(t, s); len(hs) != 0 {
		t.Errorf("Hunts on a new store = %+v", hs)
	}
	if got := readFindings(t, s, ""); len(got) != 0 {
		t.Errorf("Findings of the latest hunt on a new store = %d findings", len(got))
	}
	t0 := time.Date(2024, 11, 6, 3, 0, 0, 0, time.UTC)
	a := hunt("a1b2c3d4e5f60718", t0, `{"after":"2024-11-05T00:00:00Z","rules":["\u003cbuilt-in\u003e"],"window":"5m0s"}`)
	// Report order, which is not ID order, and more findings than one
	// read of either store fetches at a time.
	var fa []store.Finding
	for i := range 1203 {
		fa = append(fa, Finding(fmt.Sprintf("f%05d", (i*7919)%1203), "jejak-brute-force", []string{"high", "medium", "critical"}[i%3], base.Add(time.Duration(i)*time.Minute), 1+i%4))
	}
	putHunt(t, s, a, fa)
	sameFindings(t, "hunt a", readFindings(t, s, a.Key), fa)
	sameFindings(t, "latest hunt", readFindings(t, s, ""), fa)

	// Hunting again with the same key replaces the findings, in the new order.
	a.Finished = t0.Add(time.Hour)
	fa2 := []store.Finding{fa[5], Finding("new-1", "jejak-log-cleared", "critical", base, 1), fa[0]}
	putHunt(t, s, a, fa2)
	sameFindings(t, "hunt a again", readFindings(t, s, a.Key), fa2)

	// A hunt with other parameters stays beside it. a finished a fifth
	// of a second after b, which has no fractional second in its time: a
	// store that orders finish times as RFC 3339 text ("…:00Z" after
	// "…:00.2Z") would put b first.
	// Its parameters hold what an encoder may escape, unescaped: they
	// come back byte for byte all the same.
	b := hunt("ffff0000aaaa1111", t0.Add(time.Hour), "{\"after\":\"2024-11-05T00:00:00Z\",\"note\":\"a<b & c>d \u2028 ölçü\"}")
	a.Finished = t0.Add(time.Hour + 200*time.Millisecond)
	putHunt(t, s, a, fa2)
	fb := []store.Finding{
		Finding("f00001", "jejak-brute-force", "high", base, 3), // same finding ID as in hunt a
		// A finding citing no event has no span (zero times), and one
		// citing events with times date_nanos cannot hold (a FILETIME of
		// zero, a far-future garbage time) has a span outside it.
		Finding("no-events", "jejak-logs-missing", "medium", time.Time{}, 0),
		Finding("filetime-zero", "jejak-timestomp", "low", time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), 2),
		Finding("far-future", "jejak-timestomp", "low", time.Date(2300, 6, 1, 0, 0, 0, 0, time.UTC), 1),
	}
	putHunt(t, s, b, fb)
	// An empty hunt is a hunt too; it finished first and has no params.
	c := store.Hunt{Key: "0000000000000000", Started: t0, Finished: t0, ToolVersion: "jejak-test 1.0"}
	putHunt(t, s, c, nil)
	// A record without times (a caller that set none) is kept, and
	// sorts last.
	d := store.Hunt{Key: "dddd", Params: json.RawMessage(`{}`)}
	putHunt(t, s, d, nil)

	hs := hunts(t, s)
	if keys := func() []string {
		var k []string
		for _, h := range hs {
			k = append(k, h.Key)
		}
		return k
	}(); !slices.Equal(keys, []string{a.Key, b.Key, c.Key, d.Key}) {
		t.Fatalf("Hunts = %v, want the latest first: %v", keys, []string{a.Key, b.Key, c.Key, d.Key})
	}
	sameHunt(t, hs[0], a, 3)
	sameHunt(t, hs[1], b, len(fb))
	sameHunt(t, hs[2], c, 0)
	sameHunt(t, hs[3], d, 0)
	sameFindings(t, "hunt a beside b", readFindings(t, s, a.Key), fa2)
	sameFindings(t, "hunt b", readFindings(t, s, b.Key), fb)
	sameFindings(t, "latest hunt (a)", readFindings(t, s, ""), fa2)
	if got := readFindings(t, s, c.Key); len(got) != 0 {
		t.Errorf("empty hunt has %d findings", len(got))
	}
	if got := readFindings(t, s, "no-such-hunt"); len(got) != 0 {
		t.Errorf("unknown hunt has %d findings", len(got))
	}

	// What one store would take and the other could not hold alike is
	// refused by both, and changes nothing.
	bad := Finding("bad", "r", "low", base, 2)
	for _, c := range []struct {
		name string
		h    store.Hunt
		f    store.Finding
	}{
		{"record and document disagree", b, func() store.Finding { f := bad; f.Events = 3; return f }()},
		{"document on two lines", b, func() store.Finding { f := bad; f.Doc = append([]byte("{\n"), bad.Doc[1:]...); return f }()},
		{"two findings with one ID", b, bad},
		{"document has a hunt member", b, func() store.Finding {
			f := bad
			f.Doc = append([]byte(`{"hunt":"x",`), bad.Doc[1:]...)
			return f
		}()},
		{"no hunt key", store.Hunt{}, bad},
		{"params not an object", store.Hunt{Key: b.Key, Params: json.RawMessage(`"x"`)}, bad},
	} {
		if err := s.PutHunt(ctx(t), c.h, []store.Finding{bad, c.f}); err == nil {
			t.Errorf("PutHunt took a hunt with %s", c.name)
		}
	}
	sameFindings(t, "hunt b after refusals", readFindings(t, s, b.Key), fb)

	// The callback's error ends the read and comes back as it was.
	calls := 0
	err := s.Findings(ctx(t), a.Key, func(store.Finding) error {
		calls++
		return errStop
	})
	if !errors.Is(err, errStop) || calls != 1 {
		t.Errorf("Findings with a failing callback: %v after %d calls", err, calls)
	}
}
