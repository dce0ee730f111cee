package ext4

import (
	"io"
	"os"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// FuzzWalk patches bytes into a real ext4 image (superblock, group
// descriptors, inode table, directory blocks are all in its first 64 KiB)
// and walks it, reading every file: no panic, no runaway memory, every
// problem with a cause.
func FuzzWalk(f *testing.F) {
	img, err := os.ReadFile(parsertest.Corpus(f, "more/disk/ext4/hierarchy_32.ext4"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(uint32(1024), []byte{0xff, 0xff, 0xff, 0xff})          // inodes count
	f.Add(uint32(1024+0x18), []byte{5})                          // block size
	f.Add(uint32(2048+8), []byte{0, 0, 0, 0})                    // inode table location
	f.Add(uint32(0), []byte{})                                   // as is
	f.Add(uint32(5*1024+128+0x28), []byte{0x0a, 0xf3, 9, 0, 4})  // root extent header
	f.Add(uint32(40*1024), []byte{12, 0, 0, 0, 8, 0, 1, 2, 'x'}) // a directory block
	f.Fuzz(func(t *testing.T, off uint32, patch []byte) {
		// The patch is read over the image, not written into a clone of
		// it: a 1 MiB clone per input was a large part of each run.
		patch = patch[:min(len(patch), fstest.MaxPatch)]
		w, err := NewWalker(fstest.Patched(img, off, patch), int64(len(img)), []string{"fuzz:"})
		if err != nil {
			return
		}
		fstest.FuzzWalk(t, w)
	})
}

// FuzzDirBlock feeds arbitrary bytes to the directory block parser.
func FuzzDirBlock(f *testing.F) {
	f.Add([]byte("\x0c\x00\x00\x00\x0c\x00\x01\x02.\x00\x00\x00\x02\x00\x00\x00\xf4\x03\x02\x02..\x00\x00"), true)
	f.Add(make([]byte, 1024), false)
	f.Fuzz(func(t *testing.T, b []byte, hasType bool) {
		for _, d := range parseDirBlock(b, 1<<20, hasType, false, nil) {
			if d.name == "" || len(d.name) > 255 || d.inode > 1<<20 {
				t.Fatalf("bad entry %+v", d)
			}
		}
	})
}

// FuzzInode parses arbitrary inode slots, with their inline data.
func FuzzInode(f *testing.F) {
	f.Add(make([]byte, 256))
	f.Fuzz(func(t *testing.T, b []byte) {
		slot := make([]byte, 256)
		copy(slot, b)
		sb := &superblock{inodeSize: 256, blockSize: 1024, blocksCount: 1 << 20}
		in := parseInode(12, slot, sb)
		in.inlineData()
		v := &volume{r: bytesReader(make([]byte, 1<<16)), size: 1 << 16, sb: sb}
		if ra, err := v.content(in); err == nil && in.size < 1<<20 {
			io.Copy(io.Discard, io.NewSectionReader(ra, 0, in.size))
		}
	})
}
