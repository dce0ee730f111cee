package image_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/disk"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/forensics/image"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// diskRows walks path as a disk (forensics/disk, the chain jejak ingests
// images through) and returns one line per entry inside it: chain below
// the container layer, path, inode, size, content hash and times. The
// image files' own entries (chain "file:...") are left out: they differ
// by name between a raw image and its container.
func diskRows(t *testing.T, path string) (rows []string, container string) {
	t.Helper()
	w, ok, err := disk.Open(context.Background(), path, disk.Options{})
	if err != nil || !ok {
		t.Fatalf("disk.Open %s: disk=%v err=%v", filepath.Base(path), ok, err)
	}
	items, probs, err := fstest.Collect(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range probs {
		t.Logf("%s: problem %v", filepath.Base(path), p)
	}
	for _, it := range items {
		if strings.HasPrefix(it.Chain[0], "file:") {
			continue
		}
		container = it.Chain[0]
		rows = append(rows, fmt.Sprintf("%q %s %s %d %s %v %v", it.Chain[1:], it.Path, it.Inode, it.Size, it.SHA256, it.Times, it.Deleted))
	}
	sort.Strings(rows)
	return rows, container
}

func sameRows(t *testing.T, what string, raw, got []string) {
	t.Helper()
	if len(raw) == 0 {
		t.Fatalf("%s: the raw image gives no entries", what)
	}
	if strings.Join(raw, "\n") != strings.Join(got, "\n") {
		t.Errorf("%s: %d entries, raw image %d; first rows:\n%s\n---\n%s", what, len(got), len(raw),
			strings.Join(got[:min(5, len(got))], "\n"), strings.Join(raw[:min(5, len(raw))], "\n"))
	}
}

// TestDiskThroughVirtualContainers: Debian's NTFS sample disk converted by
// qemu-img to VHD and VHDX walks to the same entries as the raw image.
func TestDiskThroughVirtualContainers(t *testing.T) {
	raw := oracle.Sample(t, "ntfs")
	oracle.Tool(t, "qemu-img", "qemu-utils")
	want, _ := diskRows(t, raw)
	t.Logf("raw NTFS sample: %d entries", len(want))
	for _, c := range []struct{ format, opts, layer string }{
		{"vhdx", "subformat=dynamic", "vhdx:"},
		{"vhdx", "subformat=fixed", "vhdx:"},
		{"vpc", "subformat=dynamic,force_size=on", "vhd:"},
	} {
		out := filepath.Join(t.TempDir(), "ntfs."+c.format)
		oracle.Run(t, "qemu-img", "convert", "-f", "raw", "-O", c.format, "-o", c.opts, raw, out)
		got, layer := diskRows(t, out)
		if layer != c.layer {
			t.Errorf("%s: container layer %q, want %q", c.opts, layer, c.layer)
		}
		sameRows(t, c.format+" "+c.opts, want, got)
	}
}

// TestDiskThroughGzip: the corpus's gzipped NTFS image walks to the same
// entries as the same image gunzipped by gzip itself (issue 14: a gzipped
// NTFS volume gave 0 events, gunzipped by hand 232).
func TestDiskThroughGzip(t *testing.T) {
	image.SetDefaultTempDir(t.TempDir())
	defer image.SetDefaultTempDir("")
	gz := parsertest.Corpus(t, "more/disk/ntfs/ntfs_index.raw.gz")
	raw := filepath.Join(t.TempDir(), "ntfs_index.raw")
	f, err := os.Create(raw)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("gzip", "-dc", gz)
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	want, _ := diskRows(t, raw)
	got, layer := diskRows(t, gz)
	t.Logf("ntfs_index.raw: %d entries, .raw.gz: %d", len(want), len(got))
	if layer != "gzip-raw:" {
		t.Errorf("container layer %q", layer)
	}
	sameRows(t, "ntfs_index.raw.gz", want, got)
}
