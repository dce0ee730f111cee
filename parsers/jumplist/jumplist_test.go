package jumplist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/lnk"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// plaso's jump lists (Apache-2.0) and Velociraptor's (AGPL: read from
// ../shared, never copied here).
var (
	automaticFiles = []string{
		"windows/jumplists/1b4dd67f29cb1962.automaticDestinations-ms",
		"agpl/jumplists/5f7b5f1e01b83767.automaticDestinations-ms",
	}
	customFile = "windows/jumplists/5afe4de1b92fc382.customDestinations-ms"
)

var oracleLine = regexp.MustCompile(`^\t+([^\t:][^\t]*?)\t+: ?(.*)$`)

// lnkinfo returns the fields lnkinfo prints outside the shell items.
func lnkinfo(t *testing.T, path string) map[string]string {
	t.Helper()
	out := oracle.Output(t, oracle.Tool(t, "lnkinfo", "liblnk-utils"), path)
	f := map[string]string{}
	inItems := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != '\t' {
			inItems = strings.HasPrefix(line, "Link target identifier")
		}
		if m := oracleLine.FindStringSubmatch(line); m != nil && !inItems {
			f[m[1]] = m[2]
		}
	}
	return f
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

// checkLinkEvents compares the link events of one record with lnkinfo's
// report of that link.
func checkLinkEvents(t *testing.T, all []*timeline.Event, li map[string]string) {
	t.Helper()
	var evs []*timeline.Event
	for _, ev := range all {
		if strings.HasPrefix(ev.TimestampDesc, "Target ") {
			evs = append(evs, ev)
		}
	}
	want := map[string]time.Time{}
	for desc, key := range map[string]string{"Target Creation Time": "Creation time",
		"Target Modification Time": "Modification time", "Target Last Access Time": "Access time"} {
		if tm, ok := oracleTime(t, li[key]); ok {
			want[desc] = tm
		}
	}
	if len(evs) != len(want) {
		t.Fatalf("%d link events, lnkinfo sets %d times", len(evs), len(want))
	}
	for _, ev := range evs {
		if !ev.Timestamp.Equal(want[ev.TimestampDesc]) {
			t.Errorf("%s %s, lnkinfo %s", ev.TimestampDesc, ev.Timestamp, want[ev.TimestampDesc])
		}
		d := ev.Jejak.Data
		if p := li["Local path"]; p != "" && ev.File.Path != p {
			t.Errorf("file.path %q, lnkinfo local path %q", ev.File.Path, p)
		}
		if d["jumplist.app_id"] == "" || d["lnk.machine_id"] != li["Machine identifier"] || d["lnk.arguments"] != li["Command line arguments"] {
			t.Errorf("data %v, lnkinfo machine %q arguments %q", d, li["Machine identifier"], li["Command line arguments"])
		}
	}
}

