package all

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// matchEveryParser is Registry.Match before the parsers' Requirements:
// every parser asked, in registry order.
func matchEveryParser(ps []parsers.Parser, e *jfs.Entry, head []byte) parsers.Parser {
	for _, p := range ps {
		if p.Match(e, head) {
			return p
		}
	}
	return nil
}

// otherNames are names the name-bound parsers take, given to every head
// as well as its own: a head of one format under the name of another.
var otherNames = []string{
	"var/log/wtmp", "var/log/btmp.1", "run/utmp", "var/log/lastlog", "$Extend/$UsnJrnl:$J", "$J",
	"home/u/.bash_history", "root/.zsh_history", "AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine/ConsoleHost_history.txt",
	"var/log/audit/audit.log", "Windows/System32/LogFiles/Sum/Current.mdb", "$Recycle.Bin/S-1-5-21/$IABC123.txt",
	"RECYCLER/INFO2", "x/1b4dd67f29cb1962.automaticDestinations-ms", "ProgramData/Microsoft/Windows Defender/Support/MPLog-20240101.log",
	"dir0001/file0001234.txt", "", "/", "a/", "LASTLOG", "ſtory", "Kernel/histoKy",
}

// headInput is one head as ingest gives it to Registry.Match.
type headInput struct {
	name string
	data []byte // the whole file, for a parser that reads past the head
	head []byte
}

