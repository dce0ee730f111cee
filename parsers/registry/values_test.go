package registry

import "testing"

func TestValueString(t *testing.T) {
	u16 := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r), 0)
		}
		return b
	}
	cases := []struct {
		name string
		typ  uint32
		data []byte
		want string
	}{
		{"sz", RegSZ, append(u16("C:\\Windows"), 0, 0), `C:\Windows`},
		{"sz odd length", RegSZ, append(u16("ab"), 0), "ab"},
		{"multi", RegMultiSZ, append(append(append(u16("a"), 0, 0), u16("bc")...), 0, 0, 0, 0), "a; bc"},
		{"dword", RegDword, []byte{0x5c, 0xfe, 0xff, 0xff}, "4294966876"},
		{"dword big endian", RegDwordBigEndian, []byte{0, 0, 1, 0}, "256"},
		{"qword", RegQword, []byte{1, 0, 0, 0, 0, 0, 0, 0}, "1"},
		{"dword of wrong size", RegDword, []byte{1, 2}, "0102"},
		{"binary", RegBinary, []byte{0xde, 0xad}, "dead"},
		// 2024-02-14T13:00:00.5Z as a FILETIME: (1707915600 + 11644473600) * 10^7 + 5000000.
		{"devprop filetime", devPropBase | 0x10, []byte{0x40, 0x53, 0xfc, 0xb7, 0x45, 0x5f, 0xda, 0x01}, "2024-02-14T13:00:00.5Z"},
		{"devprop string", devPropBase | 0x12, append(u16("USB"), 0, 0), "USB"},
	}
	for _, c := range cases {
		v := &Value{Type: c.typ, Data: c.data}
		if got := v.String(); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if n := TypeName(devPropBase | 0x10); n != "DEVPROP_TYPE_FILETIME" {
		t.Errorf("TypeName %q", n)
	}
}
