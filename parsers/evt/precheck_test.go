package evt

import (
	"encoding/binary"
	"testing"
)

// FuzzMatchPrecheck: Match answers as parseHeader alone.
func FuzzMatchPrecheck(f *testing.F) {
	h := make([]byte, headerSize)
	binary.LittleEndian.PutUint32(h, headerSize)
	copy(h[4:8], signature)
	binary.LittleEndian.PutUint32(h[8:], 1)
	binary.LittleEndian.PutUint32(h[12:], 1)
	binary.LittleEndian.PutUint32(h[44:], headerSize)
	f.Add(h)
	f.Add(h[:20])
	f.Add([]byte{})
	p := New()
	f.Fuzz(func(t *testing.T, head []byte) {
		_, err := parseHeader(head)
		if got := p.Match(nil, head); got != (err == nil) {
			t.Errorf("Match(%q) = %v, parseHeader error %v", head, got, err)
		}
	})
}
