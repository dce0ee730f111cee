package sqlite

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/storetest"
)

// sameAsJSON fails the test unless appendEvent writes exactly what
// json.Marshal writes for e, or fails exactly when it fails.
func sameAsJSON(t testing.TB, what string, e *timeline.Event) {
	t.Helper()
	want, werr := json.Marshal(e)
	got, gerr := appendEvent([]byte("prefix"), e)
	if werr != nil || gerr != nil {
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			t.Fatalf("%s: json.Marshal error %v, appendEvent error %v", what, werr, gerr)
		}
		return
	}
	if !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("%s: appendEvent did not append to its buffer", what)
	}
	if got := got[len("prefix"):]; !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: appendEvent differs from json.Marshal at byte %d:\n got  %s\n want %s", what, i, got, want)
	}
	sameStored(t, what, e)
}

// sameStored fails the test unless appendStored writes exactly what
// json.Marshal writes for e with its ID cut out by stripID (e with an ID
// of 32 digits, as the store only writes such events).
func sameStored(t testing.TB, what string, e *timeline.Event) {
	t.Helper()
	c := *e
	if len(c.Jejak.ID) != 32 {
		c.Jejak.ID = "0123456789abcdef0123456789abcdef"
	}
	j, err := json.Marshal(&c)
	if err != nil {
		return // sameAsJSON compared the errors
	}
	want, err := stripID(j)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	// Without a memo, with a new one, and with it again (the memo's hit).
	var m encMemo
	for i, memo := range []*encMemo{nil, &m, &m} {
		got, err := appendStored([]byte("prefix"), &c, memo)
		if err != nil {
			t.Fatalf("%s: appendStored (%d): %v", what, i, err)
		}
		if !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("%s: appendStored (%d) differs from the stored form of json.Marshal's:\n got  %s\n want prefix%s", what, i, got, want)
		}
	}
}

