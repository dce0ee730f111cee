package ingest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
)

// encSink is a timeline.EncodingSink that keeps, for each batch, the IDs
// its events had when they were added to its encoding.
type encSink struct {
	memSink
	writes, encoded int
	bad             string
}

type idEncoding struct{ ids []string }

func (e *idEncoding) Add(ev *timeline.Event) { e.ids = append(e.ids, ev.Jejak.ID) }
func (e *idEncoding) Len() int               { return len(e.ids) }
func (e *idEncoding) Discard()               {}

func (s *encSink) NewEncoding() timeline.Encoding { return &idEncoding{} }

func (s *encSink) Write(ctx context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	s.writes++
	return s.memSink.Write(ctx, b)
}

func (s *encSink) WriteEncoded(ctx context.Context, b []*timeline.Event, enc timeline.Encoding) (timeline.WriteStats, error) {
	s.encoded++
	ids := enc.(*idEncoding).ids
	if len(ids) != len(b) && s.bad == "" {
		s.bad = fmt.Sprintf("a batch of %d events encoded as %d", len(b), len(ids))
	}
	for i, e := range b {
		if i < len(ids) && ids[i] != e.Jejak.ID && s.bad == "" {
			s.bad = fmt.Sprintf("event %d of a batch: %s when encoded, %s when written", i, ids[i], e.Jejak.ID)
		}
	}
	return s.memSink.Write(ctx, b)
}

// TestEmitEncodesAhead: with a sink that encodes ahead, a batch started
// while the parses under way keep every core busy is written by
// WriteEncoded, its events added to its encoding as they were emitted,
// finalized, in the batch's order; one started while a core is left free
// (a single text file parsed on two cores) is written by Write, which
// encodes on every core. The events are those a plain sink is given.
func TestEmitEncodesAhead(t *testing.T) {
	for _, tc := range []struct {
		name        string
		procs       int
		files       int
		lines       func(i int) int
		wantEncoded bool
	}{
		{"every core parsing", 1, 60, func(i int) int { return 1 + i%40 }, true},
		{"one file on two cores", 2, 1, func(int) int { return 3000 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.procs))
			root := t.TempDir()
			ev := filepath.Join(root, "evidence")
			for i := range tc.files {
				var content []byte
				for j := range tc.lines(i) {
					content = fmt.Appendf(content, "Feb 14 08:%02d:%02d host sshd[%d]: Accepted password for root from 192.0.2.%d port 22 ssh2\n", i%60, j%60, i, j%250)
				}
				p := filepath.Join(ev, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%03d.log", i))
				writeFile(t, p, content)
			}
			ctx := context.Background()
			ids := func(sink timeline.Sink, got func() []*timeline.Event) []string {
				w, err := jfs.Open(ctx, ev, jfs.Options{TempDir: root})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: root, Workers: 2, BatchSize: 37},
					[]ingest.Item{{SHA256: "e", Name: "evidence", Walker: w}}, sink); err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, e := range got() {
					out = append(out, e.Jejak.ID)
				}
				slices.Sort(out)
				return out
			}
			plain := &memSink{}
			want := ids(plain, func() []*timeline.Event { return plain.events })
			enc := &encSink{}
			got := ids(enc, func() []*timeline.Event { return enc.events })
			if enc.bad != "" {
				t.Fatal(enc.bad)
			}
			// The directories' and files' own times are emitted by the
			// walk, outside any parse: a batch they start goes to Write.
			if tc.wantEncoded && enc.encoded < 4*enc.writes {
				t.Errorf("%d batches written by Write, %d by WriteEncoded; want most by WriteEncoded", enc.writes, enc.encoded)
			}
			if !tc.wantEncoded && (enc.encoded != 0 || enc.writes < 50) {
				t.Errorf("%d batches written by Write, %d by WriteEncoded; want all by Write", enc.writes, enc.encoded)
			}
			if !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("%d events written through the encoding sink, %d plain, or other IDs", len(got), len(want))
			}
		})
	}
}
