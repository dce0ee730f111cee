package lnk

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// The corpus links: plaso's example.lnk (Apache-2.0) and Velociraptor's
// 1.lnk (AGPL: read from ../shared, never copied here).
var corpusLinks = []string{"windows/lnk/example.lnk", "agpl/lnk/1.lnk"}

// The automatic jump lists hold more links, one per numbered stream;
// olecfexport (libolecf-utils) takes them out for lnkinfo.
var corpusJumplists = []string{
	"windows/jumplists/1b4dd67f29cb1962.automaticDestinations-ms",
	"agpl/jumplists/5f7b5f1e01b83767.automaticDestinations-ms",
}

// oracleLine is one "\tKey\t\t: value" line of lnkinfo's report.
var oracleLine = regexp.MustCompile(`^\t+([^\t:][^\t]*?)\t+: ?(.*)$`)

// lnkinfo is what lnkinfo prints: the link information and tracking data
// fields by name, and the shell items in order.
type lnkinfo struct {
	fields map[string]string
	items  []map[string]string
}

func runLnkinfo(t *testing.T, path string) lnkinfo {
	t.Helper()
	out := oracle.Output(t, oracle.Tool(t, "lnkinfo", "liblnk-utils"), path)
	li := lnkinfo{fields: map[string]string{}}
	var item map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != '\t' {
			item = nil // a new section
		}
		if strings.HasPrefix(line, "\tShell item: ") {
			item = map[string]string{}
			li.items = append(li.items, item)
			continue
		}
		m := oracleLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if item != nil {
			if _, dup := item[m[1]]; !dup {
				item[m[1]] = m[2]
			}
			continue
		}
		li.fields[m[1]] = m[2]
	}
	return li
}

func oracleTime(t *testing.T, v string) (time.Time, bool) {
	t.Helper()
	if v == "" || strings.HasPrefix(v, "Not set") {
		return time.Time{}, false
	}
	tm, err := time.Parse("Jan 02, 2006 15:04:05.999999999 UTC", v)
	if err != nil {
		t.Fatalf("lnkinfo time %q: %v", v, err)
	}
	return tm, true
}