// olecfStreams lists the streams olecfinfo reports under the root.
func olecfStreams(t *testing.T, path string) []string {
	t.Helper()
	out := oracle.Output(t, oracle.Tool(t, "olecfinfo", "libolecf-utils"), path)
	var names []string
	re := regexp.MustCompile(`^  (\S+) \(\d+ bytes\)$`)
	for _, line := range strings.Split(string(out), "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// TestAutomaticAgainstOracles checks an automatic jump list against
// olecfinfo (the stream list: DestList and one numbered stream per entry),
// and each stream's link events against lnkinfo on the stream olecfexport
// wrote out. The DestList entries have no oracle of their own; each is
// checked against the link of the same entry number, which stores the same
// path (unless the entry names a shell folder), host and droids.
func TestAutomaticAgainstOracles(t *testing.T) {
	bin := oracle.Tool(t, "olecfexport", "libolecf-utils")
	for i, f := range automaticFiles {
		t.Run(filepath.Base(f), func(t *testing.T) {
			path := parsertest.Corpus(t, f)
			streams := olecfStreams(t, path)
			target := filepath.Join(t.TempDir(), strconv.Itoa(i))
			oracle.Output(t, bin, "-t", target, path)
			res := parsertest.ParseFile(t, NewAutomatic(), path, nil)
			if res.Err != nil || len(res.Warnings) > 0 {
				t.Fatalf("Parse: %v, warnings %v", res.Err, res.Warnings)
			}
			dest := map[int64]*timeline.Event{}
			links := map[int64][]*timeline.Event{}
			for _, ev := range res.Events {
				if ev.TimestampDesc == "Last Access Time" {
					dest[ev.Jejak.Provenance.Record] = ev
				} else {
					links[ev.Jejak.Provenance.Record] = append(links[ev.Jejak.Provenance.Record], ev)
				}
			}
			numbered := 0
			for _, s := range streams {
				if s == "DestList" {
					continue
				}
				numbered++
				num, err := strconv.ParseInt(s, 16, 64)
				if err != nil {
					t.Fatalf("stream %q", s)
				}
				li := lnkinfo(t, filepath.Join(target+".export", s, "StreamData.bin"))
				t.Run("stream "+s, func(t *testing.T) { checkLinkEvents(t, links[num], li) })
				d := dest[num]
				if d == nil {
					t.Errorf("no DestList entry %d", num)
					continue
				}
				dd := d.Jejak.Data
				if p := d.File.Path; !strings.HasPrefix(p, "::") && !strings.EqualFold(p, li["Local path"]) {
					t.Errorf("DestList entry %d path %q, the link's %q", num, p, li["Local path"])
				}
				if dd["jumplist.hostname"] != li["Machine identifier"] || dd["jumplist.droid_volume"] != li["Droid volume identifier"] ||
					dd["jumplist.droid_file"] != li["Droid file identifier"] {
					t.Errorf("DestList entry %d: %v; link: %v", num, dd, li)
				}
			}
			if numbered == 0 || len(dest) != numbered {
				t.Errorf("%d DestList entries, olecfinfo lists %d numbered streams", len(dest), numbered)
			}
		})
	}
}

// linkOffsets finds the links of a custom jump list by their entry
// signature: a search independent of the parser's walk of the categories.
func linkOffsets(b []byte) []int {
	var offs []int
	for off := 0; ; {
		i := bytes.Index(b[off:], linkEntry)
		if i < 0 {
			return offs
		}
		offs = append(offs, off+i+16)
		off += i + 16
	}
}

// TestCustomAgainstLnkinfo cuts each link out of the custom jump list at
// the offsets its signature is found at and compares lnkinfo's report of
// it with the events of that record.
func TestCustomAgainstLnkinfo(t *testing.T) {
	path := parsertest.Corpus(t, customFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res := parsertest.ParseFile(t, NewCustom(), path, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatalf("Parse: %v, warnings %v", res.Err, res.Warnings)
	}
	byRec := map[int64][]*timeline.Event{}
	for _, ev := range res.Events {
		byRec[ev.Jejak.Provenance.Record] = append(byRec[ev.Jejak.Provenance.Record], ev)
		if ev.Jejak.Data["jumplist.category"] != "Tasks" {
			t.Errorf("category %q", ev.Jejak.Data["jumplist.category"])
		}
	}
	offs := linkOffsets(b)
	if len(offs) != 9 || len(byRec) != len(offs) {
		t.Fatalf("%d links with events, %d links in the file", len(byRec), len(offs))
	}
	dir := t.TempDir()
	for i, off := range offs {
		p := filepath.Join(dir, strconv.Itoa(i)+".lnk")
		if err := os.WriteFile(p, b[off:], 0o644); err != nil {
			t.Fatal(err)
		}
		evs := byRec[int64(i+1)]
		checkLinkEvents(t, evs, lnkinfo(t, p))
		end := len(b)
		if i+1 < len(offs) {
			end = offs[i+1] - 16
		}
		for _, ev := range evs {
			o := ev.Jejak.Provenance.Offset
			if o < int64(off) || o >= int64(end) || (strings.HasPrefix(ev.TimestampDesc, "Target ") && o >= int64(off+lnk.HeaderSize)) {
				t.Errorf("record %d: %s offset %d outside its link (%d-%d) or header", i+1, ev.TimestampDesc, o, off, end)
			}
		}
	}
}

// TestCustomDamaged breaks the category structure: every link is still
// read (found by its signature), and the break is a warning at its offset.
func TestCustomDamaged(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, customFile))
	if err != nil {
		t.Fatal(err)
	}
	full := parsertest.ParseFile(t, NewCustom(), parsertest.Corpus(t, customFile), nil)
	bad := bytes.Clone(b)
	binary.LittleEndian.PutUint32(bad[12:], 7) // category type
	res := parsertest.Parse(context.Background(), NewCustom(), parsertest.BytesEntry("x.customDestinations-ms", bad, time.Time{}), time.UTC)
	if res.Err != nil || len(res.Events) != len(full.Events) || len(res.Warnings) != 1 || res.Warnings[0].Offset != 12 {
		t.Fatalf("%v, %d events (want %d), warnings %v", res.Err, len(res.Events), len(full.Events), res.Warnings)
	}
	// A cut file: the links before the cut, and a warning.
	res = parsertest.Parse(context.Background(), NewCustom(), parsertest.BytesEntry("x", b[:len(b)/2], time.Time{}), time.UTC)
	if res.Err != nil || len(res.Events) == 0 || len(res.Events) >= len(full.Events) || len(res.Warnings) == 0 {
		t.Fatalf("cut: %v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
}

func TestMatch(t *testing.T) {
	auto, err := os.ReadFile(parsertest.Corpus(t, automaticFiles[0]))
	if err != nil {
		t.Fatal(err)
	}
	custom, err := os.ReadFile(parsertest.Corpus(t, customFile))
	if err != nil {
		t.Fatal(err)
	}
	head := func(b []byte) []byte { return b[:min(len(b), parsers.HeadSize)] }
	e := parsertest.BytesEntry("x", nil, time.Time{})
	if !NewAutomatic().Match(e, head(auto)) || NewAutomatic().Match(e, head(custom)) {
		t.Error("automatic Match")
	}
	if !NewCustom().Match(e, head(custom)) || NewCustom().Match(e, head(auto)) {
		t.Error("custom Match")
	}
	// Another compound file (no DestList) only by its name.
	other := bytes.ReplaceAll(bytes.Clone(auto), destListName, utf16le("Workbook"))
	if NewAutomatic().Match(e, head(other)) || !NewAutomatic().Match(parsertest.BytesEntry("a.automaticDestinations-ms", nil, time.Time{}), head(other)) {
		t.Error("automatic Match without DestList")
	}
}

func TestContract(t *testing.T) {
	var files []string
	for _, f := range automaticFiles {
		files = append(files, parsertest.Corpus(t, f))
	}
	parsertest.Contract(t, NewAutomatic(), files...)
	parsertest.Contract(t, NewCustom(), parsertest.Corpus(t, customFile))
}

func FuzzAutomatic(f *testing.F) {
	for _, c := range automaticFiles {
		if b, err := os.ReadFile(parsertest.Corpus(f, c)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		parsertest.Parse(context.Background(), NewAutomatic(), parsertest.BytesEntry("x.automaticDestinations-ms", b, time.Time{}), time.UTC)
	})
}

func FuzzCustom(f *testing.F) {
	if b, err := os.ReadFile(parsertest.Corpus(f, customFile)); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), NewCustom(), parsertest.BytesEntry("x.customDestinations-ms", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if o := ev.Jejak.Provenance.Offset; o < 0 || o >= int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes", o, len(b))
			}
		}
	})
}

