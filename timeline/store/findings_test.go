package store

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestElements: the hand-written count of a JSON array's members agrees
// with encoding/json's on arrays whose strings hold what a naive count
// would take for structure.
func TestElements(t *testing.T) {
	for _, c := range []string{
		`null`, `[]`, `[ ]`, "[\n]", `[1]`, `[{}]`, `[[]]`, `[[],[]]`, `[1,2,3]`, ` [ 1 , 2 ] `,
		`[{"id":"a,b"},{"id":"c]d"}]`, `[{"id":"quote \" , [ {"},2]`, `["\\",","]`, `["\\\"",","]`,
		`[{"a":[1,2,{"b":[3,4]}]},{"c":{"d":","}}]`, `["", "", ""]`, `[null,true,false,-1.5e3]`,
	} {
		var want []json.RawMessage
		if err := json.Unmarshal([]byte(c), &want); err != nil {
			t.Fatalf("fixture %s: %v", c, err)
		}
		var got struct {
			N elements `json:"n"`
		}
		if err := json.Unmarshal([]byte(`{"n":`+c+`}`), &got); err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		if int(got.N) != len(want) {
			t.Errorf("%s: counted %d members, want %d", c, got.N, len(want))
		}
	}
	var got struct {
		N elements `json:"n"`
	}
	if err := json.Unmarshal([]byte(`{"n":{"a":1}}`), &got); err == nil {
		t.Errorf("an object counted as an array")
	}
}

// BenchmarkCheck checks a finding citing 100 events (about 9 KB), as
// PutHunt does for each finding before storing it.
func BenchmarkCheck(b *testing.B) {
	t0 := time.Date(2024, 2, 14, 11, 0, 0, 0, time.UTC)
	type ref struct {
		ID        string    `json:"id"`
		Timestamp time.Time `json:"@timestamp"`
	}
	f := struct {
		ID       string    `json:"id"`
		RuleID   string    `json:"rule_id"`
		Severity string    `json:"severity"`
		First    time.Time `json:"first"`
		Last     time.Time `json:"last"`
		Events   []ref     `json:"events"`
	}{ID: "f", RuleID: "R", Severity: "high", First: t0, Last: t0}
	for j := range 100 {
		f.Events = append(f.Events, ref{ID: fmt.Sprintf("%064x", j), Timestamp: t0})
	}
	d, _ := json.Marshal(f)
	fr := Finding{ID: "f", RuleID: "R", Severity: "high", First: t0, Last: t0, Events: 100, Doc: d}
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for range b.N {
		if err := fr.Check(); err != nil {
			b.Fatal(err)
		}
	}
}
