package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
)

// qemuSeeds converts a small compressible raw disk with qemu-img into each
// of the variants given (qemu-img convert options) and returns the files'
// bytes; none when qemu-img is not installed (the fuzz test then runs on
// its hand-made seeds only).
func qemuSeeds(f *testing.F, format string, variants [][]string) [][]byte {
	f.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return nil
	}
	dir := f.TempDir()
	raw := textRaw(f, dir, 256<<10)
	var seeds [][]byte
	for i, v := range variants {
		out := filepath.Join(dir, "seed"+string(rune('a'+i)))
		args := append(append([]string{"convert", "-f", "raw", "-O", format}, v...), raw, out)
		if b, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			f.Fatalf("qemu-img %v: %v\n%s", args, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzQCOW2 opens QCOW2 images, cut to size and with bytes patched in at
// off, (backing files refused) and reads the disk: no panic, no unbounded
// allocation, errors only. Seeds are qemu-img's own images of each kind
// and a bare header. The input is the patch, not the image: minimising
// every new input of a whole image took the fuzzer's time (see
// FuzzEWF).
func FuzzQCOW2(f *testing.F) {
	seeds := qemuSeeds(f, "qcow2", [][]string{
		{"-o", "compat=0.10"},
		{"-c", "-o", "cluster_size=4096"},
		{"-c", "-o", "compression_type=zstd,cluster_size=16384"},
		{"-o", "extended_l2=on,cluster_size=16384"},
		{"-o", "cluster_size=512"},
	})
	hdr := make([]byte, 512)
	copy(hdr, "QFI\xfb\x00\x00\x00\x03")
	hdr[23] = 16   // cluster_bits
	hdr[30] = 1    // size 64 KiB
	hdr[103] = 112 // header_length
	seeds = append(seeds, hdr)
	for i := range seeds {
		f.Add(uint8(i), uint32(len(seeds[i])), uint32(0), []byte{})
	}
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		r, n := fstest.PatchedSeed(seeds, which, size, off, patch)
		q, err := newQCOW2("fuzz.qcow2", r, n, nil)
		if err != nil {
			return
		}
		readSome(q)
	})
}

// readSome reads the first MiB, the last bytes and a few spots between.
func readSome(img Image) {
	buf := make([]byte, 40000)
	for off := int64(0); off < img.Size() && off < 1<<20; off += int64(len(buf)) {
		img.ReadAt(buf, off)
	}
	for _, off := range []int64{img.Size() / 3, img.Size() / 2, img.Size() - 1} {
		if off >= 0 {
			img.ReadAt(buf, off)
		}
	}
}
