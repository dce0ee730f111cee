package sqlite

import (
	"reflect"
	"strings"
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

// TestStrMapKeysSkipped: values of keys left out (b) that repeat are
// stepped over by comparing bytes (seqKey.skip); every document is still
// taken or refused as skipStr takes or refuses it: a value one byte
// longer or shorter, escaped, with invalid UTF-8, null, spaced, cut short,
// followed by what may not follow a value, a control byte.
func TestStrMapKeysSkipped(t *testing.T) {
	hm := &headMap{keys: NewKeys([]string{"a"}, nil)}
	in := &interner{share: true}
	cases := []struct {
		doc  string
		want map[string]string // nil: refused
	}{
		{`{"a":"1","b":"S-1-5-18"}`, map[string]string{"a": "1"}},
		{`{"a":"1","b":"S-1-5-18"}`, map[string]string{"a": "1"}},
		{`{"a":"2","b":"S-1-5-18"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"S-1-5-180"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"S-1-5-1"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"S-1-5-1\"8"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"S-1-5-1\"8"}`, map[string]string{"a": "2"}}, // escaped: not remembered
		{`{"a":"2","b":"S-1-5-1"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"S-1-5-1"x}`, nil},
		{`{"a":"2","b":"S-1-5-1"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b": "S-1-5-1"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":null}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"S-1-5-1"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"S-1-5-1`, nil},
		{`{"a":"2","b":"S-1-5-1` + "\x01" + `"}`, nil},
		{`{"a":"2","b":"` + "\xff\xfe" + `"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"` + "\xff\xfe" + `"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"` + "\xff\xfe" + `","c":"3"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"` + "\xff\xfe" + `"`, nil},
		{`{"a":"2","b":""}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":""}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"",}`, nil},
		{`{"a":"2","b":"` + strings.Repeat("x", maxSkipMemo) + `"}`, map[string]string{"a": "2"}},
		{`{"a":"2","b":"` + strings.Repeat("x", maxSkipMemo) + `"}`, map[string]string{"a": "2"}},
	}
	for i, c := range cases {
		d := decoder{b: []byte(c.doc), in: in}
		got := d.strMapKeys(hm, false)
		if c.want == nil {
			if !d.bad {
				t.Fatalf("case %d %q: accepted, %v", i, c.doc, got)
			}
			continue
		}
		if d.bad {
			t.Fatalf("case %d %q: refused", i, c.doc)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Fatalf("case %d %q: got %q, want %q", i, c.doc, got, c.want)
		}
	}
	// The last value is too long to remember; a short one is.
	if len(hm.seq) < 2 || len(hm.seq[1].skip) != 0 {
		t.Fatalf("seq %+v: b's value of %d bytes remembered", hm.seq, maxSkipMemo)
	}
	d := decoder{b: []byte(`{"a":"2","b":"S-1-5-18"}`), in: in}
	if d.strMapKeys(hm, false); d.bad || string(hm.seq[1].skip) != `"S-1-5-18"` {
		t.Errorf("seq %+v: b's last value not remembered", hm.seq)
	}
}

// FuzzStrMapKeysPairs decodes two maps in turns through one headMap, as
// records of one head are, each against a decoding that remembers
// nothing: the same map, refused alike, and read to the same place. What
// one record leaves remembered (keys in order, kept values, values left
// out) never changes how another reads.
func FuzzStrMapKeysPairs(f *testing.F) {
	f.Add([]byte(`{"a":"1","b":"S-1-5-18"}`), []byte(`{"a":"1","b":"S-1-5-18"x}`))
	f.Add([]byte(`{"a":"1","b":"S-1-5-18"}`), []byte(`{"a":"1","b":"S-1-5-18`))
	f.Add([]byte(`{"a":"1","b":"S-1-5-18","c":"x"}`), []byte(`{"a":"1","b":"S-1-5-1\"8","c":"y"}`))
	f.Add([]byte(`{"b":"\u0041","a":"1"}`), []byte(`{"b":"A","a":null}`))
	f.Add([]byte(`{"Data_1":"v","b":""}`), []byte(`{"Data_1":"v","b":"",}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		keys := NewKeys([]string{"a", "c"}, []string{"Data_"})
		hm := &headMap{keys: keys}
		in := &interner{share: true}
		for i, doc := range [][]byte{a, b, a, b, b} {
			d := decoder{b: doc, in: in}
			got := d.strMapKeys(hm, true)
			fresh := decoder{b: doc, in: &interner{}}
			want := fresh.strMapKeys(&headMap{keys: keys}, false)
			if d.bad != fresh.bad {
				t.Fatalf("document %d %q: refused %v, without memory %v", i, doc, d.bad, fresh.bad)
			}
			if !d.bad && (d.i != fresh.i || !reflect.DeepEqual(got, want)) {
				t.Fatalf("document %d %q: %q read to %d, without memory %q to %d", i, doc, got, d.i, want, fresh.i)
			}
		}
	})
}
