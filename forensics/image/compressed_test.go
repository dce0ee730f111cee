package image

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// compressors are the command lines that write each format to stdout,
// the tools examiners use.
var compressors = map[string][]string{
	"gzip":  {"gzip", "-c", "-6"},
	"xz":    {"xz", "-c", "-1"},
	"bzip2": {"bzip2", "-c", "-1"},
	"zstd":  {"zstd", "-c", "-q", "-3"},
}

// compress writes src compressed with format's tool into dir/name.
func compress(t testing.TB, format, src, dir, name string) string {
	t.Helper()
	args := compressors[format]
	oracle.Tool(t, args[0], args[0])
	out := filepath.Join(dir, name)
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stderr strings.Builder
	cmd := exec.Command(args[0], append(args[1:], src)...)
	cmd.Stdout, cmd.Stderr = f, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v %s", args, err, stderr.String())
	}
	return out
}

// withTempDir points the default temporary folder at a fresh folder for
// the test.
func withTempDir(t *testing.T) string {
	d := t.TempDir()
	old := defaultTempDir.Load()
	SetDefaultTempDir(d)
	t.Cleanup(func() { defaultTempDir.Store(old) })
	return d
}

// TestCompressedDisks: real disks compressed by gzip, xz, bzip2 and zstd
// open through Open as the compressed format and read back the source
// bytes; the SHA-256 in the notes is the source's; nothing is left in
// the temporary folder.
func TestCompressedDisks(t *testing.T) {
	tmp := withTempDir(t)
	srcs := diskSources(t)
	delete(srcs, "random") // no disk in it: see TestCompressedAnyContent
	for name, raw := range srcs {
		for format := range compressors {
			t.Run(name+"/"+format, func(t *testing.T) {
				if name == "fs.multiple" && format != "gzip" {
					t.Skip("one format is enough for the 250 MB disk")
				}
				z := compress(t, format, raw, t.TempDir(), name+".001."+format)
				img, err := Open(z)
				if err != nil {
					t.Fatal(err)
				}
				if f := img.Info().Format; f != format+"-raw" {
					t.Fatalf("format %q", f)
				}
				checkMedia(t, img, raw)
				notes := strings.Join(img.Info().Notes, "|")
				if want := sha256File(t, raw); !strings.Contains(notes, want) {
					t.Errorf("notes %q lack the media's sha256 %s", notes, want)
				}
				if w := img.Info().Warnings; len(w) > 0 {
					t.Errorf("warnings: %q", w)
				}
				if left, _ := os.ReadDir(tmp); len(left) > 0 {
					t.Errorf("temporary folder holds %v", left)
				}
				if err := img.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestCompressedCorpusAndSamples: a gzipped NTFS image from the corpus and
// Debian's xz-compressed sample disks, against gzip's and xz's own
// decompression.
func TestCompressedCorpusAndSamples(t *testing.T) {
	withTempDir(t)
	gz := parsertest.Corpus(t, "more/disk/ntfs/ntfs_index.raw.gz")
	cases := map[string]string{gz: ""}
	for _, s := range []string{"ntfs", "multiple"} {
		if xzf := filepath.Join(oracle.SamplesDir, "fs."+s+".xz"); fileExists(xzf) {
			cases[xzf] = oracle.Sample(t, s)
		}
	}
	for z, raw := range cases {
		t.Run(filepath.Base(z), func(t *testing.T) {
			if raw == "" {
				raw = filepath.Join(t.TempDir(), "gunzipped.raw")
				out, _ := os.Create(raw)
				cmd := exec.Command("gzip", "-dc", z)
				cmd.Stdout = out
				if err := cmd.Run(); err != nil {
					t.Fatal(err)
				}
				out.Close()
			}
			img, err := Open(z)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if !strings.HasSuffix(img.Info().Format, "-raw") || img.Info().Format == "split-raw" {
				t.Fatalf("format %q", img.Info().Format)
			}
			checkMedia(t, img, raw)
		})
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// TestCompressedLogStaysFile: a compressed text log is not a disk: Open
// gives it back as a plain raw file, without decompressing it whole. The
// corpus folder holds syslog.gz beside syslog.xz and syslog.bz2, which are
// not a lettered split set either.
func TestCompressedLogStaysFile(t *testing.T) {
	for _, rel := range []string{"archives/syslog.gz", "archives/syslog.xz", "archives/syslog.bz2"} {
		img, err := Open(parsertest.Corpus(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		if f := img.Info().Format; f != "raw" {
			t.Errorf("%s: format %q, want raw", rel, f)
		}
		img.Close()
	}
}

// TestCompressedAnyContent: OpenCompressed reads any stream (random data
// here, which Open would leave alone), the media larger than the one MiB
// head, read out of order.
func TestCompressedAnyContent(t *testing.T) {
	withTempDir(t)
	raw := noiseRaw(t, 6<<20+1234)
	for format := range compressors {
		z := compress(t, format, raw, t.TempDir(), "n."+format)
		img, err := OpenCompressed(z)
		if err != nil {
			t.Fatal(err)
		}
		checkMedia(t, img, raw)
		img.Close()
		if _, err := img.ReadAt(make([]byte, 10), 2<<20); err == nil {
			t.Errorf("%s: read after Close", format)
		}
	}
}

// TestCompressedDamaged: a gzip cut in the middle keeps the media before
// the cut, with a warning naming the stream; the cut falls in the first
// MiB (held in memory) or past it (the temporary copy).
func TestCompressedDamaged(t *testing.T) {
	withTempDir(t)
	disk, err := os.ReadFile(parsertest.Corpus(t, "images/tsk_volume_system.raw"))
	if err != nil {
		t.Fatal(err)
	}
	noise, _ := os.ReadFile(noiseRaw(t, 4<<20))
	for name, want := range map[string][]byte{"short": disk, "long": append(disk, noise...)} {
		raw := filepath.Join(t.TempDir(), name+".raw")
		os.WriteFile(raw, want, 0o644)
		z := compress(t, "gzip", raw, t.TempDir(), "cut.dd.gz")
		st, _ := os.Stat(z)
		if err := os.Truncate(z, st.Size()*2/3); err != nil {
			t.Fatal(err)
		}
		img, err := Open(z)
		if err != nil {
			t.Fatal(err)
		}
		n := img.Size()
		if n <= 0 || n >= int64(len(want)) || (name == "long") != (n > compressedHead) {
			t.Fatalf("%s: size %d of %d", name, n, len(want))
		}
		got := make([]byte, n)
		if _, err := img.ReadAt(got, 0); err != nil || string(got) != string(want[:n]) {
			t.Fatalf("%s: media before the cut differs (%v)", name, err)
		}
		if w := strings.Join(img.Info().Warnings, "|"); !strings.Contains(w, "gzip stream damaged") || !strings.Contains(w, "cut.dd.gz") {
			t.Errorf("%s: warnings %q", name, w)
		}
		img.Close()
	}
}

// TestCompressedXZBlocks: xz files of several blocks (xz -T with a block
// size, and two streams concatenated with stream padding between, as cat
// of two .xz files gives) are read through the block index with no
// temporary copy; a damaged block is an error naming it, the other blocks
// still read.
func TestCompressedXZBlocks(t *testing.T) {
	withTempDir(t)
	raw := parsertest.Corpus(t, "images/tsk_volume_system.raw")
	disk, _ := os.ReadFile(raw)
	noise, _ := os.ReadFile(noiseRaw(t, 5<<20+512))
	media := append(disk, noise...)
	src := filepath.Join(t.TempDir(), "disk.raw")
	os.WriteFile(src, media, 0o644)
	oracle.Tool(t, "xz", "xz-utils")
	dir := t.TempDir()
	multi := filepath.Join(dir, "blocks.dd.xz")
	if out, err := exec.Command("sh", "-c", `xz -c -1 -T2 --block-size=700KiB "$1" > "$2"`, "sh", src, multi).CombinedOutput(); err != nil {
		t.Fatalf("xz: %v %s", err, out)
	}
	// Two streams: the first half and the rest, with 8 bytes of padding.
	half := filepath.Join(dir, "a.raw")
	os.WriteFile(half, media[:3<<20], 0o644)
	rest := filepath.Join(dir, "b.raw")
	os.WriteFile(rest, media[3<<20:], 0o644)
	streams := filepath.Join(dir, "streams.img.xz")
	if out, err := exec.Command("sh", "-c", `{ xz -c -1 --block-size=1MiB "$1"; printf '\0\0\0\0\0\0\0\0'; xz -c -1 "$2"; } > "$3"`, "sh", half, rest, streams).CombinedOutput(); err != nil {
		t.Fatalf("xz: %v %s", err, out)
	}
	for _, z := range []string{multi, streams} {
		img, err := Open(z)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := img.(*Compressed)
		if !ok || c.xz == nil || len(c.xz.blocks) < 3 {
			t.Fatalf("%s: not read through the block index (%T)", filepath.Base(z), img)
		}
		checkMedia(t, img, src)
		if c.tmp != nil {
			t.Errorf("%s: a temporary copy was made", filepath.Base(z))
		}
		if n := strings.Join(img.Info().Notes, "|"); !strings.Contains(n, "block index") {
			t.Errorf("notes %q", n)
		}
		img.Close()
	}

	// Damage in the middle of the fourth block's data.
	b, _ := os.ReadFile(multi)
	img, _ := Open(multi)
	blk := img.(*Compressed).xz.blocks[3]
	img.Close()
	b[blk.cOff+blk.unpadded/2] ^= 0x55
	bad := filepath.Join(dir, "bad.dd.xz")
	os.WriteFile(bad, b, 0o644)
	img, err := Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	buf := make([]byte, 4096)
	if _, err := img.ReadAt(buf, blk.uOff+blk.uLen/2); err == nil || !strings.Contains(err.Error(), "block 3") {
		t.Errorf("read in the damaged block: %v", err)
	}
	next := img.(*Compressed).xz.blocks[4]
	if _, err := img.ReadAt(buf, next.uOff); err != nil || string(buf) != string(media[next.uOff:next.uOff+4096]) {
		t.Errorf("the block after the damage: %v", err)
	}
}

// TestCompressedConcatenated: members or streams written one after the
// other (cat a.gz b.gz, pbzip2, zstd -T) are one media.
func TestCompressedConcatenated(t *testing.T) {
	withTempDir(t)
	raw := noiseRaw(t, 3<<20+512)
	media, _ := os.ReadFile(raw)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, media[:1<<20+4096], 0o644)
	os.WriteFile(b, media[1<<20+4096:], 0o644)
	for format, args := range compressors {
		oracle.Tool(t, args[0], args[0])
		out := filepath.Join(dir, "cat."+format)
		cmd := strings.Join(args, " ")
		if b, err := exec.Command("sh", "-c", `{ `+cmd+` "$1"; `+cmd+` "$2"; } > "$3"`, "sh", a, b, out).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", format, err, b)
		}
		img, err := OpenCompressed(out)
		if err != nil {
			t.Fatal(err)
		}
		checkMedia(t, img, raw)
		img.Close()
	}
}

// TestConcurrentReads: VHD, VHDX, a gzip temporary copy and an indexed xz
// read from eight goroutines at once give the source's bytes (run with
// -race to check the caches and the decoders' state).
func TestConcurrentReads(t *testing.T) {
	withTempDir(t)
	raw := noiseRaw(t, 5<<20+512)
	media, _ := os.ReadFile(raw)
	dir := t.TempDir()
	xzf := filepath.Join(dir, "c.xz")
	if out, err := exec.Command("sh", "-c", `xz -c -1 -T2 --block-size=600KiB "$1" > "$2"`, "sh", raw, xzf).CombinedOutput(); err != nil {
		t.Fatalf("xz: %v %s", err, out)
	}
	paths := []string{
		qemuConvert(t, raw, "vpc", "subformat=dynamic,force_size=on", "c.vhd"),
		qemuConvert(t, raw, "vhdx", "subformat=dynamic", "c.vhdx"),
		compress(t, "gzip", raw, dir, "c.gz"),
		xzf,
	}
	for _, p := range paths {
		var img Image
		var err error
		if strings.HasSuffix(p, "z") {
			img, err = OpenCompressed(p)
		} else {
			img, err = Open(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for g := range 8 {
			go func() {
				r := rand.New(rand.NewPCG(uint64(g), 3))
				buf := make([]byte, 300<<10)
				for range 40 {
					off := r.Int64N(int64(len(media)))
					n, _ := img.ReadAt(buf, off)
					if string(buf[:n]) != string(media[off:off+int64(n)]) || (n < len(buf) && off+int64(n) != int64(len(media))) {
						errs <- fmt.Errorf("%s: %d bytes at %d differ", filepath.Base(p), n, off)
						return
					}
				}
				errs <- nil
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		img.Close()
	}
}

// TestCompressedFactsAcrossOpens: a compressed disk opened again in the
// same run (recognised, then walked) reports the media's SHA-256 and the
// damage the first decompression found before decompressing again, and a
// new decompression that gives other media is a warning.
func TestCompressedFactsAcrossOpens(t *testing.T) {
	withTempDir(t)
	disk, _ := os.ReadFile(parsertest.Corpus(t, "images/tsk_volume_system.raw"))
	noise, _ := os.ReadFile(noiseRaw(t, 3<<20))
	raw := filepath.Join(t.TempDir(), "d.raw")
	os.WriteFile(raw, append(disk, noise...), 0o644)
	z := compress(t, "gzip", raw, t.TempDir(), "d.dd.gz")
	st, _ := os.Stat(z)
	os.Truncate(z, st.Size()*3/4)
	first, err := Open(z)
	if err != nil {
		t.Fatal(err)
	}
	n := first.Size()
	sum := first.(*Compressed).MediaSHA256()
	first.Close()
	second, err := Open(z)
	if err != nil {
		t.Fatal(err)
	}
	in := second.Info()
	if notes := strings.Join(in.Notes, "|"); !strings.Contains(notes, sum) || !strings.Contains(notes, fmt.Sprint(n)) {
		t.Errorf("second open, before reading: notes %q lack the first decompression's %d bytes, sha256 %s", notes, n, sum)
	}
	if w := strings.Join(in.Warnings, "|"); !strings.Contains(w, "damaged") {
		t.Errorf("second open, before reading: warnings %q", w)
	}
	// A fact that does not match what the file decompresses to.
	c := second.(*Compressed)
	mediaFacts.Store(c.key, mediaFact{size: n, sum: "0000"})
	if second.Size() != n {
		t.Fatalf("size %d, want %d", second.Size(), n)
	}
	if w := strings.Join(second.Info().Warnings, "|"); !strings.Contains(w, "other media than earlier") || !strings.Contains(w, "damaged") {
		t.Errorf("warnings %q", w)
	}
	second.Close()
}

// TestOpenWithTempDir: two compressed images opened at once, each with its
// own Options.TempDir (two cases read in one process), are decompressed
// each into its own folder while the process default changes under them;
// Open without options uses the default. A QCOW2 whose backing file is
// the compressed image passes its options down the chain. Run with -race.
func TestOpenWithTempDir(t *testing.T) {
	raw := parsertest.Corpus(t, "images/tsk_volume_system.raw")
	src := t.TempDir()
	gz := compress(t, "gzip", raw, src, "disk.raw.gz")
	zst := compress(t, "zstd", raw, src, "disk.raw.zst")
	old := defaultTempDir.Load()
	t.Cleanup(func() { defaultTempDir.Store(old) })
	dflt := t.TempDir()
	SetDefaultTempDir(dflt)
	want := sha256File(t, raw)

	t.Run("concurrent", func(t *testing.T) {
		for _, z := range []string{gz, zst, gz, zst} {
			t.Run(filepath.Base(z), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				SetDefaultTempDir(t.TempDir()) // another case setting the default meanwhile
				img, err := OpenWith(z, Options{TempDir: dir})
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				if got := sha256Image(t, img); got != want {
					t.Fatalf("sha256 %s, want %s", got, want)
				}
				c := img.(*Compressed)
				if c.tmp == nil || filepath.Dir(c.tmp.Name()) != dir {
					t.Fatalf("decompressed copy %v, want one in %s", c.tmp, dir)
				}
				if n := strings.Join(img.Info().Notes, "|"); !strings.Contains(n, "temporary copy in "+dir+",") {
					t.Errorf("notes %q do not name %s", n, dir)
				}
			})
		}
	})

	SetDefaultTempDir(dflt)
	img, err := Open(gz)
	if err != nil {
		t.Fatal(err)
	}
	sha256Image(t, img)
	if c := img.(*Compressed); c.tmp == nil || filepath.Dir(c.tmp.Name()) != dflt {
		t.Errorf("Open: copy %v, want one in the default %s", c.tmp, dflt)
	}
	img.Close()

	// A backing chain: qemu-img records the .gz as a raw backing file.
	oracle.Tool(t, "qemu-img", "qemu-utils")
	child := filepath.Join(src, "child.qcow2")
	oracle.Run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", gz, "-F", "raw", child)
	dir := t.TempDir()
	q, err := OpenWith(child, Options{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if n := strings.Join(q.Info().Notes, "|"); !strings.Contains(n, "backing file: gzip-compressed raw image") || !strings.Contains(n, " in "+dir) {
		t.Errorf("chain notes %q do not name %s", n, dir)
	}
}
