package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// copyFile copies a corpus file into dir (the corpus is read-only and its
// files stay out of the repository: the copies live in the test's temp).
func copyFile(t *testing.T, src, dir string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// signature lists "chain-after-prefix|path|inode|size|sha256" for the
// entries under the image: what must be the same whether the image is
// registered on its own or found inside other evidence.
func signature(items []fstest.Item, skip int) []string {
	var out []string
	for _, it := range items {
		if len(it.Chain) <= skip || it.Container {
			continue
		}
		out = append(out, fmt.Sprintf("%s|%s|%s|%d|%s|%v", strings.Join(it.Chain[skip:], " > "), it.Path, it.Inode, it.Size, it.SHA256, it.Times))
	}
	sort.Strings(out)
	return out
}

func walkEvidence(t *testing.T, path string, opts jfs.Options) ([]fstest.Item, []*jfs.Problem) {
	t.Helper()
	w, err := OpenEvidence(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	items, probs, err := fstest.Collect(context.Background(), w)
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return items, probs
}

func sameLists(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the image registered on its own yields nothing", what)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: %d entries found inside, %d registered alone\n got %q\nwant %q", what, len(got), len(want), got, want)
	}
}

// TestImagesInFolder: a registered folder holding an E01 and two ext4
// images walks each image as a disk, with the folder's layer before the
// image's ("dir:image.E01" > "ewf:" > ...), and the same entries (paths,
// inodes, sizes, content hashes, times) as each image registered alone.
func TestImagesInFolder(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "case")
	os.Mkdir(sub, 0o755)
	e01 := copyFile(t, parsertest.Corpus(t, "images/image.E01"), sub)
	ext := copyFile(t, parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4"), sub)
	tiny := copyFile(t, parsertest.Corpus(t, "more/disk/ext4/tiny.ext4"), dir)
	items, probs := walkEvidence(t, dir, jfs.Options{})
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	for _, c := range []struct {
		path, layer string
	}{{e01, "dir:case/image.E01"}, {ext, "dir:case/hierarchy_32.ext4"}, {tiny, "dir:tiny.ext4"}} {
		alone, _ := walkEvidence(t, c.path, jfs.Options{})
		var inside []fstest.Item
		announced := false
		for _, it := range items {
			if it.Chain[0] == c.layer {
				if len(it.Chain) == 1 {
					announced = it.Container && !it.Times.Modified.IsZero()
					continue
				}
				inside = append(inside, it)
			}
		}
		if !announced {
			t.Errorf("%s: the image file itself is not delivered for its times", c.layer)
		}
		// Alone, the chain starts with the container layer ("ewf:");
		// found, with the folder's layer first.
		sameLists(t, c.layer, signature(inside, 1), signature(alone, 0))
	}
}

// TestImageInTar: an ext4 image inside a tar and inside a tar.gz (made by
// GNU tar) is spooled to the case's tmp and walked: the same entries as
// the image registered alone, under "tar:<name>" > "raw:".
func TestImageInTar(t *testing.T) {
	oracle.Tool(t, "tar", "tar")
	src := parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4")
	dir := t.TempDir()
	copyFile(t, src, dir)
	alone, _ := walkEvidence(t, src, jfs.Options{})
	for _, name := range []string{"images.tar", "images.tar.gz"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), name)
			args := []string{"-cf", out, "-C", dir, "hierarchy_32.ext4"}
			if strings.HasSuffix(name, ".gz") {
				args[0] = "-czf"
			}
			if b, err := exec.Command("tar", args...).CombinedOutput(); err != nil {
				t.Fatalf("tar: %v\n%s", err, b)
			}
			tmp := t.TempDir()
			items, probs := walkEvidence(t, out, jfs.Options{TempDir: tmp})
			for _, p := range probs {
				t.Errorf("problem: %v", p)
			}
			skip := 1
			if strings.HasSuffix(name, ".gz") {
				skip = 2
			}
			var inside []fstest.Item
			for _, it := range items {
				if len(it.Chain) > skip && it.Chain[skip-1] == "tar:hierarchy_32.ext4" {
					inside = append(inside, it)
				}
			}
			sameLists(t, name, signature(inside, skip), signature(alone, 0))
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("spool copies left in the case tmp: %v", left)
			}
			// Without a tmp folder the image cannot be copied: said, not
			// dropped.
			_, probs = walkEvidence(t, out, jfs.Options{})
			if len(probs) == 0 || !errors.Is(probs[0], jfs.ErrNoSpool) {
				t.Errorf("no tmp: problems %v", probs)
			}
		})
	}
}

