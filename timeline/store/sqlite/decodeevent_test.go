package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/cputime"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// sameAsUnmarshal fails the test unless decodeEvent gives what
// json.Unmarshal gives for doc: the same event, or an error when it errs.
// With fast set, the document must also be one decodeFast handles itself
// (a store's documents must never cost the encoding/json fallback).
func sameAsUnmarshal(t testing.TB, what string, doc []byte, fast bool) {
	t.Helper()
	var want, got timeline.Event
	werr := json.Unmarshal(doc, &want)
	gerr := decodeEvent(doc, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: json.Unmarshal error %v, decodeEvent error %v\n doc %q", what, werr, gerr, doc)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: decodeEvent differs from json.Unmarshal\n doc  %q\n got  %#v\n want %#v", what, doc, got, want)
	}
	// Through an interner shared by every document a test decodes, as
	// streamRows's workers do.
	var shared timeline.Event
	if err := decodeEventWith(doc, &shared, &testInterner); (err == nil) != (werr == nil) || werr == nil && !reflect.DeepEqual(shared, want) {
		t.Fatalf("%s: with an interner, decodeEvent differs from json.Unmarshal (error %v)\n doc  %q\n got  %#v\n want %#v", what, err, doc, shared, want)
	}
	// Without related.* (SearchTransient): the same event with Related
	// nil, and an error exactly when json.Unmarshal errs.
	var lean timeline.Event
	if err := decodeEventOpts(doc, &lean, &testInterner, true); (err == nil) != (werr == nil) {
		t.Fatalf("%s: without related, decodeEvent error %v, json.Unmarshal error %v\n doc %q", what, err, werr, doc)
	} else if werr == nil {
		noRel := want
		noRel.Related = nil
		if !reflect.DeepEqual(lean, noRel) {
			t.Fatalf("%s: without related, decodeEvent differs from json.Unmarshal\n doc  %q\n got  %#v\n want %#v", what, doc, lean, noRel)
		}
	}
	sameProjected(t, what, doc, &want, werr, fast)
	// Through memos shared by every document a test decodes, as a
	// transient read's workers do (decodememo.go): twice, so the second
	// takes what the first remembered.
	for range 2 {
		var memo timeline.Event
		if err := decodeEventOpts(doc, &memo, &testSharing, true); (err == nil) != (werr == nil) {
			t.Fatalf("%s: with memos, decodeEvent error %v, json.Unmarshal error %v\n doc %q", what, err, werr, doc)
		} else if werr == nil {
			noRel := want
			noRel.Related = nil
			if !reflect.DeepEqual(memo, noRel) {
				t.Fatalf("%s: with memos, decodeEvent differs from json.Unmarshal\n doc  %q\n got  %#v\n want %#v", what, doc, memo, noRel)
			}
		}
	}
	var direct timeline.Event
	ok := decodeFast(doc, &direct, nil)
	if fast && !ok {
		t.Fatalf("%s: the fast decoder gave up on %q", what, doc)
	}
	if ok && (werr != nil || !reflect.DeepEqual(direct, want)) {
		t.Fatalf("%s: decodeFast accepted what json.Unmarshal decodes otherwise (error %v)\n doc  %q\n got  %#v\n want %#v", what, werr, doc, direct, want)
	}
}

var testInterner interner

// testSharing is an interner of a transient read: its memos remember
// sub-objects from one test document to the next.
var testSharing = interner{share: true}

// testProj asks for a few keys of each map and every Data_N, and for the
// whole event_data of event 18456.
var testProj = Projection{
	EventData: func(h WinlogHead) *Keys {
		if h.EventID == 18456 {
			return nil
		}
		return testKeys
	},
	WinData: func(WinlogHead) *Keys { return testKeys },
}

var testKeys = NewKeys([]string{"TargetUserName", "level", "a", "k", "x", "é", "ké"}, []string{"Data_"})

