package mft_test

import (
	"bufio"
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/ntfs"
	"github.com/jejak-forensics/jejak/parsers/mft"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

func TestContract(t *testing.T) {
	parsertest.Contract(t, mft.New(), parsertest.Corpus(t, "more/disk/mft/orphan.mft"))
}

// TestOrphanMFT checks an extracted $MFT against dfir_ntfs's oracle: the
// fls listing of its volume (every allocated entry's path, entry and times)
// and its four orphan files.
func TestOrphanMFT(t *testing.T) {
	path := parsertest.Corpus(t, "more/disk/mft/orphan.mft")
	res := parsertest.ParseFile(t, mft.New(), path, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatalf("err %v warnings %v", res.Err, res.Warnings)
	}
	rows := collect(t, res.Events)
	msk := time.FixedZone("MSK", 3*3600)
	f, err := os.Open(parsertest.Corpus(t, "more/disk/mft/orphan.fls"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if strings.HasPrefix(cols[0], "V/V") {
			continue
		}
		meta := strings.TrimSuffix(strings.Fields(cols[0])[1], ":")
		entry, _, _ := strings.Cut(meta, "-")
		name, _, _ := strings.Cut(cols[1], ":")
		r := rows[entry+"|"+name+"|"+mft.AttrSI]
		if r == nil {
			t.Errorf("fls %q (%s) not on our timeline", cols[1], meta)
			continue
		}
		var want [4]int64 // M, A, C, B as fls -l prints them
		for i := range want {
			tm, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSuffix(cols[2+i], " (MSK)"), msk)
			if err != nil {
				t.Fatal(err)
			}
			want[i] = tm.Unix()
		}
		if got := [4]int64{r.m, r.a, r.c, r.b}; got != want || r.deleted {
			t.Errorf("fls %q: M,A,C,B %v, ours %v (deleted %v)", cols[1], want, got, r.deleted)
		}
		n++
	}
	var orphans []string
	for k, r := range rows {
		f := strings.Split(k, "|")
		if strings.HasPrefix(f[1], ntfs.OrphanDir+"/") && !strings.HasPrefix(f[1], ntfs.OrphanDir+"/OrphanFile-") && f[2] == mft.AttrSI && r.deleted {
			orphans = append(orphans, strings.TrimPrefix(f[1], ntfs.OrphanDir+"/"))
		}
	}
	sort.Strings(orphans)
	if strings.Join(orphans, ",") != "2.txt,3.txt,4.txt,5.txt" {
		t.Errorf("orphans %q, want 2.txt..5.txt (dfir_ntfs)", orphans)
	}
	t.Logf("%d fls lines matched, %d events", n, len(res.Events))
}

// TestCorruptRecord flips bytes inside one record of a copy: one warning
// naming its offset and entry, every other entry still on the timeline.
func TestCorruptRecord(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "more/disk/mft/orphan.mft"))
	if err != nil {
		t.Fatal(err)
	}
	good := parsertest.Parse(context.Background(), mft.New(), parsertest.BytesEntry("$MFT", data, time.Time{}), time.UTC)
	bad := append([]byte(nil), data...)
	const entry, rs = 39, 1024 // the folder n1
	for i := entry*rs + 510; i < entry*rs+512; i++ {
		bad[i] ^= 0x5a // the fixup check value of sector 0
	}
	res := parsertest.Parse(context.Background(), mft.New(), parsertest.BytesEntry("$MFT", bad, time.Time{}), time.UTC)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Warnings) != 1 || res.Warnings[0].Offset != entry*rs || res.Warnings[0].Record != entry {
		t.Fatalf("warnings %v, want one at offset %d (entry %d)", res.Warnings, entry*rs, entry)
	}
	if w := res.Warnings[0]; w.Parser != mft.Name || w.Path != "$MFT" {
		t.Errorf("warning names parser %q and path %q, want %q and the file's", w.Parser, w.Path, mft.Name)
	}
	t.Logf("warning: %v", res.Warnings[0])
	lost := 0
	for _, ev := range good.Events {
		if ev.Jejak.Provenance.Record == entry {
			lost++
		}
	}
	if lost == 0 || len(res.Events) != len(good.Events)-lost {
		t.Errorf("%d events, want %d (all but the %d of entry %d)", len(res.Events), len(good.Events)-lost, lost, entry)
	}
}

func FuzzRecord(f *testing.F) {
	data, err := os.ReadFile(parsertest.Corpus(f, "more/disk/mft/orphan.mft"))
	if err == nil {
		for _, e := range []int{0, 5, 9, 39, 43} {
			f.Add(data[e*1024 : (e+1)*1024])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ntfs.ParseRecord(append([]byte(nil), b...), 7)
		if err == nil && rec == nil {
			t.Fatal("nil record without error")
		}
		// The whole parser on a one- or two-record $MFT.
		res := parsertest.Parse(context.Background(), mft.New(), parsertest.BytesEntry("$MFT", append(b, b...), time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if ev.Jejak.Provenance.Offset < 0 || ev.Jejak.Provenance.Offset >= int64(2*len(b)) {
				t.Fatalf("offset %d", ev.Jejak.Provenance.Offset)
			}
		}
	})
}
