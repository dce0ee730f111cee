package exif

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

const samples = "/usr/share/forensics-samples/original-files"

func needExiftool(t testing.TB) {
	t.Helper()
	oracle.Tool(t, "exiftool", "libimage-exiftool-perl")
}

func sampleFiles(t testing.TB) []string {
	files, _ := filepath.Glob(samples + "/pic*/*")
	if len(files) == 0 {
		t.Skip("forensics sample photos missing: apt-get install forensics-samples-files")
	}
	return files
}

func matches(t testing.TB, path string) bool {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, parsers.HeadSize)
	n, _ := f.Read(head)
	return New().Match(nil, head[:n])
}

func byDesc(evs []*timeline.Event) map[string]*timeline.Event {
	m := map[string]*timeline.Event{}
	for _, ev := range evs {
		m[ev.TimestampDesc] = ev
	}
	return m
}

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(),
		parsertest.Corpus(t, "more/exif/go-exif_gps.jpg"),
		parsertest.Corpus(t, "more/exif/goexif_has-lens-info.jpg"),
		parsertest.Corpus(t, "more/exif/goexif_2004-01-11-22-45-15-sep-2004-01-11-22-45-15a.jpg"))
}

// exiftoolJSON runs exiftool -n -json on files, the oracle.
func exiftoolJSON(t *testing.T, files ...string) []map[string]any {
	args := append([]string{"-n", "-json", "-DateTimeOriginal", "-CreateDate", "-ModifyDate", "-SubSecTime",
		"-SubSecTimeOriginal", "-SubSecTimeDigitized", "-OffsetTime", "-OffsetTimeOriginal", "-OffsetTimeDigitized",
		"-Make", "-Model", "-Software", "-GPSLatitude", "-GPSLongitude", "-GPSAltitude", "-GPSDateStamp", "-GPSTimeStamp"}, files...)
	out, err := exec.Command("exiftool", args...).Output()
	if err != nil {
		t.Fatalf("exiftool: %v", err)
	}
	var res []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		t.Fatal(err)
	}
	return res
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// exifTime is what a date tag means given its sub-second and offset tags,
// computed from exiftool's values alone.
func exifTime(t *testing.T, date, sub, off string, zone *time.Location) time.Time {
	w, err := time.ParseInLocation("2006:01:02 15:04:05", date, zone)
	if err != nil {
		t.Fatalf("exiftool date %q: %v", date, err)
	}
	if off != "" {
		o, err := time.Parse("-07:00", off)
		if err != nil {
			t.Fatalf("offset %q", off)
		}
		_, secs := o.Zone()
		w = time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.FixedZone("", secs))
	}
	if sub != "" {
		f, _ := strconv.ParseFloat("0."+sub, 64)
		w = w.Add(time.Duration(f*1e9 + 0.5))
	}
	return w.UTC()
}

// offsetClock names one EXIF date as exiftool -n reports it, with its
// sub-second tag and the OffsetTime* tags that may place it: its own first,
// then the documented stand-ins (events.go, "The offset precedence").
type offsetClock struct {
	desc, date, sub string
	offsets         []string
}

var offsetClocks = []offsetClock{
	{"Creation Time", "DateTimeOriginal", "SubSecTimeOriginal", []string{"OffsetTimeOriginal", "OffsetTimeDigitized", "OffsetTime"}},
	{"Digitized Time", "CreateDate", "SubSecTimeDigitized", []string{"OffsetTimeDigitized", "OffsetTimeOriginal", "OffsetTime"}},
	{"Content Modification Time", "ModifyDate", "SubSecTime", []string{"OffsetTime", "OffsetTimeOriginal", "OffsetTimeDigitized"}},
}

// offset picks, from exiftool's values of the image's offset tags, the
// offset the date should be read with and its source ("case zone" when
// the image has none).
func (c offsetClock) offset(o map[string]any) (string, string) {
	for _, tag := range c.offsets {
		if v := str(o[tag]); validOffset.MatchString(v) {
			return v, tag
		}
	}
	return "", OffsetSourceCase
}