// storedWant is json.Marshal's document of e with its ID cut out.
func storedWant(t *testing.T, e *timeline.Event) []byte {
	t.Helper()
	j, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want, err := stripID(j)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// TestEncMemoSequence writes runs of events through one memo, each
// changing one of the fields the memo compares (or none), and holds every
// document to json.Marshal's: a memo that missed a change would write the
// previous event's provenance or time note.
func TestEncMemoSequence(t *testing.T) {
	base := func() *timeline.Event {
		e := &timeline.Event{Timestamp: time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC), Message: "m"}
		e.Jejak.ID = "0123456789abcdef0123456789abcdef"
		e.Jejak.Provenance = timeline.Provenance{
			EvidenceSHA256: strings.Repeat("ab", 32), EvidenceName: "img.E01",
			Chain: []string{"ntfs:", "dir:var/log/auth.log"}, Path: "var/log/auth.log",
			Offset: 10, Record: 2, Parser: "syslog",
		}
		e.Jejak.Time = &timeline.TimeNote{ZoneAssumed: "UTC", YearInferred: true, YearBasis: "file mtime"}
		return e
	}
	// reused is a chain whose backing array a parser overwrites between
	// files: the memo must not see the new contents as its key.
	reused := []string{"dir:a.log"}
	steps := []struct {
		name   string
		change func(e *timeline.Event)
	}{
		{"same", func(*timeline.Event) {}},
		{"same again", func(*timeline.Event) {}},
		{"offset and record", func(e *timeline.Event) { e.Jejak.Provenance.Offset, e.Jejak.Provenance.Record = 99, 0 }},
		{"digest", func(e *timeline.Event) { e.Jejak.Provenance.EvidenceSHA256 = strings.Repeat("cd", 32) }},
		{"evidence name", func(e *timeline.Event) { e.Jejak.Provenance.EvidenceName = "other.E01" }},
		{"path", func(e *timeline.Event) { e.Jejak.Provenance.Path = "var/log/auth.log.1" }},
		{"identity", func(e *timeline.Event) { e.Jejak.Provenance.Identity = "mft#5-1" }},
		{"identity back", func(*timeline.Event) {}},
		{"nil chain", func(e *timeline.Event) { e.Jejak.Provenance.Chain = nil }},
		{"empty chain", func(e *timeline.Event) { e.Jejak.Provenance.Chain = []string{} }},
		{"nil chain again", func(e *timeline.Event) { e.Jejak.Provenance.Chain = nil }},
		{"longer chain", func(e *timeline.Event) { e.Jejak.Provenance.Chain = append(e.Jejak.Provenance.Chain, "gzip:") }},
		{"chain member", func(e *timeline.Event) { e.Jejak.Provenance.Chain = []string{"ntfs:", "dir:var/log/syslog"} }},
		{"reused chain", func(e *timeline.Event) { e.Jejak.Provenance.Chain = reused }},
		{"reused chain overwritten", func(e *timeline.Event) { reused[0] = "dir:b.log"; e.Jejak.Provenance.Chain = reused }},
		{"escaped path", func(e *timeline.Event) { e.Jejak.Provenance.Path = "a\"b\u2028<c>" }},
		{"parser", func(e *timeline.Event) { e.Jejak.Provenance.Parser = "apache" }},
		{"no time note", func(e *timeline.Event) { e.Jejak.Time = nil }},
		{"empty time note", func(e *timeline.Event) { e.Jejak.Time = &timeline.TimeNote{} }},
		{"zone", func(e *timeline.Event) { e.Jejak.Time.ZoneAssumed = "Asia/Jakarta" }},
		{"year inferred", func(e *timeline.Event) { e.Jejak.Time.YearInferred = false }},
		{"year basis", func(e *timeline.Event) { e.Jejak.Time.YearBasis = "rollover" }},
		{"out of range", func(e *timeline.Event) { e.Jejak.Time.OutOfRange = true }},
		{"no time note again", func(e *timeline.Event) { e.Jejak.Time = nil }},
	}
	var m encMemo
	var buf []byte
	for _, reset := range []bool{false, true} {
		e := base()
		for _, st := range steps {
			if reset {
				e = base() // each change alone against the base
			}
			st.change(e)
			var err error
			buf, err = appendStored(buf[:0], e, &m)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if want := storedWant(t, e); !bytes.Equal(buf, want) {
				t.Fatalf("%s (each alone %v):\n got  %s\n want %s", st.name, reset, buf, want)
			}
		}
	}
}

// TestEncMemoCorpus writes the corpus's events, in their order, through
// one memo, as a writer does.
func TestEncMemoCorpus(t *testing.T) {
	all, _ := corpusEvents(t)
	var m encMemo
	var buf []byte
	for i, e := range all {
		c := *e
		if len(c.Jejak.ID) != 32 {
			c.Jejak.ID = "0123456789abcdef0123456789abcdef"
		}
		var err error
		if buf, err = appendStored(buf[:0], &c, &m); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if want := storedWant(t, &c); !bytes.Equal(buf, want) {
			t.Fatalf("event %d (%s):\n got  %s\n want %s", i, c.Jejak.Provenance.Path, buf, want)
		}
	}
}

// TestEncoderKnowsTheModel fails when timeline.Event changes shape: the
// store then falls back to encoding/json, and appendEvent (with its
// fingerprint) must learn the new fields.
func TestEncoderKnowsTheModel(t *testing.T) {
	desc := describeModel()
	sum := sha256.Sum256([]byte(desc))
	if got := hex.EncodeToString(sum[:]); got != modelFingerprint {
		t.Fatalf("timeline.Event changed; teach appendEvent the new fields, then set modelFingerprint = %q.\nThe model now:\n%s", got, desc)
	}
	if !modelMatches() {
		t.Fatal("modelMatches is false with a matching fingerprint")
	}
}

