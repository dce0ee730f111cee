package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/internal/oracle"
)

// vmdkSubformats are the layouts qemu-img writes, with vmdkinfo's name for
// each and the files each makes ("" is the file named on the command line).
var vmdkSubformats = []struct {
	sub, diskType string
	files         func(stem string, extents int) []string
}{
	{"monolithicSparse", "Monolithic sparse", func(stem string, _ int) []string { return []string{stem + ".vmdk"} }},
	{"streamOptimized", "Stream optimized", func(stem string, _ int) []string { return []string{stem + ".vmdk"} }},
	{"monolithicFlat", "Monolithic flat", func(stem string, _ int) []string { return []string{stem + ".vmdk", stem + "-flat.vmdk"} }},
	{"twoGbMaxExtentSparse", "2GB extent sparse", func(stem string, n int) []string {
		f := []string{stem + ".vmdk"}
		for i := 1; i <= n; i++ {
			f = append(f, fmt.Sprintf("%s-s%03d.vmdk", stem, i))
		}
		return f
	}},
	{"twoGbMaxExtentFlat", "2GB extent flat", func(stem string, n int) []string {
		f := []string{stem + ".vmdk"}
		for i := 1; i <= n; i++ {
			f = append(f, fmt.Sprintf("%s-f%03d.vmdk", stem, i))
		}
		return f
	}},
}

// TestVMDKConvertedSameAsRaw converts each raw source with qemu-img into
// every VMDK layout it writes and reads it back byte for byte, opened from
// the descriptor (or monolithic file) as image.Open recognises it by
// content; vmdkinfo (libvmdk) is the oracle for the disk type, the media
// size and the number of extents.
func TestVMDKConvertedSameAsRaw(t *testing.T) {
	for _, src := range rawSources(t) {
		want := readFile(t, src.path)
		for _, v := range vmdkSubformats {
			t.Run(src.name+"/"+v.sub, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "disk.vmdk")
				qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat="+v.sub, src.path, out)
				img, err := Open(out)
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				info := img.Info()
				wantFiles := v.files(filepath.Join(dir, "disk"), 1)
				if info.Format != "vmdk" || !slices.Equal(info.Segments, wantFiles) || len(info.Warnings) > 0 || info.Metadata["create_type"] != v.sub {
					t.Fatalf("info %+v, want segments %q", info, wantFiles)
				}
				diskType, size := infoFacts(t, "vmdkinfo", "libvmdk-utils", out, "Disk type")
				if diskType != v.diskType || size != img.Size() {
					t.Fatalf("size %d; vmdkinfo says %q, %d bytes", img.Size(), diskType, size)
				}
				sameAsRaw(t, img, want)
			})
		}
	}
}

// TestVMDKExtentOpensItsSet: a split set's extent given as the evidence
// opens the whole disk through the descriptor beside it; renamed, the
// monolithic sparse file still reads (its embedded descriptor's extent
// name is not trusted).
func TestVMDKExtentOpensItsSet(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 3<<20)
	want := readFile(t, raw)
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", raw, filepath.Join(dir, "split.vmdk"))
	img, err := Open(filepath.Join(dir, "split-s001.vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	if segs := img.Info().Segments; len(segs) != 2 || filepath.Base(segs[0]) != "split.vmdk" {
		t.Fatalf("segments %q", segs)
	}
	sameAsRaw(t, img, want)
	img.Close()

	mono := filepath.Join(dir, "mono.vmdk")
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", raw, mono)
	renamed := filepath.Join(dir, "evidence-item-7.bin")
	if err := os.Rename(mono, renamed); err != nil {
		t.Fatal(err)
	}
	img, err = Open(renamed)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	sameAsRaw(t, img, want)

	// Without its descriptor, an extent reads alone, with a warning.
	os.Remove(filepath.Join(dir, "split.vmdk"))
	img2, err := Open(filepath.Join(dir, "split-s001.vmdk"))
	if err != nil {
		t.Fatal(err)
	}
	defer img2.Close()
	if w := img2.Info().Warnings; len(w) != 1 || !strings.Contains(w[0], "without a descriptor") {
		t.Fatalf("warnings %q", w)
	}
}