var validOffset = regexp.MustCompile(`^[-+](0\d|1[0-4]):[0-5]\d$`)

// compareWithExiftool checks every file against exiftool -n: each date
// becomes one event at the same instant, and Make, Model, Software and GPS
// (to 1e-6 degree) agree.
func compareWithExiftool(t *testing.T, files []string, zone *time.Location) int {
	oracle := exiftoolJSON(t, files...)
	checked := 0
	for _, o := range oracle {
		path := str(o["SourceFile"])
		res := parsertest.ParseFile(t, New(), path, zone)
		if res.Err != nil {
			t.Errorf("%s: %v", path, res.Err)
			continue
		}
		evs := byDesc(res.Events)
		want := 0
		for _, c := range offsetClocks {
			date := str(o[c.date])
			if date == "" {
				continue
			}
			want++
			ev := evs[c.desc]
			if ev == nil {
				t.Errorf("%s: no %s event for %s %s", path, c.desc, c.date, date)
				continue
			}
			off, source := c.offset(o)
			exp := exifTime(t, date, str(o[c.sub]), off, zone)
			if !ev.Timestamp.Equal(exp) {
				t.Errorf("%s %s: %s, exiftool %s with offset %q from %s", path, c.desc, ev.Timestamp.Format(time.RFC3339Nano),
					exp.Format(time.RFC3339Nano), off, source)
			}
			if got := ev.Jejak.Data["exif.offset_source"]; got != source {
				t.Errorf("%s %s: offset source %q, want %q", path, c.desc, got, source)
			}
			if assumed := source != c.offsets[0]; assumed != (ev.Jejak.Time != nil && ev.Jejak.Time.ZoneAssumed != "") {
				t.Errorf("%s %s: zone assumed %v, note %+v", path, c.desc, assumed, ev.Jejak.Time)
			}
			for _, k := range []string{"Make", "Model", "Software"} {
				if got, exp := ev.Jejak.Data[strings.ToLower(k)], strings.TrimSpace(str(o[k])); got != exp {
					t.Errorf("%s %s: %q, exiftool %q", path, k, got, exp)
				}
			}
			for k, tag := range map[string]string{"gps.latitude": "GPSLatitude", "gps.longitude": "GPSLongitude", "gps.altitude": "GPSAltitude"} {
				exp := str(o[tag])
				got := ev.Jejak.Data[k]
				if exp == "" || got == "" {
					if exp != got {
						t.Errorf("%s %s: %q, exiftool %q", path, tag, got, exp)
					}
					continue
				}
				g, _ := strconv.ParseFloat(got, 64)
				e, _ := strconv.ParseFloat(exp, 64)
				if math.Abs(g-e) > 1e-6 {
					t.Errorf("%s %s: %v, exiftool %v", path, tag, g, e)
				}
			}
			checked++
		}
		if d, tm := str(o["GPSDateStamp"]), str(o["GPSTimeStamp"]); d != "" && tm != "" {
			want++
			exp, _ := time.Parse("2006:01:02 15:04:05", d+" "+tm)
			if ev := evs["GPS Time"]; ev == nil || !ev.Timestamp.Equal(exp) {
				t.Errorf("%s: GPS time %v, exiftool %s", path, ev, exp)
			} else if ev.Jejak.Data["exif.offset_source"] != OffsetSourceGPS || ev.Jejak.Time != nil {
				// UTC by definition: neither an OffsetTime* tag nor the case
				// zone places it.
				t.Errorf("%s: GPS time offset from %q, note %+v", path, ev.Jejak.Data["exif.offset_source"], ev.Jejak.Time)
			}
		}
		if len(res.Events) != want {
			t.Errorf("%s: %d events, exiftool shows %d dates", path, len(res.Events), want)
		}
	}
	return checked
}