// corpusEvents runs every parser on every corpus file it accepts and
// returns the events, with their count per parser.
func corpusEvents(t testing.TB) ([]*timeline.Event, map[string]int) {
	t.Helper()
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("shared corpus not found (%v)", err)
	}
	reg := all.Registry()
	perParser := map[string]int{}
	var evs []*timeline.Event
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		head := make([]byte, parsers.HeadSize)
		n, _ := f.Read(head)
		f.Close()
		e := parsertest.FileEntry(t, path)
		p := reg.Match(e, head[:n])
		if p == nil {
			return nil
		}
		res := parsertest.ParseFile(t, p, path, time.FixedZone("WIB", 7*3600))
		evs = append(evs, res.Events...)
		perParser[p.Name()] += len(res.Events)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A comparison is only worth something if the parsers that fill the
	// richest parts of the model took part.
	for _, name := range []string{"syslog", "evtx", "weblog", "auditd", "utmp"} {
		if perParser[name] == 0 {
			t.Errorf("no %s events from the corpus; events per parser: %v", name, perParser)
		}
	}
	return evs, perParser
}

// TestEncoderOnCorpus runs every parser on every corpus file it accepts and
// compares the two encoders on each event.
func TestEncoderOnCorpus(t *testing.T) {
	evs, perParser := corpusEvents(t)
	for i, ev := range evs {
		sameAsJSON(t, fmt.Sprintf("corpus event %d (%s, %s)", i, ev.Jejak.Provenance.Parser, ev.Jejak.Provenance.Path), ev)
	}
	t.Logf("events compared per parser: %v", perParser)
}

// TestEncoderEveryField fills every field of the model, with values that
// need escaping, and also leaves each pointer, slice and map empty in turn.
func TestEncoderEveryField(t *testing.T) {
	for _, s := range awkwardStrings {
		e := &timeline.Event{}
		fill(reflect.ValueOf(e).Elem(), s, 0)
		sameAsJSON(t, "all fields = "+s, e)
	}
	// Present but empty: {} for structs, [] and {} for the non-omitempty
	// ones, nothing for omitempty.
	e := &timeline.Event{Log: &timeline.Log{Syslog: &timeline.Syslog{Facility: &timeline.Code{},
		StructuredData: map[string]map[string]string{"a": nil, "b": {}}}},
		Host: &timeline.Host{}, User: &timeline.User{Effective: &timeline.User{}}, Source: &timeline.Endpoint{},
		HTTP:    &timeline.HTTP{Request: &timeline.HTTPRequest{}, Response: &timeline.HTTPResponse{Body: &timeline.HTTPBody{}}},
		Winlog:  &timeline.Winlog{EventData: map[string]string{}, Logon: &timeline.WinlogLogon{}},
		Related: &timeline.Related{User: []string{}}, Jejak: timeline.Jejak{Provenance: timeline.Provenance{Chain: []string{}},
			Time: &timeline.TimeNote{}, Data: map[string]string{}, Tags: []string{}}}
	sameAsJSON(t, "empty parts", e)
	sameAsJSON(t, "zero event", &timeline.Event{})
	for _, e := range storetest.Many(50) {
		sameAsJSON(t, "storetest event", e)
	}
	for _, e := range storetest.Events() {
		sameAsJSON(t, "storetest event", e)
	}
}

// TestEncoderTimes covers the times json.Marshal writes or refuses.
func TestEncoderTimes(t *testing.T) {
	for _, ts := range []time.Time{
		{},
		time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 23, 59, 59, 100000000, time.UTC),
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 14, 8, 0, 0, 0, time.FixedZone("WIB", 7*3600)),
		time.Date(2024, 2, 14, 8, 0, 0, 0, time.FixedZone("odd", 7*3600+30)),
		time.Date(2024, 2, 14, 8, 0, 0, 0, time.FixedZone("far", 25*3600)),
		time.Date(2024, 2, 14, 8, 0, 0, 0, time.FixedZone("zero", 0)),
		time.Unix(0, math.MaxInt64).UTC(),
	} {
		sameAsJSON(t, ts.String(), &timeline.Event{Timestamp: ts, Message: "m"})
	}
}

var awkwardStrings = []string{
	"plain", "", `quote " backslash \ slash /`, "<script>&amp;</script>",
	"ctl \x00\x01\x08\x09\x0a\x0c\x0d\x1f\x7f", "utf8 é ü 日本 🙂", "bad \xff\xfe utf8 \xc3",
	"seps \u2028 \u2029", "trunc \xe2\x80", "\ufffd",
}

