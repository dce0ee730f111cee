package sqlite

import (
	"strings"
	"testing"
)

// FuzzStringMapKeyOrders: maps written through a remembered key order
// (appendStringMapIn) are written as without one, whatever maps of the
// same size (or not) took the order before: the keys and values of each
// map are the fuzzer's, split on '|' and '=' (invalid UTF-8 and escapes
// included).
func FuzzStringMapKeyOrders(f *testing.F) {
	f.Add("a=1|b=2|c=3", "a=1|b=2|d=3", "b=x|a=y|c=z")
	f.Add("k=1|k2=2", "k2=1|k=2", "k=|k3=")
	f.Add("\xff=1|\xfe=2", "\ufffd=1|\xfe=2", "<a>=\"|\\=\x01")
	f.Add("a=1", "a=1|b=2", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var orders keyOrders
		var maps []map[string]string
		for _, s := range []string{a, b, c} {
			m := map[string]string{}
			for kv := range strings.SplitSeq(s, "|") {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			maps = append(maps, m)
		}
		// Each map many times in turn, so that each is written through
		// an order another map of its size left (keyOrderPatience).
		for range 4 * keyOrderPatience {
			for _, m := range maps {
				want := string(appendStringMap(nil, m))
				if got := string(appendStringMapIn(nil, m, &orders)); got != want {
					t.Fatalf("map %q through the remembered orders:\n got  %s\n want %s", m, got, want)
				}
			}
		}
	})
}
