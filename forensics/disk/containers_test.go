package disk

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/filestat"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestContainerTimesAgainstFls: on ext4 and ext2 images holding a .docx,
// an .odt, a .zip with a .tgz inside, a .tgz, .gz/.bz2/.xz logs and a
// deleted .zip, the filestat events of the whole walk for the file
// system's own entries are exactly fls's times: every row once, none
// extra, an expanded container's included, with its inode and deleted
// flag. The members' own times (zip, tar, gzip header) are events too,
// under their own chains: no event ID repeats.
func TestContainerTimesAgainstFls(t *testing.T) {
	for _, v := range []struct {
		name string
		args []string
	}{
		{"ext4", []string{"-t", "ext4", "-b", "4096", "-I", "256"}},
		{"ext2-128", []string{"-t", "ext2", "-b", "1024", "-I", "128"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			img := fstest.MakeContainerImage(t, t.TempDir(), v.args...)
			containers, members := timesAgainstFls(t, img, 0, []string{"raw:"})
			if len(containers) != fstest.ContainerTreeContainers {
				t.Errorf("%d containers, want %d: %q", len(containers), fstest.ContainerTreeContainers, containers)
			}
			for _, f := range []string{"docs/report.docx", "docs/minutes.odt", "hidden.zip", "sys.tgz", "logs/syslog.1.gz", "logs/auth.log.2.bz2", "logs/kern.log.3.xz"} {
				if !slices.Contains(containers, "raw: > ext4:"+f) {
					t.Errorf("%s not delivered as a container: %q", f, containers)
				}
			}
			if members == 0 {
				t.Error("no member times: the zip and tar members' own times are missing")
			}
		})
	}
}

// TestSampleContainerTimes: Debian's ext4 sample holds a .docx and an .odt
// (and deleted copies): their inode times are on the timeline, each once,
// as fls lists them.
func TestSampleContainerTimes(t *testing.T) {
	img := oracle.Sample(t, "ext4")
	containers, _ := timesAgainstFls(t, img, 2048, []string{"raw:", "partition:1@1048576"})
	for _, f := range []string{"text1/a-text.docx", "text1/a-text.odt"} {
		if !slices.Contains(containers, "raw: > partition:1@1048576 > ext4:"+f) {
			t.Errorf("%s not delivered as a container: %q", f, containers)
		}
	}
}

// timesAgainstFls walks the disk image img and compares the filestat
// events of the entries of the file system under prefix (at sector) with
// fls's times: each fls row once, nothing else. It checks that no event ID
// repeats across the whole walk, members included, and returns the chains
// of the expanded containers and the number of member time events.
func timesAgainstFls(t *testing.T, img string, sector int64, prefix []string) (containers []string, members int) {
	t.Helper()
	want := fstest.FlsTimes(t, img, sector)
	w, ok, err := Open(context.Background(), img, Options{})
	if err != nil || !ok {
		t.Fatalf("Open: disk=%v err=%v", ok, err)
	}
	got := map[fstest.TimeRow]int{}
	ids := map[string]string{}
	imageFiles := 0
	err = w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
		if e.Container && len(e.Chain) == 1 {
			// The image file itself: times from the examiner's disk.
			if e.Chain[0] != "file:"+filepath.Base(img) || e.Times.Modified.IsZero() {
				t.Errorf("image file entry %q %+v", e.Chain, e.Times)
			}
			imageFiles++
		} else if e.Container {
			containers = append(containers, strings.Join(e.Chain, " > "))
		}
		evs := filestat.Events(e)
		for _, ev := range evs {
			// What ingest's emitter sets before Finalize.
			ev.Jejak.Provenance = timeline.Provenance{EvidenceSHA256: "img", Chain: e.Chain, Path: e.Path, Parser: filestat.Name}
			ev.Finalize()
			where := strings.Join(e.Chain, " > ") + " " + ev.TimestampDesc
			if prev, dup := ids[ev.Jejak.ID]; dup {
				t.Errorf("event ID of %s repeats that of %s", where, prev)
			}
			ids[ev.Jejak.ID] = where
		}
		if len(e.Chain) == 1 {
			return nil
		}
		if len(e.Chain) != len(prefix)+1 || !slices.Equal(e.Chain[:len(prefix)], prefix) {
			// A member: its times are its container's record of it,
			// never the file system's inode times again.
			members += len(evs)
			if e.InheritedTimes && len(evs) > 0 {
				t.Errorf("%q: %d events from times inherited from its container", e.Chain, len(evs))
			}
			return nil
		}
		if e.Chain[len(prefix)] != "ext4:"+e.Path {
			t.Errorf("chain %q for %s", e.Chain, e.Path)
		}
		if len(evs) == 0 {
			t.Errorf("%s: no time events", e.Path)
			return nil
		}
		if tagged := slices.Contains(evs[0].Jejak.Tags, "deleted"); tagged != e.Deleted {
			t.Errorf("%s: deleted %v, events tagged %v", e.Path, e.Deleted, tagged)
		}
		for _, ev := range evs {
			// One event per distinct time: its description names every
			// time it is, each a row of fls.
			for desc := range strings.SplitSeq(ev.TimestampDesc, "; ") {
				got[fstest.Row(e.Path, e.Deleted, ev.File.Inode, desc, ev.Timestamp)]++
			}
		}
		return nil
	}, func(p *jfs.Problem) { t.Errorf("problem: %v", p) })
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("fls has %d of %s, the walk's events %d", want[k], k, got[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("event not in fls: %s (x%d)", k, got[k])
		}
	}
	if imageFiles != 1 {
		t.Errorf("%d image file entries, want 1", imageFiles)
	}
	t.Logf("%d fls time rows, all matched once; %d containers; %d member time events", len(want), len(containers), members)
	return containers, members
}

// TestNTFSContainersOnce: the NTFS walker expands the archives it holds
// itself; through the disk walker each of its entries arrives once, the
// sample's .docx and .odt as one container each followed by their
// members, with no problem (an announced container is not sniffed again).
func TestNTFSContainersOnce(t *testing.T) {
	r := walk(t, oracle.Sample(t, "ntfs"), Options{})
	for _, p := range r.probs {
		t.Errorf("problem: %v", p)
	}
	seen := map[string]int{}
	containers := map[string]int{}
	for _, it := range r.items {
		seen[it.Key()]++
		if it.Container {
			containers[it.Chain[len(it.Chain)-1]]++
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	for _, f := range []string{"ntfs:text1/a-text.docx", "ntfs:text1/a-text.odt"} {
		if containers[f] != 1 {
			t.Errorf("%s: %d container entries, want 1 (containers: %v)", f, containers[f], containers)
		}
	}
}

// TestImagesInFolderKeepTimes: disk images inside a registered folder are
// files of that folder (they are not opened as disks there): each is
// delivered once with the times stat gives, so they are on the timeline.
func TestImagesInFolderKeepTimes(t *testing.T) {
	dir := filepath.Dir(parsertest.Corpus(t, "images/image.E01"))
	w, err := OpenEvidence(context.Background(), dir, jfs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items, _, err := fstest.Collect(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"image.E01", "tsk_volume_system.raw"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range items {
			if it.Key() != "dir:"+name {
				continue
			}
			n++
			if !it.Times.Modified.Equal(fi.ModTime()) || it.Inode == "" {
				t.Errorf("%s: times %+v inode %q, stat says mtime %v", name, it.Times, it.Inode, fi.ModTime())
			}
		}
		if n != 1 {
			t.Errorf("%s delivered %d times", name, n)
		}
	}
}
