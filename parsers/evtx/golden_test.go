package evtx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	stdmaps "maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

var update = flag.Bool("update", false, "rewrite testdata/events.sha256 from the parser as it is")

// goldenSums is the file TestEventsUnchanged checks against.
const goldenSums = "testdata/events.sha256"

// TestEventsUnchanged guards the speed work of issue 15: the events (JSON,
// after Finalize, so event IDs count) and warnings the parser makes from
// every corpus EVTX file, and from damaged variants of some (a zeroed file
// header, a file cut inside a chunk, a chunk whose header is zeroed), stay
// byte for byte what testdata/events.sha256 says; the file was written by
// the parser before the speed work (with -update). It does what
// parsertest.EventsUnchanged does for the line parsers, with random access
// (Source.ReaderAt), which this parser needs and that helper does not
// give. EVTX times are UTC whatever the zone, so one zone is enough. On a
// mismatch the JSON lines are left in a temporary folder for a diff
// against a run of the old code.
func TestEventsUnchanged(t *testing.T) {
	inputs := goldenInputs(t)
	got := map[string]string{}
	dump := t.TempDir()
	for name, data := range inputs {
		out, nev, nwarn := goldenRun(t, name, data, nil)
		sum := sha256.Sum256(out)
		got[name] = fmt.Sprintf("%s %d %d", hex.EncodeToString(sum[:]), nev, nwarn)
		f := filepath.Join(dump, strings.NewReplacer("/", "_", "#", "_").Replace(name)+".jsonl")
		if err := os.WriteFile(f, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checked := parsertest.CompareSums(t, goldenSums, got, dump, *update)
	if *update {
		return
	}
	want := parsertest.ReadSums(t, goldenSums)
	// The shared corpus holds 28 EVTX files; a fresh clone's fixtures
	// fewer. Either way a run that compares almost nothing fails.
	if minChecked := 8; checked < minChecked || (parsertest.Shared() && checked < len(want)) {
		t.Fatalf("only %d of the %d inputs in %s checked", checked, len(want), goldenSums)
	}
}

// TestEventsUnchangedRecycled is TestEventsUnchanged with every event
// given back (Parser.Recycle) once marshalled, poisoned (slab.SetPoison),
// as ingest gives back stored events: a block reused for a later event,
// of the same input or the next (one Parser for all, in name order), must
// make the same bytes as a fresh one. A field or map that reset left
// holding a recycled event's value (a jejak.data key, an EventData
// member, a user of normBlock) would show in some later event, and a
// poisoned one as Poisoned.
func TestEventsUnchangedRecycled(t *testing.T) {
	inputs := goldenInputs(t)
	want := parsertest.ReadSums(t, goldenSums)
	defer slab.SetPoison()()
	p := New(2)
	for _, name := range slices.Sorted(stdmaps.Keys(inputs)) {
		w, ok := want[name]
		if !ok {
			continue
		}
		out, nev, nwarn := goldenRun(t, name, inputs[name], p)
		sum := sha256.Sum256(out)
		if got := fmt.Sprintf("%s %d %d", hex.EncodeToString(sum[:]), nev, nwarn); got != w {
			t.Errorf("%s, events recycled: %s, want %s", name, got, w)
		}
	}
}

// goldenInputs reads every corpus EVTX file and makes goldenVariants'
// damaged copies, keyed as testdata/events.sha256 names them.
func goldenInputs(t *testing.T) map[string][]byte {
	t.Helper()
	dir, err := parsertest.CorpusDir()
	if err != nil {
		t.Skipf("corpus not found: %v", err)
	}
	inputs := map[string][]byte{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(strings.ToLower(path), ".evtx") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		inputs["corpus/"+filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range goldenVariants {
		base, variant, _ := strings.Cut(name, "#")
		if data, ok := inputs["corpus/"+base]; ok {
			inputs["variant/"+base+"#"+variant] = mutate(bytes.Clone(data))
		}
	}
	return inputs
}

// goldenVariants damages corpus files in the ways the parser has paths
// for, keyed "corpus path#what".
var goldenVariants = map[string]func([]byte) []byte{
	// No file header: chunks counted from the size, read as in a dirty file.
	"logs/windows/new-user-security.evtx#zeroed-header": func(b []byte) []byte {
		clear(b[:fileHeaderBlock])
		return b
	},
	// Cut inside its 10th chunk: the records before the cut are read.
	"logs/windows/security.evtx#cut": func(b []byte) []byte {
		return b[:fileHeaderBlock+9*chunkSize+30000]
	},
	// The second chunk's header zeroed: its records are scanned for.
	"logs/windows/security.evtx#chunk-header-zeroed": func(b []byte) []byte {
		clear(b[fileHeaderBlock+chunkSize : fileHeaderBlock+chunkSize+chunkHeaderSize])
		return b
	},
}

// goldenRun parses one input as ingest does and returns the JSON lines of
// its events and warnings, with their counts. With a Parser given, each
// event goes back to it (Recycle) once marshalled; without, a fresh
// Parser's events are left alone.
func goldenRun(t *testing.T, name string, data []byte, recycler *Parser) (out []byte, events, warnings int) {
	t.Helper()
	var buf bytes.Buffer
	entry := parsertest.BytesEntry(filepath.Base(name), data, time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC))
	src := &parsers.Source{Entry: entry, ReaderAt: bytes.NewReader(data), Size: int64(len(data)), Zone: time.UTC,
		Warn: func(w *parsers.RecordError) {
			warnings++
			fmt.Fprintf(&buf, "warning %d %d %s %s\n", w.Offset, w.Record, w.Parser, w.Err)
		}}
	p := recycler
	if p == nil {
		p = New(2)
	}
	err := p.Parse(context.Background(), src, func(ev *timeline.Event) error {
		events++
		ev.Jejak.Provenance.Path = name
		ev.Finalize()
		b, err := json.Marshal(ev)
		buf.Write(b)
		buf.WriteByte('\n')
		if recycler != nil {
			recycler.Recycle(ev)
		}
		return err
	})
	if err != nil {
		fmt.Fprintf(&buf, "error %v\n", err)
	}
	return buf.Bytes(), events, warnings
}