// BenchmarkAutomatic reports records/s (DestList entries and links) on
// plaso's automatic jump list.
func BenchmarkAutomatic(b *testing.B) {
	bench(b, NewAutomatic(), automaticFiles[0])
}

// BenchmarkCustom reports records/s (links) on plaso's custom jump list.
func BenchmarkCustom(b *testing.B) {
	bench(b, NewCustom(), customFile)
}

func bench(b *testing.B, p parsers.Parser, f string) {
	raw, err := os.ReadFile(parsertest.Corpus(b, f))
	if err != nil {
		b.Fatal(err)
	}
	e := parsertest.BytesEntry(filepath.Base(f), raw, time.Time{})
	records := 0
	for b.Loop() {
		seen := map[int64]bool{}
		src := &parsers.Source{Entry: e, R: bytes.NewReader(raw), ReaderAt: bytes.NewReader(raw), Size: int64(len(raw)),
			Warn: func(w *parsers.RecordError) { b.Fatal(w) }}
		err := p.Parse(context.Background(), src, func(ev *timeline.Event) error {
			k := ev.Jejak.Provenance.Record
			if ev.TimestampDesc == "Last Access Time" {
				k = -k
			}
			if !seen[k] {
				seen[k] = true
				records++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}

// TestAutomaticDamagedStream breaks the link header of one numbered
// stream (its first bytes lie whole in a mini-stream sector): that entry
// is a warning naming its entry number, everything else still events.
func TestAutomaticDamagedStream(t *testing.T) {
	path := parsertest.Corpus(t, automaticFiles[0])
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	full := parsertest.ParseFile(t, NewAutomatic(), path, nil)
	i := bytes.Index(b, linkEntry[16:]) // a link header: size and CLSID
	if i < 0 {
		t.Fatal("no link header in the file")
	}
	bad := bytes.Clone(b)
	bad[i] = 0x4d
	res := parsertest.Parse(context.Background(), NewAutomatic(), parsertest.BytesEntry("x.automaticDestinations-ms", bad, time.Time{}), time.UTC)
	if res.Err != nil || len(res.Warnings) != 1 || res.Warnings[0].Record == 0 {
		t.Fatalf("%v, warnings %v", res.Err, res.Warnings)
	}
	lost := 0
	for _, ev := range full.Events {
		if ev.Jejak.Provenance.Record == res.Warnings[0].Record && ev.TimestampDesc != "Last Access Time" {
			lost++
		}
	}
	if lost == 0 || len(res.Events) != len(full.Events)-lost {
		t.Errorf("%d events, want %d - %d of the broken stream", len(res.Events), len(full.Events), lost)
	}
}

// TestCustomCategories lays out the three category kinds around the
// corpus file's links: a known category (an ID, no entries), a custom
// category with a name and two links, the tasks with one; each closed by
// its footer. Every link is an event under its category's name.
func TestCustomCategories(t *testing.T) {
	b, err := os.ReadFile(parsertest.Corpus(t, customFile))
	if err != nil {
		t.Fatal(err)
	}
	offs := linkOffsets(b)
	entry := func(i int) []byte { return b[offs[i]-16 : offs[i+1]-16] } // CLSID + link
	le := binary.LittleEndian
	f := le.AppendUint32(nil, 2)
	f = le.AppendUint32(f, 3)
	f = le.AppendUint32(f, 0)
	f = le.AppendUint32(f, 1) // known: Recent
	f = le.AppendUint32(f, 2)
	f = le.AppendUint32(f, customFooter)
	name := utf16le("Hasil TPS")
	f = le.AppendUint32(f, 0) // custom
	f = le.AppendUint16(f, uint16(len(name)/2))
	f = append(f, name...)
	f = le.AppendUint32(f, 2)
	f = append(f, entry(0)...)
	f = append(f, entry(1)...)
	f = le.AppendUint32(f, customFooter)
	f = le.AppendUint32(f, 2) // tasks
	f = le.AppendUint32(f, 1)
	f = append(f, entry(2)...)
	f = le.AppendUint32(f, customFooter)
	if !NewCustom().Match(parsertest.BytesEntry("x", f, time.Time{}), f) {
		t.Fatal("Match refuses it")
	}
	res := parsertest.Parse(context.Background(), NewCustom(), parsertest.BytesEntry("x.customDestinations-ms", f, time.Time{}), time.UTC)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatal(res.Err, res.Warnings)
	}
	cats := map[int64]string{}
	for _, ev := range res.Events {
		cats[ev.Jejak.Provenance.Record] = ev.Jejak.Data["jumplist.category"]
	}
	if want := map[int64]string{1: "Hasil TPS", 2: "Hasil TPS", 3: "Tasks"}; fmt.Sprint(cats) != fmt.Sprint(want) {
		t.Errorf("categories %v, want %v", cats, want)
	}
}
