package image

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// rawSource is a raw disk a virtual-disk test converts with qemu-img.
type rawSource struct{ name, path string }

// rawSources are real raw images of the shared corpus (a partitioned disk,
// an ext4 and an NTFS file system) and a random-data disk with a run of
// zeros, whose sparse conversions leave clusters unallocated.
func rawSources(t *testing.T) []rawSource {
	t.Helper()
	dir := t.TempDir()
	ntfs := filepath.Join(dir, "ntfs_index.raw")
	gunzip(t, parsertest.Corpus(t, "more/disk/ntfs/ntfs_index.raw.gz"), ntfs)
	return []rawSource{
		{"tsk_volume_system", parsertest.Corpus(t, "images/tsk_volume_system.raw")},
		{"ext4_hierarchy", parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4")},
		{"ntfs_index", ntfs},
		{"random", randomRaw(t, dir, 3<<20+7*512)},
	}
}

func gunzip(t testing.TB, src, dst string) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// randomRaw writes size bytes of seeded random data with a 1 MiB run of
// zeros from offset 1 MiB (sparse formats leave it unallocated).
func randomRaw(t testing.TB, dir string, size int) string {
	t.Helper()
	b := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	if size >= 2<<20 {
		clear(b[1<<20 : 2<<20])
	}
	p := filepath.Join(dir, "random.raw")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// textRaw writes size bytes of numbered text lines, which compress well.
func textRaw(t testing.TB, dir string, size int) string {
	t.Helper()
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %08d of a compressible disk\n", i)
	}
	p := filepath.Join(dir, "text.raw")
	if err := os.WriteFile(p, b.Bytes()[:size], 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func qemuImg(t testing.TB, args ...string) {
	t.Helper()
	oracle.Tool(t, "qemu-img", "qemu-utils")
	oracle.Run(t, "qemu-img", args...)
}

// createEncrypted runs qemu-img create for an encrypted image. qemu times
// its key derivation in thread CPU milliseconds before it writes the LUKS
// header, and on a fast idle machine the first round can take under one:
// it then fails with "Unable to get accurate CPU usage" (crypto/pbkdf.c).
// That is qemu measuring itself, not the image: try again, a few times.
func createEncrypted(t testing.TB, img string, args ...string) {
	t.Helper()
	oracle.Tool(t, "qemu-img", "qemu-utils")
	for try := 1; ; try++ {
		out, err := exec.Command("qemu-img", append([]string{"create"}, args...)...).CombinedOutput()
		if err == nil {
			return
		}
		if try == 5 || !bytes.Contains(out, []byte("Unable to get accurate CPU usage")) {
			t.Fatalf("qemu-img create %s: %v\n%s", img, err, out)
		}
		os.Remove(img)
	}
}

func qemuIO(t testing.TB, img, fmtName string, cmds ...string) {
	t.Helper()
	oracle.Tool(t, "qemu-io", "qemu-utils")
	args := []string{"-f", fmtName}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	oracle.Run(t, "qemu-io", append(args, img)...)
}

// sameAsRaw checks that img reads as the bytes of the raw file want (zero
// padded to the virtual size qemu-img rounds up to whole sectors): the
// SHA-256 of the whole disk, and random ReadAt spots of random lengths.
func sameAsRaw(t *testing.T, img Image, want []byte) {
	t.Helper()
	size := (int64(len(want)) + 511) &^ 511
	if img.Size() != size {
		t.Fatalf("virtual size %d, want %d", img.Size(), size)
	}
	padded := append(append([]byte(nil), want...), make([]byte, size-int64(len(want)))...)
	wantSum := sha256.Sum256(padded)
	if got := sha256Image(t, img); got != hex.EncodeToString(wantSum[:]) {
		t.Fatalf("virtual disk SHA-256 %s, the raw source's %x", got, wantSum)
	}
	r := rand.New(rand.NewPCG(uint64(size), 7))
	for range 300 {
		off := r.Int64N(size)
		n := 1 + r.Int64N(min(size-off, 300000))
		buf := make([]byte, n)
		if k, err := img.ReadAt(buf, off); err != nil || int64(k) != n {
			t.Fatalf("ReadAt(%d bytes at %d): %d, %v", n, off, k, err)
		}
		if !bytes.Equal(buf, padded[off:off+n]) {
			t.Fatalf("ReadAt(%d bytes at %d) differs from the raw source", n, off)
		}
	}
	buf := make([]byte, 4096)
	if k, err := img.ReadAt(buf, size-100); k != 100 || err != io.EOF {
		t.Fatalf("read across the end: %d, %v; want 100, io.EOF", k, err)
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// infoFacts runs a libyal info tool and returns its format version (or
// disk type) and media size lines' values.
func infoFacts(t *testing.T, tool, pkg, path, key string) (string, int64) {
	t.Helper()
	oracle.Tool(t, tool, pkg)
	out := string(oracle.Run(t, tool, path))
	var val string
	if m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(key) + `\s*:\s*(.+)$`).FindStringSubmatch(out); m != nil {
		val = strings.TrimSpace(m[1])
	}
	m := regexp.MustCompile(`(?m)^\s*Media size\s*:.*\((\d+) bytes\)`).FindStringSubmatch(out)
	if m == nil || val == "" {
		t.Fatalf("%s %s: no %q or media size in:\n%s", tool, path, key, out)
	}
	size, _ := strconv.ParseInt(m[1], 10, 64)
	return val, size
}

// TestQCOW2ConvertedSameAsRaw converts each raw source with qemu-img into
// every QCOW2 variant a reader meets and reads it back byte for byte;
// qcowinfo (libqcow) is the oracle for the format version and media size.
func TestQCOW2ConvertedSameAsRaw(t *testing.T) {
	variants := []struct {
		name    string
		opts    []string
		version string // "" where qcowinfo refuses the image (libqcow
		// 20201213 knows neither zstd nor extended L2 entries)
	}{
		{"v3", nil, "3"},
		{"v2", []string{"-o", "compat=0.10"}, "2"},
		{"zlib", []string{"-c"}, "3"},
		{"zlib-v2-4k", []string{"-c", "-o", "compat=0.10,cluster_size=4096"}, "2"},
		{"zstd", []string{"-c", "-o", "compression_type=zstd"}, ""},
		{"512b-clusters", []string{"-o", "cluster_size=512"}, "3"},
		{"2m-clusters", []string{"-o", "cluster_size=2M"}, "3"},
		{"extended-l2", []string{"-o", "extended_l2=on"}, ""},
		{"extended-l2-zstd", []string{"-c", "-o", "extended_l2=on,compression_type=zstd,cluster_size=32k"}, ""},
	}
	for _, src := range rawSources(t) {
		want := readFile(t, src.path)
		for _, v := range variants {
			t.Run(src.name+"/"+v.name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "disk.qcow2")
				qemuImg(t, append(append([]string{"convert", "-f", "raw", "-O", "qcow2"}, v.opts...), src.path, out)...)
				img, err := Open(out)
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				info := img.Info()
				if info.Format != "qcow2" || len(info.Segments) != 1 || info.Segments[0] != out || len(info.Warnings) > 0 {
					t.Fatalf("info %+v", info)
				}
				version, size := "3", img.Size()
				if v.version != "" {
					version, size = infoFacts(t, "qcowinfo", "libqcow-utils", out, "Format version")
				}
				if version != v.version && v.version != "" || info.Metadata["format_version"] != version || size != img.Size() {
					t.Fatalf("version %q size %d; qcowinfo says version %s, %d bytes", info.Metadata["format_version"], img.Size(), version, size)
				}
				sameAsRaw(t, img, want)
			})
		}
	}
}

// TestQCOW2BackingFile: an overlay made with qemu-img create -b over a raw
// base, written to by qemu-io (whole clusters, part of a cluster, zeroed
// ranges), reads as the base with the same writes applied; its backing
// file is found beside it when the folder has moved, and a missing one is
// an error naming it.
func TestQCOW2BackingFile(t *testing.T) {
	for _, opts := range []string{"compat=1.1", "compat=0.10", "extended_l2=on", "extended_l2=on,cluster_size=1M"} {
		t.Run(opts, func(t *testing.T) {
			dir := t.TempDir()
			base := randomRaw(t, dir, 5<<20)
			want := readFile(t, base)
			over := filepath.Join(dir, "overlay.qcow2")
			// A relative name, as an examiner's copy keeps it.
			qemuImg(t, "create", "-f", "qcow2", "-o", opts, "-b", "random.raw", "-F", "raw", over)
			writes := []struct {
				off, n int
				fill   byte
				zero   bool
			}{
				{0, 512, 0xa1, false},
				{70000, 4096, 0xb2, false},
				{1 << 20, 65536, 0xc3, false},
				{2<<20 + 1024, 3000 * 512, 0xd4, false},
				{3 << 20, 128 << 10, 0, true},
				{(5 << 20) - 8192, 8192, 0xe5, false},
			}
			var cmds []string
			for _, w := range writes {
				if w.zero {
					cmds = append(cmds, fmt.Sprintf("write -z %d %d", w.off, w.n))
				} else {
					cmds = append(cmds, fmt.Sprintf("write -P 0x%x %d %d", w.fill, w.off, w.n))
				}
				for i := w.off; i < w.off+w.n; i++ {
					want[i] = w.fill
				}
			}
			qemuIO(t, over, "qcow2", cmds...)
			img, err := Open(over)
			if err != nil {
				t.Fatal(err)
			}
			info := img.Info()
			if len(info.Segments) != 2 || info.Segments[1] != base || info.Metadata["backing_file"] != "random.raw" || info.Metadata["backing_format"] != "raw" || len(info.Notes) == 0 {
				t.Fatalf("info %+v", info)
			}
			sameAsRaw(t, img, want)
			img.Close()

			// Moved: the overlay and its base in another folder, the base
			// recorded by an absolute name that no longer exists.
			moved := t.TempDir()
			qemuImg(t, "rebase", "-u", "-f", "qcow2", "-b", "/nonexistent/evidence/random.raw", "-F", "raw", over)
			for _, f := range []string{over, base} {
				if err := os.Rename(f, filepath.Join(moved, filepath.Base(f))); err != nil {
					t.Fatal(err)
				}
			}
			img, err = Open(filepath.Join(moved, "overlay.qcow2"))
			if err != nil {
				t.Fatal(err)
			}
			sameAsRaw(t, img, want)
			img.Close()

			os.Remove(filepath.Join(moved, "random.raw"))
			_, err = Open(filepath.Join(moved, "overlay.qcow2"))
			var miss *MissingSegmentError
			if !errors.As(err, &miss) || !strings.Contains(err.Error(), "random.raw") {
				t.Fatalf("missing backing file: err %v, want a MissingSegmentError naming random.raw", err)
			}
		})
	}
}

// TestQCOW2BackingNeverEscapesFolder: a relative backing name that climbs
// out of the image's folder is looked for beside the image only.
func TestQCOW2BackingNeverEscapesFolder(t *testing.T) {
	root := t.TempDir()
	sub := filepath.Join(root, "case")
	os.Mkdir(sub, 0o755)
	randomRaw(t, root, 1<<20) // ../random.raw exists, outside the folder
	over := filepath.Join(sub, "o.qcow2")
	qemuImg(t, "create", "-f", "qcow2", "-u", "-b", "../random.raw", "-F", "raw", over, "1M")
	if _, err := Open(over); err == nil || !strings.Contains(err.Error(), filepath.Join(sub, "random.raw")) {
		t.Fatalf("err %v, want the backing file missing beside the image", err)
	}
}

// TestQCOW2QCOW2Chain: a qcow2 overlay of a compressed qcow2 base.
func TestQCOW2QCOW2Chain(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 2<<20)
	want := readFile(t, raw)
	qemuImg(t, "convert", "-c", "-f", "raw", "-O", "qcow2", raw, filepath.Join(dir, "base.qcow2"))
	top := filepath.Join(dir, "top.qcow2")
	qemuImg(t, "create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
	qemuIO(t, top, "qcow2", "write -P 0x5a 100000 200000")
	for i := 100000; i < 300000; i++ {
		want[i] = 0x5a
	}
	img, err := Open(top)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if segs := img.Info().Segments; len(segs) != 2 || filepath.Base(segs[1]) != "base.qcow2" {
		t.Fatalf("segments %v", segs)
	}
	sameAsRaw(t, img, want)
}

// TestQCOW2Snapshots: internal snapshots are not read; the active state is,
// and a note says so.
func TestQCOW2Snapshots(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 2<<20)
	want := readFile(t, raw)
	q := filepath.Join(dir, "s.qcow2")
	qemuImg(t, "convert", "-f", "raw", "-O", "qcow2", raw, q)
	qemuImg(t, "snapshot", "-c", "before", q)
	qemuIO(t, q, "qcow2", "write -P 0x77 4096 65536")
	for i := 4096; i < 4096+65536; i++ {
		want[i] = 0x77
	}
	img, err := Open(q)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	info := img.Info()
	if len(info.Notes) != 1 || !strings.Contains(info.Notes[0], "1 internal snapshot") || info.Metadata["snapshots"] != "1" {
		t.Fatalf("notes %q", info.Notes)
	}
	if _, n := infoFacts(t, "qcowinfo", "libqcow-utils", q, "Number of snapshots"); n != img.Size() {
		t.Fatalf("qcowinfo media size %d, ours %d", n, img.Size())
	}
	sameAsRaw(t, img, want)
}

// TestQCOW2EncryptedRefused: LUKS- and AES-encrypted images are refused
// by name.
func TestQCOW2EncryptedRefused(t *testing.T) {
	for format, want := range map[string]string{"luks": "QCOW2 encrypted (LUKS", "aes": "QCOW2 encrypted (AES"} {
		q := filepath.Join(t.TempDir(), format+".qcow2")
		createEncrypted(t, q, "-f", "qcow2", "--object", "secret,id=sec0,data=letmein", "-o", "encrypt.format="+format+",encrypt.key-secret=sec0"+map[string]string{"luks": ",encrypt.iter-time=10"}[format], q, "4M")
		_, err := Open(q)
		var u *UnsupportedError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "not supported") || !strings.Contains(err.Error(), q) {
			t.Fatalf("err %v, want an UnsupportedError naming %s and the file", err, want)
		}
	}
}

