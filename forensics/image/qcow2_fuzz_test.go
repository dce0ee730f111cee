package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
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

// FuzzQCOW2 opens arbitrary bytes as a QCOW2 image (backing files refused)
// and reads the disk: no panic, no unbounded allocation, errors only.
// Seeds are qemu-img's own images of each kind.
func FuzzQCOW2(f *testing.F) {
	for _, s := range qemuSeeds(f, "qcow2", [][]string{
		{"-o", "compat=0.10"},
		{"-c", "-o", "cluster_size=4096"},
		{"-c", "-o", "compression_type=zstd,cluster_size=16384"},
		{"-o", "extended_l2=on,cluster_size=16384"},
		{"-o", "cluster_size=512"},
	}) {
		f.Add(s)
	}
	hdr := make([]byte, 512)
	copy(hdr, "QFI\xfb\x00\x00\x00\x03")
	hdr[23] = 16   // cluster_bits
	hdr[30] = 1    // size 64 KiB
	hdr[103] = 112 // header_length
	f.Add(hdr)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := newQCOW2("fuzz.qcow2", bytes.NewReader(data), int64(len(data)), nil)
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
