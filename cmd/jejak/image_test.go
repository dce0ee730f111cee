package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
)

const samples = "/usr/share/forensics-samples"

// ntfsSample decompresses Debian's forensics-samples NTFS disk image.
func ntfsSample(t *testing.T) string {
	t.Helper()
	src := filepath.Join(samples, "fs.ntfs.xz")
	f, err := os.Open(src)
	if err != nil {
		t.Skipf("%s missing: install the Debian package forensics-samples-ntfs", src)
	}
	defer f.Close()
	zr, err := xz.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "fs.ntfs")
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

type row struct {
	TS    time.Time `json:"@timestamp"`
	Desc  string    `json:"timestamp_desc"`
	Jejak struct {
		Tags       []string `json:"tags"`
		Provenance struct {
			Path   string `json:"path"`
			Parser string `json:"parser"`
		} `json:"provenance"`
		Data map[string]string `json:"data"`
	} `json:"jejak"`
	File *struct {
		Path string `json:"path"`
	} `json:"file"`
}

func (r row) deleted() bool {
	for _, t := range r.Jejak.Tags {
		if t == "deleted" {
			return true
		}
	}
	return false
}

// TestAnalyzeNTFSImage: the photos inside Debian's NTFS sample image get
// their EXIF events (dates equal exiftool's on the originals Debian ships),
// the deleted pic2 folder's photos are on the timeline as deleted files with
// their EXIF times, and the hunt flags the GIMP-edited IMG_1054.JPG.
func TestAnalyzeNTFSImage(t *testing.T) {
	img := ntfsSample(t)
	if _, err := exec.LookPath("exiftool"); err != nil {
		t.Skip("exiftool missing: install the Debian package libimage-exiftool-perl")
	}
	cs := filepath.Join(t.TempDir(), "case")
	mustRun(t, exitOK, "analyze", img, "--out", cs, "--examiner", "t")

	var rows []row
	sc := bufio.NewScanner(strings.NewReader(mustRun(t, exitOK, "timeline", cs, "--json")))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}

	// Oracle: exiftool on the originals of pic1 (live) and pic2 (deleted).
	out, err := exec.Command("exiftool", "-n", "-j", "-DateTimeOriginal",
		filepath.Join(samples, "original-files", "pic1"), filepath.Join(samples, "original-files", "pic2")).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var tags []struct {
		SourceFile       string
		DateTimeOriginal string
	}
	if err := json.Unmarshal(out, &tags); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, tg := range tags {
		if tg.DateTimeOriginal == "" {
			continue
		}
		rel := filepath.Base(filepath.Dir(tg.SourceFile)) + "/" + filepath.Base(tg.SourceFile)
		// No zone in EXIF and none set in the case: read as UTC.
		want, err := time.Parse("2006:01:02 15:04:05", tg.DateTimeOriginal)
		if err != nil {
			t.Fatal(err)
		}
		found, fsDeleted := false, false
		for _, r := range rows {
			p := r.Jejak.Provenance
			// The mft parser reads $MFT; the file it describes is file.path.
			if p.Parser == "mft" && r.File != nil && r.File.Path == rel && r.deleted() {
				fsDeleted = true
			}
			if p.Path != rel {
				continue
			}
			if p.Parser == "exif" && r.Desc == "Creation Time" && r.TS.Truncate(time.Second).Equal(want) {
				found = true
				if strings.HasPrefix(rel, "pic2/") && !r.deleted() {
					t.Errorf("%s: EXIF event of a deleted file not tagged deleted", rel)
				}
			}
		}
		if !found {
			t.Errorf("%s: no EXIF Creation Time %s", rel, want)
		}
		if strings.HasPrefix(rel, "pic2/") && !fsDeleted {
			t.Errorf("%s: no deleted-file MFT event", rel)
		}
		checked++
	}
	if checked < 4 {
		t.Fatalf("only %d photos with DateTimeOriginal checked", checked)
	}

	hunted := mustRun(t, exitOK, "hunt", cs, "--after", "2020-01-01", "--json")
	var h struct {
		Findings []struct {
			RuleID string `json:"rule_id"`
			Events []struct {
				Provenance struct {
					Path string `json:"path"`
				} `json:"provenance"`
			} `json:"events"`
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(hunted), &h); err != nil {
		t.Fatal(err)
	}
	flagged := map[string]bool{}
	for _, f := range h.Findings {
		for _, e := range f.Events {
			flagged[f.RuleID+" "+e.Provenance.Path] = true
		}
	}
	if !flagged["JEJAK-DATA-03 pic1/IMG_1054.JPG"] {
		t.Errorf("the GIMP-edited IMG_1054.JPG is not flagged as edited: %v", flagged)
	}
	if !flagged["JEJAK-DATA-05 pic2/IMG_20200608_111614.jpg"] {
		t.Errorf("deleted pic2 photo not reported: %v", flagged)
	}
}

// TestIngestExt4SpecialFiles: a symbolic link on an ext4 image is on the
// timeline with its target (auth.log pointed at /dev/null is a classic way
// to stop logging), and links and FIFOs are counted, not dropped.
func TestIngestExt4SpecialFiles(t *testing.T) {
	if _, err := exec.LookPath("mke2fs"); err != nil {
		t.Skip("mke2fs missing: install the Debian package e2fsprogs")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	logs := filepath.Join(src, "var", "log")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	line := "Feb 14 20:01:02 tabulasi-01 sshd[811]: Accepted password for admin from 203.0.113.45 port 50522 ssh2\n"
	if err := os.WriteFile(filepath.Join(logs, "auth.log.1"), []byte(line), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/null", filepath.Join(logs, "auth.log")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(src, "pipe"), 0o600); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "disk.img")
	if out, err := exec.Command("mke2fs", "-q", "-F", "-t", "ext4", "-d", src, img, "8M").CombinedOutput(); err != nil {
		t.Fatalf("mke2fs: %v\n%s", err, out)
	}
	cs := filepath.Join(dir, "case")
	mustRun(t, exitOK, "case", "init", cs, "--examiner", "t", "--tz", "UTC")
	mustRun(t, exitOK, "evidence", "add", cs, img)
	sum := summaryOf(t, mustRun(t, exitOK, "ingest", cs, "--json"))
	if sum.Special != 2 {
		t.Errorf("special files %d, want 2 (the link and the FIFO): %+v", sum.Special, sum)
	}
	out := mustRun(t, exitOK, "search", cs, `file.type:symlink and file.target_path:"/dev/null"`, "--json")
	// Its times: one event per distinct time, jejak.data.macb naming the
	// times it is.
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct {
			Message string                `json:"message"`
			File    struct{ Path string } `json:"file"`
			Jejak   struct {
				Data struct{ Macb string } `json:"data"`
			} `json:"jejak"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("search output %q: %v", l, err)
		}
		if ev.File.Path != "var/log/auth.log" || !strings.HasSuffix(ev.Message, "var/log/auth.log -> /dev/null") {
			t.Errorf("link event %+v", ev)
		}
		n += len(strings.ReplaceAll(ev.Jejak.Data.Macb, ".", ""))
	}
	if n < 3 {
		t.Errorf("%d times for the link, want its MACB times:\n%s", n, out)
	}
	if !strings.Contains(mustRun(t, exitOK, "search", cs, `"Accepted password"`), "203.0.113.45") {
		t.Error("the log beside the link was not parsed")
	}
}
