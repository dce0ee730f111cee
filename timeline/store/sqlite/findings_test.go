package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func TestFindingsReplaceAndRead(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2024, 2, 14, 11, 0, 0, 0, time.UTC)
	doc := func(id string) string {
		return `{"id":"` + id + `","rule_id":"R","severity":"high","first":"2024-02-14T11:00:00Z","last":"2024-02-14T11:01:00Z","events":[{},{}]}`
	}
	rec := func(id string) FindingRecord {
		return FindingRecord{ID: id, RuleID: "R", Severity: "high", First: t0, Last: t0.Add(time.Minute), Events: 2, Doc: json.RawMessage(doc(id))}
	}
	h := HuntRecord{Key: "k1", Params: json.RawMessage(`{"after":"x"}`), Started: t0, Finished: t0.Add(time.Second), ToolVersion: "test"}
	if err := st.ReplaceFindings(ctx, h, []FindingRecord{rec("b"), rec("a")}); err != nil {
		t.Fatal(err)
	}
	// Same key again: replaced, not added.
	if err := st.ReplaceFindings(ctx, h, []FindingRecord{rec("c"), rec("a")}); err != nil {
		t.Fatal(err)
	}
	h2 := h
	h2.Key, h2.Finished = "k2", t0.Add(time.Hour)
	if err := st.ReplaceFindings(ctx, h2, []FindingRecord{rec("z")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.Findings(ctx, "k1", func(f FindingRecord) error {
		got = append(got, f.ID)
		if !f.First.Equal(t0) || f.Events != 2 || string(f.Doc) != doc(f.ID) {
			t.Errorf("finding read back as %+v", f)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "c" || got[1] != "a" {
		t.Errorf("hunt k1 findings %v, want [c a] in stored order", got)
	}
	hs, err := st.Hunts(ctx)
	if err != nil || len(hs) != 2 || hs[0].Key != "k2" || hs[1].Findings != 2 {
		t.Fatalf("hunts %+v, %v", hs, err)
	}
	got = nil
	_ = st.Findings(ctx, "", func(f FindingRecord) error { got = append(got, f.ID); return nil })
	if len(got) != 1 || got[0] != "z" {
		t.Errorf("latest hunt findings %v, want [z]", got)
	}
}

// TestFindingsRefused: a record whose fields say other than its document,
// or a document Elasticsearch could not take as it is, is refused before
// anything is stored, as the Elasticsearch store refuses it.
func TestFindingsRefused(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "case.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2024, 2, 14, 11, 0, 0, 0, time.UTC)
	good := FindingRecord{ID: "a", RuleID: "R", Severity: "high", First: t0, Last: t0, Events: 0,
		Doc: json.RawMessage(`{"id":"a","rule_id":"R","severity":"high","first":"2024-02-14T11:00:00Z","last":"2024-02-14T11:00:00Z","events":null}`)}
	h := HuntRecord{Key: "k", Started: t0, Finished: t0}
	for _, c := range []struct {
		name string
		h    HuntRecord
		f    func(*FindingRecord)
	}{
		{"other severity", h, func(f *FindingRecord) { f.Severity = "low" }},
		{"other event count", h, func(f *FindingRecord) { f.Events = 3 }},
		{"other first", h, func(f *FindingRecord) { f.First = t0.Add(time.Nanosecond) }},
		{"indented document", h, func(f *FindingRecord) { f.Doc = json.RawMessage("{\n" + string(f.Doc[1:])) }},
		{"hunt member", h, func(f *FindingRecord) { f.Doc = json.RawMessage(`{"hunt":"k",` + string(f.Doc[1:])) }},
		{"not an object", h, func(f *FindingRecord) { f.Doc = json.RawMessage(`[1]`) }},
		{"space before the object", h, func(f *FindingRecord) { f.Doc = append(json.RawMessage(" "), f.Doc...) }},
		{"space after the object", h, func(f *FindingRecord) { f.Doc = append(append(json.RawMessage{}, f.Doc...), ' ') }},
		{"no hunt key", HuntRecord{}, func(*FindingRecord) {}},
		{"params not an object", HuntRecord{Key: "k", Params: json.RawMessage(`[1]`)}, func(*FindingRecord) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := good
			c.f(&f)
			if err := st.PutHunt(ctx, c.h, []FindingRecord{f}); err == nil {
				t.Errorf("PutHunt took it")
			}
		})
	}
	if hs, err := st.Hunts(ctx); err != nil || len(hs) != 0 {
		t.Errorf("after refusals: hunts %+v, %v; want none", hs, err)
	}
	if err := st.PutHunt(ctx, h, []FindingRecord{good}); err != nil {
		t.Errorf("PutHunt(good) = %v", err)
	}
}

// BenchmarkFindingsRead reads back a hunt of 2,000 findings citing 100
// events each (about 9 KB of JSON a finding), as a report does.
func BenchmarkFindingsRead(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "case.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2024, 2, 14, 11, 0, 0, 0, time.UTC)
	type ref struct {
		ID        string    `json:"id"`
		Timestamp time.Time `json:"@timestamp"`
	}
	var fs []FindingRecord
	for i := range 2000 {
		f := struct {
			ID       string    `json:"id"`
			RuleID   string    `json:"rule_id"`
			Severity string    `json:"severity"`
			First    time.Time `json:"first"`
			Last     time.Time `json:"last"`
			Events   []ref     `json:"events"`
		}{ID: fmt.Sprint("f", i), RuleID: "R", Severity: "high", First: t0, Last: t0.Add(99 * time.Second)}
		for j := range 100 {
			f.Events = append(f.Events, ref{ID: fmt.Sprintf("%064x", j), Timestamp: t0.Add(time.Duration(j) * time.Second)})
		}
		doc, _ := json.Marshal(f)
		fs = append(fs, FindingRecord{ID: f.ID, RuleID: "R", Severity: "high", First: f.First, Last: f.Last, Events: 100, Doc: doc})
	}
	if err := st.PutHunt(ctx, HuntRecord{Key: "k", Started: t0, Finished: t0}, fs); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n := 0
		if err := st.Findings(ctx, "k", func(FindingRecord) error { n++; return nil }); err != nil || n != len(fs) {
			b.Fatal(n, err)
		}
	}
}
