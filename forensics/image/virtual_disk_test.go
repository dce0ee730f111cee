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

// TestVirtualDisksWalkLikeRaw: Debian's NTFS sample and its four-partition
// disk, converted by qemu-img to QCOW2 (plain and compressed) and to
// stream-optimised and monolithic sparse VMDK, walk through forensics/disk
// into the same file entries (paths, inodes, sizes, contents' hashes,
// times) and the same problems as the raw image.
func TestVirtualDisksWalkLikeRaw(t *testing.T) {
	oracle.Tool(t, "qemu-img", "qemu-utils")
	for _, sample := range []string{"ntfs", "multiple"} {
		raw := oracle.Sample(t, sample)
		dir := t.TempDir()
		want, n := walkSummary(t, raw, "raw:")
		t.Logf("%s: %d entries; problems:\n%s", sample, n, grepProblems(want))
		if n < 20 {
			t.Fatalf("raw walk of %s: only %d entries", sample, n)
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
			t.Run(sample+"/"+name, func(t *testing.T) {
				out := filepath.Join(dir, strings.NewReplacer(" ", "_", "=", "_").Replace(name)+"."+v.format)
				oracle.Run(t, "qemu-img", append(append([]string{"convert", "-f", "raw"}, v.args...), raw, out)...)
				got, _ := walkSummary(t, out, v.format+":")
				if got != want {
					t.Errorf("%s walk differs from the raw image's:\n%s\n---\n%s", name, got, want)
				}
			})
		}
	}
}

// walkSummary walks a disk image and prints every entry inside it (not the
// image files themselves) and every problem, without the container's own
// chain element.
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
	var s strings.Builder
	for _, p := range probs {
		if len(p.Chain) > 0 && p.Chain[0] != container {
			t.Fatalf("problem chain %q does not start with %q", p.Chain, container)
		}
		var chain []string
		if len(p.Chain) > 0 {
			chain = p.Chain[1:]
		}
		fmt.Fprintf(&s, "problem %q %s %d %v\n", chain, p.Path, p.Offset, p.Err)
	}
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

func grepProblems(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "problem ") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
