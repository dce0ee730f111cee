package ntfs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
)

// TestDeletedParents puts deleted files of the three kinds an examiner
// meets on one ntfs-3g volume and checks where the walk places each,
// against fls -r -m: a deleted file in a live folder (A/f1) under it; a
// deleted file in a deleted folder (K/k1) under the deleted folder, whose
// record NTFS left with its sequence number one higher; deleted files
// whose folder's record was reused by a new folder (B/g1, B/g2; B's record
// is C1's now) under $OrphanFiles, by name. The last is The Sleuth Kit's
// answer and ours: their $FILE_NAME names B's entry and its old sequence
// number, and C1 is another folder, so a path through C1 would be false;
// B's name is gone with its record. (The entries' parent reference stays
// on the timeline: the mft parser's $FILE_NAME events carry it.)
func TestDeletedParents(t *testing.T) {
	img := filepath.Join(t.TempDir(), "deleted.img")
	ntfstest.Format(t, img, 16<<20)
	mnt, unmount := ntfstest.Mount(t, img)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) { must(os.WriteFile(filepath.Join(mnt, p), []byte(s), 0o644)) }
	ino := func(p string) uint64 {
		st, err := os.Stat(filepath.Join(mnt, p))
		must(err)
		return st.Sys().(*syscall.Stat_t).Ino
	}
	for _, d := range []string{"A", "K", "B"} {
		must(os.Mkdir(filepath.Join(mnt, d), 0o755))
	}
	write("A/f1", strings.Repeat("x", 100))
	write("A/f2", "y")
	write("K/k1", "k1")
	write("B/g1", "g1")
	write("B/g2", strings.Repeat("g2", 400)) // non-resident
	b := ino("B")
	for _, p := range []string{"B/g1", "B/g2", "B"} {
		must(os.Remove(filepath.Join(mnt, p)))
	}
	// ntfs-3g hands B's record to one of the next folders made.
	reused := ""
	for i := 0; i < 200 && reused == ""; i++ {
		p := fmt.Sprintf("C%d", i)
		must(os.Mkdir(filepath.Join(mnt, p), 0o755))
		if ino(p) == b {
			reused = p
		} else {
			must(os.Remove(filepath.Join(mnt, p)))
		}
	}
	if reused == "" {
		t.Fatalf("ntfs-3g did not reuse B's record %d in 200 folders", b)
	}
	for _, p := range []string{"A/f1", "K/k1", "K"} {
		must(os.Remove(filepath.Join(mnt, p)))
	}
	unmount()

	want := map[string]bool{} // path of every deleted file fls lists
	for _, l := range ntfstest.FLS(t, img, 0) {
		if l.Deleted && !l.FN && !l.Dir && strings.Contains(l.Meta, "-128-") {
			want[l.Name] = true
		}
	}
	for _, p := range []string{"A/f1", "K/k1", ntfs.OrphanDir + "/g1", ntfs.OrphanDir + "/g2"} {
		if !want[p] {
			t.Errorf("fls does not list deleted %s (%v): the volume is not what the test needs", p, want)
		}
	}
	f, err := os.Open(img)
	must(err)
	defer f.Close()
	st, _ := f.Stat()
	items, probs, err := fstest.Collect(context.Background(), walker(t, f, st.Size(), 0, 1))
	must(err)
	for _, p := range probs {
		t.Errorf("problem: %v", p)
	}
	got := map[string]bool{}
	for _, it := range items {
		if it.Deleted {
			got[it.Path] = true
		}
	}
	for p := range want {
		if !got[p] {
			t.Errorf("fls deleted file %s not delivered as deleted there", p)
		}
	}
	for p := range got {
		if !want[p] {
			t.Errorf("deleted %s delivered, not in fls", p)
		}
	}
	t.Logf("B's record %d reused by %s; deleted files: %v", b, reused, want)
}