// fill sets every field reachable from v to a non-zero value derived from s.
func fill(v reflect.Value, s string, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(s + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(int64(-7 - depth))
	case reflect.Uint64:
		v.SetUint(math.MaxUint64)
	case reflect.Pointer:
		if depth > 3 {
			return // User.Effective.Target... is deep enough
		}
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), s, depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), s, depth)
		fill(v.Index(1), "second "+s, depth)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"z" + s, "a", s + "<k>", "Ä"} {
			ev := reflect.New(v.Type().Elem()).Elem()
			fill(ev, s+k, depth)
			m.SetMapIndex(reflect.ValueOf(k), ev)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2023, 11, 5, 7, 31, 12, 120000000, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), s, depth)
		}
	default:
		panic("fill: no case for " + v.Type().String())
	}
}

// FuzzEncoder builds events from fuzzed strings and numbers and compares
// the two encoders.
func FuzzEncoder(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s, s+"x", int64(len(s)), uint8(len(s)))
	}
	f.Fuzz(func(t *testing.T, a, b string, n int64, mask uint8) {
		sameAsJSON(t, "fuzzed event", fuzzEvent(a, b, n, mask))
	})
}

// fuzzEvent builds an event from fuzzed strings and numbers; mask's bits
// choose which optional parts it has.
func fuzzEvent(a, b string, n int64, mask uint8) *timeline.Event {
	e := &timeline.Event{
		Timestamp: time.Unix(0, n).UTC(), TimestampDesc: a, Message: b,
		Event: timeline.EventMeta{Action: a, Category: strings.Split(b, "\x00"), Severity: int(n)},
		Jejak: timeline.Jejak{ID: b, Provenance: timeline.Provenance{Path: a, Identity: b, Offset: n, Record: -n, Chain: []string{a, b}}},
	}
	if mask&1 != 0 {
		e.User = &timeline.User{Name: a, Target: &timeline.User{ID: b}}
	}
	if mask&2 != 0 {
		e.Winlog = &timeline.Winlog{EventData: map[string]string{a: b, b: a}, RecordID: uint64(n)}
	}
	if mask&4 != 0 {
		e.Log = &timeline.Log{Syslog: &timeline.Syslog{StructuredData: map[string]map[string]string{a: {b: a}}}}
	}
	if mask&8 != 0 {
		e.Jejak.Data = map[string]string{a: b}
		e.Jejak.Time = &timeline.TimeNote{ZoneAssumed: b, OutOfRange: n < 0}
	}
	if mask&16 != 0 {
		e.Timestamp = time.Unix(n, int64(mask)).In(time.FixedZone(a, int(n%100000)))
	}
	if mask&32 != 0 {
		size := n
		e.File = &timeline.File{Path: b, Size: &size, Type: a, TargetPath: b}
		e.HTTP = &timeline.HTTP{Response: &timeline.HTTPResponse{Body: &timeline.HTTPBody{Bytes: &size}}}
	}
	return e
}

func BenchmarkEncode(b *testing.B) {
	evs := events(1000, strings.Repeat("ab", 32))
	var buf []byte
	b.Run("appendEvent", func(b *testing.B) {
		var n int
		for i := 0; b.Loop(); i++ {
			buf, _ = appendEvent(buf[:0], evs[i%len(evs)])
			n += len(buf)
		}
		b.SetBytes(int64(n / b.N))
	})
	b.Run("json.Marshal", func(b *testing.B) {
		var n int
		for i := 0; b.Loop(); i++ {
			j, _ := json.Marshal(evs[i%len(evs)])
			n += len(j)
		}
		b.SetBytes(int64(n / b.N))
	})
}