// idListPath is the path lnkinfo's shell items spell, when each is a root
// folder, a volume or a file entry: the long name where it shows one.
func (li lnkinfo) idListPath() (string, bool) {
	var parts []string
	for _, it := range li.items {
		switch it["Item type"] {
		case "Root folder":
			if it["Shell folder name"] != "My Computer" {
				return "", false
			}
		case "Volume":
			parts = append(parts, strings.TrimSuffix(it["Volume name"], `\`))
		case "File entry":
			n := it["Long name"]
			if n == "" {
				n = it["Name"]
			}
			parts = append(parts, n)
		default:
			return "", false
		}
	}
	if len(parts) == 0 {
		return "", false
	}
	return strings.Join(parts, `\`), true
}

// oracleFiles lists the corpus links and the links in the automatic jump
// lists' streams.
func oracleFiles(t *testing.T) []string {
	t.Helper()
	files := []string{}
	for _, f := range corpusLinks {
		files = append(files, parsertest.Corpus(t, f))
	}
	bin := oracle.Tool(t, "olecfexport", "libolecf-utils")
	dir := t.TempDir()
	for i, f := range corpusJumplists {
		target := filepath.Join(dir, strconv.Itoa(i))
		oracle.Output(t, bin, "-t", target, parsertest.Corpus(t, f))
		streams, _ := filepath.Glob(target + ".export/*/StreamData.bin")
		for _, s := range streams {
			if filepath.Base(filepath.Dir(s)) != "DestList" {
				files = append(files, s)
			}
		}
	}
	sort.Strings(files)
	return files
}

// TestAgainstLnkinfo compares every field lnkinfo prints that the events
// carry, on the corpus links and the jump lists' links.
func TestAgainstLnkinfo(t *testing.T) {
	files := oracleFiles(t)
	if len(files) < 10 {
		t.Fatalf("only %d links found", len(files))
	}
	for _, path := range files {
		name, _ := filepath.Rel(filepath.Dir(filepath.Dir(filepath.Dir(path))), path)
		t.Run(name, func(t *testing.T) { compareLnkinfo(t, path) })
	}
}

// TestPylnk3 has pylnk3 (PyPI), an independent writer of shell links,
// make links of the kinds an examiner meets (a program with arguments and
// working directory, a file on a network share, a path with non-ASCII
// letters and spaces, a short path) and compares each with lnkinfo.
func TestPylnk3(t *testing.T) {
	bin := oracle.Tool(t, "pylnk3", "pylnk3 (pip install pylnk3==0.4.3)")
	dir := t.TempDir()
	for i, tc := range [][]string{
		{`C:\Program Files\Tally\tally.exe`, "-a", `--import D:\hasil.csv`, "-d", "Tally import", "-w", `C:\Program Files\Tally`},
		{`\\10.0.0.5\share\rekap\hasil.xlsx`},
		{`C:\Users\operator\Documents\Pemilu 2024\rekap_ü é.xlsx`, "-m", "Minimized"},
		{`D:\x.txt`, "-i", `C:\Windows\system32\shell32.dll`, "-ii", "3"},
	} {
		p := filepath.Join(dir, strconv.Itoa(i)+".lnk")
		oracle.Output(t, bin, append([]string{"c", tc[0], p}, tc[1:]...)...)
		t.Run(strconv.Itoa(i), func(t *testing.T) { compareLnkinfo(t, p) })
	}
}

// compareLnkinfo checks our events for the link at path against lnkinfo.
func compareLnkinfo(t *testing.T, path string) {
	t.Helper()
	li := runLnkinfo(t, path)
	res := parsertest.ParseFile(t, New(), path, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatalf("Parse: %v, warnings %v", res.Err, res.Warnings)
	}
	byDesc := map[string]*timeline.Event{}
	var targetEvents []*timeline.Event
	for _, ev := range res.Events {
		byDesc[ev.TimestampDesc] = ev
		if strings.HasPrefix(ev.TimestampDesc, "Target ") {
			targetEvents = append(targetEvents, ev)
		}
	}
	n := 0
	for desc, key := range map[string]string{"Target Creation Time": "Creation time",
		"Target Modification Time": "Modification time", "Target Last Access Time": "Access time"} {
		want, set := oracleTime(t, li.fields[key])
		ev := byDesc[desc]
		if !set {
			if ev != nil {
				t.Errorf("%s: event at %s, lnkinfo: not set", desc, ev.Timestamp)
			}
			continue
		}
		n++
		if ev == nil || !ev.Timestamp.Equal(want) {
			t.Errorf("%s: %v, lnkinfo %s", desc, ev, want)
		}
	}
	if len(targetEvents) != n {
		t.Fatalf("%d target time events, lnkinfo sets %d times", len(targetEvents), n)
	}
	// The object ID events: one per time-based droid file ID
	// (two when the birth ID differs), each with its ID's MAC.
	for desc, key := range map[string]string{"Link Tracking Object ID Creation Time": "Droid file identifier",
		"Link Tracking Birth Object ID Creation Time": "Birth droid file identifier"} {
		id := li.fields[key]
		ev := byDesc[desc]
		want := id != "" && len(id) == 36 && id[14] == '1' && (desc == "Link Tracking Object ID Creation Time" || id != li.fields["Droid file identifier"])
		if want != (ev != nil) {
			t.Errorf("%s: event %v, lnkinfo %s %q", desc, ev != nil, key, id)
		}
		if ev != nil && !strings.EqualFold(strings.ReplaceAll(ev.Jejak.Data["lnk.droid_mac"], ":", ""), id[24:]) {
			t.Errorf("%s: MAC %s, id %s", desc, ev.Jejak.Data["lnk.droid_mac"], id)
		}
	}
	if n == 0 {
		return
	}
	ev := res.Events[0]
	d := ev.Jejak.Data
	if s := strconv.FormatInt(*ev.File.Size, 10) + " bytes"; s != li.fields["File size"] {
		t.Errorf("file.size %s, lnkinfo %s", s, li.fields["File size"])
	}
	checks := map[string]string{
		"Local path":                     "lnk.local_path",
		"Network path":                   "lnk.network_path",
		"Description":                    "lnk.description",
		"Relative path":                  "lnk.relative_path",
		"Working directory":              "lnk.working_dir",
		"Command line arguments":         "lnk.arguments",
		"Icon location":                  "lnk.icon_location",
		"Environment variables location": "lnk.env_location",
		"Volume label":                   "lnk.volume_label",
		"Machine identifier":             "lnk.machine_id",
		"Droid volume identifier":        "lnk.droid_volume",
		"Droid file identifier":          "lnk.droid_file",
		"Birth droid volume identifier":  "lnk.birth_droid_volume",
		"Birth droid file identifier":    "lnk.birth_droid_file",
	}
	for ok, key := range checks {
		if d[key] != li.fields[ok] {
			t.Errorf("%s = %q, lnkinfo %s %q", key, d[key], ok, li.fields[ok])
		}
	}
	if s, ok := li.fields["Drive serial number"]; ok && !strings.HasPrefix(li.fields["Drive type"], "Not set") {
		if !strings.EqualFold("0x"+d["lnk.volume_serial"], s) {
			t.Errorf("volume serial %s, lnkinfo %s", d["lnk.volume_serial"], s)
		}
		if dt := li.fields["Drive type"]; !strings.HasSuffix(dt, "("+strconv.Itoa(driveTypeCode(d["lnk.drive_type"]))+")") {
			t.Errorf("drive type %s, lnkinfo %s", d["lnk.drive_type"], dt)
		}
	}
	// file.path: the local path, else the network path (or the
	// environment-variable target when it extends a bare share),
	// else the path the shell items spell, else the
	// environment-variable target, else the relative path.
	want := li.fields["Local path"]
	if want == "" {
		want = li.fields["Network path"]
		if env := li.fields["Environment variables location"]; want != "" && len(env) > len(want) && strings.EqualFold(env[:len(want)], want) {
			want = env
		}
	}
	if want == "" {
		want, _ = li.idListPath()
	}
	for _, k := range []string{"Environment variables location", "Relative path"} {
		if want == "" {
			want = li.fields[k]
		}
	}
	if ev.File.Path != want {
		t.Errorf("file.path %q, from lnkinfo %q", ev.File.Path, want)
	}
	// Data leaves the shell item path out when it is file.path.
	got := d["lnk.idlist_path"]
	if got == "" {
		got = ev.File.Path
	}
	if p, ok := li.idListPath(); ok && got != p {
		t.Errorf("shell item path %q, lnkinfo's items %q", got, p)
	}
}

// TestPlasoExpectations checks what plaso's winlnk test expects of
// example.lnk that lnkinfo does not print: the time and MAC address in the
// distributed link tracking object ID (plaso tests/parsers/winlnk.py:
// 2009-07-14 05:45:20.500012, 00:1d:09:fa:5a:1c), to plaso's microseconds.
func TestPlasoExpectations(t *testing.T) {
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, corpusLinks[0]), nil)
	var found bool
	for _, ev := range res.Events {
		if ev.TimestampDesc != "Link Tracking Object ID Creation Time" {
			continue
		}
		found = true
		want := time.Date(2009, 7, 14, 5, 45, 20, 500012000, time.UTC)
		if !ev.Timestamp.Truncate(time.Microsecond).Equal(want) || ev.Jejak.Data["lnk.droid_mac"] != "00:1d:09:fa:5a:1c" {
			t.Errorf("object ID time %s MAC %s, plaso %s 00:1d:09:fa:5a:1c", ev.Timestamp, ev.Jejak.Data["lnk.droid_mac"], want)
		}
	}
	if !found || len(res.Events) != 4 {
		t.Errorf("%d events, object ID event found: %v", len(res.Events), found)
	}
}

func driveTypeCode(name string) int {
	for i := uint32(0); i < 7; i++ {
		if DriveType(i) == name {
			return int(i)
		}
	}
	return -1
}

func TestContract(t *testing.T) {
	var files []string
	for _, f := range corpusLinks {
		files = append(files, parsertest.Corpus(t, f))
	}
	parsertest.Contract(t, New(), files...)
}

// TestDamaged cuts and corrupts real links: each cut after the header is
// read as far as it goes, with a warning naming the offset, and the times
// are still events.
func TestDamaged(t *testing.T) {
	for _, f := range corpusLinks {
		b, err := os.ReadFile(parsertest.Corpus(t, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{HeaderSize, HeaderSize + 1, len(b) / 2, len(b) - 5} {
			res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("x.lnk", b[:n], time.Time{}), time.UTC)
			if res.Err != nil || len(res.Events) != 3 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0].Error(), "offset") {
				t.Errorf("%s cut at %d: %v, %d events, warnings %v", f, n, res.Err, len(res.Events), res.Warnings)
			}
		}
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("x.lnk", b[:40], time.Time{}), time.UTC)
		if res.Err == nil {
			t.Errorf("%s cut in the header: no error", f)
		}
	}
}

func TestMatch(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, corpusLinks[0]))
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(b)
	other[10] ^= 1
	for _, tc := range []struct {
		b    []byte
		want bool
	}{{b, true}, {other, false}, {[]byte("L\x00\x00\x00"), false}} {
		if got := New().Match(parsertest.BytesEntry("x", tc.b, time.Time{}), tc.b); got != tc.want {
			t.Errorf("Match(%q...) = %v", tc.b[:min(8, len(tc.b))], got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range corpusLinks {
		if b, err := os.ReadFile(parsertest.Corpus(f, c)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("x.lnk", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if o := ev.Jejak.Provenance.Offset; o < 0 || o >= int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes", o, len(b))
			}
		}
		if l, _, err := Decode(b); err == nil && (l.Size < HeaderSize || l.Size > len(b)) {
			t.Fatalf("size %d of %d bytes", l.Size, len(b))
		}
	})
}

// BenchmarkParse reports links/s on example.lnk.
func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile(parsertest.Corpus(b, corpusLinks[0]))
	if err != nil {
		b.Fatal(err)
	}
	e := parsertest.BytesEntry("example.lnk", raw, time.Time{})
	links := 0
	for b.Loop() {
		src := &parsers.Source{Entry: e, R: bytes.NewReader(raw), Size: int64(len(raw)),
			Warn: func(w *parsers.RecordError) { b.Fatal(w) }}
		if err := New().Parse(context.Background(), src, func(*timeline.Event) error { return nil }); err != nil {
			b.Fatal(err)
		}
		links++
	}
	b.ReportMetric(float64(links)/b.Elapsed().Seconds(), "records/s")
}