// sameProjected holds the projected decoder (decodeStoredProj's fast
// path, testProj) to json.Unmarshal's event want: it refuses what
// json.Unmarshal refuses, and what it takes is want with the entries
// testProj leaves out left out (jejak.data's only when the document gives
// winlog first, as appendEvent does: TestSearchProjected checks stored
// documents get both). With fast, it must take the document.
func sameProjected(t testing.TB, what string, doc []byte, want *timeline.Event, werr error, fast bool) {
	t.Helper()
	var got timeline.Event
	d := decoder{b: doc, in: &testInterner, proj: newProjector(&testProj)}
	d.event(&got)
	if d.bad {
		if fast {
			t.Fatalf("%s: the projected decoder gave up on %q", what, doc)
		}
		return // decodeStoredProj decodes it whole
	}
	if werr != nil {
		t.Fatalf("%s: the projected decoder took what json.Unmarshal refuses (%v): %q", what, werr, doc)
	}
	both, edOnly := projectEvent(*want, true), projectEvent(*want, false)
	if !reflect.DeepEqual(got, both) && !reflect.DeepEqual(got, edOnly) {
		t.Fatalf("%s: projected decoding differs from json.Unmarshal's event projected\n doc  %q\n got  %#v\n want %#v", what, doc, got, both)
	}
}

// projectEvent is e with the map entries testProj leaves out removed: of
// event_data, and of jejak.data when data is set.
func projectEvent(e timeline.Event, data bool) timeline.Event {
	if e.Winlog == nil {
		return e
	}
	filter := func(m map[string]string, k *Keys) map[string]string {
		if m == nil || k == nil {
			return m
		}
		out := map[string]string{}
		for key, v := range m {
			if k.Has(key) {
				out[key] = v
			}
		}
		return out
	}
	w := *e.Winlog
	h := WinlogHead{w.Channel, w.EventID, w.ProviderName}
	w.EventData = filter(w.EventData, testProj.EventData(h))
	e.Winlog = &w
	if data {
		e.Jejak.Data = filter(e.Jejak.Data, testProj.WinData(h))
	}
	return e
}

