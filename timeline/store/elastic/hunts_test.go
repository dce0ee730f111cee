package elastic_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline/store"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// oldFinding has the members of casework/hunt.Finding that matter here;
// `jejak hunt --es` stored json.Marshal(struct{Hunt string; hunt.Finding}).
type oldFinding struct {
	ID       string    `json:"id"`
	RuleID   string    `json:"rule_id"`
	Title    string    `json:"title"`
	Severity string    `json:"severity"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Events   []struct {
		ID string `json:"id"`
	} `json:"events"`
}

func (f oldFinding) record(t *testing.T) store.Finding {
	doc, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return store.Finding{ID: f.ID, RuleID: f.RuleID, Severity: f.Severity, First: f.First, Last: f.Last, Events: len(f.Events), Doc: doc}
}

// oldDoc is the document as jejak stored it before store.Finding.
func (f oldFinding) oldDoc(t *testing.T, key string) []byte {
	doc, err := json.Marshal(struct {
		Hunt string `json:"hunt"`
		oldFinding
	}{key, f})
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func getSource(t *testing.T, s *elastic.Store, index, id string) []byte {
	t.Helper()
	c := s.Client()
	res, err := c.GetSource(index, id, c.GetSource.WithContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.IsError() {
		t.Fatalf("get %s/%s: %s", index, id, b)
	}
	return b
}

// TestFindingDocumentsUnchanged: PutHunt stores each finding as the
// document `jejak hunt --es` stored before (same bytes), and a hunt stored
// that way, without a record in HuntsIndex, is still listed and read.
func TestFindingDocumentsUnchanged(t *testing.T) {
	ctx := context.Background()
	s := open(t, elastic.Config{})
	t0 := time.Date(2024, 11, 5, 7, 31, 12, 5, time.FixedZone("WIB", 7*3600))
	fs := []oldFinding{
		{ID: "f2", RuleID: "jejak-log-cleared", Title: "Log cleared <Security> & more", Severity: "critical", First: t0, Last: t0.Add(time.Second),
			Events: []struct {
				ID string `json:"id"`
			}{{"e1"}}},
		{ID: "f1", RuleID: "jejak-brute-force", Title: "Brute force", Severity: "high", First: t0, Last: t0.Add(time.Minute)},
	}
	h := store.Hunt{Key: "k-new", Started: t0, Finished: t0.Add(time.Minute), ToolVersion: "test"}
	if err := s.PutHunt(ctx, h, []store.Finding{fs[0].record(t), fs[1].record(t)}); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		got := getSource(t, s, elastic.FindingsIndex(s.Index()), h.Key+"-"+f.ID)
		if want := f.oldDoc(t, h.Key); !bytes.Equal(got, want) {
			t.Errorf("finding %s stored as\n %s\nwant (as before)\n %s", f.ID, got, want)
		}
	}

	// A hunt stored the old way: findings only.
	old := []elastic.FindingDoc{{ID: fs[0].ID, Doc: fs[0].oldDoc(t, "k-old")}, {ID: fs[1].ID, Doc: fs[1].oldDoc(t, "k-old")}}
	if err := s.ReplaceFindings(ctx, "k-old", old); err != nil {
		t.Fatal(err)
	}
	hs, err := s.Hunts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].Key != "k-new" || hs[1].Key != "k-old" || hs[1].Findings != 2 || !hs[1].Finished.IsZero() {
		t.Fatalf("Hunts = %+v, want k-new then k-old (no record: key and count only)", hs)
	}
	var got []store.Finding
	if err := s.Findings(ctx, "k-old", func(f store.Finding) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	// No record, no order: ID order.
	if len(got) != 2 || got[0].ID != "f1" || got[1].ID != "f2" {
		t.Fatalf("Findings(k-old) = %+v", got)
	}
	for i, f := range []oldFinding{fs[1], fs[0]} {
		want := f.record(t)
		if !bytes.Equal(got[i].Doc, want.Doc) || got[i].RuleID != want.RuleID || got[i].Events != want.Events ||
			!got[i].First.Equal(want.First) || got[i].First.Location() != time.UTC {
			t.Errorf("old finding %s read back as %+v, want %+v", f.ID, got[i], want)
		}
	}
}

// TestFindingsIndexBeforeLenientDates: a findings index created with the
// mapping of before (dates strict) takes a finding without a span (zero
// times) once PutHunt has updated it; the refusal is what happened before.
func TestFindingsIndexBeforeLenientDates(t *testing.T) {
	ctx := context.Background()
	s := open(t, elastic.Config{})
	index := elastic.FindingsIndex(s.Index())
	c := s.Client()
	res, err := c.Indices.Create(index, c.Indices.Create.WithBody(bytes.NewReader([]byte(`{"mappings": {"dynamic": false, "properties": {
		"hunt": {"type": "keyword"}, "id": {"type": "keyword"}, "first": {"type": "date_nanos"}, "last": {"type": "date_nanos"},
		"events": {"properties": {"@timestamp": {"type": "date_nanos"}}}}}}`))), c.Indices.Create.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.IsError() {
		t.Fatalf("create %s: %s", index, res)
	}
	f := oldFinding{ID: "no-span", RuleID: "jejak-logs-missing", Severity: "medium"}
	old := []elastic.FindingDoc{{ID: f.ID, Doc: f.oldDoc(t, "k")}}
	// The old mapping as it was refuses the zero time.
	bulk := append(append([]byte(`{"index":{"_index":"`+index+`","_id":"probe"}}`+"\n"), old[0].Doc...), '\n')
	if res, err := c.Bulk(bytes.NewReader(bulk), c.Bulk.WithContext(ctx)); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !bytes.Contains(b, []byte(`"errors":true`)) {
			t.Fatalf("the strict mapping took a zero time: %s", b)
		}
	}
	h := store.Hunt{Key: "k", Started: time.Unix(1e9, 0), Finished: time.Unix(1e9, 0)}
	if err := s.PutHunt(ctx, h, []store.Finding{f.record(t)}); err != nil {
		t.Fatalf("PutHunt on a findings index of before: %v", err)
	}
	var got []store.Finding
	if err := s.Findings(ctx, "k", func(f store.Finding) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].First.IsZero() || got[0].Events != 0 {
		t.Errorf("Findings = %+v", got)
	}
}
