package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
)

// TestBytesParsedCountsRandomAccess: bytes_parsed is the size of the files
// parsers were given, whether they streamed them or read them through
// random access. EVTX files larger than the first read were counted only
// as far as that read (256 KiB each): 10 MiB for 87 MB of EVTX.
func TestBytesParsedCountsRandomAccess(t *testing.T) {
	ev := t.TempDir()
	var want int64
	for _, f := range []string{
		"../../fixtures/corpus/logs/windows/security.evtx", // 2 MB: random access past the first read
		"../../fixtures/corpus/logs/windows/TerminalServices-RemoteConnectionManager-Operational.evtx",
		"../../fixtures/corpus/logs/linux/dpkg.log", // streamed
	} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ev, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		want += int64(len(b))
	}
	ctx := context.Background()
	w, err := jfs.Open(ctx, ev, jfs.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: t.TempDir()},
		[]ingest.Item{{SHA256: "e", Name: "evidence", Walker: w}}, &countSink{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.FilesParsed != 3 {
		t.Fatalf("%d files parsed, want 3 (summary %+v)", sum.FilesParsed, sum)
	}
	if sum.Bytes != want {
		t.Errorf("bytes_parsed = %d, want %d (the three files' sizes)", sum.Bytes, want)
	}
}
