package all

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

var update = flag.Bool("update", false, "rewrite testdata/recognise.golden")

// startSize is how much of a file ingest has buffered when it samples
// lines (its bufio reader's size).
const startSize = 256 << 10

// input is one file as the registry sees it in ingest: its entry, the
// buffered start, and the whole content for the sampled windows.
type input struct {
	name  string
	e     *jfs.Entry
	data  []byte
	start []byte
}

// recogniseInputs is every corpus file (but archives, which ingest expands
// first) and many small files no parser should take, built from a fixed
// seed: random binary, source code, configuration text and UTF-16 text.
// The unrecognised ones are most of the files of a real disk image and the
// ones that cost the most: every parser's Match runs, then Detect.
func recogniseInputs(tb testing.TB) []input {
	tb.Helper()
	var ins []input
	if dir, err := parsertest.CorpusDir(); err == nil {
		b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.tsv"))
		if err != nil {
			tb.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
			f := strings.Split(line, "\t")
			if len(f) < 7 || byFormat[0].format.MatchString(f[6]) {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, f[1]))
			if err != nil {
				continue // not redistributable and ../shared absent
			}
			ins = append(ins, newInput("corpus/"+f[1], data))
		}
	}
	r := rand.New(rand.NewPCG(15, 15))
	for i := range 100 {
		ins = append(ins, newInput(fmt.Sprintf("binary/%03d.bin", i), randomBinary(r)))
		ins = append(ins, newInput(fmt.Sprintf("source/%03d.go", i), sourceCode(r)))
		ins = append(ins, newInput(fmt.Sprintf("config/%03d.conf", i), configText(r)))
		ins = append(ins, newInput(fmt.Sprintf("utf16/%03d.txt", i), utf16Text(r)))
	}
	return ins
}

func newInput(name string, data []byte) input {
	e := parsertest.BytesEntry(filepath.Base(name), data, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	return input{name: name, e: e, data: data, start: data[:min(len(data), startSize)]}
}

// recognise picks the parser for in as ingest does: Match on the head,
// then Detect on lines sampled through the file. It returns the parser's
// name ("" for none) and, when Detect ran, its description.
func recognise(reg *parsers.Registry, in input) (string, string) {
	head := in.start[:min(len(in.start), parsers.HeadSize)]
	if p := reg.Match(in.e, head); p != nil {
		return p.Name(), "match"
	}
	s := parsers.SampleLines(in.start, len(in.start) == len(in.data), bytes.NewReader(in.data), int64(len(in.data)))
	d := reg.Detect(in.e, s)
	if d.Parser != nil {
		return d.Parser.Name(), "detect: " + d.String()
	}
	return "", "detect: " + d.String()
}

// TestRecogniseUnchanged is the differential test of the registry: the
// parser chosen for every input, and how Detect described its choice, as
// written to testdata/recognise.golden by the registry before the cheap
// prechecks of the Match functions and Detect were added. A precheck that
// rejects a file its regexp would take shows here as a changed line.
func TestRecogniseUnchanged(t *testing.T) {
	reg := Registry()
	var out strings.Builder
	for _, in := range recogniseInputs(t) {
		p, how := recognise(reg, in)
		fmt.Fprintf(&out, "%s\t%s\t%s\n", in.name, p, how)
	}
	golden := filepath.Join("testdata", "recognise.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parsertest.CorpusDir(); err != nil {
		t.Skip("corpus not found: the golden file lists corpus files")
	}
	// Lines by input name: with only fixtures/corpus (a fresh clone), the
	// corpus files that are not redistributable are absent, and their
	// golden lines are not asked for; every input present must still be
	// in the golden file with the same parser and description.
	wantBy := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		name, _, _ := strings.Cut(l, "\t")
		wantBy[name] = l
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range got {
		name, _, _ := strings.Cut(l, "\t")
		w, ok := wantBy[name]
		switch {
		case !ok:
			t.Errorf("input %s is not in the golden file (run with -update on the shared corpus)", name)
		case l != w:
			t.Errorf("changed:\n got %s\nwant %s", l, w)
		}
	}
	if parsertest.Shared() && len(got) != len(wantBy) {
		t.Fatalf("%d inputs, golden has %d", len(got), len(wantBy))
	}
}

// BenchmarkRecognise is Registry.Match and, when no parser takes the head,
// SampleLines and Registry.Detect, over every input once per iteration.
func BenchmarkRecognise(b *testing.B) {
	reg := Registry()
	ins := recogniseInputs(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, in := range ins {
			recognise(reg, in)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ins)), "ns/file")
}

