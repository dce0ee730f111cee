package sqlite

import (
	"context"
	"encoding/json"
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
	rec := func(id string) FindingRecord {
		return FindingRecord{ID: id, RuleID: "R", Severity: "high", First: t0, Last: t0.Add(time.Minute), Events: 2, Doc: json.RawMessage(`{"id":"` + id + `"}`)}
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
		if !f.First.Equal(t0) || f.Events != 2 || string(f.Doc) != `{"id":"`+f.ID+`"}` {
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