// Acceptance (issue 4): on the forensics-samples photos, dates, make,
// model, software and GPS equal exiftool -n.
func TestForensicsSamplesVsExiftool(t *testing.T) {
	needExiftool(t)
	var files []string
	for _, f := range sampleFiles(t) {
		if matches(t, f) {
			files = append(files, f)
		}
	}
	jkt := time.FixedZone("WIB", 7*3600)
	if n := compareWithExiftool(t, files, jkt); n < 10 {
		t.Errorf("only %d dates compared", n)
	}
}

// The corpus photos against exiftool, except four where we deliberately
// differ: temple_square1, 2004-01-11 and 2099-08-12 are cut after their
// EXIF segment (MANIFEST: "truncated JPEG"; exiftool reports a JPEG format
// error and extracts nothing; we read the complete EXIF block, checked
// against goexif's expected values in TestGoexifExpected), and
// geodegrees_as_string stores GPSLatitude as ASCII, which go-exif
// rejects for its type, so we have no GPS there (exiftool parses the text).
func TestCorpusVsExiftool(t *testing.T) {
	needExiftool(t)
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(parsertest.Corpus(t, "more/exif/go-exif_gps.jpg")), "*.jpg"))
	var keep []string
	for _, f := range files {
		if !strings.Contains(f, "temple_square1") && !strings.Contains(f, "geodegrees_as_string") &&
			!strings.Contains(f, "2004-01-11") && !strings.Contains(f, "2099-08-12") {
			keep = append(keep, f)
		}
	}
	compareWithExiftool(t, keep, time.UTC)
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, "more/exif/goexif_geodegrees_as_string.jpg"), time.UTC)
	if len(res.Events) != 1 || res.Events[0].Jejak.Data["exif.value"] != "2014:04:26 19:09:19" {
		t.Errorf("geodegrees_as_string: %d events", len(res.Events))
	}
}

var (
	goexifFile  = regexp.MustCompile(`^\t"([^"]+)": map\[FieldName\]string\{$`)
	goexifField = regexp.MustCompile("^\t\t(\\w+):\\s+`(.*)`,$")
	rational    = regexp.MustCompile(`"(\d+)/(\d+)"`)
)

// Second oracle: rwcarlsen/goexif's regress_expected_test.go, for the
// corpus photos it names.
func TestGoexifExpected(t *testing.T) {
	path := parsertest.Corpus(t, "more/exif/goexif_regress_expected_test.go")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	expected := map[string]map[string]string{}
	var cur map[string]string
	for _, l := range strings.Split(string(raw), "\n") {
		if m := goexifFile.FindStringSubmatch(l); m != nil {
			cur = map[string]string{}
			expected[m[1]] = cur
		} else if m := goexifField.FindStringSubmatch(l); m != nil && cur != nil {
			cur[m[1]] = m[2]
		}
	}
	checked := 0
	for name, want := range expected {
		file := filepath.Join(filepath.Dir(path), "goexif_"+name)
		if _, err := os.Stat(file); err != nil {
			continue
		}
		res := parsertest.ParseFile(t, New(), file, time.UTC)
		evs := byDesc(res.Events)
		for field, desc := range map[string]string{"DateTimeOriginal": "Creation Time", "DateTimeDigitized": "Digitized Time", "DateTime": "Content Modification Time"} {
			w, ok := want[field]
			if !ok {
				if evs[desc] != nil {
					t.Errorf("%s: %s event, goexif has no %s", name, desc, field)
				}
				continue
			}
			w, _ = strconv.Unquote(w)
			if ev := evs[desc]; ev == nil || ev.Jejak.Data["exif.value"] != w {
				t.Errorf("%s %s: %+v, goexif %q", name, field, ev, w)
				continue
			}
			checked++
		}
		for _, ev := range res.Events {
			for _, k := range []string{"Make", "Model"} {
				if w, ok := want[k]; ok {
					w, _ = strconv.Unquote(w)
					if ev.Jejak.Data[strings.ToLower(k)] != strings.TrimSpace(w) {
						t.Errorf("%s %s: %q, goexif %q", name, k, ev.Jejak.Data[strings.ToLower(k)], w)
					}
				}
			}
			for k, field := range map[string]string{"gps.latitude": "GPSLatitude", "gps.longitude": "GPSLongitude"} {
				rs := rational.FindAllStringSubmatch(want[field], -1)
				if len(rs) != 3 {
					continue
				}
				var deg float64
				for i, r := range rs {
					n, _ := strconv.ParseFloat(r[1], 64)
					d, _ := strconv.ParseFloat(r[2], 64)
					deg += n / d / []float64{1, 60, 3600}[i]
				}
				got, _ := strconv.ParseFloat(ev.Jejak.Data[k], 64)
				if math.Abs(math.Abs(got)-deg) > 1e-6 {
					t.Errorf("%s %s: %v, goexif %v", name, field, got, deg)
				}
			}
		}
	}
	if checked < 8 {
		t.Errorf("only %d goexif values compared", checked)
	}
}

