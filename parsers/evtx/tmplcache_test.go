package evtx

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// chunkEvents decodes one chunk with expander x (nil: a fresh one, so no
// definition compiled in another chunk is reused) and returns each record
// as its event's JSON plus the chunk's warnings.
func chunkEvents(t testing.TB, x *expander, buf []byte) []string {
	t.Helper()
	var out []string
	res := decodeChunk(x, buf, 4096, true, func() bool { return false }, func(r *Record) {
		j, err := json.Marshal(toEvent(r))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(j))
	})
	for _, w := range res.warns {
		out = append(out, "warning: "+w.err.Error())
	}
	return out
}

func sameEvents(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events and warnings with shared templates, %d without", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: item %d differs with shared templates:\n got  %s\n want %s", what, i, got[i], want[i])
		}
	}
}

// TestSharedTemplates decodes every chunk of every corpus EVTX file with
// one expander, so that definitions compiled in any earlier chunk of any
// file are offered for reuse (in file order, then in reverse), and
// holds each chunk's events and warnings to a decoding with a fresh
// expander.
func TestSharedTemplates(t *testing.T) {
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("corpus not found: %v", err)
	}
	var chunks [][]byte
	var names []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(strings.ToLower(path), ".evtx") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for off := fileHeaderBlock; off < len(b); off += chunkSize {
			chunks = append(chunks, b[off:min(off+chunkSize, len(b))])
			names = append(names, filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := make([][]string, len(chunks))
	for i, c := range chunks {
		want[i] = chunkEvents(t, nil, c)
	}
	x := new(expander)
	for i, c := range chunks {
		sameEvents(t, names[i], chunkEvents(t, x, c), want[i])
	}
	for i := len(chunks) - 1; i >= 0; i-- {
		sameEvents(t, names[i]+" (reverse)", chunkEvents(t, x, chunks[i]), want[i])
	}
	hits := 0
	for _, e := range x.sc.shared.byKey {
		if e != nil {
			hits++
		}
	}
	if hits == 0 {
		t.Fatal("no definition was kept for reuse")
	}
	t.Logf("%d chunks, %d definitions kept", len(chunks), hits)
}

// TestSharedTemplatesMutated is FuzzSharedTemplates on fixed random
// rewrites of a chunk's first records and inline definitions (1 to 4
// bytes each), so that every run, not only fuzzing, offers the decoder
// definitions that differ from the kept ones in a byte, a name reference
// or a name.
func TestSharedTemplatesMutated(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	first := b[fileHeaderBlock : fileHeaderBlock+chunkSize]
	seed := b[fileHeaderBlock+chunkSize : fileHeaderBlock+chunkSize+12288]
	r := rand.New(rand.NewPCG(15, 1))
	for i := range 400 {
		second := slices.Clone(seed)
		for range 1 + r.IntN(4) {
			second[chunkHeaderSize+r.IntN(4096-chunkHeaderSize)] = byte(r.IntN(256))
		}
		want := chunkEvents(t, nil, second)
		x := new(expander)
		chunkEvents(t, x, first)
		sameEvents(t, fmt.Sprintf("rewrite %d", i), chunkEvents(t, x, second), want)
	}
}

// FuzzSharedTemplates decodes a first chunk and then a second with the
// same expander, and the second alone with a fresh one: the definitions
// the first chunk left for reuse must not change what the second yields,
// however the fuzzer rewrites the second's definitions and names.
func FuzzSharedTemplates(f *testing.F) {
	b, err := os.ReadFile(parsertest.Corpus(f, "logs/windows/security.evtx"))
	if err != nil {
		f.Fatal(err)
	}
	first := b[fileHeaderBlock : fileHeaderBlock+chunkSize]
	for _, off := range []int{1, 2, 5} {
		c := b[fileHeaderBlock+off*chunkSize : fileHeaderBlock+(off+1)*chunkSize]
		f.Add(c[:12288])
	}
	f.Fuzz(func(t *testing.T, second []byte) {
		if len(second) > chunkSize {
			second = second[:chunkSize]
		}
		want := chunkEvents(t, nil, second)
		x := new(expander)
		chunkEvents(t, x, first)
		sameEvents(t, "second chunk", chunkEvents(t, x, second), want)
	})
}
