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
		for _, c := range []struct{ desc, date, sub, off string }{
			{"Creation Time", "DateTimeOriginal", "SubSecTimeOriginal", "OffsetTimeOriginal"},
			{"Digitized Time", "CreateDate", "SubSecTimeDigitized", "OffsetTimeDigitized"},
			{"Content Modification Time", "ModifyDate", "SubSecTime", "OffsetTime"},
		} {
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
			exp := exifTime(t, date, str(o[c.sub]), str(o[c.off]), zone)
			if !ev.Timestamp.Equal(exp) {
				t.Errorf("%s %s: %s, exiftool %s", path, c.desc, ev.Timestamp.Format(time.RFC3339Nano), exp.Format(time.RFC3339Nano))
			}
			if assumed := str(o[c.off]) == ""; assumed != (ev.Jejak.Time != nil) {
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
