package elastic_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// objectsByType splits saved-objects NDJSON by type.
func objectsByType(t *testing.T, ndjson []byte) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader(ndjson))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var o map[string]any
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out[o["type"].(string)] = append(out[o["type"].(string)], o)
	}
	return out
}

// TestKibanaObjects: the case's saved objects pass every check (fields in
// the templates, references, grid), and are what examiners are promised:
// a data view on the timeline and one on the findings index, the five
// searches and the findings search, and a dashboard of four panels.
func TestKibanaObjects(t *testing.T) {
	out, err := elastic.KibanaObjects("jejak-case1")
	if err != nil {
		t.Fatal(err)
	}
	if err := elastic.CheckKibanaObjects(out); err != nil {
		t.Fatalf("the objects jejak writes fail the check:\n%v", err)
	}
	objs := objectsByType(t, out)
	want := map[string]int{"index-pattern": 2, "search": 6, "visualization": 4, "dashboard": 1}
	for typ, n := range want {
		if len(objs[typ]) != n {
			t.Errorf("%d objects of type %s, want %d", len(objs[typ]), typ, n)
		}
	}
	views := map[string]string{}
	for _, v := range objs["index-pattern"] {
		a := v["attributes"].(map[string]any)
		views[a["title"].(string)] = a["timeFieldName"].(string)
	}
	if views["jejak-case1"] != "@timestamp" || views["jejak-case1-findings"] != "first" {
		t.Errorf("data views (index → time field) = %v", views)
	}
	dash := objs["dashboard"][0]
	if refs := dash["references"].([]any); len(refs) != 4 {
		t.Errorf("dashboard references %d visualizations, want 4", len(refs))
	}
}

// TestKibanaCheckCatches: each kind of mistake the check exists for is
// caught, with a message naming it: a misspelled field in a query, a
// column, an aggregation, a findings field on the timeline's view, a
// reference to nothing, an ID used twice, an unknown type, panels that
// overlap or leave the grid.
func TestKibanaCheckCatches(t *testing.T) {
	good, err := elastic.KibanaObjects("jejak-case1")
	if err != nil {
		t.Fatal(err)
	}
	with := func(s elastic.SavedSearch) []byte {
		b, err := elastic.KibanaObjectsWith("jejak-case1", []elastic.SavedSearch{s})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("the objects do not hold %q to replace", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	lines := bytes.SplitAfter(good, []byte("\n"))
	for _, c := range []struct {
		name   string
		ndjson []byte
		want   string
	}{
		{"misspelled KQL field", with(elastic.SavedSearch{ID: "x", Title: "x", KQL: `hots.name:web01 and event.outcome:success`, Columns: []string{"host.name"}}),
			`KQL names field "hots.name"`},
		{"misspelled field in a quoted-value query", with(elastic.SavedSearch{ID: "x", Title: "x", KQL: `winlog.chanel:"Microsoft-Windows-Sysmon/Operational"`}),
			`KQL names field "winlog.chanel"`},
		{"misspelled column", with(elastic.SavedSearch{ID: "x", Title: "x", KQL: `event.outcome:success`, Columns: []string{"user.nmae"}}),
			`column names field "user.nmae"`},
		{"findings field on the timeline view", with(elastic.SavedSearch{ID: "x", Title: "x", KQL: `rule_id:JEJAK-AUTH-01`}),
			`KQL names field "rule_id"`},
		{"bad KQL", with(elastic.SavedSearch{ID: "x", Title: "x", KQL: `host.name:(a or`}), `KQL "host.name:(a or"`},
		{"misspelled aggregation field", replace(`\"field\":\"host.name\"`, `\"field\":\"host.nmae\"`),
			`terms aggregation names field "host.nmae"`},
		{"findings aggregation on a text field", replace(`\"field\":\"title.keyword\"`, `\"field\":\"title\"`),
			`terms on "title", a text field`},
		{"data view time field not a date", replace(`"timeFieldName":"first"`, `"timeFieldName":"severity"`),
			`time field "severity" is not a date`},
		{"dangling reference", replace(`"id":"jejak-view-jejak-case1","name"`, `"id":"jejak-view-jejak-case2","name"`),
			`which the file does not hold`},
		{"ID used twice", append(append([]byte{}, good...), lines[2]...), `ID used twice`},
		{"unknown type", replace(`"type":"dashboard"`, `"type":"dashbaord"`), `type is not one of`},
		{"panels overlap", replace(`\"y\":15`, `\"y\":10`), `overlaps the panel`},
		{"panel off the grid", replace(`\"w\":32`, `\"w\":40`), `off the 48-column grid`},
		{"panel reference name", replace(`"name":"p1:panel_p1"`, `"name":"panel_p1"`), `panel p1: no reference "p1:panel_p1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := elastic.CheckKibanaObjects(c.ndjson)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("check = %v, want an error containing %q", err, c.want)
			}
		})
	}
}