func encodeEvent(t testing.TB, e *timeline.Event) []byte {
	t.Helper()
	doc, err := appendEvent(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDecoderEveryField decodes what appendEvent writes for every field of
// the model filled (with strings that need escaping), for the empty parts,
// and for the store contract's events.
func TestDecoderEveryField(t *testing.T) {
	if !modelMatches() {
		t.Skip("the model changed: TestEncoderKnowsTheModel says what to do")
	}
	for _, s := range awkwardStrings {
		e := &timeline.Event{}
		fill(reflect.ValueOf(e).Elem(), s, 0)
		sameAsUnmarshal(t, "all fields = "+s, encodeEvent(t, e), true)
	}
	e := &timeline.Event{Log: &timeline.Log{Syslog: &timeline.Syslog{Facility: &timeline.Code{},
		StructuredData: map[string]map[string]string{"a": nil, "b": {}}}},
		Host: &timeline.Host{}, User: &timeline.User{Effective: &timeline.User{}}, Source: &timeline.Endpoint{},
		HTTP:    &timeline.HTTP{Request: &timeline.HTTPRequest{}, Response: &timeline.HTTPResponse{Body: &timeline.HTTPBody{}}},
		Winlog:  &timeline.Winlog{EventData: map[string]string{}, Logon: &timeline.WinlogLogon{}},
		Related: &timeline.Related{User: []string{}}, Jejak: timeline.Jejak{Provenance: timeline.Provenance{Chain: []string{}},
			Time: &timeline.TimeNote{}, Data: map[string]string{}, Tags: []string{}}}
	sameAsUnmarshal(t, "empty parts", encodeEvent(t, e), true)
	sameAsUnmarshal(t, "zero event", encodeEvent(t, &timeline.Event{}), true)
	for i, e := range storetest.Many(50) {
		sameAsUnmarshal(t, fmt.Sprint("storetest.Many ", i), encodeEvent(t, e), true)
	}
	for i, e := range storetest.Events() {
		sameAsUnmarshal(t, fmt.Sprint("storetest.Events ", i), encodeEvent(t, e), true)
	}
	for i, e := range events(100, "aa") {
		sameAsUnmarshal(t, fmt.Sprint("sshd event ", i), encodeEvent(t, e), true)
	}
	// Times with a zone (written by json.Marshal for events not finalized)
	// and the extremes RFC 3339 holds.
	for _, ts := range []time.Time{{}, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 14, 8, 0, 0, 0, time.FixedZone("WIB", 7*3600)), time.Date(2024, 2, 14, 8, 0, 0, 0, time.Local)} {
		sameAsUnmarshal(t, ts.String(), encodeEvent(t, &timeline.Event{Timestamp: ts}), true)
	}
}

// TestDecoderJSON holds the decoder to encoding/json on documents no
// encoder of ours writes: other spacing, escapes of every kind, surrogates
// paired and lone, invalid UTF-8, nulls, numbers at and past their limits,
// keys in another case, repeated or unknown, and invalid JSON. fast marks
// those the fast decoder must take itself.
func TestDecoderJSON(t *testing.T) {
	if !modelMatches() {
		t.Skip("the model changed: TestEncoderKnowsTheModel says what to do")
	}
	const ts = `"@timestamp":"2024-02-14T08:00:00.5Z"`
	for _, c := range []struct {
		doc  string
		fast bool
	}{
		{`{}`, true},
		{" \t\r\n{ \"message\" : \"m\" , \"event\" : { } } \n", true},
		{`{` + ts + `,"message":"a\"b\\c\/d\be\ff\ng\rh\ti"}`, true},
		{`{"message":"\u0000\u001f\u00e9\u65e5\uFFFD\u2028"}`, true},
		{`{"message":"pair \ud83d\ude42 end"}`, true},             // U+1F642
		{`{"message":"lone high \ud83d end"}`, true},              // U+FFFD
		{`{"message":"lone low \ude42 end"}`, true},               // U+FFFD
		{`{"message":"high then high \ud83d\ud83d\ude42"}`, true}, // U+FFFD, then the pair
		{`{"message":"high then escape \ud83d\n"}`, true},
		{`{"message":"high at end \ud83d"}`, true},
		{`{"message":"high then text \ud83dabcdef"}`, true},
		{"{\"message\":\"bad \xff\xfe utf8 \xc3 \xed\xa0\x80 \xf4\x90\x80\x80\"}", true},
		{"{\"message\":\"bad \xff\\n escaped\"}", true},
		{"{\"message\":\"ctl \x01\"}", false},
		{`{"message":"bad escape \'"}`, false},
		{`{"message":"bad escape \x"}`, false},
		{`{"message":"short \u12"}`, false},
		{`{"message":"short \u12g4"}`, false},
		{`{"message":"unterminated}`, false},
		{`{"message":null,"host":null,"event":null,"jejak":null,"@timestamp":null}`, true},
		{`{"event":{"category":[null,"a"],"type":[]},"related":{"ip":null}}`, true},
		{`{"winlog":{"event_data":{"a":null,"b":"1","a":"2"},"record_id":18446744073709551615}}`, true},
		{`{"winlog":{"record_id":18446744073709551616}}`, false},
		{`{"winlog":{"record_id":-1}}`, false},
		{`{"winlog":{"record_id":-0}}`, false},
		{`{"log":{"syslog":{"structured_data":{"x":null,"y":{},"z":{"k":"v"},"x":{"a":"b"}},"facility":{"code":0}}}}`, true},
		{`{"process":{"pid":-9223372036854775808}}`, true},
		{`{"process":{"pid":9223372036854775807}}`, true},
		{`{"process":{"pid":9223372036854775808}}`, false},
		{`{"process":{"pid":-0}}`, true},
		{`{"process":{"pid":01}}`, false},
		{`{"process":{"pid":1.0}}`, false},
		{`{"process":{"pid":1e3}}`, false},
		{`{"process":{"pid":-}}`, false},
		{`{"process":{"pid":"1"}}`, false},
		{`{"file":{"size":0},"http":{"response":{"body":{"bytes":null}}}}`, true},
		{`{"jejak":{"time":{"year_inferred":true,"out_of_range":false}}}`, true},
		{`{"jejak":{"time":{"year_inferred":1}}}`, false},
		{`{"jejak":{"time":{"year_inferred":truex}}}`, false},
		{`{"user":{"name":"a","effective":{"target":{"id":"x"}}}}`, true},
		{`{"user":` + strings.Repeat(`{"effective":`, maxUserDepth-1) + `{}` + strings.Repeat(`}`, maxUserDepth-1) + `}`, true},
		{`{"user":` + strings.Repeat(`{"target":`, 10001) + `{}` + strings.Repeat(`}`, 10001) + `}`, false}, // too deep for encoding/json
		{`{"Message":"case"}`, false},                                                                       // encoding/json matches it to message
		{`{"message":"a","message":"b"}`, false},                                                            // the last one wins
		{`{"user":{"name":"a"},"user":{"id":"b"}}`, false},
		{`{"event":{"category":["a","b"]},"event":{"category":[null]}}`, false},
		{`{"future_field":{"x":[1,2]},"message":"m"}`, false}, // skipped by encoding/json
		{`{"m\u0065ssage":"escaped key"}`, false},
		{`{"@timestamp":"2024-02-14T08:00:00+07:00"}`, true},
		{`{"@timestamp":"2024-02-14 08:00:00Z"}`, false},
		{`{"@timestamp":"2024-02-14T08:00:00\u005a"}`, false},
		{`{"@timestamp":1}`, false},
		{`{"@timestamp":"10000-01-01T00:00:00Z"}`, false},
		{`{"message":"m",}`, false},
		{`{,"message":"m"}`, false},
		{`{"message":"m"`, false},
		{`{"message" "m"}`, false},
		{`{"message":"m"} x`, false},
		{`{"message":"m"}{}`, false},
		{`{"event":{"category":["a",]}}`, false},
		{`{"event":{"category":["a" "b"]}}`, false},
		{`{"winlog":{"channel":"Security","event_id":4624,"provider_name":"p","event_data":{"a":"1","OldSd":"D:(A;;\u0041;;;)","Data_2":"x","b":null,"k\u00e9":"y","\u00e9":"z","x":null}},"jejak":{"data":{"level":"4","thread_id":"9","k":null}}}`, true},
		{`{"winlog":{"event_id":18456,"provider_name":"MSSQL","event_data":{"a":"1","b":"2"}},"jejak":{"data":{"level":"4","c":"3"}}}`, true},
		{`{"winlog":{"event_data":{"a":"1","b":"2"},"event_id":18456}}`, false},                      // the head after event_data: whole
		{`{"winlog":{"event_id":18456,"event_data":{"a":"1","b":"2"},"channel":"Security"}}`, false}, // so is one completed after it
		{`{"winlog":{"event_id":4624,"event_data":{"a":"1","b":"2"},"channel":"Security"}}`, false},
		{`{"jejak":{"data":{"level":"4","c":"3"}},"winlog":{"event_id":1}}`, true}, // jejak before winlog: data whole
		{`{"winlog":{"event_data":{"skipped":"bad \x"}}}`, false},
		{`{"winlog":{"event_data":{"skipped":1}}}`, false},
		{`{"winlog":{"event_data":{"skipped" "v"}}}`, false},
		{`{"winlog":{"event_data":{"skipped":"v",}}}`, false},
		{"{\"winlog\":{\"event_data\":{\"skipped\":\"ctl \x01\"}}}", false},
		{"{\"winlog\":{\"event_data\":{\"skipped\":\"bad \xff utf8\",\"a\":\"bad \xfe\"}}}", true},
		{`{"jejak":{"data":{"k":"v",}}}`, false},
		{`{"jejak":{"data":{"k" "v"}}}`, false},
		{`{"jejak":{"data":{"k":1}}}`, false},
		{`null`, false},
		{``, false},
		{`[]`, false},
		{"\xef\xbb\xbf{}", false},
	} {
		sameAsUnmarshal(t, c.doc, []byte(c.doc), c.fast)
	}
}

// FuzzDecoderEvents encodes fuzzed events with the store's encoder and
// decodes them with both decoders.
func FuzzDecoderEvents(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s, s+"x", int64(len(s)), uint8(len(s)))
	}
	f.Fuzz(func(t *testing.T, a, b string, n int64, mask uint8) {
		if !modelMatches() {
			t.Skip("the model changed")
		}
		doc, err := appendEvent(nil, fuzzEvent(a, b, n, mask))
		if err != nil {
			return // a time json.Marshal refuses: nothing is stored
		}
		sameAsUnmarshal(t, "fuzzed event", doc, true)
	})
}

