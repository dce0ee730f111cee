package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// vhdFuzzSeed converts a small raw disk (the corpus's partitioned image when
// present, else zeros with a few bytes set) with qemu-img and returns the
// container's bytes, or nil when qemu-img is absent.
func vhdFuzzSeed(f *testing.F, format, opts string) []byte {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		return nil
	}
	dir := f.TempDir()
	raw := filepath.Join(dir, "seed.raw")
	b := make([]byte, 2<<20)
	copy(b[510:], "\x55\xaa")
	copy(b[1<<20:], "jejak fuzz seed")
	os.WriteFile(raw, b, 0o644)
	out := filepath.Join(dir, "seed."+format)
	if err := exec.Command("qemu-img", "convert", "-f", "raw", "-O", format, "-o", opts, raw, out).Run(); err != nil {
		return nil
	}
	seed, _ := os.ReadFile(out)
	return seed
}

// vhdReadSome reads an image's start, end and a few places between: no
// panic, errors only.
func vhdReadSome(img Image) {
	buf := make([]byte, 70000)
	for _, off := range []int64{0, 511, 1 << 20, img.Size() / 2, img.Size() - 1, img.Size()} {
		img.ReadAt(buf, off)
	}
}

// FuzzVHD opens VHDs (qemu-img's dynamic and fixed ones, a bare footer),
// cut and patched, (a differencing one finds no parent beside it) and
// reads them. The input is the patch, not the container: Go minimised
// each new input of a whole container for the fuzzer's whole time (see
// FuzzEWF).
func FuzzVHD(f *testing.F) {
	var seeds [][]byte
	for _, sub := range []string{"dynamic", "fixed"} {
		if s := vhdFuzzSeed(f, "vpc", "subformat="+sub+",force_size=on"); s != nil {
			seeds = append(seeds, s)
		}
	}
	ft := make([]byte, 512)
	copy(ft, vhdCookie)
	seeds = append(seeds, ft)
	for i := range seeds {
		f.Add(uint8(i), uint32(len(seeds[i])), uint32(0), []byte{})
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		r, n := fstest.PatchedSeed(seeds, which, size, off, patch)
		if !isVHD(r, n) {
			return
		}
		v, err := newVHD(r, n, filepath.Join(dir, "fuzz.vhd"), 0, Options{})
		if err != nil {
			return
		}
		vhdReadSome(v)
	})
}

// FuzzVHDX opens VHDXs (qemu-img's dynamic one, a bare signature), cut
// and patched, and reads them.
func FuzzVHDX(f *testing.F) {
	var seeds [][]byte
	if s := vhdFuzzSeed(f, "vhdx", "subformat=dynamic,block_size=1M"); s != nil {
		seeds = append(seeds, s)
	}
	seeds = append(seeds, append(append([]byte{}, vhdxSignature...), make([]byte, 320<<10)...))
	for i := range seeds {
		f.Add(uint8(i), uint32(len(seeds[i])), uint32(0), []byte{})
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		r, n := fstest.PatchedSeed(seeds, which, size, off, patch)
		v, err := newVHDX(r, filepath.Join(dir, "fuzz.vhdx"), n, 0, Options{})
		if err != nil {
			return
		}
		vhdReadSome(v)
	})
}

// FuzzCompressed opens compressed images, real ones cut and patched, as
// compressed images: the recogniser and the decoders return errors, never
// panic; a damaged stream ends the media. The input is (seed, length,
// patch offset, patch) over the seeds (fstest.PatchedSeedBytes), not the
// bytes themselves: Go's minimiser spent the fuzzer's whole time on the
// 64 KiB gzip seed (9 executions in 10 s).
func FuzzCompressed(f *testing.F) {
	seeds := [][]byte{{0x28, 0xb5, 0x2f, 0xfd, 0, 0x58, 0, 0, 0}}
	for _, rel := range []string{"more/disk/ntfs/ntfs_index.raw.gz", "archives/syslog.xz", "archives/syslog.bz2"} {
		if dir, err := parsertest.CorpusDir(); err != nil {
			break
		} else if b, err := os.ReadFile(filepath.Join(dir, rel)); err == nil {
			seeds = append(seeds, b[:min(len(b), 64<<10)])
		}
	}
	for i, s := range seeds {
		f.Add(uint8(i), uint32(len(s)), uint32(0), []byte(nil))
	}
	dir := f.TempDir()
	old, oldMax := defaultTempDir.Load(), compressedMaxMedia
	SetDefaultTempDir(dir)
	compressedMaxMedia = 8 << 20
	defer func() { defaultTempDir.Store(old); compressedMaxMedia = oldMax }()
	f.Fuzz(func(t *testing.T, which uint8, size, off uint32, patch []byte) {
		data := fstest.PatchedSeedBytes(seeds, which, size, off, patch)
		p := filepath.Join(dir, "fuzz.gz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		headLooksLikeDisk(data)
		c, err := OpenCompressed(p)
		if err != nil {
			return
		}
		vhdReadSome(c)
		c.Info()
		c.Close()
	})
}
