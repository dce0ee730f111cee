package schtask

import (
	"strings"
	"testing"
	"unicode/utf16"
)

// FuzzMatchPrecheck compares Match with decoding every head, in UTF-8 and
// UTF-16LE with and without a BOM.
func FuzzMatchPrecheck(f *testing.F) {
	doc := `<?xml version="1.0" encoding="UTF-16"?>` + "\n" + `<Task version="1.2" xmlns="` + taskNS + `"><x/></Task>`
	for _, s := range []string{doc, `<Task xmlns="x">`, "", "<", "\xef\xbb\xbf" + doc, strings.ReplaceAll(doc, "Task ", "Tas\U0001F600k ")} {
		f.Add([]byte(s))
		var b []byte
		for _, u := range utf16.Encode([]rune(s)) {
			b = append(b, byte(u), byte(u>>8))
		}
		f.Add(b)
		f.Add(append([]byte{0xff, 0xfe}, b...))
		f.Add(append([]byte{0xff, 0xfe, 0}, b...))
	}
	p := New()
	f.Fuzz(func(t *testing.T, head []byte) {
		s := decode(head)
		want := strings.Contains(s, "<Task ") && strings.Contains(s, taskNS)
		if got := p.Match(nil, head); got != want {
			t.Errorf("Match(%q) = %v, decoding %v", head, got, want)
		}
	})
}