// TestQCOW2Damaged: damage to a table or a compressed cluster is an error
// naming the file and offset, the rest of the disk stays readable; a
// truncated file is refused at open when its L1 table is gone.
func TestQCOW2Damaged(t *testing.T) {
	dir := t.TempDir()
	raw := textRaw(t, dir, 2<<20) // compressible: every cluster is stored compressed
	want := readFile(t, raw)
	q := filepath.Join(dir, "c.qcow2")
	qemuImg(t, "convert", "-c", "-f", "raw", "-O", "qcow2", raw, q)
	b := readFile(t, q)
	img, err := Open(q)
	if err != nil {
		t.Fatal(err)
	}
	// Find the host offset of virtual cluster 3's compressed data and
	// scribble over it.
	qc := img.(*QCOW2)
	entry, _, err := qc.l2Entry(3)
	if err != nil || entry&qcow2CompressedFlag == 0 {
		t.Fatalf("cluster 3: entry %x, %v", entry, err)
	}
	host := int64(entry & (1<<(62-(qc.clusterBits-8)) - 1))
	img.Close()
	copy(b[host:], bytes.Repeat([]byte{0xff}, 64))
	bad := filepath.Join(dir, "bad.qcow2")
	os.WriteFile(bad, b, 0o644)
	img, err = Open(bad)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	buf := make([]byte, 65536)
	_, err = img.ReadAt(buf, 3*65536)
	var ce *ClusterError
	if !errors.As(err, &ce) || ce.Offset != host || ce.Virtual != 3*65536 || !strings.Contains(err.Error(), "bad.qcow2") {
		t.Fatalf("damaged cluster: err %v, want a ClusterError at file offset %d", err, host)
	}
	if _, err := img.ReadAt(buf, 4*65536); err != nil || !bytes.Equal(buf, want[4*65536:5*65536]) {
		t.Fatalf("the next cluster: %v", err)
	}
	trunc := filepath.Join(dir, "trunc.qcow2")
	os.WriteFile(trunc, readFile(t, q)[:300000], 0o644)
	if img, err := Open(trunc); err == nil {
		// The L1 table may sit early: then the lost clusters fail on read.
		_, rerr := io.Copy(io.Discard, io.NewSectionReader(img, 0, img.Size()))
		if !errors.As(rerr, &ce) {
			t.Fatalf("truncated image read whole: %v", rerr)
		}
		img.Close()
	} else if !strings.Contains(err.Error(), "trunc.qcow2") {
		t.Fatalf("truncated: %v", err)
	}
}