// BenchmarkMatch is Registry.Match alone over every input's head.
func BenchmarkMatch(b *testing.B) {
	reg := Registry()
	ins := recogniseInputs(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, in := range ins {
			reg.Match(in.e, in.start[:min(len(in.start), parsers.HeadSize)])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ins)), "ns/file")
}

func randomBinary(r *rand.Rand) []byte {
	b := make([]byte, 512+r.IntN(16<<10))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

var words = strings.Fields(`alpha beta gamma delta value count index buffer reader writer
	config server client request response error status handle open close read write
	path name size time user group host port token session`)

func word(r *rand.Rand) string { return words[r.IntN(len(words))] }

// sourceCode is Go-like source: tab-indented lines, braces, comments.
func sourceCode(r *rand.Rand) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Package %s does %s.\npackage %s\n\nimport (\n\t\"%s\"\n)\n\n", word(r), word(r), word(r), word(r))
	for range 5 + r.IntN(40) {
		fmt.Fprintf(&b, "func %s%d(%s int) error {\n", word(r), r.IntN(100), word(r))
		for range 1 + r.IntN(8) {
			switch r.IntN(4) {
			case 0:
				fmt.Fprintf(&b, "\t%s := %s(%d)\n", word(r), word(r), r.IntN(1000))
			case 1:
				fmt.Fprintf(&b, "\t// %s the %s before %s\n", word(r), word(r), word(r))
			case 2:
				fmt.Fprintf(&b, "\tif %s > %d {\n\t\treturn fmt.Errorf(\"%s %%d\", %s)\n\t}\n", word(r), r.IntN(10), word(r), word(r))
			default:
				fmt.Fprintf(&b, "\t%d\t%s.%s()\n", r.IntN(50), word(r), word(r))
			}
		}
		b.WriteString("\treturn nil\n}\n\n")
	}
	return b.Bytes()
}

// configText is INI and key = value text with comments and times in values.
func configText(r *rand.Rand) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s configuration\n; generated %s\n", word(r), word(r))
	for range 3 + r.IntN(20) {
		fmt.Fprintf(&b, "[%s]\n", word(r))
		for range 1 + r.IntN(10) {
			switch r.IntN(3) {
			case 0:
				fmt.Fprintf(&b, "%s = %d\n", word(r), r.IntN(65536))
			case 1:
				fmt.Fprintf(&b, "%s_%s=%s\n", word(r), word(r), word(r))
			default:
				fmt.Fprintf(&b, "%s: 2024-0%d-1%d %02d:%02d:%02d\n", word(r), 1+r.IntN(9), r.IntN(10), r.IntN(24), r.IntN(60), r.IntN(60))
			}
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// utf16Text is little-endian UTF-16 text with a byte-order mark, as
// Windows tools write it.
func utf16Text(r *rand.Rand) []byte {
	var s strings.Builder
	for range 5 + r.IntN(60) {
		fmt.Fprintf(&s, "%s %s %d %s\r\n", word(r), word(r), r.IntN(1e6), word(r))
	}
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xfe})
	for _, u := range utf16.Encode([]rune(s.String())) {
		_ = binary.Write(&b, binary.LittleEndian, u)
	}
	return b.Bytes()
}
