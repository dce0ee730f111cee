package sqlite

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/jejak-forensics/jejak/timeline"
)

func fullMeta() timeline.EventMeta {
	return timeline.EventMeta{
		Kind: "event", Category: []string{"authentication", "iam"}, Type: []string{"start"},
		Action: "ssh_login", Outcome: "success", Code: "4624", Dataset: "syslog",
		Provider: "sshd", Severity: 3, Timezone: "UTC",
	}
}

// metaVariants returns m changed in one field at a time, each way a
// field can differ: a string one byte longer, shorter, changed or
// emptied; a list with a member changed, added, dropped, or nil.
func metaVariants(t *testing.T, m timeline.EventMeta) []timeline.EventMeta {
	var out []timeline.EventMeta
	rt := reflect.TypeFor[timeline.EventMeta]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		change := func(fn func(v reflect.Value)) {
			c := m
			c.Category, c.Type = slices.Clone(m.Category), slices.Clone(m.Type)
			fn(reflect.ValueOf(&c).Elem().Field(i))
			if bytes.Equal(appendEventMeta(nil, &c), appendEventMeta(nil, &m)) {
				return // no change (a field emptied that was empty)
			}
			out = append(out, c)
		}
		switch f.Type.Kind() {
		case reflect.String:
			change(func(v reflect.Value) { v.SetString(v.String() + "x") })
			change(func(v reflect.Value) { v.SetString("") })
			change(func(v reflect.Value) { v.SetString("<&>\n") })
			if s := reflect.ValueOf(m).Field(i).String(); len(s) > 1 {
				change(func(v reflect.Value) { v.SetString(s[:len(s)-1]) })
				change(func(v reflect.Value) { v.SetString(s[:len(s)-1] + "Z") })
			}
		case reflect.Int:
			change(func(v reflect.Value) { v.SetInt(v.Int() + 1) })
			change(func(v reflect.Value) { v.SetInt(0) })
		case reflect.Slice:
			change(func(v reflect.Value) { v.Set(reflect.Append(v, reflect.ValueOf("more"))) })
			change(func(v reflect.Value) { v.Set(reflect.Zero(f.Type)) })
			if reflect.ValueOf(m).Field(i).Len() > 0 {
				change(func(v reflect.Value) { v.Index(0).SetString(v.Index(0).String() + "y") })
				change(func(v reflect.Value) { v.Set(v.Slice(1, v.Len())) })
			}
		default:
			t.Fatalf("EventMeta.%s is a %s: metaEqual and this test need to learn it", f.Name, f.Type)
		}
	}
	return out
}

// TestMetaMemoFields writes event objects that differ from the memo's in
// one field at a time, each right after the memo took the other: the
// bytes must be appendEventMeta's (and encoding/json's) for each.
func TestMetaMemoFields(t *testing.T) {
	if n := reflect.TypeFor[timeline.EventMeta]().NumField(); n != 11 {
		t.Fatalf("EventMeta has %d fields; metaEqual compares 11", n)
	}
	for _, base := range []timeline.EventMeta{fullMeta(), {}, {Original: "raw line"}} {
		// metaEqual alone, for the variants whose slot differs from
		// base's (no memo would compare them).
		same := base
		same.Category, same.Type = slices.Clone(base.Category), slices.Clone(base.Type)
		if !metaEqual(&base, &same) {
			t.Fatalf("metaEqual(%+v, a copy) is false", base)
		}
		for i, v := range metaVariants(t, base) {
			if metaEqual(&base, &v) || metaEqual(&v, &base) {
				t.Fatalf("variant %d: metaEqual(%+v, %+v) is true", i, base, v)
			}
		}
		for i, v := range metaVariants(t, base) {
			var mm metaMemo
			for round, m := range []timeline.EventMeta{base, base, v, v, base, v} {
				got := mm.of(&m)
				want := appendEventMeta(nil, &m)
				j, err := json.Marshal(&m)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) || !bytes.Equal(want, j) {
					t.Fatalf("variant %d, round %d (%+v):\n memo %s\n want %s\n json %s", i, round, m, got, want, j)
				}
			}
		}
	}
}

// TestMetaMemoReusedMemory: an event whose strings are over a buffer the
// parser rewrites for the next event is written with its new values.
func TestMetaMemoReusedMemory(t *testing.T) {
	buf := []byte("ssh_loginsyslog")
	at := func() timeline.EventMeta {
		return timeline.EventMeta{Action: unsafe.String(&buf[0], 9), Dataset: unsafe.String(&buf[9], 6), Category: []string{unsafe.String(&buf[0], 3)}}
	}
	var mm metaMemo
	for range 2 {
		m := at()
		mm.of(&m)
	}
	copy(buf, "sudo_cmd_xsyslog")
	m := at()
	if got, want := mm.of(&m), appendEventMeta(nil, &m); !bytes.Equal(got, want) {
		t.Fatalf("after the buffer changed:\n got  %s\n want %s", got, want)
	}
}
