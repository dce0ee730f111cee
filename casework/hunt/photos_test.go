package hunt

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/exif"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestPhotoEdited reads the Debian forensics-samples originals (package
// forensics-samples-files) and checks the edited-photo rule against
// exiftool's own reading (package libimage-exiftool-perl). The same photos
// inside the NTFS image (with the deleted pic2 folder) are for the NTFS
// walker's test once images are walkable.
func TestPhotoEdited(t *testing.T) {
	const root = "/usr/share/forensics-samples/original-files"
	bin := oracle.Tool(t, "exiftool", "libimage-exiftool-perl")
	dirs := []string{filepath.Join(root, "pic1"), filepath.Join(root, "pic2")}
	var out bytes.Buffer
	cmd := exec.Command(bin, append([]string{"-T", "-FileName", "-Software", "-DateTimeOriginal", "-ModifyDate"}, dirs...)...)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Skipf("exiftool on %s: %v (apt-get install forensics-samples-files)", root, err)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			continue
		}
		sw := strings.ToLower(f[1])
		edited := strings.Contains(sw, "gimp") || strings.Contains(sw, "photoshop")
		if f[2] != "-" && f[3] != "-" && !zoneApart(t, f[2], f[3]) && f[2] != f[3] {
			edited = true
		}
		if edited {
			want = append(want, f[0])
		}
	}
	if !slices.Contains(want, "IMG_1054.JPG") {
		t.Fatalf("exiftool oracle %v lacks IMG_1054.JPG (edited in GIMP)", want)
	}
	st := buildCase(t, dirs...)
	fs := byRule(hunt(t, st, Config{}), "JEJAK-DATA-03")
	var got []string
	for _, f := range fs {
		got = append(got, filepath.Base(f.Events[0].Provenance.Path))
		if !strings.Contains(f.Explanation, "edited") {
			t.Errorf("explanation %q", f.Explanation)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("edited photos %v, exiftool says %v", got, want)
	}
	t.Log(fs[0].Explanation)
}

// zoneApart says two EXIF wall-clock values are a whole number of quarter
// hours apart, up to 14 h: a zone, not an edit (computed here from
// exiftool's values, independently of zoneAmount).
func zoneApart(t *testing.T, a, b string) bool {
	ta, err1 := time.Parse("2006:01:02 15:04:05", a)
	tb, err2 := time.Parse("2006:01:02 15:04:05", b)
	if err1 != nil || err2 != nil {
		return false
	}
	d := tb.Sub(ta).Abs()
	return d > 0 && d <= 14*time.Hour && d%(15*time.Minute) == 0
}

// tallyPhoto is one variant of a real phone photo of a tally form,
// written by exiftool: its EXIF dates, offsets and Software.
type tallyPhoto struct {
	name          string
	taken, modify string
	orig, mod     string // OffsetTimeOriginal, OffsetTime ("" = absent)
	software      string // "" keeps the phone's
	edited, after bool   // JEJAK-DATA-03 and -04 (cut-off 10:00Z) must flag it
	explain       []string
}

