package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/forensics/fs/fstest"
	"github.com/jejak-forensics/jejak/forensics/fs/ntfs/ntfstest"
)

// timelineRow is what these tests read of `jejak timeline --json`.
type timelineRow struct {
	TS    time.Time `json:"@timestamp"`
	Desc  string    `json:"timestamp_desc"`
	Jejak struct {
		Tags       []string          `json:"tags"`
		Data       map[string]string `json:"data"`
		Provenance struct {
			Chain  []string `json:"chain"`
			Path   string   `json:"path"`
			Parser string   `json:"parser"`
		} `json:"provenance"`
	} `json:"jejak"`
	File *struct {
		Path  string `json:"path"`
		Inode string `json:"inode"`
	} `json:"file"`
}

func timelineRows(t *testing.T, cs string) []timelineRow {
	t.Helper()
	var rows []timelineRow
	sc := bufio.NewScanner(strings.NewReader(mustRun(t, exitOK, "timeline", cs, "--json")))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r timelineRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestIngestContainerTimes: ingesting an ext4 image whose files include a
// .docx, an .odt, a .zip holding a .tgz, a .tgz, .gz/.bz2/.xz logs and a
// deleted .zip puts every time fls -r -m lists on the timeline exactly
// once (the containers' inode times included), and the summary counts the
// expanded containers.
func TestIngestContainerTimes(t *testing.T) {
	dir := t.TempDir()
	img := fstest.MakeContainerImage(t, dir, "-t", "ext4", "-I", "256")
	want := fstest.FlsTimes(t, img, 0)
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, img)
	sum := summaryOf(t, mustRun(t, exitOK, "ingest", cs, "--json"))
	// The image file itself is one more: its times are those of the copy.
	if want := int64(fstest.ContainerTreeContainers + 1); sum.Containers != want {
		t.Errorf("summary counts %d containers, want %d", sum.Containers, want)
	}
	got := map[fstest.TimeRow]int{}
	imageTimes := 0
	for _, r := range timelineRows(t, cs) {
		p := r.Jejak.Provenance
		if p.Parser == "filestat" && len(p.Chain) == 1 {
			if p.Chain[0] != "file:containers.img" || p.Path != "containers.img" {
				t.Errorf("image file event with provenance %+v", p)
			}
			imageTimes++
			continue
		}
		if p.Parser != "filestat" || len(p.Chain) != 2 {
			continue // parsed content, or a member's own time
		}
		if r.File == nil || r.File.Path != p.Path || p.Chain[1] != "ext4:"+p.Path {
			t.Errorf("filestat event with provenance %+v, file %+v", p, r.File)
			continue
		}
		// One event per distinct time: its description names every
		// time it is ("Content Modification Time; Metadata Modification
		// Time"), each a row of fls.
		for desc := range strings.SplitSeq(r.Desc, "; ") {
			got[fstest.Row(p.Path, slices.Contains(r.Jejak.Tags, "deleted"), r.File.Inode, desc, r.TS)]++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			t.Errorf("fls has %d of %s, the timeline %d", want[k], k, got[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			t.Errorf("on the timeline, not in fls: %s (x%d)", k, got[k])
		}
	}
	if imageTimes < 3 {
		t.Errorf("%d time events for the image file itself, want its M, A, C (and B where the host records it)", imageTimes)
	}
	t.Logf("%d fls time rows on the timeline once each; %d containers", len(want), sum.Containers)
}

// TestIngestNTFSMirror: ingesting a fresh NTFS volume (ntfs-3g's mkntfs)
// puts each MFT entry's times on the timeline once: the $MFTMirr is a file
// of the volume, not a second $MFT.
func TestIngestNTFSMirror(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "ntfs.img")
	ntfstest.Format(t, img, 32<<20)
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, img)
	sum := summaryOf(t, mustRun(t, exitOK, "ingest", cs, "--json"))
	if st := sum.Parsers["mft"]; st == nil || st.Events == 0 {
		t.Fatalf("no mft events: %+v", sum)
	}
	seen := map[string]int{}
	mirror := false
	for _, r := range timelineRows(t, cs) {
		if r.Jejak.Provenance.Parser != "mft" {
			continue
		}
		d := r.Jejak.Data
		seen[fmt.Sprintf("%s|%s|%s|%s", d["mft_entry"], r.File.Path, d["attribute"], d["macb"])]++
		if r.File.Path == "$MFTMirr" {
			mirror = true
		}
		if r.Jejak.Provenance.Path != "$MFT" {
			t.Errorf("mft event read from %s, not $MFT: %s", r.Jejak.Provenance.Path, r.File.Path)
		}
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("%s on the timeline %d times", k, n)
		}
	}
	if !mirror {
		t.Error("the $MFTMirr file's own times are not on the timeline")
	}
	t.Logf("%d mft rows, each once", len(seen))
}
