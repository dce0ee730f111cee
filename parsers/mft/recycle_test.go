package mft_test

import (
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// recycledTranscript is transcript with every event given back to the
// parser as soon as it is written out: later events are built in the
// blocks, and the jejak.data maps, of earlier ones.
func recycledTranscript(t *testing.T, e *jfs.Entry, n int) []string {
	t.Helper()
	out, err := parseTranscript(t, e, n, true)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRecycledSameOutput checks that events built in recycled blocks are
// the events built in fresh ones, byte for byte: a reused jejak.data map
// keeps none of its last event's keys (a $FILE_NAME's parent_ref and
// name_type, an orphan's or a deleted file's marks) and a reused event
// none of its fields. On the extracted $MFT with orphans and damaged
// records, and on a real volume, serially and on two workers.
func TestRecycledSameOutput(t *testing.T) {
	_, damaged := copies(t)
	inputs := []struct {
		name  string
		entry func(t *testing.T) *jfs.Entry
	}{
		{"damaged copies", func(*testing.T) *jfs.Entry { return parsertest.BytesEntry("$MFT", damaged, time.Time{}) }},
		{"volume", func(t *testing.T) *jfs.Entry { return volumeMFT(t, oracle.Sample(t, "ntfs"), "")[0] }},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			e := in.entry(t)
			for _, n := range []int{1, 2} {
				want, err := transcript(t, e, n)
				if err != nil {
					t.Fatal(err)
				}
				// Twice: the second run starts with the blocks the first
				// gave back, maps holding other entries' keys.
				for run := range 2 {
					got := recycledTranscript(t, e, n)
					if len(got) != len(want) {
						t.Fatalf("%d workers, run %d: %d lines recycled, %d fresh", n, run, len(got), len(want))
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("%d workers, run %d, line %d:\n recycled %s\n    fresh %s", n, run, i, got[i], want[i])
						}
					}
				}
			}
		})
	}
}
