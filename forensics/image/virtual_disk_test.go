package image_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/disk"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
)

// TestVirtualDisksWalkLikeRaw: Debian's NTFS sample converted by qemu-img
// to QCOW2 (plain and compressed) and to stream-optimised and monolithic
// sparse VMDK walks through forensics/disk into the same file entries
// (paths, inodes, sizes, contents' hashes, times) as the raw image.
func TestVirtualDisksWalkLikeRaw(t *testing.T) {
	raw := oracle.Sample(t, "ntfs")
	oracle.Tool(t, "qemu-img", "qemu-utils")
	dir := t.TempDir()
	want, n := walkSummary(t, raw, "raw:")
	if n < 20 {
		t.Fatalf("raw walk: only %d entries", n)
	}
	for _, v := range []struct {
		format string
		args   []string
	}{
		{"qcow2", []string{"-O", "qcow2"}},
		{"qcow2", []string{"-O", "qcow2", "-c"}},
		{"vmdk", []string{"-O", "vmdk", "-o", "subformat=streamOptimized"}},
		{"vmdk", []string{"-O", "vmdk", "-o", "subformat=monolithicSparse"}},
	} {
		name := strings.Join(v.args, " ")
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, strings.NewReplacer(" ", "_", "=", "_").Replace(name)+"."+v.format)
			oracle.Run(t, "qemu-img", append(append([]string{"convert", "-f", "raw"}, v.args...), raw, out)...)
			got, _ := walkSummary(t, out, v.format+":")
			if got != want {
				t.Errorf("%s walk differs from the raw image's:\n%s\n---\n%s", name, got, want)
			}
		})
	}
}

// walkSummary walks a disk image and prints every entry inside it (not the
// image files themselves) without the container's own chain element.
func walkSummary(t *testing.T, path, container string) (string, int) {
	t.Helper()
	w, ok, err := disk.Open(context.Background(), path, disk.Options{})
	if err != nil || !ok {
		t.Fatalf("disk.Open %s: disk=%v err=%v", path, ok, err)
	}
	items, probs, err := fstest.Collect(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Errorf("%s: problem %v", filepath.Base(path), p)
	}
	var s strings.Builder
	n := 0
	for _, it := range items {
		if strings.HasPrefix(it.Chain[0], "file:") {
			continue
		}
		if it.Chain[0] != container {
			t.Fatalf("%s: chain %q does not start with %q", it.Path, it.Chain, container)
		}
		fmt.Fprintf(&s, "%q %s %s %d %s %v %v\n", it.Chain[1:], it.Path, it.Inode, it.Size, it.SHA256, it.Deleted, it.Times)
		n++
	}
	return s.String(), n
}
