package image

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// noiseRaw writes size bytes of seeded random data: no zero runs for a
// sparse format to skip, nothing for a compressor to squeeze.
func noiseRaw(t testing.TB, size int) string {
	t.Helper()
	b := make([]byte, size)
	r := rand.NewChaCha8([32]byte{'v', 'm', '2'})
	r.Read(b)
	// Zero holes too: a dynamic disk leaves all-zero blocks unallocated.
	clear(b[size/4 : size/4+min(3<<20, size/4)])
	p := filepath.Join(t.TempDir(), "random.raw")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// diskSources are the raw disks the container tests convert: a real
// partitioned disk from the corpus, Debian's multi-partition sample disk,
// and random data.
func diskSources(t *testing.T) map[string]string {
	src := map[string]string{
		"tsk_volume_system": parsertest.Corpus(t, "images/tsk_volume_system.raw"),
		"random":            noiseRaw(t, 9<<20+512*7),
	}
	if _, err := os.Stat(filepath.Join(oracle.SamplesDir, "fs.multiple.xz")); err == nil {
		src["fs.multiple"] = oracle.Sample(t, "multiple")
	}
	return src
}

// qemuConvert converts src to format with options and returns the new file.
func qemuConvert(t testing.TB, src, format, opts, name string) string {
	t.Helper()
	oracle.Tool(t, "qemu-img", "qemu-utils")
	out := filepath.Join(t.TempDir(), name)
	args := []string{"convert", "-f", "raw", "-O", format}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	oracle.Run(t, "qemu-img", append(args, src, out)...)
	return out
}

// checkMedia asserts that img holds exactly the bytes of the raw file:
// the same size, the same SHA-256, and the same bytes at random offsets
// and lengths (reads that straddle blocks and the end).
func checkMedia(t *testing.T, img Image, raw string) {
	t.Helper()
	want, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if img.Size() != int64(len(want)) {
		t.Fatalf("size %d, want %d", img.Size(), len(want))
	}
	if got, w := sha256Image(t, img), sha256File(t, raw); got != w {
		t.Fatalf("sha256 %s, want %s", got, w)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		off := r.Int64N(int64(len(want)))
		n := 1 + r.IntN(3<<20)
		got := make([]byte, n)
		m, err := img.ReadAt(got, off)
		end := min(off+int64(n), int64(len(want)))
		if m != int(end-off) || !bytes.Equal(got[:m], want[off:end]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v: bytes differ", n, off, m, err)
		}
		if end < off+int64(n) && err == nil {
			t.Fatalf("ReadAt past the end at %d: no error", off)
		}
	}
}

// vhdiinfo returns the fields vhdiinfo prints (libvhdi, the oracle for
// header facts).
func vhdiinfo(t testing.TB, path string) map[string]string {
	t.Helper()
	oracle.Tool(t, "vhdiinfo", "libvhdi-utils")
	out := oracle.Run(t, "vhdiinfo", path)
	m := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

var mediaBytes = regexp.MustCompile(`\((\d+) bytes\)`)

func checkVhdiinfo(t *testing.T, img Image, path, diskType string) {
	t.Helper()
	m := vhdiinfo(t, path)
	if m["Disk type"] != diskType {
		t.Errorf("vhdiinfo disk type %q, want %q", m["Disk type"], diskType)
	}
	sz := mediaBytes.FindStringSubmatch(m["Media size"])
	if sz == nil || sz[1] != strconv.FormatInt(img.Size(), 10) {
		t.Errorf("vhdiinfo media size %q, ours %d", m["Media size"], img.Size())
	}
	if id := m["Identifier"]; id != "" {
		ours := img.Info().Metadata["vhd_unique_id"] + img.Info().Metadata["vhdx_data_write_guid"]
		if ours != id {
			t.Errorf("vhdiinfo identifier %s, ours %s", id, ours)
		}
	}
}

// TestVHDQemu: qemu-img writes fixed and dynamic VHDs of real disks; the
// decoded media must be the source bytes, and vhdiinfo must agree on the
// header facts.
func TestVHDQemu(t *testing.T) {
	for name, raw := range diskSources(t) {
		for _, sub := range []string{"fixed", "dynamic"} {
			t.Run(name+"/"+sub, func(t *testing.T) {
				if name == "fs.multiple" && sub == "fixed" {
					t.Skip("one variant is enough for the 250 MB disk")
				}
				vhd := qemuConvert(t, raw, "vpc", "subformat="+sub+",force_size=on", name+".vhd")
				img, err := Open(vhd)
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				if f := img.Info().Format; f != "vhd" {
					t.Fatalf("format %q", f)
				}
				if w := img.Info().Warnings; len(w) > 0 {
					t.Errorf("warnings on a clean image: %q", w)
				}
				checkMedia(t, img, raw)
				checkVhdiinfo(t, img, vhd, strings.ToUpper(sub[:1])+sub[1:])
			})
		}
	}
}

// TestVHDBadChecksum: a damaged footer checksum is a warning, not a refusal.
func TestVHDBadChecksum(t *testing.T) {
	raw := noiseRaw(t, 5<<20)
	for _, sub := range []string{"fixed", "dynamic"} {
		vhd := qemuConvert(t, raw, "vpc", "subformat="+sub+",force_size=on", "c.vhd")
		b, _ := os.ReadFile(vhd)
		b[len(b)-512+64] ^= 0xff
		os.WriteFile(vhd, b, 0o644)
		img, err := Open(vhd)
		if err != nil {
			t.Fatalf("%s: %v", sub, err)
		}
		if w := strings.Join(img.Info().Warnings, "|"); !strings.Contains(w, "checksum") {
			t.Errorf("%s: warnings %q, want a checksum one", sub, w)
		}
		checkMedia(t, img, raw)
		img.Close()
	}
}

// TestVHDTruncatedDynamic: a dynamic disk cut before its end footer still
// opens from the footer copy at offset 0, with a warning.
func TestVHDTruncatedDynamic(t *testing.T) {
	raw := noiseRaw(t, 5<<20)
	vhd := qemuConvert(t, raw, "vpc", "subformat=dynamic,force_size=on", "t.vhd")
	st, _ := os.Stat(vhd)
	if err := os.Truncate(vhd, st.Size()-512); err != nil {
		t.Fatal(err)
	}
	img, err := Open(vhd)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Info().Format != "vhd" || len(img.Info().Warnings) == 0 {
		t.Fatalf("format %q warnings %q", img.Info().Format, img.Info().Warnings)
	}
	checkMedia(t, img, raw)
}

// makeDiffVHD writes a differencing VHD over parent (a dynamic VHD written
// by qemu-img, which cannot write differencing ones) the way Hyper-V lays
// one out: footer copy, dynamic header with W2ku and W2ru locators, BAT,
// blocks of sector bitmap + data. Blocks 0 and 2 hold every other run of
// sectors (those present says), block 1 is left to the parent. It returns
// the child's path.
func makeDiffVHD(t *testing.T, parent, dir, absLocator string, present func(sector int) bool) string {
	t.Helper()
	pb, err := os.ReadFile(parent)
	if err != nil {
		t.Fatal(err)
	}
	pft := pb[len(pb)-512:]
	be := binary.BigEndian
	size := int64(be.Uint64(pft[48:]))
	const block = 2 << 20
	entries := int((size + block - 1) / block)
	batOff := int64(512 + 1024)
	batLen := int64((entries*4 + 511) / 512 * 512)
	locOff := batOff + batLen
	rel := vhdUTF16LE(`.\` + filepath.Base(parent))
	abs := vhdUTF16LE(absLocator)
	dataOff := locOff + 1024
	var out bytes.Buffer
	footer := append([]byte{}, pft...)
	be.PutUint32(footer[60:], vhdTypeDiff)
	be.PutUint64(footer[16:], 512)
	copy(footer[68:84], "jejak-diff-child")
	be.PutUint32(footer[64:], 0)
	be.PutUint32(footer[64:], vhdChecksum(footer, 64))
	hdr := make([]byte, 1024)
	copy(hdr, "cxsparse")
	be.PutUint64(hdr[8:], ^uint64(0))
	be.PutUint64(hdr[16:], uint64(batOff))
	be.PutUint32(hdr[24:], 0x00010000)
	be.PutUint32(hdr[28:], uint32(entries))
	be.PutUint32(hdr[32:], block)
	copy(hdr[40:56], pft[68:84]) // the parent's unique id
	name := utf16.Encode([]rune(filepath.Base(parent)))
	for i, c := range name {
		be.PutUint16(hdr[64+2*i:], c)
	}
	for i, l := range []struct {
		code string
		data []byte
		off  int64
	}{{"W2ku", abs, locOff}, {"W2ru", rel, locOff + 512}} {
		e := hdr[576+24*i:]
		copy(e, l.code)
		be.PutUint32(e[4:], 512)
		be.PutUint32(e[8:], uint32(len(l.data)))
		be.PutUint64(e[16:], uint64(l.off))
	}
	be.PutUint32(hdr[36:], vhdChecksum(hdr, 36))
	out.Write(footer)
	out.Write(hdr)
	bat := make([]byte, batLen)
	for i := range entries {
		be.PutUint32(bat[i*4:], vhdUnallocated)
	}
	r := rand.New(rand.NewPCG(7, 7))
	var blocks bytes.Buffer
	next := dataOff
	for _, blk := range []int{0, 2} {
		if blk >= entries {
			continue
		}
		be.PutUint32(bat[blk*4:], uint32(next/512))
		bm := make([]byte, 512)
		for s := 0; s < block/512; s++ {
			if present(s) {
				bm[s/8] |= 0x80 >> (s % 8)
			}
		}
		data := make([]byte, block)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		blocks.Write(bm)
		blocks.Write(data)
		next += int64(512 + block)
	}
	out.Write(bat)
	loc := make([]byte, 1024)
	copy(loc, abs)
	copy(loc[512:], rel)
	out.Write(loc)
	out.Write(blocks.Bytes())
	out.Write(footer)
	child := filepath.Join(dir, "child.vhd")
	if err := os.WriteFile(child, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return child
}

func vhdUTF16LE(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

// pyvhdiSHA256 is libvhdi's reading of the media (python3-libvhdi), with
// the parent set for a differencing disk.
func pyvhdiSHA256(t *testing.T, path, parent string) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import pyvhdi").Run(); err != nil {
		t.Skip("pyvhdi not importable: apt-get install -y python3-libvhdi")
	}
	script := `
import hashlib, sys, pyvhdi
f = pyvhdi.file(); f.open(sys.argv[1])
if len(sys.argv) > 2:
    p = pyvhdi.file(); p.open(sys.argv[2]); f.set_parent(p)
h = hashlib.sha256(); off = 0; size = f.get_media_size()
while off < size:
    b = f.read_buffer_at_offset(min(1 << 20, size - off), off)
    if not b: raise SystemExit("short read at %d" % off)
    h.update(b); off += len(b)
print(h.hexdigest())
`
	args := []string{"-c", script, path}
	if parent != "" {
		args = append(args, parent)
	}
	return strings.TrimSpace(string(oracle.Output(t, py, args...)))
}

// pages marks runs of whole 4 KiB pages present in a block, as Hyper-V
// writes them: two present, one left to the parent.
func pages(s int) bool { return (s/8)%3 != 1 }

// TestVHDDifferencing: a child read through to its parent where its sector
// bitmaps say so; libvhdi's reading is the oracle. The parent is found
// beside the child by name although the absolute locator is stale, and a
// missing parent is a clear error.
func TestVHDDifferencing(t *testing.T) {
	raw := noiseRaw(t, 7<<20+512*3)
	parent := qemuConvert(t, raw, "vpc", "subformat=dynamic,force_size=on", "base.vhd")
	dir := filepath.Dir(parent)
	child := makeDiffVHD(t, parent, dir, `C:\Hyper-V\Disks\base.vhd`, pages)
	img, err := Open(child)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	in := img.Info()
	if in.Format != "vhd" || in.Metadata["vhd_type"] != "differencing" || len(in.Segments) != 2 || in.Segments[1] != parent {
		t.Fatalf("info %+v", in)
	}
	if len(in.Warnings) > 0 {
		t.Errorf("warnings: %q", in.Warnings)
	}
	got := sha256Image(t, img)
	if want := pyvhdiSHA256(t, child, parent); got != want {
		t.Fatalf("sha256 %s, libvhdi %s", got, want)
	}
	// The child changed some sectors: it must differ from the parent, and
	// block 1 (unallocated in the child) must be the parent's.
	if got == sha256File(t, raw) {
		t.Fatal("child reads as its parent: bitmaps ignored")
	}
	want, _ := os.ReadFile(raw)
	b := make([]byte, 2<<20)
	if _, err := img.ReadAt(b, 2<<20); err != nil || !bytes.Equal(b, want[2<<20:4<<20]) {
		t.Fatalf("block 1 is not the parent's (%v)", err)
	}
	checkVhdiinfo(t, img, child, "Differential")

	// The parent gone: a clear error naming what was looked for.
	lone := t.TempDir()
	c2 := makeDiffVHD(t, parent, lone, `C:\Hyper-V\Disks\base.vhd`, pages)
	_, err = Open(c2)
	var mp *MissingParentError
	if !errors.As(err, &mp) || !strings.Contains(err.Error(), "base.vhd") {
		t.Fatalf("missing parent: %v", err)
	}
	// An absolute locator that exists as given is followed.
	c3 := makeDiffVHD(t, parent, lone, parent, pages)
	img3, err := Open(c3)
	if err != nil {
		t.Fatalf("absolute locator: %v", err)
	}
	if h := sha256Image(t, img3); h != got {
		t.Errorf("via the absolute locator: sha256 %s, want %s", h, got)
	}
	img3.Close()
}

// TestVHDDifferencingParentNotes: a differencing VHD over a VHDX parent
// whose dirty log the reader replayed keeps the parent's notes (the
// examiner is told the media read includes a replayed log, as for a VHDX
// child), and reads the replayed parent where the child holds nothing.
// qemu-img writes both files; the child's layout comes from a VHD of the
// same media made beside it only for that.
func TestVHDDifferencingParentNotes(t *testing.T) {
	raw := noiseRaw(t, 6<<20)
	layout := qemuConvert(t, raw, "vpc", "subformat=dynamic,force_size=on", "base.vhdx")
	dir := t.TempDir()
	child := makeDiffVHD(t, layout, dir, `C:\Hyper-V\Disks\base.vhdx`, pages)
	vhdx := qemuConvert(t, raw, "vhdx", "subformat=dynamic,block_size=1M", "base.vhdx")
	dirtyLog(t, vhdx)
	b, err := os.ReadFile(vhdx)
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(dir, "base.vhdx")
	if err := os.WriteFile(parent, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pimg, err := Open(parent)
	if err != nil {
		t.Fatal(err)
	}
	pnotes := pimg.Info().Notes
	pimg.Close()
	if !strings.Contains(strings.Join(pnotes, "|"), "dirty log replayed") {
		t.Fatalf("the parent alone has no replay note: %q", pnotes)
	}

	img, err := Open(child)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	in := img.Info()
	if in.Format != "vhd" || len(in.Segments) != 2 || in.Segments[1] != parent {
		t.Fatalf("info %+v", in)
	}
	if !slices.Equal(in.Notes, pnotes) {
		t.Errorf("child notes %q, want the parent's %q", in.Notes, pnotes)
	}
	// Block 1 of the child (2-4 MiB) is the parent's; the replayed BAT
	// points the parent's 1 MiB block 2 at block 3's data.
	src, _ := os.ReadFile(raw)
	got := make([]byte, 1<<20)
	if _, err := img.ReadAt(got, 2<<20); err != nil || !bytes.Equal(got, src[3<<20:4<<20]) {
		t.Errorf("the child does not read the replayed parent (%v)", err)
	}
}

// TestVHDDifferencingSectors: single sectors present or not, in uneven
// runs. libvhdi 20210425 reads clear-bit sectors from the child when a
// bitmap byte mixes set and clear bits (it agrees on whole pages, above), so the
// expected media is built from the specification's rule (a set bit is the
// child's sector, a clear one the parent's) over the bytes the test wrote.
func TestVHDDifferencingSectors(t *testing.T) {
	raw := noiseRaw(t, 5<<20)
	parent := qemuConvert(t, raw, "vpc", "subformat=dynamic,force_size=on", "base.vhd")
	uneven := func(s int) bool { return (s/(1+s%7))%2 == 0 }
	child := makeDiffVHD(t, parent, filepath.Dir(parent), "base.vhd", uneven)
	img, err := Open(child)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	want, _ := os.ReadFile(raw)
	cb, _ := os.ReadFile(child)
	be := binary.BigEndian
	for blk := range 3 {
		e := be.Uint32(cb[512+1024+4*blk:])
		if e == vhdUnallocated {
			continue
		}
		data := cb[int64(e)*512+512:]
		for s := range (2 << 20) / 512 {
			if off := blk*(2<<20) + s*512; uneven(s) && off < len(want) {
				copy(want[off:], data[s*512:(s+1)*512])
			}
		}
	}
	exp := filepath.Join(t.TempDir(), "expected.raw")
	os.WriteFile(exp, want, 0o644)
	checkMedia(t, img, exp)
}

func TestResolveParentStaysBeside(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "c.vhd")
	os.WriteFile(child, nil, 0o644)
	os.WriteFile(filepath.Join(dir, "p.vhd"), nil, 0o644)
	got, err := resolveParent(child, []string{`D:\elsewhere\p.vhd`, "/etc/passwd"})
	if err != nil || got != filepath.Join(dir, "p.vhd") {
		t.Fatalf("resolveParent = %q, %v", got, err)
	}
	// The child never is its own parent.
	if _, err := resolveParent(child, []string{`c.vhd`}); err == nil {
		t.Fatal("child resolved as its own parent")
	}
}

// TestRawBesideContainers: an examiner's folder holding disk.raw beside
// disk.vhd (or a .gz and a .xz of one log) is not a lettered split set
// with segments missing: each file opens as itself.
func TestRawBesideContainers(t *testing.T) {
	raw := noiseRaw(t, 3<<20)
	dir := filepath.Dir(raw)
	vhd := qemuConvert(t, raw, "vpc", "subformat=dynamic,force_size=on", "x.vhd")
	b, _ := os.ReadFile(vhd)
	os.WriteFile(filepath.Join(dir, "random.vhd"), b, 0o644)
	for name, format := range map[string]string{"random.raw": "raw", "random.vhd": "vhd"} {
		img, err := Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Info().Format != format {
			t.Errorf("%s: format %q", name, img.Info().Format)
		}
		img.Close()
	}
}
