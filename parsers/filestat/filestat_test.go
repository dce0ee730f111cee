package filestat_test

import (
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/filestat"
)

// TestEvents: one event per recorded time, in MACB order; an expanded
// container's times are its events like any file's; times a member only
// inherited from its container give none (the container's entry has them).
func TestEvents(t *testing.T) {
	m := time.Date(2024, 2, 14, 20, 1, 2, 0, time.UTC)
	times := jfs.Times{Modified: m, Accessed: m.Add(time.Minute), Changed: m.Add(2 * time.Minute)}
	for _, tc := range []struct {
		name      string
		container bool
		inherited bool
		want      []string
	}{
		{"plain file", false, false, []string{"Content Modification Time", "Last Access Time", "Metadata Modification Time"}},
		{"expanded container", true, false, []string{"Content Modification Time", "Last Access Time", "Metadata Modification Time"}},
		{"inherited times", false, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := jfs.NewEntry("logs/auth.log.2.bz2", []string{"raw:", "ext4:logs/auth.log.2.bz2"}, 10, nil, nil)
			e.Times, e.Inode, e.Container, e.InheritedTimes = times, "18", tc.container, tc.inherited
			var got []string
			for _, ev := range filestat.Events(e) {
				got = append(got, ev.TimestampDesc)
				if ev.File.Inode != "18" || ev.File.Path != e.Path {
					t.Errorf("file %+v", ev.File)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("events %q, want %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("events %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// TestZoneAssumed: times a container recorded as local times (FAT) carry
// the zone they were read in.
func TestZoneAssumed(t *testing.T) {
	e := jfs.NewEntry("a.txt", []string{"fat:a.txt"}, 1, nil, nil)
	e.Times.Modified = time.Date(2024, 2, 14, 7, 30, 0, 0, time.UTC)
	e.ZoneAssumed = "Asia/Jakarta"
	evs := filestat.Events(e)
	if len(evs) != 1 || evs[0].Jejak.Time == nil || evs[0].Jejak.Time.ZoneAssumed != "Asia/Jakarta" {
		t.Fatalf("events %+v", evs)
	}
	e.ZoneAssumed = ""
	if evs := filestat.Events(e); evs[0].Jejak.Time != nil {
		t.Errorf("a time with its own zone got a note: %+v", evs[0].Jejak.Time)
	}
}
