package sqlite

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
)

// memoPairSeeds are pairs of documents whose second shares a prefix of a
// remembered sub-object with the first, or the first members of its
// provenance, but not the whole: the second must decode as if decoded
// alone.
var memoPairSeeds = [][2]string{
	// Numbers that go on after the remembered prefix of a provenance.
	{`{"jejak":{"provenance":{"record":5,"offset":1}}}`, `{"jejak":{"provenance":{"record":55,"offset":1}}}`},
	{`{"jejak":{"provenance":{"record":5,"offset":1}}}`, `{"jejak":{"provenance":{"record":5.5,"offset":1}}}`},
	{`{"jejak":{"provenance":{"record":5,"offset":1}}}`, `{"jejak":{"provenance":{"record":5e1,"offset":1}}}`},
	{`{"jejak":{"provenance":{"record":5,"offset":1}}}`, `{"jejak":{"provenance":{"record":5 ,"offset":1}}}`},
	{`{"jejak":{"provenance":{"record":-5,"offset":1}}}`, `{"jejak":{"provenance":{"record":-50,"offset":2}}}`},
	// A key of the prefix given again after it.
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a","offset":2,"path":"b"}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a","path":"b","offset":2}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a","offset":2,"offset":3}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a","offset":null,"offset":3}}}`},
	// Strings and escapes at the prefix's end.
	{`{"jejak":{"provenance":{"path":"a\\","offset":1}}}`, `{"jejak":{"provenance":{"path":"a\\","offset":2}}}`},
	{`{"jejak":{"provenance":{"path":"a\"","offset":1}}}`, `{"jejak":{"provenance":{"path":"a\"b","offset":2}}}`},
	{`{"jejak":{"provenance":{"path":"a\u0041","offset":1}}}`, `{"jejak":{"provenance":{"path":"a\u0041","offset":2,"parser":"p"}}}`},
	// Literals at the prefix's end, and a member the model lacks after it.
	{`{"jejak":{"provenance":{"path":null,"offset":1}}}`, `{"jejak":{"provenance":{"path":nullx,"offset":1}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a","Offset":2}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a","unknown":2}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a"}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a"`},
	// Whole sub-objects remembered; the next document's only starts alike.
	{`{"host":{"name":"h"},"user":{"name":"u"}}`, `{"host":{"name":"h","hostname":"x"},"user":{"name":"u","name":"v"}}`},
	{`{"host":{"name":"h"}}`, `{"host":{"name":"h"}}}`},
	{`{"event":{"category":["a"],"kind":"event"}}`, `{"event":{"category":["a"],"kind":"event","kind":"alert"}}`},
	{`{"event":{"category":["a"]}}`, `{"event":{"category":["a","b"]}}`},
	{`{"jejak":{"data":{"a":"1"}}}`, `{"jejak":{"data":{"a":"1","a":"2"}}}`},
	{`{"jejak":{"data":{"a":"1"}}}`, `{"jejak":{"data":{"a":"1"},"data":{"b":"2"}}}`},
	{`{"jejak":{"time":{"year_inferred":true}}}`, `{"jejak":{"time":{"year_inferred":truex}}}`},
	{`{"user":{"name":"u","target":{"name":"t"}}}`, `{"user":{"name":"u","target":{"name":"t","target":{"name":"t2"}}}}`},
	{`{"jejak":{"provenance":{"chain":["a"],"offset":1}}}`, `{"jejak":{"provenance":{"chain":["a"],"chain":["b"],"offset":1}}}`},
	// Leads as leadMemo.by finds them: by the bytes before the first
	// ',"offset":', which may be another spelling, or after the
	// provenance, or inside a string's escapes.
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a" ,"offset":1}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a"},"data":{"x":"1","offset":"2"}}}`},
	{`{"jejak":{"provenance":{"path":"a\",\"offset\":","offset":1}}}`, `{"jejak":{"provenance":{"path":"a\",\"offset\":","offset":2,"record":1}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1,"path":"b"}}}`, `{"jejak":{"provenance":{"path":"a","offset":1}}}`},
	{`{"jejak":{"provenance":{"path":"a","offset":1}}}`, `{"jejak":{"provenance":{"path":"a","offset":"1"}}}`},
}

// decodeMemoPair decodes each document through one transient read's
// interner, and checks every one decodes as json.Unmarshal decodes it
// alone (with Related nil, as a transient read leaves it).
func decodeMemoPair(t *testing.T, docs ...[]byte) {
	t.Helper()
	decodeMemoPairWith(t, &interner{share: true}, docs...)
	// Provenance leads found by their bytes (leadMemo.by) alone, as on a
	// read of many files, where the ring finds none.
	in := &interner{share: true}
	in.memo.prov.ring.off = 1 << 30
	decodeMemoPairWith(t, in, docs...)
}

func decodeMemoPairWith(t *testing.T, in *interner, docs ...[]byte) {
	t.Helper()
	for round := range 2 {
		for _, doc := range docs {
			var want, got timeline.Event
			werr := json.Unmarshal(doc, &want)
			want.Related = nil
			err := decodeEventOpts(doc, &got, in, true)
			if (err == nil) != (werr == nil) {
				t.Fatalf("round %d, %q: error %v, json.Unmarshal's %v", round, doc, err, werr)
			}
			if werr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %q: with memos\n got  %#v\n want %#v", round, doc, got, want)
			}
		}
	}
}

// TestMemoPairs: the second document of each pair starts as the first
// does where the first's memos remember something, and differs after.
func TestMemoPairs(t *testing.T) {
	for _, p := range memoPairSeeds {
		decodeMemoPair(t, []byte(p[0]), []byte(p[1]))
		decodeMemoPair(t, []byte(p[1]), []byte(p[0]))
	}
}

// FuzzMemoPairs decodes two documents through one transient read's memos:
// what the first leaves remembered never changes how the second decodes.
func FuzzMemoPairs(f *testing.F) {
	for _, p := range memoPairSeeds {
		f.Add([]byte(p[0]), []byte(p[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		decodeMemoPair(t, a, b)
	})
}
