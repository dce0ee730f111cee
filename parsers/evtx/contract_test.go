package evtx

import (
	"os"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestContract(t *testing.T) {
	var files []string
	for _, rel := range []string{
		"logs/windows/security.evtx",
		"logs/windows/System2.evtx",
		"logs/windows/sample_with_a_bad_chunk_magic.evtx",
		"more/evtx/mitre_cc0/ID1149-RDP_success_logins.evtx",
	} {
		files = append(files, parsertest.Corpus(t, rel))
	}
	parsertest.Contract(t, New(2), files...)
}

// TestDamageReported checks that the bad-chunk-magic sample's damage comes
// out as warnings naming the chunk offsets, and that every warning sits on
// a 64 KiB chunk or inside the chunk it reports on.
func TestDamageReported(t *testing.T) {
	file := parsertest.Corpus(t, "logs/windows/sample_with_a_bad_chunk_magic.evtx")
	res := parsertest.ParseFile(t, New(2), file, nil)
	kinds := map[string]int{}
	for _, w := range res.Warnings {
		for _, k := range []string{"bad chunk magic", "checksum mismatch", "zeroed", "damaged record data", "record "} {
			if strings.Contains(w.Err.Error(), k) {
				kinds[k]++
				break
			}
		}
		if w.Path == "" || w.Parser != Name {
			t.Errorf("warning without path or parser: %+v", w)
		}
	}
	for _, k := range []string{"bad chunk magic", "checksum mismatch", "zeroed"} {
		if kinds[k] == 0 {
			t.Errorf("no %q warning; got %v", k, kinds)
		}
	}
	t.Logf("warnings by kind: %v", kinds)
}

// FuzzDecodeChunk feeds chunk prefixes cut from real chunks, with a patch
// written over them; the decoder must not panic, hang or report a record
// outside its buffer. The input is (seed, length, patch offset, patch),
// not the chunk itself: Go minimises every input that finds new coverage
// in steps that grow with the square of its length, and on 8-20 KiB
// chunks that took the fuzzer's whole time (14 executions in 21 s).
func FuzzDecodeChunk(f *testing.F) {
	var seeds [][]byte
	for _, rel := range []string{"logs/windows/security.evtx", "more/evtx/mitre_cc0/ID1149-RDP_success_logins.evtx", "logs/windows/sample_with_a_bad_chunk_magic.evtx"} {
		b, err := os.ReadFile(parsertest.Corpus(f, rel))
		if err != nil {
			f.Fatal(err)
		}
		// The first 8 KiB of a chunk hold its header, first records and
		// their inline templates; short inputs keep the fuzzer fast.
		seeds = append(seeds, b[fileHeaderBlock:fileHeaderBlock+8192])
	}
	// Chunk prefixes reaching into slack, for the carving path: record
	// headers past the free-space offset (5136 and 11232) whose templates
	// and names were overwritten.
	for _, seed := range []struct {
		rel string
		n   int
	}{
		{"more/evtx/mitre_cc0/ID4720-Local_user_created.evtx", 16384},
		{"more/evtx/mitre_cc0/ID4624-Mimikatz_pass_the_hash.evtx", 20480},
	} {
		b, err := os.ReadFile(parsertest.Corpus(f, seed.rel))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b[fileHeaderBlock:fileHeaderBlock+seed.n])
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint32(len(s)), uint32(0), []byte(nil))
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		b := fstest.PatchedSeedBytes(seeds, which, size, off, patch)
		seen := map[int64]bool{}
		errs := DecodeChunk(b, 4096, func(r *Record) {
			if r.Offset < 4096 || r.Offset >= 4096+int64(len(b)) {
				t.Fatalf("record offset %d outside the chunk", r.Offset)
			}
			if seen[r.Offset] {
				t.Fatalf("two records at offset %d (a carved one over a live one?)", r.Offset)
			}
			seen[r.Offset] = true
			toEvent(r)
		})
		// Every error says where, inside the chunk, for DecodeFile and
		// evtxbench to account for it.
		for _, err := range errs {
			ce, ok := err.(*ChunkError)
			if !ok || ce.Offset < 4096 || ce.Offset > 4096+int64(len(b)) {
				t.Fatalf("error %v (%T) is not a *ChunkError inside the chunk", err, err)
			}
		}
	})
}