// TestNeedsEscape holds the 8-byte test to the byte table: every byte
// value at every position of a word of plain bytes, and every pair of
// neighbouring bytes (where a borrow from one byte's subtraction could
// hide or fake the other's match).
func TestNeedsEscape(t *testing.T) {
	escapes := func(c byte) bool { return c >= utf8.RuneSelf || !plain[c] }
	word := func(bs [8]byte) uint64 { return load64(string(bs[:]), 0) }
	for c := range 256 {
		for pos := range 8 {
			bs := [8]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}
			bs[pos] = byte(c)
			if got, want := needsEscape(word(bs)) != 0, escapes(byte(c)); got != want {
				t.Fatalf("byte 0x%02x at %d: needsEscape %v, table says %v", c, pos, got, want)
			}
		}
	}
	for c1 := range 256 {
		for c2 := range 256 {
			for pos := range 7 {
				bs := [8]byte{'z', 'z', 'z', 'z', 'z', 'z', 'z', 'z'}
				bs[pos], bs[pos+1] = byte(c1), byte(c2)
				want := escapes(byte(c1)) || escapes(byte(c2))
				if got := needsEscape(word(bs)) != 0; got != want {
					t.Fatalf("bytes 0x%02x 0x%02x at %d: needsEscape %v, table says %v", c1, c2, pos, got, want)
				}
			}
		}
	}
}

// TestStringMapOrder compares appendStringMap with json.Marshal on maps
// whose keys defeat the 8-byte prefix (shared prefixes, keys that are
// prefixes of others, bytes above 0x7f, empty keys) and on maps past the
// insertion sort's 32 keys.
func TestStringMapOrder(t *testing.T) {
	big := map[string]string{}
	for i := range 100 {
		big[fmt.Sprintf("Key%03d", (i*37)%100)] = fmt.Sprint(i)
	}
	for _, m := range []map[string]string{
		nil, {}, {"": "empty key"},
		{"SubjectUserName": "a", "SubjectUserSid": "b", "SubjectDomainName": "c", "Subject": "d", "SubjectU": "e", "SubjectUs": "f"},
		{"abcdefgh": "1", "abcdefg": "2", "abcdefgh\x00": "3", "abcdefghi": "4", "abcdefg\xff": "5", "é": "6", "e": "7"},
		{"a\x00": "x", "a": "y", "a\x00\x00": "z"},
		big,
	} {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendStringMap(nil, m); !bytes.Equal(got, want) {
			t.Errorf("appendStringMap:\n got  %s\n want %s", got, want)
		}
	}
}

// BenchmarkEncodeEVTX encodes the corpus's EVTX events, the documents
// whose two maps (jejak.data, winlog.event_data) dominate their size.
func BenchmarkEncodeEVTX(b *testing.B) {
	all, _ := corpusEvents(b)
	var evs []*timeline.Event
	for _, e := range all {
		if e.Jejak.Provenance.Parser == "evtx" {
			evs = append(evs, e)
		}
	}
	benchEncode(b, evs)
}

// benchEncode encodes evs round and round, and reports the bytes of an
// average document.
func benchEncode(b *testing.B, evs []*timeline.Event) {
	var buf []byte
	var n int
	for i := 0; b.Loop(); i++ {
		buf, _ = appendEvent(buf[:0], evs[i%len(evs)])
		n += len(buf)
	}
	b.SetBytes(int64(n / b.N))
}

