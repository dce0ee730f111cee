package ingest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
)

// stopSink calls stop at the first batch holding an event of the mft
// parser (the $MFT parsed aside, readEntry's runAside), and fails that
// Write and every later one when fail is set.
type stopSink struct {
	mu      sync.Mutex
	stopped bool
	fail    bool
	stop    func()
}

var errSinkBroken = errors.New("sink broken")

func (s *stopSink) Write(_ context.Context, b []*timeline.Event) (timeline.WriteStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		for _, e := range b {
			if e.Jejak.Provenance.Parser == "mft" {
				s.stopped = true
				s.stop()
				break
			}
		}
	}
	if s.stopped && s.fail {
		return timeline.WriteStats{}, errSinkBroken
	}
	return timeline.WriteStats{Inserted: len(b)}, nil
}

func (s *stopSink) Close() error { return nil }

// TestMFTAsideStops: an ingest whose $MFT is parsed aside (jfs.Hold) ends,
// with an error, when it is cancelled or its sink fails while that parse
// runs: every path releases the held $MFT, so the NTFS walker's Walk
// (which waits for it) returns, and Run with it.
func TestMFTAsideStops(t *testing.T) {
	img := largeMFTVolume(t)
	for _, tc := range []struct {
		name    string
		fail    bool
		workers int
	}{
		{"cancelled, 1 worker", false, 1},
		{"cancelled, 4 workers", false, 4},
		{"sink fails, 1 worker", true, 1},
		{"sink fails, 4 workers", true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tmp := t.TempDir()
			w, err := disk.OpenEvidence(ctx, img, jfs.Options{TempDir: tmp})
			if err != nil {
				t.Fatal(err)
			}
			sink := &stopSink{fail: tc.fail, stop: func() {
				if !tc.fail {
					cancel()
				}
			}}
			done := make(chan error, 1)
			go func() {
				_, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: tmp, Workers: tc.workers, BatchSize: 20,
					Warn: func(timeline.Warning) {}}, []ingest.Item{{SHA256: "e", Name: "ntfs.img", Walker: w}}, sink)
				done <- err
			}()
			select {
			case err := <-done:
				sink.mu.Lock()
				stopped := sink.stopped
				sink.mu.Unlock()
				if !stopped {
					t.Fatal("no batch of the mft parser was written: the test stopped nothing")
				}
				if err == nil {
					t.Fatal("Run returned no error")
				}
				if tc.fail && !errors.Is(err, errSinkBroken) {
					t.Errorf("Run's error %v, want the sink's", err)
				}
				if !tc.fail && !errors.Is(err, context.Canceled) {
					t.Errorf("Run's error %v, want context.Canceled", err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("Run did not return within 60 s: a held $MFT was never released?")
			}
		})
	}
}
