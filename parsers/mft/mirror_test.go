package mft_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/disk"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// mkntfsVolume formats a fresh NTFS volume with ntfs-3g's mkntfs: a real
// $MFT, and a real $MFTMirr holding copies of its first four records.
// The volume is 64 MiB: go-ntfs v0.2.1 divides the boot sector's sector
// count by the cluster size in bytes and refuses a volume where that is 0,
// which a smaller one with 64 KiB clusters would be.
func mkntfsVolume(t *testing.T, cluster string) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "ntfs-"+cluster+".img")
	ntfstest.Format(t, img, 64<<20, "-c", cluster, "-L", "tabulasi")
	return img
}

// TestMirrorIsNotASecondMFT walks whole NTFS volumes (fresh mkntfs ones
// with small and large clusters, and Debian's samples) the way ingest
// does: every file whose content the mft parser accepts is parsed. The
// $MFTMirr stream starts with MFT records, so it is accepted; it must not
// put $MFT, $MFTMirr, $LogFile and $Volume on the timeline a second time.
// Every (entry, path, attribute, time) appears once, and the whole is
// what fls -r -m lists.
func TestMirrorIsNotASecondMFT(t *testing.T) {
	type vol struct {
		name string
		img  func(t *testing.T) string
	}
	for _, v := range []vol{
		{"mkntfs-4k", func(t *testing.T) string { return mkntfsVolume(t, "4096") }},
		{"mkntfs-1k", func(t *testing.T) string { return mkntfsVolume(t, "1024") }},
		{"mkntfs-64k", func(t *testing.T) string { return mkntfsVolume(t, "65536") }},
		{"sample-ntfs", func(t *testing.T) string { return oracle.Sample(t, "ntfs") }},
	} {
		t.Run(v.name, func(t *testing.T) {
			img := v.img(t)
			_, parts := ntfstest.NTFSPartitions(t, img)
			if len(parts) != 1 {
				t.Fatalf("%d NTFS partitions", len(parts))
			}
			w, ok, err := disk.Open(context.Background(), img, disk.Options{})
			if err != nil || !ok {
				t.Fatalf("disk.Open: %v %v", ok, err)
			}
			p := mft.New()
			var events []*timeline.Event
			parsed := map[string]int{}
			mirror := false
			err = w.Walk(context.Background(), func(ctx context.Context, e *jfs.Entry) error {
				if e.Container {
					return nil
				}
				if e.Path == "$MFTMirr" {
					mirror = true
				}
				rc, err := e.Open()
				if err != nil {
					t.Errorf("%s: %v", e.Path, err)
					return nil
				}
				head := make([]byte, parsers.HeadSize)
				n, _ := io.ReadFull(rc, head)
				rc.Close()
				if !p.Match(e, head[:n]) {
					return nil
				}
				res := parsertest.Parse(ctx, p, e, time.UTC)
				if res.Err != nil || len(res.Warnings) > 0 {
					t.Errorf("%s: %v, warnings %v", e.Path, res.Err, res.Warnings)
				}
				parsed[e.Path] = len(res.Events)
				events = append(events, res.Events...)
				return nil
			}, func(p *jfs.Problem) { t.Errorf("problem: %v", p) })
			if err != nil {
				t.Fatal(err)
			}
			if !mirror {
				t.Error("$MFTMirr was not delivered as a file")
			}
			if parsed["$MFT"] == 0 {
				t.Fatalf("the $MFT was not parsed: %v", parsed)
			}
			if n := parsed["$MFTMirr"]; n != 0 {
				t.Errorf("$MFTMirr parsed as a second MFT: %d events", n)
			}
			once := map[string]int{}
			for _, ev := range events {
				d := ev.Jejak.Data
				once[fmt.Sprintf("%s|%s|%s|%s", d["mft_entry"], ev.File.Path, d["attribute"], d["macb"])]++
			}
			for k, n := range once {
				if n != 1 {
					t.Errorf("%s on the timeline %d times", k, n)
				}
			}
			compareFLS(t, collect(t, events), ntfstest.FLS(t, img, parts[0].Start/512))
			t.Logf("files parsed as MFTs: %v; %d events", parsed, len(events))
		})
	}
}

// TestMirrorExportedByIcat: the class is the content, not the walker: an
// $MFTMirr extracted with TSK's icat adds no events, while the $MFT
// extracted beside it gives every entry's times, and a copy of the mirror
// with one byte more (no longer the size its own record 1 declares) is
// read as an MFT, with the trailing byte warned about.
func TestMirrorExportedByIcat(t *testing.T) {
	img := mkntfsVolume(t, "4096")
	oracle.Tool(t, "icat", "sleuthkit")
	dir := t.TempDir()
	export := func(name, inode string, extra []byte) string {
		p := filepath.Join(dir, name)
		b := append(oracle.Output(t, "icat", img, inode), extra...)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mirror := parsertest.ParseFile(t, mft.New(), export("MFTMirr.bin", "1", nil), nil)
	if mirror.Err != nil || len(mirror.Warnings) > 0 || len(mirror.Events) != 0 {
		t.Errorf("$MFTMirr: %d events, err %v, warnings %v; want none", len(mirror.Events), mirror.Err, mirror.Warnings)
	}
	whole := parsertest.ParseFile(t, mft.New(), export("MFT.bin", "0", nil), nil)
	if whole.Err != nil || len(whole.Warnings) > 0 || timesOf(whole.Events) < 100 {
		t.Errorf("$MFT: %d events of %d times, err %v, warnings %v", len(whole.Events), timesOf(whole.Events), whole.Err, whole.Warnings)
	}
	longer := parsertest.ParseFile(t, mft.New(), export("not-a-mirror.bin", "1", []byte{0}), nil)
	if longer.Err != nil || len(longer.Warnings) != 1 || timesOf(longer.Events) != 32 {
		t.Errorf("mirror plus a byte: %d events of %d times (want the 4 records' 32), err %v, warnings %v",
			len(longer.Events), timesOf(longer.Events), longer.Err, longer.Warnings)
	}
}

// timesOf counts the times events stand for: one per macb letter (an
// event is every time of its attribute that has its timestamp).
func timesOf(evs []*timeline.Event) int {
	n := 0
	for _, ev := range evs {
		n += 4 - strings.Count(ev.Jejak.Data["macb"], ".")
	}
	return n
}

// TestWholeMirrorTellsByName: with 64 KiB clusters mkntfs's MFT fits in
// one cluster and the mirror copies all of it: the two files are the same
// bytes. Exported under its own name the mirror adds nothing; under any
// other name it is read as the MFT it equals.
func TestWholeMirrorTellsByName(t *testing.T) {
	img := mkntfsVolume(t, "65536")
	oracle.Tool(t, "icat", "sleuthkit")
	dir := t.TempDir()
	mir, whole := oracle.Output(t, "icat", img, "1"), oracle.Output(t, "icat", img, "0")
	if string(mir) != string(whole) {
		t.Skip("this mkntfs does not mirror the whole one-cluster MFT")
	}
	for name, want := range map[string]bool{"$MFTMirr": false, "mft-copy.bin": true} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, mir, 0o644); err != nil {
			t.Fatal(err)
		}
		res := parsertest.ParseFile(t, mft.New(), p, nil)
		if res.Err != nil || len(res.Warnings) > 0 || (len(res.Events) > 0) != want {
			t.Errorf("%s: %d events, err %v, warnings %v; want events: %v", name, len(res.Events), res.Err, res.Warnings, want)
		}
	}
}
