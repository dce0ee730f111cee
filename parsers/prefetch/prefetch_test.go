package prefetch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// The only real prefetch file in the shared corpus: Windows 10, version
// 30, MAM-compressed (Velociraptor's test data, AGPL: read from ../shared,
// never copied here).
const corpusPF = "agpl/prefetch/VELOCIRAPTOR.EXE-DB95245D.pf"

// scca is what sccainfo prints about a prefetch file.
type scca struct {
	version    int
	hash       uint32
	executable string
	runCount   int
	runs       []time.Time
	filenames  []string
	volPaths   []string
	volSerials []uint32
	volCreated []time.Time
}

// sccaLine is one "\tKey\t\t: value" line of sccainfo's report.
var sccaLine = regexp.MustCompile(`^\t+([^\t]+)\t+: (.*)$`)

// sccainfo runs libscca's sccainfo on path and reads its report.
func sccainfo(t *testing.T, path string) scca {
	t.Helper()
	out := oracle.Output(t, oracle.Tool(t, "sccainfo", "libscca-utils"), path)
	var s scca
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := sccaLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		// "Last run time: 3" and "Filename: 12" number their lines.
		k, _, _ := strings.Cut(m[1], ":")
		v := m[2]
		switch {
		case k == "Format version":
			s.version, _ = strconv.Atoi(v)
		case k == "Prefetch hash":
			h, _ := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
			s.hash = uint32(h)
		case k == "Executable filename":
			s.executable = v
		case k == "Run count":
			s.runCount, _ = strconv.Atoi(v)
		case k == "Last run time":
			s.runs = append(s.runs, sccaTime(t, v))
		case k == "Filename":
			s.filenames = append(s.filenames, v)
		case k == "Device path":
			s.volPaths = append(s.volPaths, v)
		case k == "Serial number":
			n, _ := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
			s.volSerials = append(s.volSerials, uint32(n))
		case k == "Creation time":
			s.volCreated = append(s.volCreated, sccaTime(t, v))
		}
	}
	if s.version == 0 {
		t.Fatalf("sccainfo printed no format version:\n%s", out)
	}
	return s
}

func sccaTime(t *testing.T, v string) time.Time {
	t.Helper()
	tm, err := time.Parse("Jan 02, 2006 15:04:05.999999999 UTC", v)
	if err != nil {
		t.Fatalf("sccainfo time %q: %v", v, err)
	}
	return tm
}

