package ntfs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
)

// ntfs3gVolume formats a volume with mkntfs and fills it through ntfs-3g
// (FUSE): nested folders, files deleted here and there, a folder deleted
// with its files (their parent's entry is then free or reused), a folder
// renamed, a hard link. The test skips when FUSE is not allowed.
func ntfs3gVolume(t *testing.T) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "vol.img")
	ntfstest.Format(t, img, 32<<20)
	mnt, unmount := ntfstest.Mount(t, img)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for a := range 3 {
		p := mnt
		for depth := range 6 {
			p = filepath.Join(p, fmt.Sprintf("d%d-%d", a, depth))
			must(os.Mkdir(p, 0o755))
			for range 12 {
				must(os.WriteFile(filepath.Join(p, fmt.Sprintf("f%04d.log", n)), []byte(strings.Repeat("x", n%300)), 0o644))
				n++
			}
		}
	}
	for i := 0; i < n; i += 7 { // deleted files, in every folder
		err := filepath.WalkDir(mnt, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Name() == fmt.Sprintf("f%04d.log", i) {
				return errors.Join(os.Remove(p), filepath.SkipAll)
			}
			return err
		})
		if err != nil && !errors.Is(err, filepath.SkipAll) {
			t.Fatal(err)
		}
	}
	must(os.RemoveAll(filepath.Join(mnt, "d1-0", "d1-1", "d1-2", "d1-3"))) // a folder tree deleted
	must(os.Rename(filepath.Join(mnt, "d2-0", "d2-1"), filepath.Join(mnt, "d2-0", "renamed")))
	must(os.Link(filepath.Join(mnt, "d0-0", "f0001.log"), filepath.Join(mnt, "d2-0", "link.log")))
	unmount()
	return img
}

// TestPathsBoundedCache resolves the path of every name of every entry of
// an ntfs-3g volume with the parent cache at its size and at one and three
// entries (every lookup then misses and re-reads the parent's record by
// MFT reference), and checks them all against fls -r -m: each (entry, path)
// fls prints, live, deleted or under $OrphanFiles, is one of ours and the
// reverse, save the entries fls leaves out by design.
func TestPathsBoundedCache(t *testing.T) {
	img := ntfs3gVolume(t)
	want := map[string]bool{}
	for _, l := range ntfstest.FLS(t, img, 0) {
		if l.Meta == "" || strings.HasPrefix(l.Name, ntfs.OrphanDir) && !strings.Contains(l.Name, "/") {
			continue // the virtual $OrphanFiles folder
		}
		name, _, _ := strings.Cut(l.Name, ":")
		want[fmt.Sprintf("%d|%s", l.Entry, name)] = true
	}
	mft, ra := volumeMFT(t, img)
	var deleted, orphans int
	for _, size := range []int{1 << 14, 3, 1} {
		t.Run(fmt.Sprint("cache-", size), func(t *testing.T) {
			defer ntfs.SetParentCache(size)()
			tbl := ntfs.NewTable(ra, mft.Size, 1024)
			got := map[string]bool{}
			deleted, orphans = 0, 0
			err := tbl.Scan(context.Background(), func(r *ntfs.Record, _ int64) error {
				if !r.InUse() {
					deleted++
				}
				add := func(fn *ntfs.FileName) {
					p, orphan := tbl.Path(r, fn)
					if orphan {
						orphans++
					}
					got[fmt.Sprintf("%d|%s", r.Entry, p)] = true
				}
				add(nil)
				for i := range r.Names {
					add(&r.Names[i])
				}
				return nil
			}, func(e uint64, off int64, err error) { t.Errorf("entry %d at %d: %v", e, off, err) })
			if err != nil {
				t.Fatal(err)
			}
			var missing, extra []string
			for k := range want {
				if !got[k] {
					missing = append(missing, k)
				}
			}
			for k := range got {
				_, p, _ := strings.Cut(k, "|")
				// fls prints neither the root folder itself nor unnamed
				// allocated entries (reserved 12-15), which we keep.
				if !want[k] && p != "." && !strings.HasPrefix(p, ntfs.OrphanDir+"/OrphanFile-") {
					extra = append(extra, k)
				}
			}
			sort.Strings(missing)
			sort.Strings(extra)
			if len(missing) > 0 || len(extra) > 0 {
				t.Errorf("fls paths not ours: %q\nour paths not in fls: %q", missing, extra)
			}
			t.Logf("%d fls paths, %d entries deleted, %d orphan names", len(want), deleted, orphans)
		})
	}
	if deleted == 0 {
		t.Error("the volume holds no deleted entry: the test checks less than it says")
	}
}

// volumeMFT opens the volume image img for the test and gives its $MFT,
// as the walker finds it, and a reader of the $MFT's bytes.
func volumeMFT(t *testing.T, img string) (*jfs.Entry, io.ReaderAt) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	w, err := ntfs.NewWalker(f, st.Size(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mft *jfs.Entry
	stop := errors.New("stop")
	_ = w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if e.Path == "$MFT" {
			mft = e
			return stop
		}
		return nil
	}, nil)
	if mft == nil {
		t.Fatal("no $MFT")
	}
	ra, _, err := mft.ReaderAt()
	if err != nil {
		t.Fatal(err)
	}
	return mft, ra
}