// FuzzDecoder decodes arbitrary bytes, seeded with stored documents and
// the table's: never a panic, an error exactly when json.Unmarshal errs,
// the same event when it does not.
func FuzzDecoder(f *testing.F) {
	for _, s := range awkwardStrings {
		e := &timeline.Event{}
		fill(reflect.ValueOf(e).Elem(), s, 0)
		doc, _ := appendEvent(nil, e)
		f.Add(doc)
	}
	for _, e := range storetest.Events() {
		doc, _ := appendEvent(nil, e)
		f.Add(doc)
	}
	for _, s := range []string{`{"message":"\ud83d\ude42\ud83d"}`, `{"process":{"pid":-0}}`, `{"a":1}`, `null`,
		`{"winlog":{"channel":"Security","event_id":4907,"event_data":{"OldSd":"D:\u0041\\x\"","k":"v","Data_2":"\ud83d"}},"jejak":{"data":{"thread_id":"\/9","level":"4"}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameAsUnmarshal(t, "fuzzed bytes", doc, false)
	})
}

// BenchmarkDecode decodes the stored documents of the sshd events the
// store's tests use and of every event the parsers make of the corpus
// (Windows event logs and registry for the most part), with this package's
// decoder and with encoding/json.
func BenchmarkDecode(b *testing.B) {
	sets := map[string][]*timeline.Event{"sshd": events(1000, strings.Repeat("ab", 32))}
	if _, err := parsertest.CorpusDir(); err == nil {
		sets["corpus"], _ = corpusEvents(b)
	}
	for name, evs := range sets {
		var docs [][]byte
		var in interner
		for _, e := range evs {
			e.Finalize()
			doc, _ := appendEvent(nil, e)
			docs = append(docs, doc)
		}
		for _, dec := range []struct {
			name string
			fn   func([]byte, *timeline.Event) error
		}{
			{"decodeEvent", decodeEvent},
			{"decodeEvent+interner", func(d []byte, e *timeline.Event) error { return decodeEventWith(d, e, &in) }},
			{"decodeEvent+interner-related", func(d []byte, e *timeline.Event) error { return decodeEventOpts(d, e, &in, true) }},
			{"json.Unmarshal", func(d []byte, e *timeline.Event) error { return json.Unmarshal(d, e) }},
		} {
			b.Run(name+"/"+dec.name, func(b *testing.B) {
				b.ReportAllocs()
				var n int
				cpu := cputime.Process().Seconds()
				defer func() { b.ReportMetric((cputime.Process().Seconds()-cpu)*1e9/float64(b.N), "cpu-ns/op") }()
				for i := 0; b.Loop(); i++ {
					var e timeline.Event
					doc := docs[i%len(docs)]
					if err := dec.fn(doc, &e); err != nil {
						b.Fatal(err)
					}
					n += len(doc)
				}
				b.SetBytes(int64(n / b.N))
			})
		}
	}
}

// TestDecoderOnCorpusCase stores every event the parsers make of the
// shared corpus and decodes every stored document with the store's
// decoder and with encoding/json: the events must be the same, every
// document must take the fast path, and Search must hand out exactly
// those events.
func TestDecoderOnCorpusCase(t *testing.T) {
	if !modelMatches() {
		t.Skip("the model changed: TestEncoderKnowsTheModel says what to do")
	}
	evs, perParser := corpusEvents(t)
	for _, e := range evs {
		e.Finalize() // as the ingest does before it stores an event
	}
	ctx := context.Background()
	s := open(t)
	if _, err := s.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	want := map[string]*timeline.Event{}
	err := s.ScanRaw(ctx, func(id string, doc []byte) error {
		var j timeline.Event
		if err := json.Unmarshal(doc, &j); err != nil {
			t.Fatalf("stored event %s: json.Unmarshal: %v", id, err)
		}
		sameAsUnmarshal(t, "stored event "+id, doc, true)
		want[id] = &j
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = s.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		n++
		if w, ok := want[e.Jejak.ID]; !ok || !reflect.DeepEqual(e, w) {
			t.Fatalf("Search gave event %s as %#v; encoding/json decodes it as %#v", e.Jejak.ID, e, w)
		}
		return nil
	})
	if err != nil || n != len(want) || n == 0 {
		t.Fatalf("Search gave %d of %d stored events, %v", n, len(want), err)
	}
	t.Logf("%d stored events compared (parsed per parser: %v)", n, perParser)
}