// compareSccainfo checks our events for path against sccainfo's report.
func compareSccainfo(t *testing.T, path string) {
	t.Helper()
	want := sccainfo(t, path)
	res := parsertest.ParseFile(t, New(), path, nil)
	if res.Err != nil || len(res.Warnings) > 0 {
		t.Fatalf("Parse: %v, warnings %v", res.Err, res.Warnings)
	}
	if len(res.Events) != len(want.runs) {
		t.Fatalf("%d events, sccainfo lists %d last run times", len(res.Events), len(want.runs))
	}
	// Every file name, in order (the events carry only their count and a
	// sample): after decompression, this covers the whole stream.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, size, start, ok := mamHeader(raw); ok {
		if raw, err = DecompressHuffman(raw[start:], size); err != nil {
			t.Fatal(err)
		}
	}
	f, _, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.Filenames, "\n") != strings.Join(want.filenames, "\n") {
		t.Errorf("file names differ from sccainfo's (%d, sccainfo %d)", len(f.Filenames), len(want.filenames))
	}
	for i, ev := range res.Events {
		d := ev.Jejak.Data
		if !ev.Timestamp.Equal(want.runs[i]) {
			t.Errorf("run %d: %s, sccainfo %s", i+1, ev.Timestamp.Format(time.RFC3339Nano), want.runs[i].Format(time.RFC3339Nano))
		}
		wantDesc := "Previous Execution Time"
		if i == 0 {
			wantDesc = "Last Time Executed"
		}
		if ev.TimestampDesc != wantDesc {
			t.Errorf("run %d: timestamp_desc %q", i+1, ev.TimestampDesc)
		}
		if d["prefetch.run_count"] != strconv.Itoa(want.runCount) || d["prefetch.version"] != strconv.Itoa(want.version) {
			t.Errorf("run count %s version %s, sccainfo %d %d", d["prefetch.run_count"], d["prefetch.version"], want.runCount, want.version)
		}
		if h, _ := strconv.ParseUint(d["prefetch.hash"], 16, 32); uint32(h) != want.hash {
			t.Errorf("hash %s, sccainfo %08x", d["prefetch.hash"], want.hash)
		}
		if !strings.EqualFold(ev.Process.Name, want.executable) {
			t.Errorf("process.name %q, sccainfo %q", ev.Process.Name, want.executable)
		}
		if d["prefetch.files_loaded"] != strconv.Itoa(len(want.filenames)) {
			t.Errorf("files_loaded %s, sccainfo lists %d", d["prefetch.files_loaded"], len(want.filenames))
		}
		var paths, serials, created []string
		for j := range want.volPaths {
			paths = append(paths, want.volPaths[j])
			serials = append(serials, strings.ToUpper(strconv.FormatUint(uint64(want.volSerials[j])|1<<32, 16)[1:]))
			created = append(created, want.volCreated[j].Format("2006-01-02T15:04:05.0000000Z"))
		}
		if d["prefetch.volume_path"] != strings.Join(paths, ", ") || d["prefetch.volume_serial"] != strings.Join(serials, ", ") ||
			d["prefetch.volume_created"] != strings.Join(created, ", ") {
			t.Errorf("volumes %q %q %q, sccainfo %q %q %q", d["prefetch.volume_path"], d["prefetch.volume_serial"], d["prefetch.volume_created"],
				paths, serials, created)
		}
		// process.executable is the file name string ending in the
		// executable's name, when one does.
		wantExe := ""
		for _, f := range want.filenames {
			if strings.EqualFold(f[strings.LastIndexByte(f, '\\')+1:], want.executable) {
				wantExe = f
				break
			}
		}
		if ev.Process.Executable != wantExe {
			t.Errorf("process.executable %q, sccainfo's file names give %q", ev.Process.Executable, wantExe)
		}
		if !strings.Contains(ev.Message, strconv.Itoa(len(want.filenames))+" files loaded") || len(ev.Message) > 600 {
			t.Errorf("message not a bounded summary: %q", ev.Message)
		}
	}
}

func TestSccainfoCorpus(t *testing.T) {
	compareSccainfo(t, parsertest.Corpus(t, corpusPF))
}

