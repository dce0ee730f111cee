package mft_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

func TestMain(m *testing.M) { oracle.Main(m) }

// volumeMFT walks an NTFS volume and returns the "$MFT" entry it yields.
func volumeMFT(t testing.TB, img string, pkg string) []*jfs.Entry {
	t.Helper()
	_, parts := ntfstest.NTFSPartitions(t, img)
	var out []*jfs.Entry
	for _, p := range parts {
		w, err := ntfs.NewWalker(p.Reader, p.Length, []string{fmt.Sprintf("partition:%d@%d", p.Index, p.Start)})
		if err != nil {
			t.Fatal(err)
		}
		var found *jfs.Entry
		err = w.Walk(context.Background(), func(_ context.Context, e *jfs.Entry) error {
			if e.Path == "$MFT" {
				c := *e
				found = &c
			}
			return nil
		}, func(p *jfs.Problem) { t.Errorf("walk problem: %v", p) })
		if err != nil || found == nil {
			t.Fatalf("no $MFT yielded (%v)", err)
		}
		out = append(out, found)
	}
	return out
}

// row is what the timeline says of one (entry, path, attribute).
type row struct {
	deleted    bool
	m, a, c, b int64
	oor        [4]bool   // which times are out of range, in A,M,C,B order
	raw        [4]uint64 // FILETIMEs of out-of-range times, in A,M,C,B order
	ads        string
	letters    string    // the macb letters its events gave, in event order
	events     []instant // its events' times
}

// instant is an event's time: in range its Unix nanoseconds, else its raw
// FILETIME.
type instant struct {
	raw bool
	v   int64
}

// descs are the descriptions of the four times, in MACB order.
var descs = [4]string{"Content Modification Time", "Last Access Time", "Metadata Modification Time", "Creation Time"}

// collect expands each event's macb letters back into the four times of
// its attribute, and checks the merge: each of the four times is given by
// exactly one event, an event's timestamp_desc names its letters' times in
// MACB order, and no two events of one attribute have the same time (they
// would have been one).
func collect(t testing.TB, evs []*timeline.Event) map[string]*row {
	rows := map[string]*row{}
	for _, ev := range evs {
		d := ev.Jejak.Data
		k := d["mft_entry"] + "|" + ev.File.Path + "|" + d["attribute"]
		r := rows[k]
		if r == nil {
			r = &row{deleted: len(ev.Jejak.Tags) > 0 && ev.Jejak.Tags[0] == "deleted", ads: d["ads"]}
			rows[k] = r
		}
		s := ev.Timestamp.Unix()
		macb := d["macb"]
		var ft uint64
		oor := ev.Jejak.Time != nil && ev.Jejak.Time.OutOfRange
		if oor {
			var err error
			if ft, err = strconv.ParseUint(d["filetime"], 10, 64); err != nil {
				t.Errorf("%s: out of range time without its FILETIME: %v", ev.Message, err)
			}
		}
		var want []string
		for i, slot := range []struct {
			at  *int64
			raw int
		}{{&r.m, 1}, {&r.a, 0}, {&r.c, 2}, {&r.b, 3}} {
			letter := "macb"[i]
			if len(macb) != 4 || macb[i] != letter && macb[i] != '.' {
				t.Fatalf("%s: macb %q", ev.Message, macb)
			}
			if macb[i] != letter {
				continue
			}
			if strings.IndexByte(r.letters, letter) >= 0 {
				t.Errorf("%s: time %c given twice (%q)", k, letter, r.letters+"|"+macb)
			}
			r.letters += string(letter)
			*slot.at = s
			if oor {
				r.oor[slot.raw], r.raw[slot.raw] = true, ft
			}
			want = append(want, descs[i])
		}
		if w := strings.Join(want, "; "); len(want) == 0 || ev.TimestampDesc != w {
			t.Errorf("%s: timestamp_desc %q for macb %q, want %q", k, ev.TimestampDesc, macb, w)
		}
		if !strings.Contains(ev.Message, " "+macb+" ") {
			t.Errorf("%s: message %q without its macb %q", k, ev.Message, macb)
		}
		at := instant{v: ev.Timestamp.UnixNano()} // in range: 1980-2100
		if oor {
			at = instant{true, int64(ft)} // two raw FILETIMEs may read as one time
		}
		if slices.Contains(r.events, at) {
			t.Errorf("%s: two events at %v (%q): equal times are one event", k, ev.Timestamp, r.letters)
		}
		r.events = append(r.events, at)
	}
	for k, r := range rows {
		if len(r.letters) != 4 {
			t.Errorf("%s: times %q, want all four", k, r.letters)
		}
	}
	return rows
}