// TestGzippedRawInFolder: the corpus's gzipped raw NTFS volume, in a
// folder, is decompressed, spooled and walked as a disk: the same entries
// and problems as the gunzipped image registered alone.
func TestGzippedRawInFolder(t *testing.T) {
	dir := t.TempDir()
	gz := copyFile(t, parsertest.Corpus(t, "more/disk/ntfs/ntfs_index.raw.gz"), dir)
	raw := filepath.Join(t.TempDir(), "ntfs_index.raw")
	oracle.Tool(t, "gzip", "gzip")
	out, err := exec.Command("gzip", "-dc", gz).Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(raw, out, 0o644); err != nil {
		t.Fatal(err)
	}
	alone, aprobs := walkEvidence(t, raw, jfs.Options{})
	items, probs := walkEvidence(t, dir, jfs.Options{TempDir: t.TempDir()})
	var inside []fstest.Item
	for _, it := range items {
		if len(it.Chain) > 2 && it.Chain[1] == "gzip:ntfs_index.raw" {
			inside = append(inside, it)
		}
	}
	sameLists(t, "gzipped NTFS", signature(inside, 2), signature(alone, 0))
	if len(probs) != len(aprobs) {
		t.Errorf("problems found inside %v, registered alone %v", probs, aprobs)
	}
}

// TestEWFSegmentAloneInFolder: the second segment of a split E01 without
// its first is an image that cannot be opened: reported with the missing
// file's name, not passed off as an unknown file.
func TestEWFSegmentAloneInFolder(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, parsertest.Corpus(t, "more/disk/e01/image-split.E02"), dir)
	_, probs := walkEvidence(t, dir, jfs.Options{})
	if len(probs) != 1 || !strings.Contains(probs[0].Error(), "image-split.E01") {
		t.Errorf("problems %v, want one naming the missing image-split.E01", probs)
	}
}

// TestImageDepthLimit: past fs.MaxImageDepth an image is delivered as a
// plain file with a clear problem.
func TestImageDepthLimit(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, parsertest.Corpus(t, "more/disk/ext4/tiny.ext4"), dir)
	items, probs := walkEvidence(t, dir, jfs.Options{ImageDepth: jfs.MaxImageDepth})
	if len(probs) != 1 || !errors.Is(probs[0], jfs.ErrTooDeep) || !strings.Contains(probs[0].Error(), "nested") {
		t.Errorf("problems %v", probs)
	}
	if len(items) != 1 || items[0].Path != "tiny.ext4" || items[0].Container {
		t.Errorf("items %+v", items)
	}
}