// OffsetTime* decide the zone when present: exiftool writes them into a
// copy of a sample photo, and TIFF is read the same way (go-exif's own
// GeoTIFF asset, given a date by exiftool).
func TestOffsetTimeAndTIFF(t *testing.T) {
	needExiftool(t)
	dir := t.TempDir()
	src, err := os.ReadFile(parsertest.Corpus(t, "more/exif/goexif_has-lens-info.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	jpg := filepath.Join(dir, "tally.jpg")
	if err := os.WriteFile(jpg, src, 0o644); err != nil {
		t.Fatal(err)
	}
	files := []string{jpg}
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		tif := filepath.Join(strings.TrimSpace(string(out)), "github.com/dsoprea/go-exif/v3@v3.0.1/assets/geotiff_example.tif")
		if b, err := os.ReadFile(tif); err == nil {
			dst := filepath.Join(dir, "scan.tif")
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, dst)
		}
	}
	args := append([]string{"-overwrite_original", "-OffsetTimeOriginal=+07:00", "-OffsetTime=-03:00",
		"-DateTimeOriginal=2024:02:14 13:05:09", "-Make=Jejak", "-Model=Tally Cam"}, files...)
	if out, err := exec.Command("exiftool", args...).CombinedOutput(); err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}
	if len(files) < 2 {
		t.Log("go-exif's GeoTIFF asset not in the module cache: TIFF not checked")
	}
	compareWithExiftool(t, files, time.UTC)
	res := parsertest.ParseFile(t, New(), jpg, time.UTC)
	if ev := byDesc(res.Events)["Creation Time"]; ev == nil || ev.Timestamp.Format(time.RFC3339Nano) != "2024-02-14T06:05:09.88Z" {
		t.Errorf("OffsetTimeOriginal not applied: %+v", ev)
	}
}

