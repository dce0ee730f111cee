package evtx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	stdmaps "maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
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
//
// The first chunk is decoded once, not per input (64 KiB, ~300 inputs a
// second): each input starts from a fresh expander holding what decoding
// it left for later chunks, its kept definitions and its value cache
// (afterFirst). The second is a patch over the first 12 KiB of a later
// chunk (see fstest.PatchedSeedBytes): Go's minimiser took the fuzzer's
// whole time over 12 KiB inputs (9 executions in 11 s).
func FuzzSharedTemplates(f *testing.F) {
	b, err := os.ReadFile(parsertest.Corpus(f, "logs/windows/security.evtx"))
	if err != nil {
		f.Fatal(err)
	}
	first := new(expander)
	chunkEvents(f, first, b[fileHeaderBlock:fileHeaderBlock+chunkSize])
	if len(first.sc.shared.byKey) == 0 {
		f.Fatal("the first chunk left no definition for reuse")
	}
	var seeds [][]byte
	for _, off := range []int{1, 2, 5} {
		c := b[fileHeaderBlock+off*chunkSize : fileHeaderBlock+(off+1)*chunkSize]
		seeds = append(seeds, c[:12288])
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint32(len(s)), uint32(0), []byte(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		second := fstest.PatchedSeedBytes(seeds, which, size, off, patch)
		want := chunkEvents(t, nil, second)
		sameEvents(t, "second chunk", chunkEvents(t, afterFirst(first), second), want)
	})
}

// afterFirst is a fresh expander holding what decoding a chunk with x
// left for the next: its kept template definitions (immutable once kept
// but for their substitutions' memos, which only ever hold a value's own
// rendering: the map is copied and not its entries) and its value cache (the
// slab's bytes copied at its capacity, which decides when it is emptied).
// The rest of an expander is reset for every chunk (see expander.reuse,
// newChunk).
func afterFirst(x *expander) *expander {
	y := new(expander)
	y.sc.shared.byKey = stdmaps.Clone(x.sc.shared.byKey)
	y.vc.slots = x.vc.slots
	if x.vc.keys != nil {
		y.vc.keys = append(make([]byte, 0, cap(x.vc.keys)), x.vc.keys...)
	}
	return y
}

// TestAfterFirst: an expander from afterFirst decodes a later chunk into
// the same state, kept definitions and value cache, as the expander that
// decoded the first chunk itself, so FuzzSharedTemplates checks what
// decoding the two chunks in a row would.
func TestAfterFirst(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	first := b[fileHeaderBlock : fileHeaderBlock+chunkSize]
	x := new(expander)
	chunkEvents(t, x, first)
	for _, off := range []int{1, 2, 5} {
		second := b[fileHeaderBlock+off*chunkSize : fileHeaderBlock+(off+1)*chunkSize]
		y, z := afterFirst(x), new(expander)
		chunkEvents(t, z, first)
		sameEvents(t, fmt.Sprintf("chunk %d", off), chunkEvents(t, y, second), chunkEvents(t, z, second))
		if !sameKeys(y.sc.shared.byKey, z.sc.shared.byKey) {
			t.Errorf("chunk %d: %d kept definitions after afterFirst, %d after the first chunk itself", off, len(y.sc.shared.byKey), len(z.sc.shared.byKey))
		}
		if y.vc.slots != z.vc.slots || !bytes.Equal(y.vc.keys, z.vc.keys) || cap(y.vc.keys) != cap(z.vc.keys) {
			t.Errorf("chunk %d: the value caches differ", off)
		}
	}
}

func sameKeys[K comparable, V any](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// TestRecentTemplates: after each chunk of security.evtx is decoded,
// every definition the chunk's recent slots hold is the one its
// templates map holds for that offset, and template finds each entry of
// the map as the map has it.
func TestRecentTemplates(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	x := new(expander)
	for off := fileHeaderBlock; off+chunkSize <= len(b); off += chunkSize {
		var c *chunk
		decodeChunk(x, b[off:off+chunkSize], int64(off), true, func() bool { return false }, func(r *Record) {
			if c == nil {
				c = x.c
			}
		})
		if c == nil {
			continue
		}
		held := 0
		for _, r := range c.recent {
			if r.t == nil {
				continue
			}
			held++
			if m, ok := c.templates[r.off]; !ok || m != r.t {
				t.Fatalf("chunk at %d: recent slot for offset %d holds another definition than the map", off, r.off)
			}
		}
		if held == 0 {
			t.Fatalf("chunk at %d: no recent definition", off)
		}
		for o, m := range c.templates {
			if got := c.template(o); got != m {
				t.Fatalf("chunk at %d: template(%d) is not the map's", off, o)
			}
		}
	}
}