// TestImageInImage: a FAT volume holding an ext4 image (copied in by
// mtools) walks into the ext4 image too: "raw:" > "fat:hierarchy_32.ext4"
// > "raw:" > "ext4:...".
func TestImageInImage(t *testing.T) {
	oracle.Tool(t, "mkfs.vfat", "dosfstools")
	oracle.Tool(t, "mcopy", "mtools")
	dir := t.TempDir()
	img := filepath.Join(dir, "usb.img")
	src := parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4")
	for _, c := range [][]string{
		{"mkfs.vfat", "-C", "-F", "16", "-s", "1", img, "16384"},
		{"mcopy", "-i", img, src, "::/hierarchy_32.ext4"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	alone, _ := walkEvidence(t, src, jfs.Options{})
	items, probs := walkEvidence(t, img, jfs.Options{Zone: nil})
	for _, p := range probs {
		if !strings.Contains(p.Error(), "read as UTC") {
			t.Errorf("problem: %v", p)
		}
	}
	var inside []fstest.Item
	for _, it := range items {
		if len(it.Chain) > 2 && it.Chain[1] == "fat:hierarchy_32.ext4" {
			inside = append(inside, it)
		}
	}
	sameLists(t, "ext4 in FAT", signature(inside, 2), signature(alone, 0))
}

// TestEWFSetInFolder: an E01 set of two segments (ewfacquire -S 1MiB) in a
// registered folder is walked once, from its first segment, reading the
// second beside it; the second segment file is delivered for its own times
// only, not as an image or an unknown file.
func TestEWFSetInFolder(t *testing.T) {
	oracle.Tool(t, "ewfacquire", "ewf-tools")
	src := parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4")
	dir := t.TempDir()
	oracle.Run(t, "ewfacquire", "-u", "-t", filepath.Join(dir, "set"), "-c", "none", "-S", "1MiB", "-b", "64", src)
	if _, err := os.Stat(filepath.Join(dir, "set.E02")); err != nil {
		t.Skipf("ewfacquire made one segment only: %v", err)
	}
	alone, _ := walkEvidence(t, src, jfs.Options{})
	items, probs := walkEvidence(t, dir, jfs.Options{})
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	var inside []fstest.Item
	seg2 := false
	for _, it := range items {
		switch {
		case it.Chain[0] == "dir:set.E02":
			seg2 = len(it.Chain) == 1 && it.Container && !it.Times.Modified.IsZero()
			if !seg2 {
				t.Errorf("second segment delivered as %+v", it)
			}
		case it.Chain[0] == "dir:set.E01" && len(it.Chain) > 1:
			if it.Chain[1] != "ewf:" {
				t.Errorf("chain %q", it.Chain)
			}
			inside = append(inside, it)
		}
	}
	if !seg2 {
		t.Error("the second segment's own times are not on the walk")
	}
	sameLists(t, "E01 set", signature(inside, 2), signature(alone, 1))
}

// TestImageInZip: an ext4 image stored in a zip (read in place through the
// zip) and deflated in one (spooled) is walked like the image alone.
func TestImageInZip(t *testing.T) {
	oracle.Tool(t, "zip", "zip")
	src := parsertest.Corpus(t, "more/disk/ext4/tiny.ext4")
	dir := t.TempDir()
	copyFile(t, src, dir)
	alone, _ := walkEvidence(t, src, jfs.Options{})
	for _, level := range []string{"-0", "-6"} {
		out := filepath.Join(t.TempDir(), "images.zip")
		cmd := exec.Command("zip", level, out, "tiny.ext4")
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("zip: %v\n%s", err, b)
		}
		items, probs := walkEvidence(t, out, jfs.Options{TempDir: t.TempDir()})
		for _, p := range probs {
			t.Errorf("zip %s: problem: %v", level, p)
		}
		var inside []fstest.Item
		for _, it := range items {
			if len(it.Chain) > 1 && it.Chain[0] == "zip:tiny.ext4" {
				inside = append(inside, it)
			}
		}
		sameLists(t, "zip "+level, signature(inside, 1), signature(alone, 0))
	}
}

// TestUnrecognisedContainerNamed: a file with a disk-image container's
// signature that cannot be opened (here a QCOW2 header cut short) is
// reported with the container's own error, as a problem that counts
// (exit 3), not passed off as a file no parser recognises.
func TestUnrecognisedContainerNamed(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "server.qcow2")
	b := append([]byte("QFI\xfb\x00\x00\x00\x03"), make([]byte, 1024)...)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{p, dir} {
		items, probs := walkEvidence(t, path, jfs.Options{})
		if len(probs) != 1 || !errors.Is(probs[0], jfs.ErrUnreadable) || !strings.Contains(strings.ToLower(probs[0].Error()), "qcow") {
			t.Errorf("%s: problems %v, want one naming QCOW2", path, probs)
		}
		for _, it := range items {
			if !it.Container {
				t.Errorf("%s: %s delivered as a plain file", path, it.Path)
			}
		}
	}
}