// Issue 10, point 4: the photo-edit analyzer compares dates of one clock.
// A real iPhone photo (the corpus's has-lens-info.jpg, Software "7.1.1")
// is rewritten by exiftool into the variants a tally-form photo comes in:
// untouched with only OffsetTimeOriginal (the case that was reported as
// "edited, 7h00m"), with other offset tags or none, with a save time
// written in UTC; and really altered: Software GIMP, or a re-save 1h23m17s
// after it was taken. exiftool reads each file back to confirm it holds
// what the case says; the rules must flag exactly the altered ones, and
// a zone-sized gap alone never.
func TestPhotoOneClock(t *testing.T) {
	oracle.Tool(t, "exiftool", "libimage-exiftool-perl")
	src, err := os.ReadFile(parsertest.Corpus(t, "more/exif/goexif_has-lens-info.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	const taken = "2024:02:14 13:05:09"
	photos := []tallyPhoto{
		{name: "untouched-original-offset", taken: taken, modify: taken, orig: "+07:00"},
		{name: "untouched-offsettime-only", taken: taken, modify: taken, mod: "+07:00"},
		{name: "untouched-both-offsets", taken: taken, modify: taken, orig: "+07:00", mod: "+07:00"},
		{name: "untouched-no-offset", taken: taken, modify: taken, after: true},
		// A device that writes its save time in UTC with its own offset:
		// one instant, two wall clocks.
		{name: "save-time-in-utc", taken: taken, modify: "2024:02:14 06:05:09", orig: "+07:00", mod: "+00:00"},
		// A clock 7 h off for the save time, no OffsetTime: a zone, not an
		// edit.
		{name: "save-clock-zone-off", taken: taken, modify: "2024:02:14 06:05:09", orig: "+07:00"},
		{name: "gimp", taken: taken, modify: "2024:02:14 15:05:09", orig: "+07:00", software: "GIMP 2.10.34",
			edited: true, explain: []string{`"GIMP 2.10.34", an image editor`, "1h59m59.12s apart on the camera's wall clock, a whole zone offset (2h0m0s"}},
		{name: "resaved", taken: taken, modify: "2024:02:14 14:28:26", orig: "+07:00",
			edited: true, explain: []string{"differs from DateTimeOriginal 2024:02:14 13:05:09.880 by 1h23m16.12s on the camera's wall clock"}},
	}
	dir := t.TempDir()
	var files, writes []string // one exiftool process writes them all
	for _, p := range photos {
		file := filepath.Join(dir, p.name+".jpg")
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		if len(writes) > 0 {
			writes = append(writes, "-execute")
		}
		writes = append(writes, "-DateTimeOriginal="+p.taken, "-CreateDate="+p.taken,
			"-ModifyDate="+p.modify, "-OffsetTimeOriginal="+p.orig, "-OffsetTime="+p.mod, "-OffsetTimeDigitized=")
		if p.software != "" {
			writes = append(writes, "-Software="+p.software)
		}
		writes = append(writes, file)
		files = append(files, file)
	}
	writes = append(writes, "-common_args", "-overwrite_original")
	if out, err := exec.Command("exiftool", writes...).CombinedOutput(); err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}
	out, err := exec.Command("exiftool", append([]string{"-j", "-n", "-Software", "-DateTimeOriginal", "-ModifyDate",
		"-OffsetTimeOriginal", "-OffsetTime", "-OffsetTimeDigitized"}, files...)...).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var read []map[string]any
	if err := json.Unmarshal(out, &read); err != nil {
		t.Fatal(err)
	}
	str := func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		return ""
	}
	for i, o := range read {
		p := photos[i]
		sw := p.software
		if sw == "" {
			sw = "7.1.1"
		}
		if str(o["DateTimeOriginal"]) != p.taken || str(o["ModifyDate"]) != p.modify || str(o["OffsetTimeOriginal"]) != p.orig ||
			str(o["OffsetTime"]) != p.mod || str(o["OffsetTimeDigitized"]) != "" || str(o["Software"]) != sw {
			t.Fatalf("%s: exiftool reads %v", p.name, o)
		}
	}

	st := buildCase(t, dir)
	cutoff := time.Date(2024, 2, 14, 10, 0, 0, 0, time.UTC)
	fs := hunt(t, st, Config{After: cutoff})
	flagged := func(rule string) map[string]Finding {
		m := map[string]Finding{}
		for _, f := range byRule(fs, rule) {
			m[strings.TrimSuffix(filepath.Base(f.Events[0].Provenance.Path), ".jpg")] = f
		}
		return m
	}
	edited, after := flagged("JEJAK-DATA-03"), flagged("JEJAK-DATA-04")
	for _, p := range photos {
		f, ok := edited[p.name]
		if ok != p.edited {
			t.Errorf("%s: edited %v, want %v: %s", p.name, ok, p.edited, f.Explanation)
		}
		for _, s := range p.explain {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("%s: explanation lacks %q: %s", p.name, s, f.Explanation)
			}
		}
		// Taken 13:05:09 at +07:00 is 06:05:09Z, before the 10:00Z cut-off;
		// only the photo without any offset is read in the case zone (UTC).
		if _, ok := after[p.name]; ok != p.after {
			t.Errorf("%s: after the cut-off %v, want %v", p.name, ok, p.after)
		}
	}
	if f, ok := edited["gimp"]; ok {
		t.Log(f.Explanation)
	}
}

func TestZoneAmount(t *testing.T) {
	const tol = 2 * time.Second
	for _, c := range []struct {
		d    time.Duration
		want bool
	}{
		{0, false},
		{tol, false},
		{7 * time.Hour, true},
		{-7 * time.Hour, true},
		{7*time.Hour + time.Second, true},
		{5*time.Hour + 45*time.Minute, true},
		{-(9*time.Hour + 30*time.Minute), true},
		{15 * time.Minute, true},
		{14 * time.Hour, true},
		{14*time.Hour + 15*time.Minute, false},
		{time.Hour + 23*time.Minute + 17*time.Second, false},
		{3 * time.Minute, false},
		{7*time.Hour + 3*time.Second, false},
		{48 * time.Hour, false},
	} {
		if got := zoneAmount(c.d, tol); got != c.want {
			t.Errorf("zoneAmount(%s) = %v, want %v", c.d, got, c.want)
		}
	}
}

// The analyzer reads the exif parser's provenance fields by name: its map
// of own offset tags and its "case zone" must be the parser's.
func TestPhotoOffsetFieldsMatchParser(t *testing.T) {
	for _, tag := range []string{"DateTimeOriginal", "DateTimeDigitized", "DateTime", "GPSDateStamp+GPSTimeStamp"} {
		if got, want := ownOffsetTag[tag], exif.OwnOffsetTag(tag); got != want {
			t.Errorf("own offset tag of %s: %q, parser says %q", tag, got, want)
		}
	}
	if offsetSourceCase != exif.OffsetSourceCase {
		t.Errorf("case zone source %q, parser says %q", offsetSourceCase, exif.OffsetSourceCase)
	}
}