// decompressed returns the corpus file's SCCA bytes, as our decompressor
// gives them.
func decompressed(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile(parsertest.Corpus(t, corpusPF))
	if err != nil {
		t.Fatal(err)
	}
	format, size, start, ok := mamHeader(raw)
	if !ok || format != mamHuffman {
		t.Fatalf("corpus file is not MAM-compressed")
	}
	out, err := DecompressHuffman(raw[start:], size)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecompressAgainstSccainfo checks the decompressor independently:
// sccainfo (which has its own LZXpress Huffman decoder, libfwnt) must say
// the same of the file we decompressed as of the compressed original.
func TestDecompressAgainstSccainfo(t *testing.T) {
	bin := oracle.Tool(t, "sccainfo", "libscca-utils")
	orig := parsertest.Corpus(t, corpusPF)
	plain := filepath.Join(t.TempDir(), "plain.pf")
	if err := os.WriteFile(plain, decompressed(t), 0o644); err != nil {
		t.Fatal(err)
	}
	a, b := oracle.Output(t, bin, orig), oracle.Output(t, bin, plain)
	if !bytes.Equal(a, b) {
		t.Fatalf("sccainfo differs on our decompressed copy:\n%s\n---\n%s", a, b)
	}
	compareSccainfo(t, plain)
}

// rebuild lays out the corpus file's content as a prefetch file of another
// version (the corpus has Windows 10 only): header, file information with
// the version's offsets, file metrics, file name strings and volume
// information. sccainfo reads it independently, so a version whose layout
// we had wrong shows as a disagreement, not as a test that agrees with
// itself. v30short is the 212-byte file information of newer Windows 10.
func rebuild(t testing.TB, f *File, version uint32, v30short bool) []byte {
	t.Helper()
	le := binary.LittleEndian
	infoSize := map[uint32]int{17: 68, 23: 156, 26: 224, 30: 220}[version]
	if v30short {
		infoSize = 212
	}
	l, _ := layoutOf(version, uint32(headerSize+infoSize))
	b := make([]byte, headerSize+infoSize)
	le.PutUint32(b, version)
	copy(b[4:], "SCCA")
	le.PutUint32(b[8:], map[bool]uint32{true: 0x0f, false: 0x11}[version == 17])
	name := utf16.Encode([]rune(f.Executable))
	for i, c := range name {
		le.PutUint16(b[16+2*i:], c)
	}
	le.PutUint32(b[76:], f.Hash)
	// metrics
	var strs []byte
	metricsOff := len(b)
	for _, s := range f.Filenames {
		m := make([]byte, l.metricSize)
		u := utf16.Encode([]rune(s))
		if l.metricSize == 20 {
			le.PutUint32(m[8:], uint32(len(strs)))
			le.PutUint32(m[12:], uint32(len(u)))
		} else {
			le.PutUint32(m[12:], uint32(len(strs)))
			le.PutUint32(m[16:], uint32(len(u)))
		}
		b = append(b, m...)
		for _, c := range append(u, 0) {
			strs = le.AppendUint16(strs, c)
		}
	}
	traceOff := len(b)
	stringsOff := len(b)
	b = append(b, strs...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	volOff := len(b)
	vols := make([]byte, l.volumeSize*len(f.Volumes))
	for i, v := range f.Volumes {
		e := vols[i*l.volumeSize:]
		u := utf16.Encode([]rune(v.Path))
		le.PutUint32(e, uint32(len(vols)))
		le.PutUint32(e[4:], uint32(len(u)))
		le.PutUint64(e[8:], uint64(v.Created))
		le.PutUint32(e[16:], v.Serial)
		for _, c := range append(u, 0) {
			vols = le.AppendUint16(vols, c)
		}
	}
	b = append(b, vols...)
	le.PutUint32(b[12:], uint32(len(b)))
	for i, v := range []int{metricsOff, len(f.Filenames), traceOff, 0, stringsOff, len(strs), volOff, len(f.Volumes), len(vols)} {
		le.PutUint32(b[84+4*i:], uint32(v))
	}
	for i := 0; i < l.runSlots && i < len(f.Runs); i++ {
		le.PutUint64(b[l.runTimes+8*i:], uint64(f.Runs[i]))
	}
	le.PutUint32(b[l.runCount:], f.RunCount)
	return b
}

// TestVersions checks versions 17, 23, 26 and both version 30 layouts,
// uncompressed and (version 30) MAM-compressed, against sccainfo.
func TestVersions(t *testing.T) {
	f, warns, err := Decode(decompressed(t))
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		version uint32
		short   bool
	}{{"v17", 17, false}, {"v23", 23, false}, {"v26", 26, false}, {"v30", 30, false}, {"v30-212", 30, true}} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ToUpper(f.Executable)+"-"+tc.name+".pf")
			if err := os.WriteFile(p, rebuild(t, f, tc.version, tc.short), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := sccainfo(t, p).version; got != int(tc.version) {
				t.Fatalf("sccainfo reads version %d", got)
			}
			compareSccainfo(t, p)
			parsertest.Contract(t, New(), p)
		})
	}
}

func TestContract(t *testing.T) {
	parsertest.Contract(t, New(), parsertest.Corpus(t, corpusPF))
}