// TestVMDKDescriptorExtents: a hand-written descriptor mixing a flat
// extent at an offset, a zero extent and a sparse extent, in another
// folder layout, and one naming a missing extent.
func TestVMDKDescriptorExtents(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 2<<20)
	data := readFile(t, raw)
	// flat.bin: 4 KiB of junk, then the first MiB of data.
	os.WriteFile(filepath.Join(dir, "flat.bin"), append(make([]byte, 4096), data[:1<<20]...), 0o644)
	os.WriteFile(filepath.Join(dir, "tail.raw"), data[1<<20:], 0o644)
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", filepath.Join(dir, "tail.raw"), filepath.Join(dir, "tail.vmdk"))
	desc := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"custom\"\n\n"+
		"# Extent description\nRW %d FLAT \"flat.bin\" 8\nRW 64 ZERO\nRW %d SPARSE \"%s\"\n\nddb.adapterType = \"ide\"\n",
		(1<<20)/512, (1<<20)/512, filepath.Join("/nonexistent", "tail.vmdk"))
	dp := filepath.Join(dir, "custom.vmdk")
	os.WriteFile(dp, []byte(desc), 0o644)
	img, err := Open(dp)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	want := append(append(append([]byte(nil), data[:1<<20]...), make([]byte, 64*512)...), data[1<<20:]...)
	sameAsRaw(t, img, want)
	if segs := img.Info().Segments; len(segs) != 3 {
		t.Fatalf("segments %q", segs)
	}

	os.WriteFile(dp, []byte(strings.Replace(desc, "flat.bin", "gone-flat.vmdk", 1)), 0o644)
	_, err = Open(dp)
	var miss *MissingSegmentError
	if !errors.As(err, &miss) || len(miss.Missing) != 1 || filepath.Base(miss.Missing[0]) != "gone-flat.vmdk" {
		t.Fatalf("err %v, want gone-flat.vmdk missing", err)
	}
}

// TestVMDKUnsupportedVariants: seSparse and vmfsSparse are refused with a
// message naming them.
func TestVMDKUnsupportedVariants(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"sesparse.vmdk":   "# Disk DescriptorFile\nversion=1\ncreateType=\"seSparse\"\nRW 2048 SESPARSE \"x-sesparse.vmdk\"\n",
		"vmfssparse.vmdk": "# Disk DescriptorFile\nversion=1\ncreateType=\"vmfsSparse\"\nRW 2048 VMFSSPARSE \"x-delta.vmdk\"\n",
		"cowd.vmdk":       "COWD\x01\x00\x00\x00",
		"se-extent.vmdk":  "\xbe\xba\xfe\xca\x00\x00\x00\x00\x01\x00\x00\x00",
	}
	want := map[string]string{"sesparse.vmdk": "VMDK seSparse: not supported", "se-extent.vmdk": "VMDK seSparse: not supported",
		"vmfssparse.vmdk": "VMDK vmfsSparse (COWD): not supported", "cowd.vmdk": "VMDK vmfsSparse (COWD): not supported"}
	for name, body := range cases {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		_, err := Open(p)
		var u *UnsupportedError
		if !errors.As(err, &u) || !strings.HasSuffix(err.Error(), want[name]) {
			t.Errorf("%s: err %v, want %q", name, err, want[name])
		}
	}
}

// TestVMDKDeltaDisk: a VMDK whose parent is another VMDK (qemu-img create
// -b), written by qemu-io, reads as the parent with the writes applied.
func TestVMDKDeltaDisk(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 3<<20)
	want := readFile(t, raw)
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", raw, filepath.Join(dir, "base.vmdk"))
	child := filepath.Join(dir, "child.vmdk")
	// zeroed_grain: qemu-io's write -z marks whole grains zero (GTE 1),
	// which must read as zeros, not as the parent's bytes.
	qemuImg(t, "create", "-f", "vmdk", "-o", "zeroed_grain=on", "-b", "base.vmdk", "-F", "vmdk", child)
	qemuIO(t, child, "vmdk", "write -P 0x3c 70000 5000", "write -P 0x4d 2097152 65536", "write -z 196608 131072")
	for i := 70000; i < 75000; i++ {
		want[i] = 0x3c
	}
	clear(want[196608 : 196608+131072])
	for i := 2097152; i < 2097152+65536; i++ {
		want[i] = 0x4d
	}
	img, err := Open(child)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	info := img.Info()
	if len(info.Segments) != 2 || filepath.Base(info.Segments[1]) != "base.vmdk" || len(info.Notes) == 0 || len(info.Warnings) > 0 {
		t.Fatalf("info %+v", info)
	}
	sameAsRaw(t, img, want)
}

