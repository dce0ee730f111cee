package ingest

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestBaseKindEndings holds baseKind, which turns away a name by its last
// two bytes first, to the rules alone: every well-known name and the
// suffixes the rules test, in both cases, rotated and compressed, cut at
// every length, and random names over the bytes those are made of.
func TestBaseKindEndings(t *testing.T) {
	var names []string
	seeds := []string{".evtx", ".evt", ".journal", ".journal~", ".log", ".csv", "postgresql-15.log", "mysql.csv",
		"mariadb_x.log", "file0001234.txt", "Kelvin\u212a", "x.LOG", "\u0130.log"}
	for n := range logNames {
		seeds = append(seeds, n)
	}
	for _, s := range seeds {
		for _, v := range []string{s, strings.ToUpper(s), "a" + s, s + ".1", s + ".gz", s + "-20240101", s + ".old",
			s + ".bak", s + ".2.gz", s + ".zst", s + ".lzma", s + ".lz4", s + ".bz2", s + ".xz", s + ".z", s + ".Z", s + ".GZ"} {
			for i := range len(v) + 1 {
				names = append(names, v[:i], v[i:])
			}
		}
	}
	alphabet := "abcdeglmnoprstuvwxyzABGLOZ0129.-_~@\xc3\xa9\xe2\x84\xaa"
	r := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		b := make([]byte, 1+r.IntN(10))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		names = append(names, string(b))
	}
	logs := 0
	for _, n := range names {
		got, want := baseKind(n), baseRules(n)
		if got != want {
			t.Errorf("baseKind(%q) = %v, the rules say %v", n, got, want)
		}
		if want != notLogBase {
			logs++
		}
	}
	t.Logf("%d names, %d logs", len(names), logs)
}

func FuzzBaseKind(f *testing.F) {
	for _, s := range []string{"auth.log.1", "x.evt", "a.txt", "cron", "wtmpx.gz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if got, want := baseKind(n), baseRules(n); got != want {
			t.Fatalf("baseKind(%q) = %v, the rules say %v", n, got, want)
		}
	})
}
