package sqlite

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// writeEncoded writes batch as the ingest's emitters do when the store
// encodes ahead: each event added as it is made, then WriteEncoded.
func writeEncoded(s *Store, batch []*timeline.Event) (timeline.WriteStats, error) {
	enc := s.NewEncoding()
	for _, e := range batch {
		enc.Add(e)
	}
	return s.WriteEncoded(context.Background(), batch, enc)
}

// TestWriteEncodedStoresTheSame: batches encoded ahead store the same rows
// and blocks, byte for byte (Digest), as Write stores, written behind or
// in line, and count the same; another store's encoding, or one that does
// not hold the batch, is written by Write.
func TestWriteEncodedStoresTheSame(t *testing.T) {
	ctx := context.Background()
	batches := func() [][]*timeline.Event {
		return [][]*timeline.Event{events(700, "aa"), farAndBare(), events(1, "bb"), events(12000, "cc"),
			mixedParsers(), events(2*encodeChunk, "hh"), events(behindChunks*encodeChunk+3000, "ee")}
	}
	for _, behind := range []bool{false, true} {
		var digests [2][]byte
		for i, ahead := range []bool{false, true} {
			s, _ := firstRun(t, behind)
			for _, b := range batches() {
				var st timeline.WriteStats
				var err error
				if ahead {
					st, err = writeEncoded(s, b)
				} else {
					st, err = s.Write(ctx, b)
				}
				if err != nil {
					t.Fatal(err)
				}
				if st.Inserted != len(b) || st.Duplicates != 0 {
					t.Errorf("behind %v, ahead %v: Write of %d = %+v", behind, ahead, len(b), st)
				}
			}
			// An encoding short of its batch, and another store's.
			other := open(t)
			odd := events(300, "ff")
			enc := other.NewEncoding()
			for _, e := range odd {
				enc.Add(e)
			}
			if _, err := s.WriteEncoded(ctx, odd, enc); err != nil {
				t.Fatal(err)
			}
			short := events(300, "gg")
			enc = s.NewEncoding()
			for _, e := range short[:299] {
				enc.Add(e)
			}
			if _, err := s.WriteEncoded(ctx, short, enc); err != nil {
				t.Fatal(err)
			}
			finish(t, s, 0)
			var read bytes.Buffer
			if _, err := Digest(ctx, s.DB(), &read); err != nil {
				t.Fatal(err)
			}
			digests[i] = read.Bytes()
		}
		if !bytes.Equal(digests[0], digests[1]) {
			t.Errorf("behind %v: the store encoded ahead differs from Write's at byte %d", behind, firstDiff(digests[0], digests[1]))
		}
	}
	// Not a first run: against the unique index, repeats counted.
	s := open(t)
	write(t, s, events(500, "aa"))
	st, err := writeEncoded(s, events(600, "aa"))
	if err != nil || st.Inserted != 100 || st.Duplicates != 500 {
		t.Errorf("WriteEncoded over 500 stored events = %+v, %v; want 100 inserted, 500 duplicates", st, err)
	}
}

// TestWriteEncodedFailures: an event that cannot be encoded fails its
// batch's WriteEncoded as it fails Write: the batch rolled back, the
// batches before it kept, FinishWrites reporting it, the digest refused.
func TestWriteEncodedFailures(t *testing.T) {
	ctx := context.Background()
	for _, behind := range []bool{false, true} {
		s, _ := firstRun(t, behind)
		if _, err := writeEncoded(s, events(500, "aa")); err != nil {
			t.Fatal(err)
		}
		bad := events(2*encodeChunk+300, "bb")
		bad[encodeChunk+250].Jejak.ID = "not hex"
		if _, err := writeEncoded(s, bad); err == nil || !strings.Contains(err.Error(), "not 32 hex digits") {
			t.Fatalf("behind %v: WriteEncoded of a bad ID: %v", behind, err)
		}
		_, err := s.FinishWrites(ctx)
		if behind && (err == nil || !strings.Contains(err.Error(), "not 32 hex digits")) {
			t.Errorf("FinishWrites after a failed batch: %v", err)
		}
		if n := count(t, s); n != 500 {
			t.Errorf("behind %v: %d rows stored, want the first batch's 500", behind, n)
		}
		if _, ok, _ := s.FinishDigest(ctx); ok {
			t.Errorf("behind %v: FinishDigest vouched for a run whose write failed", behind)
		}
	}
}

// TestEncodingOpenLeavesGaps: the inserter keeps its transaction open for
// a batch being encoded ahead (linger), but a caller waiting for a gap
// between transactions gets it at once, not after behindTx.
func TestEncodingOpenLeavesGaps(t *testing.T) {
	s, _ := firstRun(t, true)
	open := s.NewEncoding()
	open.Add(events(1, "zz")[0])
	if _, err := writeEncoded(s, events(3000, "aa")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // the inserter lingers
	begun := time.Now()
	if err := s.BetweenWrites(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begun); d >= behindTx/2 {
		t.Errorf("BetweenWrites waited %v for the lingering inserter", d)
	}
	open.Discard()
	finish(t, s, 0)
	if n := count(t, s); n != 3000 {
		t.Errorf("%d rows stored, want 3000", n)
	}
}