// TestVMDKTwoGbExtents: a 5 GiB twoGbMaxExtentSparse disk has three
// extents (vmdkinfo counts them); data qemu-io writes across the extent
// boundaries reads back where it was written, the rest as zeros.
func TestVMDKTwoGbExtents(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "big.vmdk")
	qemuImg(t, "create", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", d, "5G")
	writes := []struct {
		off, n int64
		fill   byte
	}{
		{0, 4096, 0x11},
		{2<<30 - 65536 - 512, 3 * 65536, 0x22}, // across the first boundary
		{4<<30 - 7*512, 14 * 512, 0x33},        // across the second
		{5<<30 - 512, 512, 0x44},
	}
	var cmds []string
	for _, w := range writes {
		cmds = append(cmds, fmt.Sprintf("write -P 0x%x %d %d", w.fill, w.off, w.n))
	}
	qemuIO(t, d, "vmdk", cmds...)
	img, err := Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	oracle.Tool(t, "vmdkinfo", "libvmdk-utils")
	out := string(oracle.Run(t, "vmdkinfo", d))
	if !strings.Contains(out, "Number of extents:\t\t3\n") || img.Size() != 5<<30 || len(img.Info().Segments) != 4 {
		t.Fatalf("size %d, segments %q; vmdkinfo:\n%s", img.Size(), img.Info().Segments, out)
	}
	for _, w := range writes {
		// The written range and 4 KiB of zeros either side (where the disk
		// has them).
		lo, hi := max(0, w.off-4096), min(img.Size(), w.off+w.n+4096)
		buf := make([]byte, hi-lo)
		if _, err := img.ReadAt(buf, lo); err != nil {
			t.Fatalf("read at %d: %v", lo, err)
		}
		for i, b := range buf {
			at := lo + int64(i)
			want := byte(0)
			if at >= w.off && at < w.off+w.n {
				want = w.fill
			}
			if b != want {
				t.Fatalf("byte at %d: 0x%02x, want 0x%02x", at, b, want)
			}
		}
	}
}

// vmdkStream converts raw to a stream-optimised VMDK the way VMware's
// OVF exports lay it out (header with the grain directory "at the end",
// grain markers, grain table and directory markers, a footer, an
// end-of-stream marker), with Canonical's VMDKstream (python3-vmdkstream),
// a writer independent of qemu-img, which puts its tables first.
func vmdkStream(t *testing.T, raw, out string) {
	t.Helper()
	oracle.Tool(t, "python3", "python3")
	// The module file itself, run as a script: the python3 on PATH need
	// not be Debian's, whose path holds the module.
	const module = "/usr/lib/python3/dist-packages/VMDKstream.py"
	if _, err := os.Stat(module); err != nil {
		t.Skipf("%s missing: apt-get install -y python3-vmdkstream", module)
	}
	oracle.Run(t, "python3", module, raw, out)
}

// TestVMDKStreamOVFLayout: VMDKstream's stream-optimised images of the
// corpus raws read byte for byte.
func TestVMDKStreamOVFLayout(t *testing.T) {
	for _, src := range rawSources(t) {
		t.Run(src.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ovf.vmdk")
			vmdkStream(t, src.path, out)
			if h := readFile(t, out)[56:64]; !bytes.Equal(h, bytes.Repeat([]byte{0xff}, 8)) {
				t.Fatalf("header gdOffset %x, want GD_AT_END", h)
			}
			img, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if w := img.Info().Warnings; len(w) > 0 {
				t.Fatalf("warnings %q", w)
			}
			// vmdkinfo refuses these files (libvmdk wants "# Disk
			// DescriptorFile", VMDKstream writes "# Disk Descriptor File"):
			// the raw source is the oracle.
			sameAsRaw(t, img, readFile(t, src.path))
		})
	}
}

