package ext4

import (
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestTruncated walks the Debian ext4 sample cut in half: the parts past the
// cut are reported with their offsets, everything before it is still walked.
func TestTruncated(t *testing.T) {
	path := oracle.Sample(t, "ext4")
	f, size := fstest.OpenFile(t, path)
	const start = 2048 * 512
	full, err := NewWalker(io.NewSectionReader(f, start, size-start), size-start, []string{"raw:"})
	if err != nil {
		t.Fatal(err)
	}
	all, _, _ := fstest.WalkBodies(t, full)
	cut := int64(400 << 10) // through the inode table (blocks 273-496 of 1 KiB, flex_bg)
	w, err := NewWalker(io.NewSectionReader(f, start, cut), cut, []string{"raw:"})
	if err != nil {
		t.Fatal(err)
	}
	got, _, probs := fstest.WalkBodies(t, w)
	if len(probs) == 0 {
		t.Fatal("no problem reported for a truncated volume")
	}
	for _, p := range probs {
		if !errors.Is(p, jfs.ErrTruncated) || p.Offset < 0 {
			t.Errorf("problem %v at offset %d: want ErrTruncated with an offset", p, p.Offset)
		}
	}
	if len(got) == 0 || len(got) >= len(all) {
		t.Errorf("truncated walk yielded %d of %d entries", len(got), len(all))
	}
	for k, b := range got {
		if all[k] != b {
			t.Errorf("%s differs from the full walk", k)
		}
	}
	t.Logf("%d of %d entries before the cut, %d problems, first: %v", len(got), len(all), len(probs), probs[0])
}

// TestCorruptInode breaks the extent header of one file's inode, found by
// debugfs imap: the walk names the inode and its offset, still yields the
// file's times, and reads every other file.
func TestCorruptInode(t *testing.T) {
	img, _ := build(t, variants[0])
	stat := string(oracle.Run(t, "debugfs", "-R", "imap docs/report.txt", img))
	m := regexp.MustCompile(`Inode (\d+) is part of block group \d+\s+located at block (\d+), offset (0x[0-9a-f]+)`).FindStringSubmatch(stat)
	if m == nil {
		t.Fatalf("debugfs imap: %s", stat)
	}
	blk, _ := strconv.ParseInt(m[2], 10, 64)
	within, _ := strconv.ParseInt(m[3], 0, 64)
	off := blk*4096 + within
	fw, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fw.WriteAt([]byte{0xde, 0xad}, off+0x28) // extent magic
	fw.Close()

	f, size := fstest.OpenFile(t, img)
	w, err := NewWalker(f, size, []string{"raw:"})
	if err != nil {
		t.Fatal(err)
	}
	got, entries, probs := fstest.WalkBodies(t, w)
	if len(probs) != 1 || probs[0].Offset != off || probs[0].Path != "docs/report.txt" || !errors.Is(probs[0], jfs.ErrCorrupt) {
		t.Fatalf("problems %v, want one ErrCorrupt for docs/report.txt at offset %d", probs, off)
	}
	e := entries["/docs/report.txt|"+m[1]]
	if e == nil || e.Times.Modified.IsZero() {
		t.Fatalf("the damaged file's entry and times must still be yielded: %+v", e)
	}
	if _, err := e.Open(); err == nil {
		t.Error("content of a file with a broken extent tree opened without error")
	}
	if len(got) < 300 {
		t.Errorf("only %d entries walked", len(got))
	}
}

// TestBadSuperblock: no walker over garbage or a cut superblock.
func TestBadSuperblock(t *testing.T) {
	b := make([]byte, 4096)
	if _, err := NewWalker(bytesReader(b), int64(len(b)), nil); !errors.Is(err, ErrNotExt) {
		t.Errorf("zeros: %v", err)
	}
	b[1024+0x38], b[1024+0x39] = 0x53, 0xef
	b[1024+0x18] = 40 // block size 2^40 KiB
	if _, err := NewWalker(bytesReader(b), int64(len(b)), nil); !errors.Is(err, jfs.ErrCorrupt) {
		t.Errorf("absurd block size: %v", err)
	}
	if _, err := NewWalker(bytesReader(b[:1500]), 1500, nil); !errors.Is(err, jfs.ErrTruncated) {
		t.Errorf("cut superblock: %v", err)
	}
}

type bytesReader []byte

func (b bytesReader) ReadAt(p []byte, off int64) (int, error) {
	return (&byteReader{b}).ReadAt(p, off)
}