// TestVirtualDisksConcurrentReads: ReadAt from several goroutines at once
// (io.ReaderAt's contract) on compressed QCOW2 (zlib, zstd) and VMDK
// images returns the raw source's bytes; run with -race it checks the
// caches and decoders are shared safely.
func TestVirtualDisksConcurrentReads(t *testing.T) {
	dir := t.TempDir()
	raw := textRaw(t, dir, 3<<20)
	want := readFile(t, raw)
	for _, v := range [][]string{
		{"-O", "qcow2", "-c"},
		{"-O", "qcow2", "-c", "-o", "compression_type=zstd"},
		{"-O", "vmdk", "-o", "subformat=streamOptimized"},
	} {
		out := filepath.Join(dir, strings.Join(v, "")+".img")
		qemuImg(t, append(append([]string{"convert", "-f", "raw"}, v...), raw, out)...)
		img, err := Open(out)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 4)
		for w := range 4 {
			go func() {
				r := rand.New(rand.NewPCG(uint64(w), 3))
				buf := make([]byte, 100000)
				for range 50 {
					off := r.Int64N(img.Size() - int64(len(buf)))
					if _, err := img.ReadAt(buf, off); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(buf, want[off:off+int64(len(buf))]) {
						errs <- fmt.Errorf("%v: bytes at %d differ", v, off)
						return
					}
				}
				errs <- nil
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		img.Close()
	}
}

// TestQCOW2FeatureBits: the dirty bit is a note, the corrupt bit a
// warning, an unknown incompatible feature or an external data file a
// refusal naming it; the image reads the same with the first two.
func TestQCOW2FeatureBits(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 1<<20)
	want := readFile(t, raw)
	q := filepath.Join(dir, "f.qcow2")
	qemuImg(t, "convert", "-f", "raw", "-O", "qcow2", raw, q)
	orig := readFile(t, q)
	for _, c := range []struct {
		bit                byte
		note, warn, refuse string
	}{
		{1 << 0, "marked dirty", "", ""},
		{1 << 1, "", "marked corrupt", ""},
		{1 << 2, "", "", "QCOW2 with an external data file"},
		{1 << 6, "", "", "unknown incompatible features 0x40"},
	} {
		b := append([]byte(nil), orig...)
		b[79] |= c.bit // incompatible_features, big-endian u64 at 72
		p := filepath.Join(dir, fmt.Sprintf("bit%d.qcow2", c.bit))
		os.WriteFile(p, b, 0o644)
		img, err := Open(p)
		if c.refuse != "" {
			var u *UnsupportedError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), c.refuse) {
				t.Errorf("bit 0x%x: err %v, want %q", c.bit, err, c.refuse)
			}
			continue
		}
		if err != nil {
			t.Fatalf("bit 0x%x: %v", c.bit, err)
		}
		info := img.Info()
		if (c.note != "") != (len(info.Notes) == 1 && strings.Contains(info.Notes[0], c.note)) ||
			(c.warn != "") != (len(info.Warnings) == 1 && strings.Contains(info.Warnings[0], c.warn)) {
			t.Errorf("bit 0x%x: notes %q, warnings %q", c.bit, info.Notes, info.Warnings)
		}
		sameAsRaw(t, img, want)
		img.Close()
	}
}