// TestVMDKStreamCutShort: an OVF-layout stream cut short (no grain
// directory, no footer: an interrupted download) still opens: the grains
// before the cut are found by their markers and read as the raw source,
// reads past the cut fail naming the file, and a warning says the stream
// is cut short. With only its footer and end marker lost, every grain is
// found and the disk reads whole.
func TestVMDKStreamCutShort(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 4<<20)
	want := readFile(t, raw)
	full := filepath.Join(dir, "s.vmdk")
	vmdkStream(t, raw, full)
	b := readFile(t, full)

	cut := filepath.Join(dir, "cut.vmdk")
	os.WriteFile(cut, b[:len(b)*6/10], 0o644)
	img, err := Open(cut)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if w := img.Info().Warnings; len(w) != 1 || !strings.Contains(w[0], "cut short") {
		t.Fatalf("warnings %q", w)
	}
	// The first MiB is random data, stored in the first grains; the second
	// is zeros, not stored.
	buf := make([]byte, 2<<20)
	if _, err := img.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, want[:2<<20]) {
		t.Fatalf("first 2 MiB: %v", err)
	}
	_, err = img.ReadAt(buf, img.Size()-int64(len(buf)))
	var ce *ClusterError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "cut.vmdk") || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("read past the cut: %v", err)
	}

	nofoot := filepath.Join(dir, "nofoot.vmdk")
	os.WriteFile(nofoot, b[:len(b)-1536], 0o644)
	img2, err := Open(nofoot)
	if err != nil {
		t.Fatal(err)
	}
	defer img2.Close()
	// The markers end with the grain directory: what follows is gone.
	if w := img2.Info().Warnings; len(w) != 1 || !strings.Contains(w[0], "cut short") {
		t.Fatalf("warnings %q", w)
	}
	sameAsRaw(t, img2, want)
}

// TestVMDKParentHintFromWindows: a snapshot disk made on a Windows host
// names its parent by a Windows path; the parent is found beside it by
// its last element.
func TestVMDKParentHintFromWindows(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 2<<20)
	want := readFile(t, raw)
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", raw, filepath.Join(dir, "base.vmdk"))
	child := filepath.Join(dir, "base-000001.vmdk")
	qemuImg(t, "create", "-f", "vmdk", "-b", "base.vmdk", "-F", "vmdk", child)
	qemuIO(t, child, "vmdk", "write -P 0x61 0 4096")
	copy(want, bytes.Repeat([]byte{0x61}, 4096))
	b := readFile(t, child)
	old := []byte(`parentFileNameHint="base.vmdk"`)
	i := bytes.Index(b, old)
	if i < 0 {
		t.Fatalf("no parentFileNameHint in %s", child)
	}
	hint := []byte(`parentFileNameHint="C:\Users\clerk\Documents\Virtual Machines\Tally\base.vmdk"`)
	// The descriptor area is zero padded: the longer text fits in it.
	end := i + bytes.IndexByte(b[i:], 0)
	rest := append([]byte(nil), b[i+len(old):end]...)
	n := copy(b[i:], hint)
	copy(b[i+n:], rest)
	os.WriteFile(child, b, 0o644)
	img, err := Open(child)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if p := img.Info().Metadata["parent_file"]; !strings.HasPrefix(p, `C:\Users`) {
		t.Fatalf("parent_file %q", p)
	}
	sameAsRaw(t, img, want)
}

// TestVMDKStreamDamagedDirectory: a qemu-img stream-optimised image whose
// grain directory pointers are overwritten still reads whole: its grains
// are found by their markers, and a warning says so.
func TestVMDKStreamDamagedDirectory(t *testing.T) {
	dir := t.TempDir()
	raw := randomRaw(t, dir, 3<<20)
	out := filepath.Join(dir, "s.vmdk")
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, out)
	b := readFile(t, out)
	copy(b[48:64], bytes.Repeat([]byte{0xee}, 16)) // rgdOffset, gdOffset
	os.WriteFile(out, b, 0o644)
	img, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if w := img.Info().Warnings; len(w) < 1 || !strings.Contains(w[0], "grains found by their markers") {
		t.Fatalf("warnings %q", w)
	}
	sameAsRaw(t, img, readFile(t, raw))
}