// TestVMDKFlatInFolder: a monolithicFlat VMDK (qemu-img: a descriptor and
// its "-flat" extent) in a registered folder is walked once, through the
// descriptor, although the extent's name sorts first and is a raw ext4
// volume itself: the extent is delivered for its own times only.
func TestVMDKFlatInFolder(t *testing.T) {
	oracle.Tool(t, "qemu-img", "qemu-utils")
	src := parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4")
	dir := t.TempDir()
	oracle.Run(t, "qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicFlat", src, filepath.Join(dir, "disk.vmdk"))
	if _, err := os.Stat(filepath.Join(dir, "disk-flat.vmdk")); err != nil {
		t.Fatalf("qemu-img made no flat extent: %v", err)
	}
	alone, _ := walkEvidence(t, src, jfs.Options{})
	items, probs := walkEvidence(t, dir, jfs.Options{})
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	var inside []fstest.Item
	for _, it := range items {
		switch it.Chain[0] {
		case "dir:disk-flat.vmdk":
			if len(it.Chain) != 1 || !it.Container {
				t.Errorf("the flat extent walked on its own: %q", it.Chain)
			}
		case "dir:disk.vmdk":
			if len(it.Chain) > 1 {
				inside = append(inside, it)
			}
		}
	}
	sameLists(t, "VMDK flat", signature(inside, 2), signature(alone, 1))
}

// TestBootSectorAloneNotAnImage: NTFS's own $Boot (the volume's first
// 8 KiB, boot sector included) and the head of an ext4 volume, met as
// files, are plain files: a file system that does not fit in the file is
// no image found.
func TestBootSectorAloneNotAnImage(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"$Boot":     oracle.Sample(t, "ntfs"),
		"ext4.head": parsertest.Corpus(t, "more/disk/ext4/hierarchy_32.ext4"),
	} {
		f, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 64<<10)
		off := int64(0)
		if name == "$Boot" {
			off = 2048 * 512 // mmls: the NTFS partition starts at sector 2048
			b = b[:8192]
		}
		if _, err := f.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	items, probs := walkEvidence(t, dir, jfs.Options{})
	if len(probs) != 0 {
		t.Errorf("problems %v", probs)
	}
	if len(items) != 2 {
		t.Errorf("items %+v", items)
	}
	for _, it := range items {
		if it.Container || len(it.Chain) != 1 {
			t.Errorf("%s taken for an image: %+v", it.Path, it)
		}
	}
}

// TestE01InFAT: an E01 copied onto a FAT volume (mtools) is a container
// inside a file system: it is copied to the case tmp (its reader needs a
// file) and walked like the E01 registered alone.
func TestE01InFAT(t *testing.T) {
	oracle.Tool(t, "mkfs.vfat", "dosfstools")
	oracle.Tool(t, "mcopy", "mtools")
	dir := t.TempDir()
	img := filepath.Join(dir, "usb.img")
	src := parsertest.Corpus(t, "images/image.E01")
	for _, c := range [][]string{
		{"mkfs.vfat", "-C", "-F", "12", img, "1024"},
		{"mcopy", "-i", img, src, "::/image.E01"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	alone, _ := walkEvidence(t, src, jfs.Options{})
	tmp := t.TempDir()
	items, probs := walkEvidence(t, img, jfs.Options{TempDir: tmp, Zone: time.UTC})
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	var inside []fstest.Item
	for _, it := range items {
		if len(it.Chain) > 2 && it.Chain[1] == "fat:image.E01" {
			inside = append(inside, it)
		}
	}
	sameLists(t, "E01 in FAT", signature(inside, 2), signature(alone, 0))
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("spool copies left in the case tmp: %v", left)
	}
}