// A JPEG whose EXIF segment is cut: what is there is read, and the damage
// is a counted warning rather than a lost photo or a panic.
func TestTruncated(t *testing.T) {
	data, err := os.ReadFile(parsertest.Corpus(t, "more/exif/go-exif_gps.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{3, 20, 200, 600, 2000} {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("cut.jpg", data[:n], time.Time{}), time.UTC)
		if res.Err != nil {
			t.Errorf("%d bytes: %v", n, res.Err)
		}
		if len(res.Events) == 0 && len(res.Warnings) == 0 {
			t.Errorf("%d bytes: neither events nor a warning", n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"more/exif/goexif_2004-01-11-22-45-15-sep-2004-01-11-22-45-15a.jpg",
		"more/exif/goexif_FailedHash-NoDate-sep-remembory.jpg"} {
		if b, err := os.ReadFile(parsertest.Corpus(f, p)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("II*\x00\x08\x00\x00\x00\x01\x00\x32\x01\x02\x00\x14\x00\x00\x00\x1a\x00\x00\x00"))
	f.Add([]byte("MM\x00*\x00\x00\x00\x08"))
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("f.jpg", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if ev.Timestamp.Location() != time.UTC || ev.TimestampDesc == "" {
				t.Fatalf("bad event %+v", ev)
			}
		}
		for _, w := range res.Warnings {
			if w.Path == "" || w.Err == nil {
				t.Fatalf("bad warning %+v", w)
			}
		}
	})
}

func BenchmarkEXIF(b *testing.B) {
	var photos [][]byte
	var size int64
	files, _ := filepath.Glob(samples + "/pic*/*.jp*g")
	more, _ := filepath.Glob(filepath.Join(filepath.Dir(parsertest.Corpus(b, "more/exif/go-exif_gps.jpg")), "*.jpg"))
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err == nil {
			photos = append(photos, data)
			size += int64(len(data))
		}
	}
	b.SetBytes(size)
	p := New()
	for b.Loop() {
		for _, d := range photos {
			parsertest.Parse(context.Background(), p, parsertest.BytesEntry("p.jpg", d, time.Time{}), time.UTC)
		}
	}
	b.ReportMetric(float64(len(photos)*b.N)/b.Elapsed().Seconds(), "photos/s")
}

// posixTZ is the TZ variable that makes exiftool read a zone-less date at
// offset secs east of UTC (POSIX counts west; its zone name needs three
// letters).
func posixTZ(secs int) string {
	sign := '-'
	if secs < 0 {
		sign, secs = '+', -secs
	}
	return fmt.Sprintf("TZ=XXX%c%02d:%02d", sign, secs/3600, secs/60%60)
}

// epochTags are the dates exiftool reads as instants: the zone-less dates
// (read in TZ) and the SubSec* composites (read at their own offset tag).
var epochTags = []string{"DateTimeOriginal", "CreateDate", "ModifyDate",
	"SubSecDateTimeOriginal", "SubSecCreateDate", "SubSecModifyDate"}

// ownComposite is the SubSec* composite of each date, which exiftool
// builds with the date's own offset tag only.
var ownComposite = map[string]string{"DateTimeOriginal": "SubSecDateTimeOriginal", "CreateDate": "SubSecCreateDate",
	"ModifyDate": "SubSecModifyDate"}

// exiftoolEpochs is exiftool's own reading of the dates of files as Unix
// seconds (-d %s) with TZ set, keyed by file then tag.
func exiftoolEpochs(t *testing.T, tz string, files []string) map[string]map[string]int64 {
	t.Helper()
	args := []string{"-j", "-d", "%s"}
	for _, tag := range epochTags {
		args = append(args, "-"+tag)
	}
	cmd := exec.Command("exiftool", append(args, files...)...)
	cmd.Env = append(os.Environ(), tz)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exiftool -d %%s: %v", err)
	}
	var res []map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	m := map[string]map[string]int64{}
	for _, r := range res {
		f := map[string]int64{}
		for _, tag := range epochTags {
			if v, ok := r[tag].(float64); ok {
				f[tag] = int64(v)
			}
		}
		m[str(r["SourceFile"])] = f
	}
	return m
}

