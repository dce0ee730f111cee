package fat

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// fuzzSeeds are real volumes: a FAT12 and an exFAT made by mkfs.vfat,
// mtools and mkfs.exfat, and Velociraptor's fat_very_small.dd when the
// shared corpus is there.
func fuzzSeeds(f testing.TB) [][]byte {
	var seeds [][]byte
	dir := f.TempDir()
	if _, err := exec.LookPath("mkfs.vfat"); err == nil {
		img := filepath.Join(dir, "f12.img")
		src := filepath.Join(dir, "a long file name.txt")
		os.WriteFile(src, bytes.Repeat([]byte("x"), 3000), 0o644)
		ok := true
		for _, c := range [][]string{
			{"mkfs.vfat", "-C", "-F", "12", "-s", "1", "-n", "SEED", img, "256"},
			{"mmd", "-i", img, "::/d"},
			{"mcopy", "-i", img, src, "::/d/"},
			{"mcopy", "-i", img, src, "::/x.txt"},
			{"mdel", "-i", img, "::/x.txt"},
		} {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
			ok = ok && cmd.Run() == nil
		}
		if b, err := os.ReadFile(img); ok && err == nil {
			seeds = append(seeds, b)
		}
	}
	if _, err := exec.LookPath("mkfs.exfat"); err == nil {
		img := filepath.Join(dir, "ex.img")
		if os.WriteFile(img, make([]byte, 2<<20), 0o644) == nil && exec.Command("mkfs.exfat", img).Run() == nil {
			if b, err := os.ReadFile(img); err == nil {
				seeds = append(seeds, b[:1<<20])
			}
		}
	}
	if dir, err := parsertest.CorpusDir(); err == nil {
		if b, err := os.ReadFile(filepath.Join(dir, "agpl/fat/fat_very_small.dd")); err == nil {
			seeds = append(seeds, b)
		}
	}
	if len(seeds) == 0 {
		f.Skip("no seed volume: apt-get install -y dosfstools mtools exfatprogs")
	}
	return seeds
}

// FuzzWalk patches bytes into real FAT and exFAT volumes (boot sector,
// FAT, root directory and data are all in their first KiBs) and walks
// them, reading every file: no panic, no runaway memory, every problem
// with a cause, every path safe.
func FuzzWalk(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i := range seeds {
		f.Add(uint8(i), uint32(0), []byte{})
		f.Add(uint8(i), uint32(11), []byte{0, 1}) // sector size
		f.Add(uint8(i), uint32(13), []byte{0x80}) // sectors per cluster
		f.Add(uint8(i), uint32(0x200), []byte{0xff, 0xff, 0xff, 0x0f})
		f.Add(uint8(i), uint32(0x60), []byte{0xff, 0xff, 0xff, 0xff})
		f.Add(uint8(i), uint32(0x1000+11), []byte{0x10})
	}
	f.Fuzz(func(t *testing.T, which uint8, off uint32, patch []byte) {
		// The patch is read over the volume, not written into a clone of
		// it: a clone of up to 1 MiB per input was a large part of each run.
		b := seeds[int(which)%len(seeds)]
		patch = patch[:min(len(patch), fstest.MaxPatch)]
		w, err := NewWalker(fstest.Patched(b, off, patch), int64(len(b)), []string{"fuzz:"}, Options{})
		if err != nil {
			return
		}
		fstest.FuzzWalk(t, w)
	})
}
