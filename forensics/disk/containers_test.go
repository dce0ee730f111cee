package disk

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/parsers/filestat"
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
			want := fstest.FlsTimes(t, img, 0)
			w, ok, err := Open(context.Background(), img, Options{})
			if err != nil || !ok {
				t.Fatalf("Open: disk=%v err=%v", ok, err)
			}
			got := map[fstest.TimeRow]int{}
			ids := map[string]string{}
			var containers []string
			members := 0
			err = w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
				if e.Container {
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
				if len(e.Chain) != 2 {
					// A member: its times are its container's record of
					// it, never the file system's inode times again.
					members += len(evs)
					if e.InheritedTimes && len(evs) > 0 {
						t.Errorf("%q: %d events from times inherited from its container", e.Chain, len(evs))
					}
					return nil
				}
				if e.Chain[0] != "raw:" || e.Chain[1] != "ext4:"+e.Path {
					t.Errorf("chain %q for %s", e.Chain, e.Path)
				}
				deleted := slices.Contains(evs[0].Jejak.Tags, "deleted")
				if deleted != e.Deleted {
					t.Errorf("%s: deleted %v, events tagged %v", e.Path, e.Deleted, deleted)
				}
				for _, ev := range evs {
					got[fstest.Row(e.Path, e.Deleted, ev.File.Inode, ev.TimestampDesc, ev.Timestamp)]++
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
			t.Logf("%d fls time rows, all matched once; %d containers; %d member time events", len(want), len(containers), members)
		})
	}
}