// Issue 10, point 4: one clock per photo. A date without its own
// OffsetTime* tag takes the image's other offsets (events.go, "The offset
// precedence"), then the case zone. exiftool writes the offset variants
// into real photos (a Nikon's, go-exif's GPS sample, a phone's from
// forensics-samples-files); exiftool itself reads every date back as an
// instant (-d %s) in the offset jejak says it used (TZ set to it), and its
// SubSec* composites, which apply a date's own offset tag, agree where the
// tag is the date's own.
func TestOffsetPrecedence(t *testing.T) {
	needExiftool(t)
	bases := []string{parsertest.Corpus(t, "more/exif/goexif_has-lens-info.jpg"), parsertest.Corpus(t, "more/exif/go-exif_gps.jpg")}
	if _, err := os.Stat(samples + "/pic1/IMG_20200827_231612.jpg"); err == nil {
		bases = append(bases, samples+"/pic1/IMG_20200827_231612.jpg")
	} else {
		t.Log("forensics-samples-files missing: the phone photo is not checked")
	}
	const (
		orig, digit, mod = "OffsetTimeOriginal", "OffsetTimeDigitized", "OffsetTime"
		caseZone         = OffsetSourceCase
	)
	cases := []struct {
		name    string
		offsets map[string]string // tag -> value written; absent tags are deleted
		// source of the offset of DateTimeOriginal, CreateDate, ModifyDate
		source [3]string
	}{
		{"original-only", map[string]string{orig: "+07:00"}, [3]string{orig, orig, orig}},
		{"all-three", map[string]string{orig: "+07:00", digit: "+08:00", mod: "+05:30"}, [3]string{orig, digit, mod}},
		{"offsettime-only", map[string]string{mod: "-03:00"}, [3]string{mod, mod, mod}},
		{"digitized-only", map[string]string{digit: "+05:45"}, [3]string{digit, digit, digit}},
		{"original-and-offsettime", map[string]string{orig: "+09:00", mod: "+09:00"}, [3]string{orig, orig, mod}},
		{"none", map[string]string{}, [3]string{caseZone, caseZone, caseZone}},
		{"unknown-offsettime", map[string]string{orig: "-04:00", mod: "   :  "}, [3]string{orig, orig, orig}},
	}
	zone := time.FixedZone("case", 2*3600)
	dir := t.TempDir()
	type photo struct {
		file   string
		name   string
		source [3]string
	}
	var photos []photo
	// One exiftool process writes every variant (-execute between them):
	// a process per photo costs seconds on a loaded machine.
	var writes []string
	for bi, base := range bases {
		src, err := os.ReadFile(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			file := filepath.Join(dir, fmt.Sprintf("%d-%s.jpg", bi, tc.name))
			if err := os.WriteFile(file, src, 0o644); err != nil {
				t.Fatal(err)
			}
			if len(writes) > 0 {
				writes = append(writes, "-execute")
			}
			writes = append(writes, "-DateTimeOriginal=2024:02:14 13:05:09",
				"-CreateDate=2024:02:14 13:05:09", "-ModifyDate=2024:02:14 13:05:09")
			for _, tag := range []string{orig, digit, mod} {
				// "#=" writes the value as given: EXIF's "unknown" offset
				// "   :  " is refused by exiftool's conversion.
				writes = append(writes, "-"+tag+"#="+tc.offsets[tag])
			}
			writes = append(writes, file)
			photos = append(photos, photo{file, tc.name, tc.source})
		}
	}
	writes = append(writes, "-common_args", "-overwrite_original")
	if out, err := exec.Command("exiftool", writes...).CombinedOutput(); err != nil {
		t.Fatalf("exiftool: %v %s", err, out)
	}
	var files []string
	for _, p := range photos {
		files = append(files, p.file)
	}
	oracle := map[string]map[string]any{}
	for _, o := range exiftoolJSON(t, files...) {
		oracle[str(o["SourceFile"])] = o
	}
	epochs := map[string]map[string]map[string]int64{} // TZ -> file -> tag
	epoch := func(tz, file, tag string) int64 {
		if epochs[tz] == nil {
			epochs[tz] = exiftoolEpochs(t, tz, files)
		}
		v, ok := epochs[tz][file][tag]
		if !ok {
			t.Fatalf("exiftool has no %s for %s", tag, file)
		}
		return v
	}
	checked := 0
	for _, p := range photos {
		o := oracle[p.file]
		res := parsertest.ParseFile(t, New(), p.file, zone)
		evs := byDesc(res.Events)
		var instants []time.Time
		for i, c := range offsetClocks {
			ev := evs[c.desc]
			if ev == nil {
				t.Errorf("%s: no %s", p.file, c.desc)
				continue
			}
			d := ev.Jejak.Data
			if d["exif.offset_source"] != p.source[i] {
				t.Errorf("%s %s: offset from %q, want %q", p.file, c.date, d["exif.offset_source"], p.source[i])
				continue
			}
			tz := posixTZ(2 * 3600)
			if p.source[i] != caseZone {
				// The offset used is exiftool's value of the source tag.
				want := str(o[p.source[i]])
				if d["exif.offset"] != want {
					t.Errorf("%s %s: exif.offset %q, exiftool's %s is %q", p.file, c.date, d["exif.offset"], p.source[i], want)
				}
				secs, ok := parseOffset(want)
				if !ok {
					t.Fatalf("%s: exiftool offset %q", p.file, want)
				}
				tz = posixTZ(secs)
			} else if d["exif.offset"] != "" || ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "case" {
				t.Errorf("%s %s: case zone not recorded: %v %+v", p.file, c.date, d, ev.Jejak.Time)
			}
			if invalid := strings.Contains(p.name, "unknown") && c.date == "ModifyDate"; invalid != (d["exif.offset_invalid"] != "") {
				t.Errorf("%s %s: unreadable offset tag: %q", p.file, c.date, d["exif.offset_invalid"])
			}
			own := p.source[i] == c.offsets[0]
			if own == (ev.Jejak.Time != nil) {
				t.Errorf("%s %s: own offset %v but time note %+v", p.file, c.date, own, ev.Jejak.Time)
			}
			if got, want := ev.Timestamp.Unix(), epoch(tz, p.file, c.date); got != want {
				t.Errorf("%s %s: %s, exiftool in %s says %s", p.file, c.date, ev.Timestamp.Format(time.RFC3339Nano),
					tz, time.Unix(want, 0).UTC().Format(time.RFC3339))
			}
			if own {
				// TZ set to the case zone, which the offset tag overrides.
				if got, want := ev.Timestamp.Unix(), epoch(posixTZ(2*3600), p.file, ownComposite[c.date]); got != want {
					t.Errorf("%s %s: %s, exiftool %s says %s", p.file, c.date, ev.Timestamp.Format(time.RFC3339Nano),
						ownComposite[c.date], time.Unix(want, 0).UTC().Format(time.RFC3339))
				}
			}
			instants = append(instants, ev.Timestamp.Truncate(time.Second))
			checked++
		}
		// One camera clock, one moment: unless the image itself gives the
		// dates different offsets, they land on one instant.
		if p.name != "all-three" && len(instants) == 3 && (!instants[0].Equal(instants[1]) || !instants[0].Equal(instants[2])) {
			t.Errorf("%s: one wall clock, three instants %v", p.file, instants)
		}
	}
	if want := 3 * len(photos); checked != want {
		t.Errorf("%d dates checked, want %d", checked, want)
	}
	t.Logf("%d dates of %d photos checked against exiftool", checked, len(photos))
}

