package sqlite

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
)

// storedAsBefore is how a stored document was decoded before
// decodeStored: the ID put back with appendDoc, then decodeEventOpts.
func storedAsBefore(doc []byte, id *[16]byte, noRelated bool) (timeline.Event, error) {
	var e timeline.Event
	full, err := appendDoc(nil, doc, id[:])
	if err != nil {
		return e, err
	}
	var in interner
	return e, decodeEventOpts(full, &e, &in, noRelated)
}

// sameAsBefore holds decodeStored to storedAsBefore on doc: the same event
// and an error exactly when it erred. It reports whether the fast path
// (no copy) was taken.
func sameAsBefore(t *testing.T, name string, doc []byte) {
	t.Helper()
	id := [16]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	for _, noRelated := range []bool{false, true} {
		want, werr := storedAsBefore(doc, &id, noRelated)
		var (
			got     timeline.Event
			in      interner
			scratch []byte
		)
		gerr := decodeStored(bytes.Clone(doc), &id, &got, &in, noRelated, &scratch)
		if (gerr != nil) != (werr != nil) {
			t.Fatalf("%s (noRelated %v): error %v, before %v", name, noRelated, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%s (noRelated %v): decoded\n%#v\nbefore\n%#v", name, noRelated, got, want)
		}
	}
}

// TestDecodeStoredAsBefore: decoding a stored document without putting its
// ID back first gives what putting it back gave, for the documents the
// encoder writes and for those where the place of the ID is elsewhere or
// ambiguous (which take the old path).
func TestDecodeStoredAsBefore(t *testing.T) {
	if !modelMatches() {
		t.Skip("the model changed: TestEncoderKnowsTheModel says what to do")
	}
	evs := events(3, "aa")
	evs[1].Log = &timeline.Log{Syslog: &timeline.Syslog{StructuredData: map[string]map[string]string{"jejak": {"id": "x"}}}}
	evs[2].Jejak.Data = map[string]string{`"jejak":{"id":"`: `"jejak":{"id":"`}
	var docs [][]byte
	for _, e := range evs {
		doc, err := appendEvent(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		if doc, err = stripID(doc); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, doc)
	}
	enc := string(docs[0])
	at := strings.LastIndex(enc, idKey)
	jejakObj := enc[at+len(`"jejak":`) : len(enc)-1]
	for _, c := range []struct{ name, doc string }{
		{"encoded", enc},
		{"structured data element jejak with id", string(docs[1])},
		{"data keys and values with the key's text", string(docs[2])},
		{"space before the ID's string", strings.Replace(enc, `{"id":"`, `{"id": "`, 1)},
		{"ID not cut out", enc[:at+len(idKey)] + "0123456789abcdef0123456789abcdef" + enc[at+len(idKey):]},
		{"no jejak object", enc[:at-1] + "}"},
		{"jejak first, a nested jejak.id after it", `{"jejak":` + jejakObj + `,"log":{"syslog":{"structured_data":{"jejak":{"id":""}}}}}`},
		{"jejak id null", strings.Replace(enc, `{"id":""`, `{"id":null`, 1)},
		{"jejak given twice", enc[:len(enc)-1] + `,"jejak":` + jejakObj + "}"},
		{"truncated", enc[:len(enc)-3]},
		{"empty", ""},
	} {
		sameAsBefore(t, c.name, []byte(c.doc))
	}
	// The encoder's documents take the fast path: the ID is set, not
	// decoded.
	var (
		e       timeline.Event
		in      interner
		scratch []byte
	)
	id := [16]byte{15: 1}
	if err := decodeStored(docs[0], &id, &e, &in, false, &scratch); err != nil || e.Jejak.ID != "00000000000000000000000000000001" {
		t.Fatalf("ID %q, %v", e.Jejak.ID, err)
	}
	if scratch != nil {
		t.Errorf("an encoded document was copied to have its ID put back")
	}
}

func FuzzDecodeStored(f *testing.F) {
	for _, e := range events(4, "aa") {
		doc, err := appendEvent(nil, e)
		if err != nil {
			f.Fatal(err)
		}
		if doc, err = stripID(doc); err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Add([]byte(`{"jejak":{"id":""},"log":{"syslog":{"structured_data":{"jejak":{"id":""}}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !modelMatches() {
			t.Skip()
		}
		sameAsBefore(t, "fuzzed", doc)
	})
}
