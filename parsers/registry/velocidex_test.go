package registry

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"www.velocidex.com/golang/regparser"
)

// regparserTimes walks a hive with Velocidex regparser: every key path
// (from the root, "\"-joined) with its last-written time in Unix seconds
// (regparser keeps whole seconds).
func regparserTimes(t *testing.T, path string) map[string]int64 {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reg, err := regparser.NewRegistry(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	var walk func(k *regparser.CM_KEY_NODE, p string, depth int)
	walk = func(k *regparser.CM_KEY_NODE, p string, depth int) {
		out[p] = k.LastWriteTime().Unix()
		if depth > 64 {
			t.Fatalf("%s: deeper than 64", p)
		}
		for _, s := range k.Subkeys() {
			walk(s, joinKey(p, s.Name()), depth+1)
		}
	}
	walk(reg.OpenKey(""), `\`, 0)
	return out
}

// TestKeysEqualRegparser: the served Go module, used as a differential
// oracle: the same key paths and, to the second, the same times, on the
// corpus hives and the NTUSER.DAT regparser itself tests with.
func TestKeysEqualRegparser(t *testing.T) {
	files := []string{filepath.Join(regparserDir(t), "testdata/NTUSER.DAT")}
	for _, c := range corpusHives {
		files = append(files, parsertest.Corpus(t, c.rel))
	}
	for _, path := range files {
		t.Run(strings.TrimPrefix(path, filepath.Dir(filepath.Dir(path))), func(t *testing.T) {
			want := regparserTimes(t, path)
			res := parsertest.ParseFile(t, New(), path, nil)
			evs := keyEvents(res)
			if len(evs) != len(want) {
				t.Errorf("%d keys, regparser %d", len(evs), len(want))
			}
			for _, ev := range evs {
				k := ev.Jejak.Data["registry.key"]
				w, ok := want[k]
				if !ok {
					t.Errorf("%s: not found by regparser", k)
					continue
				}
				if ev.Timestamp.Unix() != w {
					t.Errorf("%s: %v, regparser %d", k, ev.Timestamp, w)
				}
			}
		})
	}
}

// TestValueDataEqualsRegparser: every value's data, byte for byte, as
// regparser reads it (its inline data is always 4 bytes: compared to our
// length), big values included.
func TestValueDataEqualsRegparser(t *testing.T) {
	files := []string{filepath.Join(regparserDir(t), "testdata/NTUSER.DAT")}
	for _, c := range corpusHives {
		files = append(files, parsertest.Corpus(t, c.rel))
	}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := regparser.NewRegistry(f)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		h, err := Open(data)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := h.Root()
		n := 0
		var walk func(theirs *regparser.CM_KEY_NODE, ours *Key, p string)
		walk = func(theirs *regparser.CM_KEY_NODE, ours *Key, p string) {
			want := map[string][]byte{}
			for _, v := range theirs.Values() {
				// regparser keeps a compressed (Latin-1) name's bytes as they
				// are; decode them as Windows does.
				want[decodeName([]byte(v.ValueName()), v.Flags()&valueCompName != 0)] = v.ValueData().Data
			}
			vals, _ := h.Values(ours)
			for _, v := range vals {
				n++
				w, ok := want[v.Name]
				if len(v.Data) <= 4 && len(w) >= len(v.Data) {
					w = w[:len(v.Data)]
				}
				if !ok || string(w) != string(v.Data) {
					t.Errorf("%s: %s\\%s: %d bytes, regparser %d", path, p, v.Name, len(v.Data), len(w))
				}
			}
			subs, _ := h.Subkeys(ours)
			byName := map[string]*Key{}
			for _, s := range subs {
				byName[s.Name] = s
			}
			for _, s := range theirs.Subkeys() {
				name := decodeName([]byte(s.Name()), s.Flags()&keyCompName != 0)
				if o := byName[name]; o != nil {
					walk(s, o, joinKey(p, name))
				} else {
					t.Errorf("%s: %s\\%s: no such key here", path, p, name)
				}
			}
		}
		walk(reg.OpenKey(""), root, `\`)
		f.Close()
		if n < 50 {
			t.Errorf("%s: %d values compared", path, n)
		}
	}
}
