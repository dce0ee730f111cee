package sqlite

import (
	"encoding/hex"
	"testing"
)

// FuzzDecodeID holds decodeID to hex.Decode on 32-byte strings.
func FuzzDecodeID(f *testing.F) {
	f.Add("0123456789abcdef0123456789ABCDEF")
	f.Add("0123456789abcdef0123456789abcdeg")
	f.Add("0123456789abcdef0123456789abcde")
	f.Add("g123456789abcdef0123456789abcdef")
	f.Add("0123456789abcdef\x00123456789abcdef")
	f.Fuzz(func(t *testing.T, id string) {
		var got [16]byte
		ok := decodeID(&got, id)
		want, err := hex.DecodeString(id)
		if wantOK := err == nil && len(want) == 16; ok != wantOK {
			t.Fatalf("decodeID(%q) = %v, hex.DecodeString: %x, %v", id, ok, want, err)
		}
		if ok && string(got[:]) != string(want) {
			t.Fatalf("decodeID(%q) = %x, want %x", id, got, want)
		}
	})
}

// TestDecodeIDEveryByte: every byte value at every digit's place.
func TestDecodeIDEveryByte(t *testing.T) {
	base := []byte("00112233445566778899aabbccddeeff")
	for pos := range base {
		for c := range 256 {
			id := append([]byte(nil), base...)
			id[pos] = byte(c)
			var got [16]byte
			ok := decodeID(&got, string(id))
			want := make([]byte, 16)
			_, err := hex.Decode(want, id)
			if ok != (err == nil) || ok && string(got[:]) != string(want) {
				t.Fatalf("byte %#x at %d: decodeID %v %x, hex.Decode %v %x", c, pos, ok, got, err, want)
			}
		}
	}
}

// TestBoundValues: the interfaces bound without boxing hold the row's
// values, as the boxed ones do.
func TestBoundValues(t *testing.T) {
	r := row{ts: 1700000000123456789, action: "ssh_login", parser: "", addr: "10.0.0.1"}
	if v, ok := r.tsBound().(int64); !ok || v != r.ts {
		t.Errorf("tsBound = %#v", r.tsBound())
	}
	if v := boundString(&r.action); v != any("ssh_login") {
		t.Errorf("boundString(action) = %#v", v)
	}
	if v := boundString(&r.parser); v != nil {
		t.Errorf("boundString of an empty string = %#v, want nil", v)
	}
	if v, ok := boundString(&r.addr).(string); !ok || v != "10.0.0.1" {
		t.Errorf("boundString(addr) = %#v", v)
	}
	far := row{far: true}
	if got, want := far.tsBound(), far.tsArg(); got != want {
		t.Errorf("tsBound of a far time = %#v, want %#v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = r.tsBound(), boundString(&r.addr) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
