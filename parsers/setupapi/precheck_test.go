package setupapi

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzMatchLinePrecheck compares MatchLine with its checks run on every
// line.
func FuzzMatchLinePrecheck(f *testing.F) {
	for _, s := range []string{
		"[2005/01/02 03:04:05 123.4 Driver Install]", "[2005/01/02 03:04:05 123.4]  ", "[x",
		">>>  [Device Install (Hardware initiated) - x]", ">>>  Section start 2019/01/02 03:04:05.678",
		"<<<  Section end 2019/01/02 03:04:06.000", "", "[",
	} {
		f.Add([]byte(s))
	}
	p := New()
	f.Fuzz(func(t *testing.T, line []byte) {
		want := false
		if m := xpHeaderRe.FindSubmatch(line); m != nil {
			_, err := time.Parse("2006/01/02 15:04:05", string(m[1]))
			want = err == nil
		} else {
			for _, pre := range [][]byte{startPrefix, endPrefix} {
				if bytes.HasPrefix(line, pre) {
					_, err := time.Parse(stampLayout, strings.TrimSpace(string(line[len(pre):])))
					want = err == nil
					break
				}
			}
		}
		if got := p.MatchLine(nil, line); got != want {
			t.Errorf("MatchLine(%q) = %v, without precheck %v", line, got, want)
		}
	})
}
