package timeline_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
)

// referenceID is ComputeID as it was first written, field by field through
// a hash.Hash: the stores key rows by these IDs (ingesting the same
// evidence twice must add nothing), so the faster ComputeID must give the
// same value for every provenance.
func referenceID(p timeline.Provenance, desc string) string {
	var num [8]byte
	field := func(h hash.Hash, s string) {
		binary.BigEndian.PutUint64(num[:], uint64(len(s)))
		h.Write(num[:])
		h.Write([]byte(s))
	}
	f := sha256.New()
	field(f, "jejak-event-v2")
	field(f, p.EvidenceSHA256)
	field(f, strconv.Itoa(len(p.Chain)))
	for _, c := range p.Chain {
		field(f, c)
	}
	field(f, p.Path)
	field(f, p.Parser)
	if p.Identity != "" {
		field(f, p.Identity)
	}
	var id [16]byte
	fileSum := f.Sum(nil)
	copy(id[:8], fileSum)
	r := sha256.New()
	r.Write(fileSum)
	field(r, strconv.FormatInt(p.Offset, 10))
	field(r, strconv.FormatInt(p.Record, 10))
	field(r, desc)
	copy(id[8:], r.Sum(nil))
	return hex.EncodeToString(id[:])
}

func TestComputeIDUnchanged(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	long := strings.Repeat("verylongfoldername/", 60) // past ComputeID's stack buffers
	base := timeline.Provenance{EvidenceSHA256: sha, EvidenceName: "disk.E01",
		Chain: []string{"ewf:", "gpt:2", "ntfs:"}, Path: "Windows/System32/winevt/Logs/Security.evtx", Parser: "evtx"}
	with := func(f func(p *timeline.Provenance)) timeline.Provenance {
		p := base
		p.Chain = append([]string(nil), base.Chain...)
		f(&p)
		return p
	}
	tests := []struct {
		name string
		p    timeline.Provenance
		desc string
	}{
		{"plain", base, "Event Logged"},
		{"no chain", with(func(p *timeline.Provenance) { p.Chain = nil }), "Event Logged"},
		{"empty chain", with(func(p *timeline.Provenance) { p.Chain = []string{} }), "Event Logged"},
		{"identity", with(func(p *timeline.Provenance) { p.Identity = "mft:1234-5" }), "Creation Time"},
		{"offset and record", with(func(p *timeline.Provenance) { p.Offset, p.Record = 1<<40, 987654321 }), "x"},
		{"negative offset", with(func(p *timeline.Provenance) { p.Offset, p.Record = -1, -9223372036854775808 }), "x"},
		{"max numbers", with(func(p *timeline.Provenance) { p.Offset, p.Record = 9223372036854775807, 9223372036854775807 }), "x"},
		{"empty desc", base, ""},
		{"long desc", base, strings.Repeat("Last Access Time ", 20)},
		{"long path", with(func(p *timeline.Provenance) { p.Path = long }), "Content Modification Time"},
		{"many layers", with(func(p *timeline.Provenance) {
			for i := range 40 {
				p.Chain = append(p.Chain, fmt.Sprintf("tar:member-%d.tar", i))
			}
		}), "Creation Time"},
		{"no evidence", timeline.Provenance{}, ""},
		{"unicode", with(func(p *timeline.Provenance) { p.Path = "Users/Wāhid/文档/日志.txt" }), "Zeit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := referenceID(tt.p, tt.desc)
			// Twice: the second call takes the file digest from the cache.
			for range 2 {
				if got := timeline.ComputeID(tt.p, tt.desc); got != want {
					t.Fatalf("ComputeID = %s, reference %s", got, want)
				}
			}
		})
	}
}

// TestComputeIDCacheKeys checks that the file-digest cache never answers
// for a different file: provenances that differ in one file field only,
// asked one after the other, each get their own ID.
func TestComputeIDCacheKeys(t *testing.T) {
	base := timeline.Provenance{EvidenceSHA256: "e1", Chain: []string{"tar:a", "gzip:"}, Path: "var/log/syslog",
		Parser: "syslog", Offset: 10, Record: 2}
	variants := []func(p *timeline.Provenance){
		func(p *timeline.Provenance) {},
		func(p *timeline.Provenance) { p.EvidenceSHA256 = "e2" },
		func(p *timeline.Provenance) { p.Chain = []string{"tar:a", "gzip:x"} },
		func(p *timeline.Provenance) { p.Chain = []string{"tar:a"} },
		func(p *timeline.Provenance) { p.Chain = []string{"tar:agzip:"} },
		func(p *timeline.Provenance) { p.Chain = nil },
		func(p *timeline.Provenance) { p.Parser = "journal" },
		func(p *timeline.Provenance) { p.Identity = "tar#3@1536" },
		func(p *timeline.Provenance) { p.Identity = "tar#4@1536" },
		func(p *timeline.Provenance) { p.EvidenceName = "renamed" }, // not hashed: same ID as the first
	}
	seen := map[string]int{}
	for round := range 3 {
		for i, v := range variants {
			p := base
			p.Chain = append([]string(nil), base.Chain...)
			v(&p)
			got := timeline.ComputeID(p, "Event Logged")
			if want := referenceID(p, "Event Logged"); got != want {
				t.Fatalf("round %d variant %d: ComputeID = %s, reference %s", round, i, got, want)
			}
			if round == 0 {
				if j, ok := seen[got]; ok && !(i == len(variants)-1 && j == 0) {
					t.Errorf("variants %d and %d share ID %s", j, i, got)
				}
				seen[got] = i
			}
		}
	}
	// A chain changed in place after its events were hashed must not be
	// answered from the cache.
	p := base
	p.Chain = []string{"tar:a", "gzip:"}
	first := timeline.ComputeID(p, "d")
	p.Chain[1] = "bzip2:"
	if got, want := timeline.ComputeID(p, "d"), referenceID(p, "d"); got != want || got == first {
		t.Errorf("after changing the chain in place: %s, reference %s (before: %s)", got, want, first)
	}
}

// TestComputeIDConcurrent has many goroutines, each on its own files,
// share the cache: every ID must still be the reference's (go test -race
// checks the slots are handed over safely).
func TestComputeIDConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				p := timeline.Provenance{EvidenceSHA256: "e", Chain: []string{"dir:"}, Parser: "syslog",
					Path: fmt.Sprintf("g%d/f%d", g, i%7), Offset: int64(i)}
				if got, want := timeline.ComputeID(p, "Event Logged"), referenceID(p, "Event Logged"); got != want {
					select {
					case errs <- fmt.Sprintf("goroutine %d, event %d: %s, reference %s", g, i, got, want):
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// BenchmarkComputeID is the per-event cost of an ID, the many events of one
// file in a row as ingest gives them, next to the reference's.
func BenchmarkComputeID(b *testing.B) {
	p := timeline.Provenance{EvidenceSHA256: strings.Repeat("ab", 32), Chain: []string{"raw:", "ntfs:"},
		Path: "$MFT", Parser: "mft"}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p.Offset, p.Record = int64(i)*1024+56, int64(i)
			timeline.ComputeID(p, "Content Modification Time")
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p.Offset, p.Record = int64(i)*1024+56, int64(i)
			referenceID(p, "Content Modification Time")
		}
	})
}
