package evtx

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestDecodeFileAccounting pins DecodeFile's counts (what evtxbench
// -decode prints) on the two corpus files with stale slack copies, beside
// Parse's. The numbers are the oracles': evtxexport and evtx_dump read
// 2261 and 3028 records; evtxinfo finds 30 and 104 recovered records,
// which evtxexport -m recovered does not export and which are, byte for
// byte, records of the next chunk. Counting DecodeChunk's records alone
// (as evtxbench -decode did) gives 2289 and 3132: the decodable copies.
func TestDecodeFileAccounting(t *testing.T) {
	for _, tc := range []struct {
		rel                        string
		decoded, records, copies   int
		errors, warnings, parseWrn int
	}{
		{"logs/windows/security.evtx", 2289, 2261, 30, 2, 0, 0},
		{"logs/windows/sample-with-irregular-bool-values.evtx", 3132, 3028, 104, 0, 0, 0},
		// No slack copies: every decoded record is an event, and Parse
		// adds its per-file accounting line to the chunks' warnings.
		{"logs/windows/TerminalServices-RemoteConnectionManager-Operational.evtx", 2041, 2041, 0, 5, 5, 6},
	} {
		t.Run(tc.rel, func(t *testing.T) {
			raw, err := os.ReadFile(parsertest.Corpus(t, tc.rel))
			if err != nil {
				t.Fatal(err)
			}
			dc, err := DecodeFile(bytes.NewReader(raw), int64(len(raw)))
			if err != nil {
				t.Fatal(err)
			}
			want := DecodeCounts{Decoded: tc.decoded, Records: tc.records, SlackCopies: tc.copies, Errors: tc.errors, Warnings: tc.warnings}
			if dc != want {
				t.Errorf("DecodeFile = %+v, want %+v", dc, want)
			}
			events, warns := 0, 0
			src := &parsers.Source{Entry: parsertest.BytesEntry("f.evtx", raw, time.Time{}), ReaderAt: bytes.NewReader(raw),
				Size: int64(len(raw)), Zone: time.UTC, Warn: func(*parsers.RecordError) { warns++ }}
			st, err := New(2).ParseStats(context.Background(), src, func(*timeline.Event) error { events++; return nil })
			if err != nil {
				t.Fatal(err)
			}
			if events != tc.records || st.SlackCopies != tc.copies || warns != tc.parseWrn {
				t.Errorf("Parse: %d events, %d slack copies, %d warnings; want %d, %d, %d", events, st.SlackCopies, warns, tc.records, tc.copies, tc.parseWrn)
			}
		})
	}
}

// TestExpandDepth: a chain of elements whose innermost holds attributes
// alone expands to maxDepth-1 levels and fails at maxDepth, whether or
// not expand is called for the innermost's (absent) children.
func TestExpandDepth(t *testing.T) {
	chain := func(levels int) []node {
		var kids []node
		for range levels {
			kids = []node{{kind: nElem, name: "E", kids: kids}}
		}
		return kids
	}
	for _, levels := range []int{1, maxDepth - 1, maxDepth, maxDepth + 1} {
		var x expander
		root := x.a.elem()
		err := x.expand(chain(levels), nil, root)
		if (err != nil) != (levels >= maxDepth) {
			t.Errorf("%d levels: err %v", levels, err)
		}
		if x.depth != 0 {
			t.Errorf("%d levels: depth %d after expand", levels, x.depth)
		}
		if err == nil {
			n := 0
			for e := root.first; e != nil; e = e.first {
				n++
			}
			if n != levels {
				t.Errorf("%d levels: %d elements", levels, n)
			}
		}
	}
}
