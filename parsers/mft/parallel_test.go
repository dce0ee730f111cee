package mft_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// transcript runs the parser on e with n workers and returns what it
// emitted, events (finalized, as JSON) and warnings in the order the
// caller saw them, and the error it returned.
func transcript(t *testing.T, e *jfs.Entry, n int) ([]string, error) {
	return parseTranscript(t, e, n, false)
}

// parseTranscript is transcript; with recycle, every event is given back
// to the parser (Parser.Recycle) as soon as it is written out, as the
// ingest does once a batch is stored.
func parseTranscript(t *testing.T, e *jfs.Entry, n int, recycle bool) ([]string, error) {
	t.Helper()
	defer mft.SetWorkers(n)()
	ra, ok, err := e.ReaderAt()
	if !ok {
		t.Fatal("no random access", err)
	}
	p := mft.New()
	var out []string
	src := &parsers.Source{Entry: e, ReaderAt: ra, Size: e.Size, Zone: time.UTC,
		Warn: func(w *parsers.RecordError) { out = append(out, "warning: "+w.Error()) }}
	err = p.Parse(context.Background(), src, func(ev *timeline.Event) error {
		ev.Jejak.Provenance.Chain = e.Chain
		ev.Jejak.Provenance.Path = e.Path
		ev.Jejak.Provenance.Parser = mft.Name
		ev.Finalize()
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		out = append(out, string(b))
		if recycle {
			p.Recycle(ev)
		}
		return nil
	})
	return out, err
}

// copies is orphan.mft (records 0-47 in use, 256 slots) with its records
// 16-47 copied again into each later 64-entry chunk: entries whose
// parents are in another chunk, as on a real volume, in every chunk a
// parallel scan cuts. damaged flips the fixup check of some records (in
// the first, a middle and the last chunk): each is a warning between the
// events of its neighbours.
func copies(t *testing.T) (whole, damaged []byte) {
	data, err := os.ReadFile(parsertest.Corpus(t, "more/disk/mft/orphan.mft"))
	if err != nil {
		t.Fatal(err)
	}
	const rs = 1024
	whole = append([]byte(nil), data...)
	for base := 64; base+32 <= len(whole)/rs; base += 64 {
		copy(whole[(base+10)*rs:(base+42)*rs], data[16*rs:48*rs])
	}
	damaged = append([]byte(nil), whole...)
	for _, entry := range []int{9, 39, 97, 161, 225} {
		damaged[entry*rs+510] ^= 0x5a // the fixup check value of sector 0
	}
	return whole, damaged
}

// TestParallelSameOutput checks that the timeline built on several cores
// is the serial one, event for event and warning for warning in the same
// places: on an extracted $MFT spread over four chunks, on a copy of it
// with damaged records, with the default chunk and with chunks of a few
// entries, and on the $MFT of a real NTFS volume.
func TestParallelSameOutput(t *testing.T) {
	whole, damaged := copies(t)
	inputs := []struct {
		name     string
		entry    func(t *testing.T) *jfs.Entry
		chunk    uint64
		warnings int
	}{
		{"copies", func(*testing.T) *jfs.Entry { return parsertest.BytesEntry("$MFT", whole, time.Time{}) }, 0, 0},
		{"damaged", func(*testing.T) *jfs.Entry { return parsertest.BytesEntry("$MFT", damaged, time.Time{}) }, 0, 5},
		{"damaged, chunks of 3", func(*testing.T) *jfs.Entry { return parsertest.BytesEntry("$MFT", damaged, time.Time{}) }, 3, 5},
		{"volume, chunks of 4", func(t *testing.T) *jfs.Entry { return volumeMFT(t, oracle.Sample(t, "ntfs"), "")[0] }, 4, 0},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			if in.chunk > 0 {
				defer mft.SetChunk(in.chunk)()
			}
			e := in.entry(t)
			want, err := transcript(t, e, 1)
			if err != nil {
				t.Fatal(err)
			}
			warnings := 0
			for _, l := range want {
				if strings.HasPrefix(l, "warning:") {
					warnings++
				}
			}
			if len(want) < 250 || warnings != in.warnings {
				t.Fatalf("serial scan: %d lines, %d warnings, want %d", len(want), warnings, in.warnings)
			}
			for _, n := range []int{2, 3, 7} {
				got, err := transcript(t, e, n)
				if err != nil {
					t.Fatalf("%d workers: %v", n, err)
				}
				if len(got) != len(want) {
					t.Errorf("%d workers: %d lines, serial %d", n, len(got), len(want))
				}
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("%d workers, line %d:\n got %s\nwant %s", n, i, got[i], want[i])
					}
				}
			}
			t.Logf("%d lines (%d warnings) the same with 1, 2, 3 and 7 workers", len(want), warnings)
		})
	}
}

// TestParallelStops checks that an emit error and a cancelled context end
// the parallel timeline with that error, and that no worker outlives
// Parse.
func TestParallelStops(t *testing.T) {
	data, _ := copies(t)
	defer mft.SetWorkers(3)()
	before := runtime.NumGoroutine()
	stop := errors.New("stop")
	// copies has 274 events: chunk 0 (entries 0-63) is events 0-90,
	// chunk 3 events 213-273 (one event per distinct time of an attribute).
	for _, after := range []int{1, 25, 125, 250} {
		t.Run(fmt.Sprint("emit error after ", after), func(t *testing.T) {
			e := parsertest.BytesEntry("$MFT", data, time.Time{})
			ra, _, _ := e.ReaderAt()
			n := 0
			src := &parsers.Source{Entry: e, ReaderAt: ra, Size: e.Size, Zone: time.UTC, Warn: func(*parsers.RecordError) {}}
			err := mft.New().Parse(context.Background(), src, func(*timeline.Event) error {
				if n++; n == after {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || n != after {
				t.Errorf("err %v after %d events, want %v after %d", err, n, stop, after)
			}
		})
		t.Run(fmt.Sprint("cancelled after ", after), func(t *testing.T) {
			// The serial scan looks at the context before each batch of
			// records (ntfs.ScanBatch): cancelled during the last one, it
			// ends without error. The parallel one must end the same way.
			cancelled := func(workers int) (int, error) {
				defer mft.SetWorkers(workers)()
				e := parsertest.BytesEntry("$MFT", data, time.Time{})
				ra, _, _ := e.ReaderAt()
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				n := 0
				src := &parsers.Source{Entry: e, ReaderAt: ra, Size: e.Size, Zone: time.UTC, Warn: func(*parsers.RecordError) {}}
				err := mft.New().Parse(ctx, src, func(*timeline.Event) error {
					if n++; n == after {
						cancel()
					}
					return nil
				})
				return n, err
			}
			sn, serr := cancelled(1)
			pn, perr := cancelled(3)
			if after < 125 && !errors.Is(perr, context.Canceled) {
				t.Errorf("err %v after %d events, want %v", perr, pn, context.Canceled)
			}
			if pn != sn || !errors.Is(perr, serr) && perr != serr {
				t.Errorf("parallel: %d events then %v; serial %d then %v", pn, perr, sn, serr)
			}
		})
	}
	// Workers are waited for before Parse returns; give the runtime a
	// moment to retire their goroutines.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after the runs, %d before", n, before)
	}
}
