package ntfstest_test

import (
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
)

// TestMountWriteUnmount: what is written through Mount's folder is on the
// image once unmount has returned (fls lists it, with the entry the
// mount gave as its inode), the folder is no longer a mount, and a second
// unmount does nothing.
func TestMountWriteUnmount(t *testing.T) {
	img := filepath.Join(t.TempDir(), "vol.img")
	ntfstest.Format(t, img, 8<<20, "-L", "ntfstest")
	mnt, unmount := ntfstest.Mount(t, img)
	names := []string{"a.log", "dir/b.log", "dir/sub/c.log"}
	inodes := map[string]uint64{}
	for _, n := range names {
		p := filepath.Join(mnt, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("tabulasi "+n+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		inodes[n] = st.Sys().(*syscall.Stat_t).Ino // ntfs-3g's inode is the MFT entry
	}
	unmount()
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == 0x65735546 {
		t.Fatalf("%s is still a FUSE mount after unmount", mnt)
	}
	if entries, err := os.ReadDir(mnt); err != nil || len(entries) != 0 {
		t.Fatalf("after unmount %s holds %d names (%v), want the empty folder", mnt, len(entries), err)
	}
	unmount()

	got := map[string]uint64{}
	for _, l := range ntfstest.FLS(t, img, 0) {
		if !l.FN && !l.Deleted && slices.Contains(names, l.Name) {
			got[l.Name] = l.Entry
		}
	}
	for _, n := range names {
		if got[n] == 0 || got[n] != inodes[n] {
			t.Errorf("%s: fls entry %d, ntfs-3g inode %d", n, got[n], inodes[n])
		}
	}
}

// TestMountRefusedSkips: a file that is no NTFS volume makes ntfs-3g exit
// without mounting, and Mount skips the test (as where FUSE is not
// allowed) instead of waiting for a mount that never comes.
func TestMountRefusedSkips(t *testing.T) {
	img := filepath.Join(t.TempDir(), "zeros.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	returned := false
	t.Run("zeros", func(t *testing.T) {
		ntfstest.Mount(t, img)
		returned = true
	})
	if returned {
		t.Fatal("Mount returned for a file of zeros")
	}
}
