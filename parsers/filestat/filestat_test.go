package filestat_test

import (
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/filestat"
)

// TestEvents: one event per distinct recorded time, in MACB order; an expanded
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

// TestMergedTimes: one event per distinct time, its macb letters and
// timestamp_desc naming every time it is, in MACB order; times not
// recorded give nothing; every recorded time is one event's timestamp.
func TestMergedTimes(t *testing.T) {
	t1 := time.Date(2024, 2, 14, 20, 1, 2, 300, time.UTC)
	t2 := t1.Add(time.Nanosecond)
	// The same instant read in another zone is the same time.
	t1Local := t1.In(time.FixedZone("WIB", 7*3600))
	type want struct {
		at                 time.Time
		macb, desc, action string
	}
	for _, tc := range []struct {
		name  string
		times jfs.Times
		want  []want
	}{
		{"all four equal", jfs.Times{Modified: t1, Accessed: t1, Changed: t1, Born: t1Local},
			[]want{{t1, "macb", "Content Modification Time; Last Access Time; Metadata Modification Time; Creation Time", "file_macbtime"}}},
		{"written and changed at once, read later", jfs.Times{Modified: t1, Accessed: t2, Changed: t1, Born: t1},
			[]want{{t1, "m.cb", "Content Modification Time; Metadata Modification Time; Creation Time", "file_mcbtime"},
				{t2, ".a..", "Last Access Time", "file_atime"}}},
		{"a nanosecond apart", jfs.Times{Modified: t2, Accessed: t1, Changed: t2},
			[]want{{t2, "m.c.", "Content Modification Time; Metadata Modification Time", "file_mctime"},
				{t1, ".a..", "Last Access Time", "file_atime"}}},
		{"order of first letters", jfs.Times{Modified: t2, Accessed: t1, Changed: t1, Born: t1},
			[]want{{t2, "m...", "Content Modification Time", "file_mtime"},
				{t1, ".acb", "Last Access Time; Metadata Modification Time; Creation Time", "file_acbtime"}}},
		{"a zip entry's one time", jfs.Times{Modified: t1}, []want{{t1, "m...", "Content Modification Time", "file_mtime"}}},
		{"none recorded", jfs.Times{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := jfs.NewEntry("var/log/auth.log", []string{"ext4:var/log/auth.log"}, 10, nil, nil)
			e.Times = tc.times
			evs := filestat.Events(e)
			if len(evs) != len(tc.want) {
				t.Fatalf("%d events, want %d", len(evs), len(tc.want))
			}
			for i, ev := range evs {
				w := tc.want[i]
				if !ev.Timestamp.Equal(w.at) || ev.Jejak.Data["macb"] != w.macb || ev.TimestampDesc != w.desc || ev.Event.Action != w.action {
					t.Errorf("event %d: %v %q %q %q, want %v %q %q %q", i, ev.Timestamp, ev.Jejak.Data["macb"], ev.TimestampDesc, ev.Event.Action,
						w.at, w.macb, w.desc, w.action)
				}
				if ev.Message != w.desc+" of var/log/auth.log" {
					t.Errorf("event %d: message %q", i, ev.Message)
				}
			}
		})
	}
}
