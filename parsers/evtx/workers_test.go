package evtx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestWorkersSameEvents parses the same files with one worker (every chunk
// decoded on the emitting goroutine), with helpers decoding ahead of it,
// and with two files parsed at once (each then decoding alone): the
// events, in order, the warnings and the accounting are the same.
func TestWorkersSameEvents(t *testing.T) {
	for _, rel := range []string{
		"logs/windows/security.evtx",
		"logs/windows/sample-with-irregular-bool-values.evtx",
		"logs/windows/TerminalServices-RemoteConnectionManager-Operational.evtx",
	} {
		t.Run(rel, func(t *testing.T) {
			raw, err := os.ReadFile(parsertest.Corpus(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			parse := func(p *Parser) (string, Stats) {
				var out bytes.Buffer
				enc := json.NewEncoder(&out)
				src := &parsers.Source{Entry: parsertest.BytesEntry("f.evtx", raw, time.Time{}), ReaderAt: bytes.NewReader(raw),
					Size: int64(len(raw)), Zone: time.UTC, Warn: func(w *parsers.RecordError) { fmt.Fprintf(&out, "warning %v\n", w) }}
				st, err := p.ParseStats(context.Background(), src, func(ev *timeline.Event) error { return enc.Encode(ev) })
				if err != nil {
					t.Fatal(err)
				}
				return out.String(), st
			}
			want, wantSt := parse(New(1))
			for _, w := range []int{2, 4} {
				if got, st := parse(New(w)); got != want || !reflect.DeepEqual(st, wantSt) {
					t.Errorf("%d workers: events or accounting differ from one worker's (%+v, want %+v)", w, st, wantSt)
				}
			}
			var wg sync.WaitGroup
			got := make([]string, 3)
			for i := range got {
				wg.Go(func() { got[i], _ = parse(New(2)) })
			}
			wg.Wait()
			for i := range got {
				if got[i] != want {
					t.Errorf("file %d of 3 parsed at once: events differ from one worker's", i)
				}
			}
		})
	}
}

// TestStopMidFile stops a parse from the emit callback (an error) and by
// cancelling its context, each after 1,000 events: ParseStats returns
// that error, and its helpers are gone once it has returned.
func TestStopMidFile(t *testing.T) {
	raw, err := os.ReadFile(parsertest.Corpus(t, "logs/windows/security.evtx"))
	if err != nil {
		t.Fatal(err)
	}
	errStop := errors.New("stop")
	for _, w := range []int{1, 2, 4} {
		for _, byCancel := range []bool{false, true} {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			n := 0
			src := &parsers.Source{Entry: parsertest.BytesEntry("f.evtx", raw, time.Time{}), ReaderAt: bytes.NewReader(raw),
				Size: int64(len(raw)), Zone: time.UTC, Warn: func(*parsers.RecordError) {}}
			_, err := New(w).ParseStats(ctx, src, func(*timeline.Event) error {
				if n++; n == 1000 {
					if byCancel {
						cancel()
					} else {
						return errStop
					}
				}
				return nil
			})
			cancel()
			want := errStop
			if byCancel {
				want = context.Canceled
			}
			if !errors.Is(err, want) || n > 1256 {
				t.Errorf("%d workers, cancel %v: err %v after %d events, want %v soon after 1000", w, byCancel, err, n, want)
			}
			// A helper that has called wg.Done may still be on its way
			// out: given a moment.
			after := runtime.NumGoroutine()
			for i := 0; i < 100 && after > before; i++ {
				time.Sleep(10 * time.Millisecond)
				after = runtime.NumGoroutine()
			}
			if after > before {
				t.Errorf("%d workers, cancel %v: %d goroutines after the parse, %d before", w, byCancel, after, before)
			}
		}
	}
}