// TestStringMapKeyOrders writes maps through a remembered key order as
// json.Marshal writes them, whatever the order holds: maps of one size
// whose key sets alternate (the order is always another set's), a key
// replaced by one that sorts elsewhere, values changed under the same
// keys, keys that need escaping, and the largest size with an order.
func TestStringMapKeyOrders(t *testing.T) {
	var orders keyOrders
	big := map[string]string{}
	for i := range len(orders) {
		big[fmt.Sprintf("k%02d", (i*7)%len(orders))] = fmt.Sprint(i)
	}
	tests := []struct {
		name string
		maps []map[string]string
	}{
		{"same keys, new values", []map[string]string{
			{"b": "1", "a": "2", "c": "3"}, {"b": "x", "a": "y", "c": "z"}, {"c": "<&>", "a": "\n", "b": "é"}}},
		{"same size, other keys", []map[string]string{
			{"b": "1", "a": "2"}, {"b": "1", "z": "2"}, {"b": "1", "a": "2"}, {"0": "1", "a": "2"}}},
		{"a key replaced", []map[string]string{
			{"Subject": "1", "Target": "2", "Logon": "3"}, {"Subject": "1", "Target": "2", "Alpha": "3"},
			{"Subject": "1", "Target": "2", "Logon": "3"}, {"Subject": "1", "Target": "2", "Zulu": "3"}}},
		{"keys that need escaping", []map[string]string{
			{"a\"b": "1", "<k>": "2", "\x01": "3"}, {"a\"b": "4", "<k>": "5", "\x01": "6"}}},
		{"empty and one key", []map[string]string{{}, {"": ""}, {"a": "b"}, {}}},
		{"largest remembered size", []map[string]string{big, big}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every map several times, so that each is written through
			// an order its size's slot took from another map.
			for round := range 3 * keyOrderPatience {
				for i, m := range tt.maps {
					want, err := json.Marshal(m)
					if err != nil {
						t.Fatal(err)
					}
					got := appendStringMapIn([]byte("x"), m, &orders)
					if !bytes.Equal(got[1:], want) || got[0] != 'x' {
						t.Fatalf("round %d, map %d:\n got  %s\n want x%s", round, i, got, want)
					}
				}
			}
		})
	}
	// The slots are used: a map of a remembered set is written from it.
	// It takes a new set within keyOrderPatience maps.
	m := map[string]string{"b": "1", "a": "2", "c": "3"}
	for range keyOrderPatience {
		appendStringMapIn(nil, m, &orders)
	}
	ko := orders[len(m)-1].order.Load()
	if ko == nil || !slices.Equal(ko.keys, []string{"a", "b", "c"}) {
		t.Fatalf("slot for 3 keys holds %v, want [a b c]", ko)
	}
	if got, ok := ko.append(nil, m); !ok || string(got) != `{"a":"2","b":"1","c":"3"}` {
		t.Fatalf("written from the order: %s, %v", got, ok)
	}
	if _, ok := ko.append(nil, map[string]string{"b": "1", "a": "2", "d": "3"}); ok {
		t.Fatal("an order written for a map that lacks one of its keys")
	}
}

// TestStringMapKeyOrdersOwnKeys: a parser that builds its map keys in a
// buffer it reuses for the next record (strings over the buffer's bytes)
// must not change a remembered order's keys: the next map, whose keys are
// the buffer's new bytes, is written with its own names.
func TestStringMapKeyOrdersOwnKeys(t *testing.T) {
	// Plain keys, and keys that need an escape (kept apart from their
	// heads).
	for _, tc := range [][2]string{
		{"LogonTypeTargetSid", "ProcessIdSubjectId"},
		{"Logon&ypeTarget\nid", "Process<dSubject\"d"},
	} {
		var orders keyOrders
		buf := []byte(tc[0])
		keysIn := func() map[string]string {
			return map[string]string{
				unsafe.String(&buf[0], 9): "2",
				unsafe.String(&buf[9], 9): "S-1-5-18",
			}
		}
		for range 2 * keyOrderPatience {
			appendStringMapIn(nil, keysIn(), &orders)
		}
		if orders[1].order.Load() == nil {
			t.Fatal("no order remembered for maps of 2 keys")
		}
		copy(buf, tc[1])
		m := keysIn()
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendStringMapIn(nil, m, &orders); !bytes.Equal(got, want) {
			t.Fatalf("after the parser reused its keys' memory:\n got  %s\n want %s", got, want)
		}
	}
}

