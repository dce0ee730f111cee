package mft_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestAttributeListAgainstFLS puts on the timeline the $MFT of a volume
// whose entries overflow into extension records through a non-resident
// $ATTRIBUTE_LIST (150 hard links, 200 named streams, ~1000 fragments),
// which the parser cannot read from the $MFT alone: every name fls lists
// for those entries is on the timeline for that entry, every $FILE_NAME
// time fls prints for the entry is one of its events', and every named stream fls lists
// is in the entry's ads or in a warning naming the entry. The rest of the
// volume is what fls lists, as in TestAgainstFLS, and no two events share
// an ID's inputs (an extension record's attribute has its own offset).
func TestAttributeListAgainstFLS(t *testing.T) {
	img, entries := ntfstest.AttrListVolume(t)
	body := ntfstest.FLS(t, img, 0)
	t.Run("mft-alone", func(t *testing.T) {
		res := parsertest.Parse(context.Background(), mft.New(), volumeMFT(t, img, "")[0], time.UTC)
		checkAttrList(t, res, body, entries, false)
	})
	t.Run("with-volume", func(t *testing.T) {
		// The $MFT as the walker's reader gives it, with its volume
		// (ntfs.VolumeSource): every list is followed.
		e := volumeMFT(t, img, "")[0]
		ra, _, err := e.ReaderAt()
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		src := &parsers.Source{Entry: e, R: io.NewSectionReader(ra, 0, e.Size), ReaderAt: withVolume{ra, f}, Size: e.Size, Zone: time.UTC}
		var res parsertest.Result
		src.Warn = func(w *parsers.RecordError) { res.Warnings = append(res.Warnings, w) }
		res.Err = mft.New().Parse(context.Background(), src, func(ev *timeline.Event) error {
			res.Events = append(res.Events, ev)
			return nil
		})
		checkAttrList(t, res, body, entries, true)
	})
	t.Run("damaged-list", func(t *testing.T) {
		// The hard-linked file's list moved past the end of the volume:
		// one warning naming the entry and the list's offset in $MFT, and
		// all 151 names still on the timeline, from the extension records.
		e := volumeMFT(t, img, "")[0]
		ra, _, err := e.ReaderAt()
		if err != nil {
			t.Fatal(err)
		}
		mftBytes := make([]byte, e.Size)
		if _, err := ra.ReadAt(mftBytes, 0); err != nil && err != io.EOF {
			t.Fatal(err)
		}
		entry := entries["links/target"]
		rec := mftBytes[entry*1024 : (entry+1)*1024]
		le := binary.LittleEndian
		listOff := -1
		for off := int(le.Uint16(rec[20:])); off+16 < len(rec); off += int(le.Uint32(rec[off+4:])) {
			if le.Uint32(rec[off:]) == ntfs.AttrAttributeList && rec[off+8] != 0 {
				listOff = off
				break
			}
			if le.Uint32(rec[off:]) == 0xffffffff || le.Uint32(rec[off+4:]) < 16 {
				break
			}
		}
		if listOff < 0 {
			t.Fatal("no non-resident $ATTRIBUTE_LIST")
		}
		runs := listOff + int(le.Uint16(rec[listOff+32:]))
		nl, no := int(rec[runs]&0xf), int(rec[runs]>>4)
		for i := range no - 1 {
			rec[runs+1+nl+i] = 0xff
		}
		rec[runs+nl+no] = 0x7f
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		src := &parsers.Source{Entry: e, R: bytes.NewReader(mftBytes), ReaderAt: withVolume{bytes.NewReader(mftBytes), f}, Size: e.Size, Zone: time.UTC}
		var warns []*parsers.RecordError
		src.Warn = func(w *parsers.RecordError) { warns = append(warns, w) }
		names := map[string]bool{}
		err = mft.New().Parse(context.Background(), src, func(ev *timeline.Event) error {
			if ev.Jejak.Data["mft_entry"] == strconv.FormatUint(entry, 10) && ev.Jejak.Data["attribute"] == mft.AttrFN {
				names[ev.File.Path] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(warns) != 1 || uint64(warns[0].Record) != entry || warns[0].Offset != int64(entry)*1024+int64(listOff) {
			t.Fatalf("warnings %v, want one for entry %d at offset %d", warns, entry, int64(entry)*1024+int64(listOff))
		}
		if len(names) != 151 {
			t.Errorf("%d names of entry %d on the timeline, want 151", len(names), entry)
		}
		t.Logf("warning: %v; %d names", warns[0], len(names))
	})
}

// withVolume is a $MFT's reader with its volume (4 KiB clusters).
type withVolume struct {
	io.ReaderAt
	vol io.ReaderAt
}

func (w withVolume) NTFSVolume() (io.ReaderAt, int64) { return w.vol, 4096 }

func checkAttrList(t *testing.T, res parsertest.Result, body []ntfstest.BodyLine, entries map[string]uint64, volume bool) {
	t.Helper()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	ours := map[uint64]bool{}
	for _, e := range entries {
		ours[e] = true
	}
	// Warnings (a $MFT alone): named streams of streams.txt out of reach,
	// and folders whose names are in extension records: the paths under
	// them are left out of the comparison.
	warned := map[string]bool{}
	nameless := map[uint64]bool{}
	for _, w := range res.Warnings {
		if volume {
			t.Errorf("warning %v, with the volume at hand", w)
			continue
		}
		if strings.Contains(w.Err.Error(), "paths through it") {
			nameless[uint64(w.Record)] = true
			continue
		}
		if uint64(w.Record) != entries["streams.txt"] || w.Offset%1024 != 0 {
			t.Errorf("warning %v: not an unlisted stream of streams.txt (entry %d)", w, entries["streams.txt"])
			continue
		}
		_, list, _ := strings.Cut(w.Err.Error(), "(")
		list, _, _ = strings.Cut(list, ")")
		for _, s := range strings.Split(list, ",") {
			warned[s] = true
		}
	}
	var under []string // fls paths of the nameless folders
	for _, l := range body {
		if nameless[l.Entry] {
			under = append(under, l.Name+"/")
		}
	}
	skip := func(p string) bool {
		return slices.ContainsFunc(under, func(d string) bool { return strings.HasPrefix(p, d) || p+"/" == d })
	}
	// Entries fls prints no $FILE_NAME line for (TSK 4.11 leaves out those
	// it finds in extension records), and the names fls gives them.
	noFN, flsHas := map[uint64]bool{}, map[string]bool{}
	for _, l := range body {
		name, _, _ := strings.Cut(l.Name, ":")
		flsHas[fmt.Sprintf("%d|%s", l.Entry, name)] = true
		if _, seen := noFN[l.Entry]; !seen || l.FN {
			noFN[l.Entry] = !l.FN
		}
	}
	// Names and $FILE_NAME times: ours by entry and path.
	names := map[uint64]map[string][][4]int64{} // entry -> path -> FN times (A,M,C,B)
	ads := map[uint64]string{}
	ids := map[string]string{}
	var mine, rest []*timeline.Event
	for _, ev := range res.Events {
		d := ev.Jejak.Data
		k := fmt.Sprintf("%d|%d|%s", ev.Jejak.Provenance.Offset, ev.Jejak.Provenance.Record, ev.TimestampDesc)
		if prev, dup := ids[k]; dup {
			t.Errorf("two events with one ID's inputs %s: %q and %q", k, prev, ev.Message)
		}
		ids[k] = ev.Message
		e, _ := strconv.ParseUint(d["mft_entry"], 10, 64)
		if !ours[e] {
			orphanName := strings.HasPrefix(ev.File.Path, ntfs.OrphanDir+"/") && !strings.HasPrefix(ev.File.Path, ntfs.OrphanDir+"/OrphanFile-")
			if noFN[e] && d["attribute"] == mft.AttrFN {
				// fls prints no $FILE_NAME line for it: its name is
				// checked against fls's other line.
				if !flsHas[fmt.Sprintf("%d|%s", e, ev.File.Path)] {
					t.Errorf("%s: entry %d has no such name in fls", ev.Message, e)
				}
				continue
			}
			if !nameless[e] && !skip(ev.File.Path) && !(len(nameless) > 0 && orphanName) {
				rest = append(rest, ev)
			}
			continue
		}
		mine = append(mine, ev)
		if d["ads"] != "" {
			ads[e] += "," + d["ads"]
		}
		if names[e] == nil {
			names[e] = map[string][][4]int64{}
		}
		if d["attribute"] == mft.AttrFN {
			names[e][ev.File.Path] = nil
		}
	}
	rows := collect(t, mine)
	for k, r := range rows {
		f := strings.Split(k, "|")
		e, _ := strconv.ParseUint(f[0], 10, 64)
		if f[2] == mft.AttrFN {
			names[e][f[1]] = append(names[e][f[1]], [4]int64{r.a, r.m, r.c, r.b})
		}
	}
	flsNames := map[uint64]map[string][][4]int64{}
	for _, l := range body {
		if !ours[l.Entry] {
			continue
		}
		name, stream, _ := strings.Cut(l.Name, ":")
		if stream != "" {
			if !strings.Contains(ads[l.Entry]+",", ","+stream+",") && !warned[stream] {
				t.Errorf("fls stream %q of entry %d neither in its ads nor in a warning", l.Name, l.Entry)
			}
			continue
		}
		if flsNames[l.Entry] == nil {
			flsNames[l.Entry] = map[string][][4]int64{}
		}
		if l.FN {
			flsNames[l.Entry][name] = append(flsNames[l.Entry][name], [4]int64{l.A, l.M, l.C, l.B})
		} else if _, ok := flsNames[l.Entry][name]; !ok {
			flsNames[l.Entry][name] = nil
		}
	}
	for name, e := range entries {
		var missing, extra []string
		// Times are compared per entry, not per name: on an entry whose
		// names spill into extension records, TSK 4.11 prints one
		// $FILE_NAME attribute's times on every name's line (and none for
		// some entries). ntfs-3g wrote the 150 links across a second
		// boundary once, and fls gave every link the first name's times.
		// So every time fls reports for the entry must be one of ours.
		var ourTimes [][4]int64
		for _, got := range names[e] {
			ourTimes = append(ourTimes, got...)
		}
		for n, times := range flsNames[e] {
			if _, ok := names[e][n]; !ok {
				missing = append(missing, n)
				continue
			}
			for _, ft := range times {
				if !slices.Contains(ourTimes, ft) {
					t.Errorf("%s (entry %d) name %q: fls's $FILE_NAME times %v are none of ours for the entry %v", name, e, n, ft, ourTimes)
				}
			}
		}
		for n := range names[e] {
			if _, ok := flsNames[e][n]; !ok {
				extra = append(extra, n)
			}
		}
		sort.Strings(missing)
		sort.Strings(extra)
		if len(missing) > 0 || len(extra) > 0 {
			t.Errorf("%s (entry %d): fls names not on the timeline %q, ours not in fls %q", name, e, missing, extra)
		}
		t.Logf("%s (entry %d): %d names, as fls", name, e, len(names[e]))
	}
	if n := len(names[entries["links/target"]]); n != 151 {
		t.Errorf("%d names of links/target, want 151", n)
	}
	// The rest of the volume, as TestAgainstFLS checks it.
	compareFLS(t, collect(t, rest), slices.DeleteFunc(slices.Clone(body), func(l ntfstest.BodyLine) bool {
		return ours[l.Entry] || nameless[l.Entry] || skip(l.Name)
	}))
	if volume && len(nameless) > 0 {
		t.Errorf("folders %v without a path with the volume at hand", nameless)
	}
	t.Logf("%d events, %d warnings", len(res.Events), len(res.Warnings))
}