// walkHeads is every file under the module's fixtures, the corpus (the
// shared one when present) and the parsers' testdata, archives and
// compressed files expanded as ingest expands them.
func walkHeads(t *testing.T) []headInput {
	t.Helper()
	var roots []string
	if dir, err := parsertest.CorpusDir(); err == nil {
		roots = append(roots, dir)
	}
	if root, err := filepath.Abs(filepath.Join("..", "..", "fixtures")); err == nil {
		roots = append(roots, root)
	}
	// The parsers' own test inputs: formats the corpus has no file of.
	tds, _ := filepath.Glob(filepath.Join("..", "*", "testdata"))
	more, _ := filepath.Glob(filepath.Join("..", "*", "*", "testdata"))
	roots = append(roots, append(tds, more...)...)
	var ins []headInput
	ctx := context.Background()
	for _, root := range roots {
		if _, err := os.Stat(root); err != nil {
			continue
		}
		w, err := jfs.Open(ctx, root, jfs.Options{TempDir: t.TempDir(), MaxDepth: 4, MaxExpanded: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		err = w.Walk(ctx, func(_ context.Context, e *jfs.Entry) error {
			if !e.Mode.IsRegular() || e.Container {
				return nil
			}
			rc, err := e.Open()
			if err != nil {
				return nil
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil {
				return nil
			}
			ins = append(ins, headInput{name: e.Path, data: data, head: data[:min(len(data), parsers.HeadSize)]})
			return nil
		}, func(*jfs.Problem) {})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Formats no file above has: a zsh history and a lastlog of empty
	// records (32-bit times).
	zsh := []byte(": 1700000000:0;ls -la\n: 1700000005:0;cd /tmp\n")
	ins = append(ins, headInput{name: "root/.zsh_history", data: zsh, head: zsh})
	lastlog := make([]byte, 4*292)
	ins = append(ins, headInput{name: "var/log/lastlog", data: lastlog, head: lastlog})
	if len(ins) < 100 {
		t.Fatalf("only %d files under %v", len(ins), roots)
	}
	return ins
}

// entriesFor gives each head under its own name and under otherNames,
// and, cut to its first line and to its first byte, under its own name.
func entriesFor(in headInput, f func(e *jfs.Entry, head []byte)) {
	mtime := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, name := range append([]string{in.name}, otherNames...) {
		e := parsertest.BytesEntry(name, in.data, mtime)
		e.Path = name
		f(e, in.head)
	}
	e := parsertest.BytesEntry(in.name, in.data, mtime)
	e.Path = in.name
	if i := bytes.IndexByte(in.head, '\n'); i >= 0 {
		f(e, in.head[:i+1])
	}
	if len(in.head) > 0 {
		f(e, in.head[:1])
	}
}

// TestRegistryMatchPrefilter holds Registry.Match, which asks only the
// parsers whose Requirement a file meets, to asking every parser in
// order: the same parser (or none) for every file of the fixtures and the
// corpus and their archives' members, under its own name and others.
func TestRegistryMatchPrefilter(t *testing.T) {
	reg := Registry()
	ps := reg.Parsers()
	matched, n := 0, 0
	for _, in := range walkHeads(t) {
		entriesFor(in, func(e *jfs.Entry, head []byte) {
			n++
			want := matchEveryParser(ps, e, head)
			got := reg.Match(e, head)
			if got != want {
				t.Errorf("%s (%d bytes of head, from %s): Match %v, every parser asked %v", e.Path, len(head), in.name, got, want)
			}
			if want != nil {
				matched++
			}
		})
	}
	t.Logf("%d heads, %d matched", n, matched)
}

// TestRequirementsHold holds every parser's Requirement to its Match: each
// head of the fixtures and the corpus that it accepts meets it.
func TestRequirementsHold(t *testing.T) {
	reg := Registry()
	ins := walkHeads(t)
	for _, p := range reg.Parsers() {
		q, ok := p.(parsers.Requirer)
		if !ok {
			continue
		}
		req := q.Requires()
		accepted := 0
		for _, in := range ins {
			entriesFor(in, func(e *jfs.Entry, head []byte) {
				if len(head) == 0 || !p.Match(e, head) {
					return
				}
				accepted++
				if req.First.Has(head[0]) || req.Name != "" && hasLetters(e, req.Name) {
					return
				}
				t.Errorf("%s accepts %s (head % x...) outside its Requirement", p.Name(), e.Path, head[:min(8, len(head))])
			})
		}
		t.Logf("%s: %d accepted", p.Name(), accepted)
	}
}

// hasLetters is Requirement's name test, written out plainly: every ASCII
// letter of letters, in either case, is in the part of e.Path after its
// last '/', unless that part holds a byte outside ASCII.
func hasLetters(e *jfs.Entry, letters string) bool {
	if e == nil {
		return true
	}
	name := e.Path
	if i := bytes.LastIndexByte([]byte(name), '/'); i >= 0 && i < len(name)-1 {
		name = name[i+1:]
	}
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return true
		}
	}
	lower := bytes.ToLower([]byte(name))
	for i := 0; i < len(letters); i++ {
		c := letters[i] | 0x20
		if 'a' <= c && c <= 'z' && bytes.IndexByte(lower, c) < 0 {
			return false
		}
	}
	return true
}

// FuzzRegistryMatchPrefilter compares Registry.Match with asking every
// parser, on any head and name.
func FuzzRegistryMatchPrefilter(f *testing.F) {
	for _, s := range []string{"ElfFile\x00", "regf", "\x01\x00\x00\x00\x00\x00\x00\x00", "2024-01-01 10:00:00 install a b",
		"Start-Date: 2024-01-01  10:00:00\n", "type=SYSCALL msg=audit(1.2:3): x\n", "#1700000000\nls\n",
		"\xef\xbb\xbf**********************\n", "xxxxxxxx", "\n\n2024/01/01 10:00:00.000  1 2 3 S0 x\n"} {
		for _, name := range otherNames {
			f.Add([]byte(s), name)
		}
	}
	reg := Registry()
	ps := reg.Parsers()
	f.Fuzz(func(t *testing.T, head []byte, name string) {
		if len(head) > parsers.HeadSize {
			head = head[:parsers.HeadSize]
		}
		e := parsertest.BytesEntry(name, head, time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
		e.Path = name
		if got, want := reg.Match(e, head), matchEveryParser(ps, e, head); got != want {
			t.Fatalf("%q %q: Match %v, every parser asked %v", name, head, got, want)
		}
	})
}
