package sqlite

import (
	"reflect"
	"testing"
)

// TestStrMapKeysMemo decodes maps of one head one after the other through
// one headMap, as a worker decodes the records of one kind: keys in
// another order than the record before, fewer or more of them, an escaped
// key, a key given twice. Each map must be exactly the projected map of
// its document whatever the memo holds, and an equal jejak.data map must
// be the last one made (shared), an unequal one a new map.
func TestStrMapKeysMemo(t *testing.T) {
	hm := &headMap{keys: NewKeys([]string{"a", "c"}, []string{"Data_"})}
	in := &interner{share: true}
	cases := []struct {
		doc    string
		want   map[string]string
		shared bool // the map made for the case before is returned
	}{
		{`{"a":"1","b":"2","c":"3"}`, map[string]string{"a": "1", "c": "3"}, false},
		{`{"a":"1","b":"x","c":"3"}`, map[string]string{"a": "1", "c": "3"}, true},
		{` { "a" :"1", "b":"2","c" : "3"} `, map[string]string{"a": "1", "c": "3"}, true}, // spaces: not the remembered spelling
		{`{"ab":"1","a":"1","c":"3"}`, map[string]string{"a": "1", "c": "3"}, true},
		{`{"a":"1","c":"3","b":"2"}`, map[string]string{"a": "1", "c": "3"}, true},
		{`{"c":"3","a":"1"}`, map[string]string{"a": "1", "c": "3"}, false}, // another order: equal map, entries in another order
		{`{"b":"1","a":"2"}`, map[string]string{"a": "2"}, false},
		{`{"b":"1","c":"2","Data_1":"d"}`, map[string]string{"c": "2", "Data_1": "d"}, false},
		{`{"\u0061":"5","b":"1"}`, map[string]string{"a": "5"}, false},
		{`{"a":"1","a":"2"}`, map[string]string{"a": "2"}, false},
		{`{"a":null,"b":null}`, map[string]string{"a": ""}, false},
		{`{}`, map[string]string{}, false},
		{`{}`, map[string]string{}, true},
		{`{"c":"3\"q","b":"\u00e9"}`, map[string]string{"c": `3"q`}, false},
	}
	for _, memo := range []bool{false, true} {
		var last map[string]string
		for i, c := range cases {
			d := decoder{b: []byte(c.doc), in: in}
			got := d.strMapKeys(hm, memo)
			if d.bad {
				t.Fatalf("memo %v, case %d %s: refused", memo, i, c.doc)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("memo %v, case %d %s: got %v, want %v", memo, i, c.doc, got, c.want)
			}
			same := last != nil && reflect.ValueOf(got).Pointer() == reflect.ValueOf(last).Pointer()
			if same != (memo && c.shared) {
				t.Errorf("memo %v, case %d %s: shared %v, want %v", memo, i, c.doc, same, memo && c.shared)
			}
			last = got
		}
	}
	// A refused document is refused as before.
	for _, doc := range []string{`{"a":"1","b":"\x01"}`, `{"a":"1",}`, `{"b":"\q"}`} {
		d := decoder{b: []byte(doc), in: in}
		if d.strMapKeys(hm, true); !d.bad {
			t.Errorf("%q: accepted", doc)
		}
	}
}

// TestStrMapKeysValues reads values a position had before, written the
// same way and not: escaped, with invalid UTF-8, longer, shorter, null,
// spaced. A remembered value is only taken where the document spells it
// exactly as it reads.
func TestStrMapKeysValues(t *testing.T) {
	hm := &headMap{keys: NewKeys([]string{"a", "c"}, nil)}
	in := &interner{share: true}
	cases := []struct {
		doc  string
		want map[string]string
	}{
		{`{"a":"x\u0041"}`, map[string]string{"a": "xA"}},
		{`{"a":"xA"}`, map[string]string{"a": "xA"}},
		{`{"a":"xA"}`, map[string]string{"a": "xA"}},
		{`{"a":"xA\u0041"}`, map[string]string{"a": "xAA"}},
		{`{"a":"xAA"}`, map[string]string{"a": "xAA"}},
		{`{"a":"xA"}`, map[string]string{"a": "xA"}},
		{`{"a":"xAAA"}`, map[string]string{"a": "xAAA"}},
		{`{"a":null}`, map[string]string{"a": ""}},
		{`{"a": "xAAA"}`, map[string]string{"a": "xAAA"}},
		{`{"a":"xAAA","c":"` + "\xff" + `"}`, map[string]string{"a": "xAAA", "c": "\ufffd"}},
		{`{"a":"xAAA","c":"` + "\xff" + `"}`, map[string]string{"a": "xAAA", "c": "\ufffd"}},
		{`{"a":"xAAA","c":"é"}`, map[string]string{"a": "xAAA", "c": "é"}},
		{`{"a":"xAAA","c":"é"}`, map[string]string{"a": "xAAA", "c": "é"}},
		{`{"a":"","c":"é\""}`, map[string]string{"a": "", "c": `é"`}},
		{`{"a":"","c":"é"}`, map[string]string{"a": "", "c": "é"}},
	}
	for i, c := range cases {
		d := decoder{b: []byte(c.doc), in: in}
		got := d.strMapKeys(hm, false)
		if d.bad {
			t.Fatalf("case %d %s: refused", i, c.doc)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("case %d %s: got %q, want %q", i, c.doc, got, c.want)
		}
	}
	// A value cut short or with a control byte is refused, remembered
	// or not.
	for _, doc := range []string{`{"a":"xAAA`, `{"a":"xAAA` + "\x01" + `"}`, `{"a":"xAAA"`} {
		d := decoder{b: []byte(doc), in: in}
		if d.strMapKeys(hm, false); !d.bad {
			t.Errorf("%q: accepted", doc)
		}
	}
}