// TestDamagedStream cuts the compressed stream: the header and run times
// come first in the output, so they are still events, and the loss is a
// warning naming the offset.
func TestDamagedStream(t *testing.T) {
	raw, err := os.ReadFile(parsertest.Corpus(t, corpusPF))
	if err != nil {
		t.Fatal(err)
	}
	full := parsertest.ParseFile(t, New(), parsertest.Corpus(t, corpusPF), nil)
	cut := raw[:len(raw)/2]
	res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("X.pf", cut, time.Time{}), time.UTC)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Events) != len(full.Events) || len(res.Warnings) == 0 || !errors.Is(res.Warnings[0].Err, ErrXpress) {
		t.Fatalf("%d events (want %d), warnings %v", len(res.Events), len(full.Events), res.Warnings)
	}
	// A file cut inside the header or the file information is an error
	// naming the offset (88 bytes: found by fuzzing, once a panic).
	plain := decompressed(t)
	for _, b := range [][]byte{raw[:40], plain[:40], plain[:88], plain[:150]} {
		res = parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("X.pf", b, time.Time{}), time.UTC)
		if res.Err == nil || !strings.Contains(res.Err.Error(), "offset") || len(res.Events) != 0 {
			t.Fatalf("cut at %d: %v, %d events", len(b), res.Err, len(res.Events))
		}
	}
	// A metrics count whose array size overflows 32 bits: a warning, the
	// names read in order, the run times still events.
	bad := bytes.Clone(plain)
	binary.LittleEndian.PutUint32(bad[88:], 0x08000001)
	res = parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("X.pf", bad, time.Time{}), time.UTC)
	if res.Err != nil || len(res.Events) != len(full.Events) || len(res.Warnings) != 1 ||
		res.Events[0].Jejak.Data["prefetch.files_loaded"] != full.Events[0].Jejak.Data["prefetch.files_loaded"] {
		t.Fatalf("huge metrics count: %v, %d events, warnings %v", res.Err, len(res.Events), res.Warnings)
	}
}

func TestMatch(t *testing.T) {
	raw, err := os.ReadFile(parsertest.Corpus(t, corpusPF))
	if err != nil {
		t.Fatal(err)
	}
	plain := decompressed(t)
	other := append([]byte("MAM\x04"), raw[4:]...)
	other[8] ^= 0xff // a MAM stream whose content is not a prefetch header
	for _, tc := range []struct {
		name string
		head []byte
		want bool
	}{
		{"compressed", raw, true},
		{"plain", plain, true},
		{"other MAM", other, false},
		{"bad version", append([]byte{99, 0, 0, 0}, plain[4:]...), false},
		{"text", []byte("SCCA is not a header at the start"), false},
	} {
		e := parsertest.BytesEntry("a.pf", tc.head, time.Time{})
		if got := New().Match(e, tc.head[:min(len(tc.head), parsers.HeadSize)]); got != tc.want {
			t.Errorf("%s: Match = %v", tc.name, got)
		}
	}
}

func FuzzDecompressHuffman(f *testing.F) {
	raw, err := os.ReadFile(parsertest.Corpus(f, corpusPF))
	if err == nil {
		f.Add(raw[8:], 32730)
		f.Add(raw[8:300], 1000)
	}
	f.Add(make([]byte, 256), 10)
	f.Fuzz(func(t *testing.T, in []byte, size int) {
		size = min(max(size, 0), 1<<20)
		out, err := DecompressHuffman(in, size)
		if err == nil && len(out) != size {
			t.Fatalf("%d bytes out, want %d", len(out), size)
		}
		if len(out) > size {
			t.Fatalf("%d bytes out, more than %d", len(out), size)
		}
	})
}

func FuzzParse(f *testing.F) {
	raw, err := os.ReadFile(parsertest.Corpus(f, corpusPF))
	if err == nil {
		f.Add(raw)
		f.Add(decompressed(f))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		res := parsertest.Parse(context.Background(), New(), parsertest.BytesEntry("X.pf", b, time.Time{}), time.UTC)
		for _, ev := range res.Events {
			if o := ev.Jejak.Provenance.Offset; o < 0 || o >= int64(len(b)) {
				t.Fatalf("offset %d outside %d bytes", o, len(b))
			}
		}
	})
}

// BenchmarkParse reports prefetch files/s (each file is a few run-time
// records) on the compressed corpus file: decompression and decoding.
func BenchmarkParse(b *testing.B) {
	raw, err := os.ReadFile(parsertest.Corpus(b, corpusPF))
	if err != nil {
		b.Fatal(err)
	}
	e := parsertest.BytesEntry("VELOCIRAPTOR.EXE-DB95245D.pf", raw, time.Time{})
	b.SetBytes(int64(len(raw)))
	files, records := 0, 0
	for b.Loop() {
		src := &parsers.Source{Entry: e, R: bytes.NewReader(raw), Size: int64(len(raw)),
			Warn: func(w *parsers.RecordError) { b.Fatal(w) }}
		if err := New().Parse(context.Background(), src, func(*timeline.Event) error { records++; return nil }); err != nil {
			b.Fatal(err)
		}
		files++
	}
	b.ReportMetric(float64(files)/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