// TestStringMapKeyOrdersConcurrent has the store's encoding goroutines
// share the slots while the key sets change under them (go test -race).
func TestStringMapKeyOrdersConcurrent(t *testing.T) {
	var orders keyOrders
	maps := []map[string]string{
		{"b": "1", "a": "2", "c": "3"}, {"x": "1", "y": "2", "z": "3"}, {"c": "1", "a": "2", "q": "3"},
	}
	var wants [][]byte
	for _, m := range maps {
		w, _ := json.Marshal(m)
		wants = append(wants, w)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			var buf []byte
			for i := range 2000 {
				k := (i + g) % len(maps)
				buf = appendStringMapIn(buf[:0], maps[k], &orders)
				if !bytes.Equal(buf, wants[k]) {
					errs <- fmt.Sprintf("goroutine %d, map %d: %s", g, k, buf)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// BenchmarkStringMap compares a map written by walking and sorting it
// with one written through a remembered key order: EVTX's two maps, of 9
// and 20 keys.
func BenchmarkStringMap(b *testing.B) {
	for _, n := range []int{9, 20} {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("SubjectField%02dName", (i*7)%n)] = "value"
		}
		var buf []byte
		b.Run(fmt.Sprintf("sort/%d", n), func(b *testing.B) {
			for b.Loop() {
				buf = appendStringMap(buf[:0], m)
			}
		})
		var orders keyOrders
		b.Run(fmt.Sprintf("order/%d", n), func(b *testing.B) {
			for b.Loop() {
				buf = appendStringMapIn(buf[:0], m, &orders)
			}
		})
	}
}

// BenchmarkEncodeByParser encodes the corpus's events of each parser, in
// their order (as the store gets them): whatever changes how maps are
// written must not cost the parsers whose maps vary from event to event.
func BenchmarkEncodeByParser(b *testing.B) {
	all, _ := corpusEvents(b)
	byParser := map[string][]*timeline.Event{}
	for _, e := range all {
		byParser[e.Jejak.Provenance.Parser] = append(byParser[e.Jejak.Provenance.Parser], e)
	}
	for _, name := range slices.Sorted(maps.Keys(byParser)) {
		evs := byParser[name]
		b.Run(name, func(b *testing.B) { benchEncode(b, evs) })
	}
}

// BenchmarkChunkEncode is what each write-behind encoder does per chunk:
// encode, cut into blocks and compress a chunk of syslog-like events.
func BenchmarkChunkEncode(b *testing.B) {
	evs := events(encodeChunk, strings.Repeat("ab", 32))
	var c chunk
	c.encode(evs)
	b.ReportAllocs()
	for b.Loop() {
		c.encode(evs)
		if c.err != nil {
			b.Fatal(c.err)
		}
	}
	b.ReportMetric(float64(len(c.zbuf))/float64(len(evs)), "stored-B/event")
}

// TestAppendStringRoom holds appendString to json.Marshal when its
// buffer has room, so that the string is checked where it was copied:
// every byte value at every position of strings of 1 to 24 bytes (the
// last partial word, where the bytes after the string must be masked
// off, included), written into spare capacity filled with bytes that
// would need escaping and with plain ones.
func TestAppendStringRoom(t *testing.T) {
	for _, fillByte := range []byte{0, '"', 'a', 0xff} {
		for n := 1; n <= 24; n++ {
			for pos := range n {
				for c := range 256 {
					s := []byte(strings.Repeat("x", n))
					s[pos] = byte(c)
					sameString(t, string(s), fillByte)
				}
			}
		}
	}
	for _, s := range awkwardStrings {
		for _, fillByte := range []byte{0, 'a'} {
			sameString(t, s, fillByte)
		}
	}
	// Several escapes in one string, at every distance from each other
	// and from the string's end (appendEscaped's words and its last,
	// shifted, one), multi-byte runes and invalid bytes among them.
	pieces := []string{"\\", "\n", "\"", "é", "\xff", "\u2028", "<", "日本", "\x00", "\xe2\x80"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(5) {
			sb.WriteString(strings.Repeat("x", rng.IntN(12)))
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		sb.WriteString(strings.Repeat("y", rng.IntN(12)))
		sameString(t, sb.String(), 'a')
	}
}

// FuzzAppendString compares appendString, with and without room in its
// buffer, with json.Marshal.
func FuzzAppendString(f *testing.F) {
	for _, s := range awkwardStrings {
		f.Add(s, byte(0))
	}
	f.Fuzz(func(t *testing.T, s string, fillByte byte) {
		sameString(t, s, fillByte)
	})
}

// sameString fails the test unless appendString writes s as json.Marshal
// does, after a prefix, both into a buffer without spare capacity and
// into one with room whose spare bytes are fillByte.
func sameString(t *testing.T, s string, fillByte byte) {
	t.Helper()
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want = append([]byte("pre"), want...)
	roomy := bytes.Repeat([]byte{fillByte}, len(s)+64)
	for _, buf := range [][]byte{[]byte("pre")[:3:3], append(roomy[:0], "pre"...)} {
		if got := appendString(buf, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) with %d bytes of room filled with 0x%02x:\n got  %q\n want %q",
				s, cap(buf)-len(buf), fillByte, got, want)
		}
	}
}

// TestAppendTimestamp holds appendTimestamp to AppendFormat(RFC3339Nano):
// the edges of its year range and of days, months, leap days and
// centuries, every fraction length, times it refuses (other zones, years
// outside 0-9999), and times spread over the whole range.
func TestAppendTimestamp(t *testing.T) {
	check := func(tm time.Time) {
		t.Helper()
		want := tm.AppendFormat([]byte("x"), time.RFC3339Nano)
		got, ok := appendTimestamp([]byte("x"), tm)
		inRange := tm.Location() == time.UTC && tm.Year() >= 0 && tm.Year() <= 9999
		if ok != inRange {
			t.Fatalf("%s: ok %v, want %v", want, ok, inRange)
		}
		if !ok {
			if string(got) != "x" {
				t.Fatalf("%s refused but wrote %q", want, got)
			}
			return
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	for _, tm := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 12, 0, 0, 100, time.UTC),
		time.Date(2100, 2, 28, 23, 59, 59, 0, time.UTC),
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2016, 7, 8, 18, 12, 51, 681640800, time.UTC),
		time.Date(2016, 7, 8, 18, 12, 51, 681640800, time.FixedZone("X", 3600)),
		time.Date(2016, 7, 8, 18, 12, 51, 0, time.Local),
		{},
	} {
		check(tm)
	}
	for day := time.Date(1599, 12, 25, 0, 0, 0, 0, time.UTC); day.Year() < 2402; day = day.AddDate(0, 0, 1) {
		check(day)
	}
	for ns := 1; ns < 1e9; ns *= 10 {
		for _, k := range []int{1, 3, 7, 9} {
			check(time.Date(2024, 1, 1, 0, 0, 0, ns*k%1e9, time.UTC))
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(time.Unix(r.Int64N(253402300800+62167219200+86400)-62167219200-43200, r.Int64N(1e9)).UTC())
	}
}

// TestFirstEscape holds firstEscape (assembly on amd64) to
// firstEscapeWords and to a byte-by-byte check: every byte value at every
// position of strings of 16 to 64 bytes, a second escape after it, and
// random strings.
func TestFirstEscape(t *testing.T) {
	slow := func(s string) int {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c >= utf8.RuneSelf || !plain[c] {
				return i
			}
		}
		return len(s)
	}
	check := func(s string) {
		t.Helper()
		want := slow(s)
		if got := firstEscape(s); got != want {
			t.Fatalf("firstEscape(%q) = %d, want %d", s, got, want)
		}
		if got := firstEscapeWords(s); got != want {
			t.Fatalf("firstEscapeWords(%q) = %d, want %d", s, got, want)
		}
	}
	for n := 16; n <= 64; n++ {
		check(strings.Repeat("x", n))
		for pos := range n {
			for c := range 256 {
				s := []byte(strings.Repeat("y", n))
				s[pos] = byte(c)
				check(string(s))
				if pos+3 < n {
					s[pos+3] = '"'
					check(string(s))
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		s := make([]byte, 16+rng.IntN(100))
		for i := range s {
			s[i] = byte(0x20 + rng.IntN(0x5f))
			if rng.IntN(200) == 0 {
				s[i] = byte(rng.IntN(256))
			}
		}
		check(string(s))
	}
}
