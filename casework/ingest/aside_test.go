package ingest_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
)

// largeMFTVolume makes an NTFS volume with mkntfs and fills it through
// ntfs-3g with files enough for a $MFT larger than one read (256 KiB: a
// smaller one is read whole by the walk and parsed on a file worker, not
// aside).
func largeMFTVolume(t *testing.T) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "ntfs.img")
	ntfstest.Format(t, img, 16<<20)
	mnt, unmount := ntfstest.Mount(t, img)
	for i := range 400 {
		writeFile(t, filepath.Join(mnt, fmt.Sprintf("d%d", i/100), fmt.Sprintf("f%03d.txt", i)), fmt.Appendf(nil, "note %d\n", i))
	}
	unmount()
	if t.Failed() {
		t.FailNow()
	}
	return img
}

// TestMFTParsedAside: the $MFT of a volume in an image is parsed beside the
// walk of the volume's other files (readEntry, runAside), and its
// warnings come after the walk's others, in the same order whatever the
// number of workers. The volume is made by mkntfs and filled through
// ntfs-3g; one MFT record ($Volume,
// entry 3) is torn (a sector's update sequence does not match), so that
// the walker reports it as a container problem, in walk order, and the
// mft parser as a record warning of the $MFT, last. The $MFT's timeline is
// read whole after its walker call returned: its events are there, and
// the file did not fail.
func TestMFTParsedAside(t *testing.T) {
	img := largeMFTVolume(t)
	tearRecord(t, img, 3)

	type result struct {
		warnings []string
		mftEvs   int
		sum      ingest.Summary
	}
	run := func(workers int) result {
		ctx := context.Background()
		tmp := t.TempDir()
		w, err := disk.OpenEvidence(ctx, img, jfs.Options{TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu  sync.Mutex
			res result
		)
		sink := &memSink{}
		res.sum, err = ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: tmp, Workers: workers, BatchSize: 20,
			Warn: func(w timeline.Warning) {
				mu.Lock()
				defer mu.Unlock()
				res.warnings = append(res.warnings, fmt.Sprintf("%s|%s|%s|%d|%s", w.Kind, w.Path, w.Parser, w.Record, w.Message))
			}}, []ingest.Item{{SHA256: "e", Name: "ntfs.img", Walker: w}}, sink)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range sink.events {
			if e.Jejak.Provenance.Parser == "mft" {
				res.mftEvs++
			}
		}
		return res
	}
	first := run(1)
	if first.mftEvs == 0 || first.sum.Parsers["mft"] == nil || first.sum.Parsers["mft"].Failed != 0 {
		t.Fatalf("mft events %d, mft stats %+v: the $MFT's timeline was not read whole", first.mftEvs, first.sum.Parsers["mft"])
	}
	// The mft parser's warnings are the last ones; the walker's problem
	// with the same record and the other files' skips come before them.
	mft, others := 0, 0
	for i, w := range first.warnings {
		if isMFTWarning(w) {
			mft++
			continue
		}
		others++
		if mft > 0 {
			t.Errorf("warning %d %q after the $MFT's: the $MFT's come last", i, w)
		}
	}
	if mft == 0 || others < 2 {
		t.Fatalf("%d warnings of the $MFT and %d others, want the torn record's and the system files' skips:\n%q", mft, others, first.warnings)
	}
	for _, workers := range []int{2, 4} {
		again := run(workers)
		if !slices.Equal(again.warnings, first.warnings) {
			t.Errorf("%d workers: warnings\n%q\nfirst run\n%q", workers, again.warnings, first.warnings)
		}
		if again.mftEvs != first.mftEvs {
			t.Errorf("%d workers: %d mft events, first run %d", workers, again.mftEvs, first.mftEvs)
		}
	}
}

func isMFTWarning(w string) bool {
	var kind, path, parser string
	for i, f := range splitN(w, 4) {
		switch i {
		case 0:
			kind = f
		case 1:
			path = f
		case 2:
			parser = f
		}
	}
	return kind == string(timeline.WarnRecord) && path == "$MFT" && parser == "mft"
}

func splitN(s string, n int) []string {
	var out []string
	for range n - 1 {
		i := indexByte(s, '|')
		if i < 0 {
			break
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	return append(out, s)
}

func indexByte(s string, c byte) int {
	for i := range len(s) {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// tearRecord damages MFT record n of the NTFS volume img as a torn write
// does: the last two bytes of its first sector no longer hold the update
// sequence number.
func tearRecord(t *testing.T, img string, n int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	boot := make([]byte, 512)
	if _, err := f.ReadAt(boot, 0); err != nil {
		t.Fatal(err)
	}
	sector := int64(binary.LittleEndian.Uint16(boot[0x0b:]))
	cluster := sector * int64(boot[0x0d])
	mft := int64(binary.LittleEndian.Uint64(boot[0x30:])) * cluster
	recSize := int64(1024)
	if c := int8(boot[0x40]); c < 0 {
		recSize = 1 << -c
	} else {
		recSize = int64(c) * cluster
	}
	off := mft + n*recSize + sector - 2
	b := make([]byte, 2)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
