package lines

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// readAllString is readAll through NextString; every third call goes
// through Next instead when mixed is set, as a caller may interleave them.
func readAllString(r io.Reader, mixed bool) []got {
	lr := NewReader(r)
	var out []got
	for i := 0; ; i++ {
		var (
			line     string
			off, num int64
			err      error
		)
		if mixed && i%3 == 2 {
			var b []byte
			b, off, num, err = lr.Next()
			line = string(b)
		} else {
			line, off, num, err = lr.NextString()
		}
		if err == io.EOF {
			return out
		}
		out = append(out, got{line, off, num, err})
		if err != nil && !errors.Is(err, ErrTooLong) {
			return out
		}
	}
}

func sameResults(t *testing.T, name string, got, want []got) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, Next gives %d", name, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.line != w.line || g.off != w.off || g.num != w.num || !errors.Is(g.err, w.err) || (g.err == nil) != (w.err == nil) {
			t.Fatalf("%s: result %d: %.40q at %d #%d %v; Next gives %.40q at %d #%d %v", name, i, g.line, g.off, g.num, g.err, w.line, w.off, w.num, w.err)
		}
	}
}

// TestNextStringSame checks that NextString returns what Next returns, on
// real logs read whole, one byte at a time and in odd-sized reads (lines
// cut at every buffer edge), and on the edge cases of TestEdges: over-long
// lines, a last line without "\n", CRLF, a read error mid-line.
func TestNextStringSame(t *testing.T) {
	var inputs []struct {
		name string
		data []byte
	}
	for _, rel := range []string{"more/linux/auth/elastic_examples_auth.log", "logs/loghub/Linux_2k.log"} {
		data, err := os.ReadFile(parsertest.Corpus(t, rel))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, struct {
			name string
			data []byte
		}{rel, data})
	}
	long := strings.Repeat("x", Max)
	for _, s := range []string{"", "\n", "\n\r\na\n", "a\r\r\nb\rc", "a\n" + long + "\nb\n", "a\n" + long + "x",
		strings.Repeat("y", Max-2) + "\r\nz", strings.Repeat("line of text\r\n", 20000) + "tail",
		strings.Repeat("w", 70<<10) + "\n" + strings.Repeat("short\n", 100)} {
		inputs = append(inputs, struct {
			name string
			data []byte
		}{"edge", []byte(s)})
	}
	for _, in := range inputs {
		want := readAll(t, bytes.NewReader(in.data))
		readers := map[string]func() io.Reader{
			"whole":   func() io.Reader { return bytes.NewReader(in.data) },
			"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(in.data)) },
			"halfbuf": func() io.Reader { return iotest.HalfReader(bytes.NewReader(in.data)) },
		}
		for rname, mk := range readers {
			sameResults(t, in.name+"/"+rname, readAllString(mk(), false), want)
			sameResults(t, in.name+"/"+rname+"/mixed", readAllString(mk(), true), want)
		}
	}
	readErr := errors.New("disk gone")
	mk := func() io.Reader { return io.MultiReader(strings.NewReader("a\nb\nbc"), iotest.ErrReader(readErr)) }
	sameResults(t, "read error", readAllString(mk(), false), readAll(t, mk()))
}

// FuzzNextString checks NextString against Next on any input, whole and
// through a one-byte reader.
func FuzzNextString(f *testing.F) {
	for _, s := range []string{"", "\n", "a\r\nb", "a\r\r\n\nb\n", "\r", "x\ny\r\n\r\nz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := readAll(t, bytes.NewReader(data))
		sameResults(t, "whole", readAllString(bytes.NewReader(data), false), want)
		sameResults(t, "onebyte", readAllString(iotest.OneByteReader(bytes.NewReader(data)), true), want)
	})
}

func BenchmarkNextString(b *testing.B) {
	data, err := os.ReadFile(parsertest.Corpus(b, "more/linux/auth/elastic_examples_auth.log"))
	if err != nil {
		b.Fatal(err)
	}
	input := bytes.Repeat(data, max(1, (8<<20)/len(data)))
	b.SetBytes(int64(len(input)))
	b.ReportAllocs()
	for b.Loop() {
		lr := NewReader(bytes.NewReader(input))
		for {
			if _, _, _, err := lr.NextString(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
