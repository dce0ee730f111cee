package storetest

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/store"
)

// Odd returns finalised events holding values that stress an encoder or a
// mapping as parsers meet them in evidence: control characters and
// invalid UTF-8 (json.Marshal makes it U+FFFD), a message longer than any
// keyword is indexed, a value that is not an IP address in an IP field,
// empty and dotted map keys, characters JSON escapes.
func Odd() []*timeline.Event {
	long := strings.Repeat("Ä0123456789 ", 4000) // 48,000 bytes
	evs := Many(6)
	evs[0].Message = "bell\a tab\t nl\n cr\r del\x7f ls\u2028 ps\u2029 <script>&amp;"
	evs[1].Message = "invalid \xff\xfe utf-8 \xc3 and a lone surrogate \xed\xa0\x80"
	evs[2].Message = long
	evs[2].User = &timeline.User{Name: long[:9000]}
	evs[3].Source = &timeline.Endpoint{IP: "not-an-ip", Port: 0}
	evs[3].Jejak.Data = map[string]string{"": "empty key", "a.b": "dotted", "a": "plain", "emoji 🗳️": "✓"}
	evs[4].Winlog = &timeline.Winlog{Channel: "Security", EventData: map[string]string{"Data": "", "Param1": "\"quoted\" \\ backslash"}}
	evs[5].Message = ""
	evs[5].Event.Original = "\ufeffBOM first, then 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"
	for _, e := range evs {
		e.Finalize()
	}
	return evs
}

// testOdd: such events are stored (none refused), come back as
// json.Marshal says they were, and are found by the queries they should
// be found by.
func testOdd(t *testing.T, s store.Store) {
	evs := Odd()
	if st := write(t, s, evs); st.Inserted != len(evs) {
		t.Fatalf("Write = %+v, want %d inserted", st, len(evs))
	}
	got := search(t, s, timeline.Query{})
	want := sorted(evs)
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("Search: %v, want %v", ids(got), ids(want))
	}
	for i := range want {
		// What json.Marshal wrote, read back: invalid UTF-8 is U+FFFD
		// from then on, escaped as \ufffd only in the first writing.
		var canon timeline.Event
		wj, _ := json.Marshal(want[i])
		if err := json.Unmarshal(wj, &canon); err != nil {
			t.Fatal(err)
		}
		wj, _ = json.Marshal(&canon)
		gj, _ := json.Marshal(got[i])
		if string(wj) != string(gj) {
			t.Errorf("event %s did not round-trip:\n got  %.300s\n want %.300s", want[i].Jejak.ID, gj, wj)
		}
	}
	for _, c := range []kqlCase{
		{`bell`, func(e *timeline.Event) bool { return strings.Contains(e.Message, "bell") }},
		{`utf`, func(e *timeline.Event) bool { return strings.Contains(e.Message, "utf-8") }},
		{`source.ip:*`, func(e *timeline.Event) bool { return e.Source != nil && e.Source.IP != "not-an-ip" }},
		{`jejak.data.a:plain`, func(e *timeline.Event) bool { return e.Jejak.Data["a"] == "plain" }},
		{`winlog.event_data.Param1:*backslash`, func(e *timeline.Event) bool {
			return e.Winlog != nil && strings.HasSuffix(e.Winlog.EventData["Param1"], "backslash")
		}},
		{`user.name:u0001`, func(e *timeline.Event) bool { return userName(e) == "u0001" }},
		{`message.keyword:*`, func(e *timeline.Event) bool { return len(e.Message) <= 1024 }},
	} {
		t.Run(c.kql, func(t *testing.T) {
			f := compile(t, c.kql)
			want := filter(sorted(evs), c.want)
			if got := runQuery(t, s, f, timeline.Query{}); !slices.Equal(ids(got), ids(want)) {
				t.Errorf("Query:\n got  %v\n want %v", ids(got), ids(want))
			}
		})
	}
}

// testNul: a NUL character inside a value hides nothing after it: free
// text after it is found, and a wildcard reaches past it. Parsers keep
// such values (binary junk in a log line, a UTF-16 string read whole).
func testNul(t *testing.T, s store.Store) {
	evs := Many(3)
	evs[0].Message = "before\x00 after"
	evs[1].Message = "before and after"
	evs[2].User.Name = "x\x00y"
	for _, e := range evs {
		e.Finalize()
	}
	write(t, s, evs)
	got := search(t, s, timeline.Query{})
	for _, g := range got {
		if g.Jejak.ID == evs[0].Jejak.ID && g.Message != evs[0].Message {
			t.Errorf("message read back as %q", g.Message)
		}
	}
	for _, c := range []kqlCase{
		{`after`, func(e *timeline.Event) bool { return strings.Contains(e.Message, "after") }},
		{`message.keyword:*after`, func(e *timeline.Event) bool { return strings.HasSuffix(e.Message, "after") }},
		{`user.name:*y`, func(e *timeline.Event) bool { return strings.HasSuffix(userName(e), "y") }},
	} {
		t.Run(c.kql, func(t *testing.T) {
			f := compile(t, c.kql)
			want := filter(sorted(evs), c.want)
			if got := runQuery(t, s, f, timeline.Query{}); !slices.Equal(ids(got), ids(want)) {
				t.Errorf("Query:\n got  %v\n want %v", ids(got), ids(want))
			}
		})
	}
}
