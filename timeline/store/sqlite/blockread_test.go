package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestInterleavedRead reads, in time order, a store of many files written
// one after another over the same seconds (hosts' event logs of the same
// hours): every row in turn comes from another file's block, and equal
// timestamps across files are ordered by ID. The events come out in
// (ts, id) order, each once, and a block is decompressed about once per
// window that reads it: with the carry holding every file's boundary
// block, once; without it and with windows smaller than one block per
// file, about files × block / window times, not once per row as an LRU of
// blocks past its bound did (TestBlockCacheBound, "at its ceiling":
// blockRows decompressions per block). The windows' bound holds whatever
// the number of files.
func TestInterleavedRead(t *testing.T) {
	ctx := context.Background()
	s := open(t)
	const files, perFile = 48, 3 * blockRows
	base := time.Date(2024, 2, 14, 12, 0, 0, 0, time.UTC)
	for f := range files {
		evs := events(perFile, fmt.Sprintf("%02x", f))
		for i, e := range evs {
			// Every file has the same timestamps; some repeat within it.
			e.Timestamp = base.Add(time.Duration(i-i%3) * time.Second)
			e.Jejak.ID = ""
			e.Finalize()
		}
		if _, err := s.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	var want [][16]byte
	rows, err := s.db.QueryContext(ctx, "SELECT id FROM event_rows ORDER BY ts, id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id []byte
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		want = append(want, [16]byte(id))
	}
	rows.Close()
	if len(want) != files*perFile {
		t.Fatalf("%d rows, want %d", len(want), files*perFile)
	}
	var blockData int64
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM blocks").Scan(&blockData); err != nil {
		t.Fatal(err)
	}
	if blockData < 3*files {
		t.Fatalf("%d blocks for %d files: not interleaved", blockData, files)
	}

	savedStart, savedMax, savedCarry := windowStart, windowMax, carryMax
	defer func() { windowStart, windowMax, carryMax = savedStart, savedMax, savedCarry }()
	for _, c := range []struct {
		name          string
		window, carry int // 0: the defaults
		maxRatio      float64
	}{
		// The carry holds all 48 boundary blocks: each block once (the
		// first blocks of a read go through sharedBlocks, which may
		// decode one again).
		{"defaults", 0, 0, 1.1},
		// No carry, windows of a quarter of a block per file: each block
		// read by about four windows, and decompressed by each.
		{"small windows, no carry", 0, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			windowStart, windowMax, carryMax = savedStart, savedMax, savedCarry
			var block float64
			if c.carry > 0 {
				carryMax = c.carry
			}
			var got *readState
			readDone = func(rd *readState) { got = rd }
			defer func() { readDone = nil }()
			read := func() {
				i := 0
				err := s.SearchTransient(ctx, timeline.Query{}, func(e *timeline.Event) error {
					if i >= len(want) {
						return fmt.Errorf("more than %d events", len(want))
					}
					if id := want[i]; e.Jejak.ID != fmt.Sprintf("%x", id[:]) {
						return fmt.Errorf("event %d is %s, want %x", i, e.Jejak.ID, id[:])
					}
					i++
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if i != len(want) {
					t.Fatalf("%d events, want %d", i, len(want))
				}
			}
			read()
			block = float64(got.bytes.Load()) / float64(got.blocks.Load())
			if c.window == 0 && c.maxRatio == 0 {
				// A quarter of a block per file per window.
				windowStart = int(block) * files / 4
				windowMax = windowStart
				read()
			}
			ratio := float64(got.bytes.Load()) / float64(got.used.Load())
			maxRatio := c.maxRatio
			if maxRatio == 0 {
				maxRatio = float64(files)*block/float64(windowMax) + 2
			}
			t.Logf("decompressed %.2f× the documents read (block %.0f bytes, windows of %d, carry %d; %d blocks %d bytes %d used)", ratio, block, windowMax, carryMax, got.blocks.Load(), got.bytes.Load(), got.used.Load())
			if ratio > maxRatio || ratio < 0.99 {
				t.Errorf("decompressed %.2f× the documents read, want at most %.2f×", ratio, maxRatio)
			}
		})
	}
}