// The offset values EXIF 2.31 allows, and the ones seen or writable that
// it does not: the latter are never read as a zone.
func TestParseOffset(t *testing.T) {
	for _, c := range []struct {
		in   string
		secs int
		ok   bool
	}{
		{"+07:00", 7 * 3600, true},
		{"-03:00", -3 * 3600, true},
		{"+05:45", 5*3600 + 45*60, true},
		{"-09:30", -(9*3600 + 30*60), true},
		{"+14:00", 14 * 3600, true},
		{"-00:00", 0, true},
		{"Z", 0, true},
		{"+14:15", 0, false},
		{"+07:60", 0, false},
		{"   :  ", 0, false},
		{":", 0, false},
		{"+7:00", 0, false},
		{"++7:00", 0, false},
		{"+0700", 0, false},
		{"07:00", 0, false},
		{"", 0, false},
	} {
		secs, ok := parseOffset(c.in)
		if ok != c.ok || secs != c.secs {
			t.Errorf("parseOffset(%q) = %d, %v; want %d, %v", c.in, secs, ok, c.secs, c.ok)
		}
		if ok {
			if back, _ := parseOffset(offsetName(secs)); back != secs {
				t.Errorf("offsetName(%d) = %q", secs, offsetName(secs))
			}
		}
	}
}
