package mft_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// ntfsTimes is three of a file's times as ntfs-3g's system.ntfs_times
// attribute takes them (creation, modification, access; the fourth, MFT
// change, it sets itself), raw FILETIMEs, so that a zero or a one-tick
// time can be written as found on wiped volumes.
type ntfsTimes struct{ b, m, a uint64 }

// ft is t as a FILETIME: 100 ns ticks since 1601.
func ft(t time.Time) uint64 {
	return uint64(t.Unix()+11644473600)*10_000_000 + uint64(t.Nanosecond()/100)
}

// TestMergedTimesAgainstFLS writes files through ntfs-3g (a FUSE mount of
// a fresh mkntfs volume) whose $STANDARD_INFORMATION times are equal in
// some places and not in others, set through system.ntfs_times and touch,
// out-of-range ones included. The timeline has one event per distinct
// time of each attribute, with the macb letters of the times it is, and
// expanded back to four times per attribute it is what fls -r -m prints
// for every entry of the volume (compareFLS; collect checks that no two
// events of an attribute share a time).
func TestMergedTimesAgainstFLS(t *testing.T) {
	img := mkntfsVolume(t, "4096")
	mnt, unmount := ntfstest.Mount(t, img)
	t1 := ft(time.Date(2024, 2, 14, 7, 0, 1, 123456700, time.UTC))
	t2 := ft(time.Date(2024, 2, 14, 9, 30, 0, 0, time.UTC))
	t3 := ft(time.Date(2024, 2, 15, 1, 2, 3, 400, time.UTC))
	t4 := ft(time.Date(2023, 12, 31, 23, 59, 59, 999999900, time.UTC))
	// ntfs-3g stamps C (MFT changed) itself when the times are set, so
	// C is the driver's clock, apart from the others.
	files := []struct {
		name  string
		times ntfsTimes
		// the $SI events' macb, in event order
		want []string
	}{
		{"same.txt", ntfsTimes{b: t1, m: t1, a: t1}, []string{"ma.b", "..c."}},
		{"access-later.txt", ntfsTimes{b: t1, m: t1, a: t2}, []string{"m..b", ".a..", "..c."}},
		{"all-differ.txt", ntfsTimes{b: t4, m: t1, a: t2}, []string{"m...", ".a..", "..c.", "...b"}},
		{"pairs.txt", ntfsTimes{b: t3, m: t1, a: t1}, []string{"ma..", "..c.", "...b"}},
		// Zeroed A and B: out of range, the same raw FILETIME, one event.
		{"zeroed.txt", ntfsTimes{b: 0, m: t1, a: 0}, []string{"m...", ".a.b", "..c."}},
		// Out of range and one tick apart: two events, each its own
		// FILETIME.
		{"ticks.txt", ntfsTimes{b: 0, m: t2, a: 1}, []string{"m...", ".a..", "..c.", "...b"}},
		// The order of events is that of each one's first letter.
		{"created-later.txt", ntfsTimes{b: t3, m: t1, a: t3}, []string{"m...", ".a.b", "..c."}},
	}
	for _, f := range files {
		p := filepath.Join(mnt, f.name)
		if err := os.WriteFile(p, []byte("tabulasi "+f.name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		var buf [32]byte
		for i, v := range []uint64{f.times.b, f.times.m, f.times.a, ft(time.Now())} {
			binary.LittleEndian.PutUint64(buf[8*i:], v)
		}
		if err := syscall.Setxattr(p, "system.ntfs_times", buf[:], 0); err != nil {
			t.Fatalf("setxattr system.ntfs_times %s: %v", p, err)
		}
	}
	// touch as an examiner's tools leave files: the access time alone, and
	// the modification time alone, on files the driver stamped itself.
	for _, c := range [][]string{{"-a", "-d", "2024-02-14 10:00:00Z"}, {"-m", "-d", "2024-02-14 11:00:00.5Z"}} {
		p := filepath.Join(mnt, "touch"+c[0]+".txt")
		if err := os.WriteFile(p, []byte("touched\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("touch", append(c, p)...).CombinedOutput(); err != nil {
			t.Fatalf("touch %q: %v %s", c, err, out)
		}
	}
	unmount()

	_, parts := ntfstest.NTFSPartitions(t, img)
	if len(parts) != 1 {
		t.Fatalf("%d NTFS partitions", len(parts))
	}
	res := parsertest.Parse(context.Background(), mft.New(), volumeMFT(t, img, "")[0], time.UTC)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatalf("parse: %v, warnings %v", res.Err, res.Warnings)
	}
	compareFLS(t, collect(t, res.Events), ntfstest.FLS(t, img, parts[0].Start/512))

	si := map[string][]*timeline.Event{}
	for _, ev := range res.Events {
		if ev.Jejak.Data["attribute"] == mft.AttrSI {
			si[ev.File.Path] = append(si[ev.File.Path], ev)
		}
	}
	for _, f := range files {
		evs := si[f.name]
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Jejak.Data["macb"])
		}
		if !slices.Equal(got, f.want) {
			t.Errorf("%s: $SI events %q, want %q", f.name, got, f.want)
			continue
		}
		for _, ev := range evs {
			first := firstLetter(ev.Jejak.Data["macb"])
			if first == 'c' {
				continue // the driver's clock
			}
			raw := map[byte]uint64{'m': f.times.m, 'a': f.times.a, 'b': f.times.b}[first]
			oor := ev.Jejak.Time != nil && ev.Jejak.Time.OutOfRange
			if wantOOR := raw < ft(time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)); oor != wantOOR {
				t.Errorf("%s %s: out of range %v, want %v", f.name, ev.Jejak.Data["macb"], oor, wantOOR)
			}
			if oor && ev.Jejak.Data["filetime"] != fmt.Sprint(raw) {
				t.Errorf("%s %s: filetime %q, want %d", f.name, ev.Jejak.Data["macb"], ev.Jejak.Data["filetime"], raw)
			}
			if !oor && ft(ev.Timestamp) != raw {
				t.Errorf("%s %s: time %v, want FILETIME %d", f.name, ev.Jejak.Data["macb"], ev.Timestamp, raw)
			}
		}
	}
	for _, name := range []string{"touch-a.txt", "touch-m.txt"} {
		if len(si[name]) < 2 {
			t.Errorf("%s: %d $SI events, want the touched time apart from the others", name, len(si[name]))
		}
	}
	t.Logf("%d events for %d times", len(res.Events), timesOf(res.Events))
}

func firstLetter(macb string) byte {
	for i := range len(macb) {
		if macb[i] != '.' {
			return macb[i]
		}
	}
	return 0
}