// tskSeconds is what TSK 4.11's bodyfile prints for a FILETIME: its
// nt2unixtime subtracts the 1601-1970 offset in unsigned 64 bits and keeps
// 32 bits of the seconds, so a zeroed time prints as 3373865674 (2076).
func tskSeconds(ft uint64) int64 { return int64(uint32((ft - 116444736000000000) / 10_000_000)) }

// TestAgainstFLS compares the timeline of each NTFS volume of Debian's
// forensics-samples images with TSK's fls -r -m bodyfile of the same
// volume: every line fls prints, file or directory, live or deleted, with
// its $STANDARD_INFORMATION and $FILE_NAME times, is on our timeline under
// the same path and MFT entry, and our extra entries are the ones fls
// leaves out by design.
func TestAgainstFLS(t *testing.T) {
	for _, img := range []struct{ name, pkg string }{
		{"ntfs", "forensics-samples-ntfs"},
		{"multiple", "forensics-samples-multiple"},
	} {
		t.Run(img.name, func(t *testing.T) {
			path := oracle.Sample(t, img.name)
			_, parts := ntfstest.NTFSPartitions(t, path)
			entries := volumeMFT(t, path, img.pkg)
			if len(parts) == 0 {
				t.Fatal("no NTFS partition found")
			}
			for i, p := range parts {
				res := parsertest.Parse(context.Background(), mft.New(), entries[i], time.UTC)
				if res.Err != nil || len(res.Warnings) > 0 {
					t.Fatalf("parse: %v, warnings %v", res.Err, res.Warnings)
				}
				compareFLS(t, collect(t, res.Events), ntfstest.FLS(t, path, p.Start/512))
			}
		})
	}
}

func compareFLS(t *testing.T, rows map[string]*row, body []ntfstest.BodyLine) {
	t.Helper()
	seen := map[string]bool{}
	checked := 0
	for _, l := range body {
		if l.Meta == "" || strings.HasPrefix(l.Name, ntfs.OrphanDir) && !strings.Contains(l.Name, "/") {
			continue // the virtual $OrphanFiles folder
		}
		name, stream, _ := strings.Cut(l.Name, ":")
		attr := mft.AttrSI
		if l.FN {
			attr = mft.AttrFN
		}
		k := fmt.Sprintf("%d|%s|%s", l.Entry, name, attr)
		r := rows[k]
		if r == nil {
			t.Errorf("fls %q (%s): not on our timeline as %s", l.Name, l.Meta, k)
			continue
		}
		seen[k] = true
		checked++
		if stream != "" && !strings.Contains(","+r.ads+",", ","+stream+",") {
			t.Errorf("fls %q: stream %q not in our ads %q", l.Name, stream, r.ads)
		}
		if r.deleted != l.Deleted {
			t.Errorf("fls %q: deleted %v, ours %v", l.Name, l.Deleted, r.deleted)
		}
		got := [4]int64{r.a, r.m, r.c, r.b}
		want := [4]int64{l.A, l.M, l.C, l.B}
		for i := range got {
			if r.oor[i] {
				// Kept as found and flagged; TSK wraps it (see tskSeconds).
				got[i] = tskSeconds(r.raw[i])
			}
		}
		if got != want {
			t.Errorf("fls %q %s: A,M,C,B %v, ours %v (out of range %v)", l.Name, attr, want, got, r.oor)
		}
	}
	var extra []string
	for k := range rows {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		// fls prints neither the root folder itself nor allocated entries
		// without a name (reserved entries 12-15), which the timeline
		// keeps; the root's $FILE_NAME line neither.
		f := strings.Split(k, "|")
		if f[1] == "." || strings.HasPrefix(f[1], ntfs.OrphanDir+"/OrphanFile-") && !rows[k].deleted {
			continue
		}
		t.Errorf("on our timeline, not in fls: %s", k)
	}
	t.Logf("%d fls lines matched, %d rows on our timeline", checked, len(rows))
}
