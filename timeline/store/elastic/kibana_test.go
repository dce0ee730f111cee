package elastic_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// kqlField finds "field:" in a KQL query (field names as the template
// spells them; values are never followed by a colon in our searches).
var kqlField = regexp.MustCompile(`([A-Za-z_@][A-Za-z0-9_@.]*)\s*:`)

func TestKibanaObjectsUseMappedFields(t *testing.T) {
	out, err := elastic.KibanaObjects("jejak-case1")
	if err != nil {
		t.Fatal(err)
	}
	mapped, err := elastic.MappedFields()
	if err != nil {
		t.Fatal(err)
	}
	known := func(f string) bool {
		if _, ok := mapped[f]; ok {
			return true
		}
		for p := f; strings.Contains(p, "."); {
			p = p[:strings.LastIndexByte(p, '.')]
			if mapped[p] == "flattened" {
				return true
			}
		}
		return false
	}
	types := map[string]int{}
	var viewID string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var o struct {
			Type       string `json:"type"`
			ID         string `json:"id"`
			Attributes struct {
				Title         string     `json:"title"`
				TimeFieldName string     `json:"timeFieldName"`
				Columns       []string   `json:"columns"`
				Sort          [][]string `json:"sort"`
				Meta          struct {
					Source string `json:"searchSourceJSON"`
				} `json:"kibanaSavedObjectMeta"`
			} `json:"attributes"`
			References []struct{ Name, Type, ID string } `json:"references"`
		}
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		types[o.Type]++
		switch o.Type {
		case "index-pattern":
			viewID = o.ID
			if o.Attributes.Title != "jejak-case1" || !known(o.Attributes.TimeFieldName) || o.Attributes.TimeFieldName != "@timestamp" {
				t.Errorf("data view %+v", o.Attributes)
			}
		case "search":
			var src struct {
				Query struct{ Query, Language string }
			}
			if err := json.Unmarshal([]byte(o.Attributes.Meta.Source), &src); err != nil {
				t.Fatalf("%s: searchSourceJSON: %v", o.ID, err)
			}
			fields := append([]string{}, o.Attributes.Columns...)
			for _, s := range o.Attributes.Sort {
				fields = append(fields, s[0])
			}
			ms := kqlField.FindAllStringSubmatch(src.Query.Query, -1)
			if len(ms) == 0 {
				t.Errorf("%s: no field in query %q", o.ID, src.Query.Query)
			}
			for _, m := range ms {
				fields = append(fields, m[1])
			}
			for _, f := range fields {
				if !known(f) {
					t.Errorf("saved search %q names field %q, which the template does not map", o.Attributes.Title, f)
				}
			}
			if len(o.References) != 1 || o.References[0].ID != viewID || o.References[0].Type != "index-pattern" {
				t.Errorf("%s: references %+v, want the data view %s", o.ID, o.References, viewID)
			}
		default:
			t.Errorf("unexpected saved object type %q", o.Type)
		}
	}
	if types["index-pattern"] != 1 || types["search"] != 5 {
		t.Errorf("objects by type = %v, want 1 data view and 5 searches", types)
	}
}
