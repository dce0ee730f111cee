package parsertest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// Unchanged says what EventsUnchanged reads and how it checks.
type Unchanged struct {
	// Golden is the file of SHA-256 lines (testdata/events.sha256).
	Golden string
	// Extra are synthetic inputs by name, read besides the corpus files the
	// parser matches and the package's testdata.
	Extra map[string][]byte
	// MinChecked is the fewest inputs that must be compared: a run that
	// finds fewer (no corpus, a filter gone wrong) fails rather than passing
	// on nothing.
	MinChecked int
	// Update rewrites Golden from the parser as it is (the package's
	// -update flag).
	Update bool
}

// EventsUnchanged guards speed work on a parser: the events and warnings
// it makes from every corpus file it matches, from the package's testdata
// (but testdata/fuzz, whose regression inputs come and go with the fuzz
// tests) and from u.Extra, in UTC and America/New_York, must stay byte for
// byte what they were when u.Golden was written (by the parser before the
// change, with -update). Each line holds a SHA-256 of the JSON of every
// event (after Finalize, so IDs count) and every warning, with the counts
// of both. Files are given a fixed mtime so the vendored corpus copy, whose
// mtimes differ, gives the same years. On a mismatch the JSON lines are
// written to a temporary folder for a diff against a run of the old code.
func EventsUnchanged(t *testing.T, p parsers.Parser, u Unchanged) {
	t.Helper()
	inputs := map[string][]byte{}
	for name, data := range u.Extra {
		inputs[name] = data
	}
	roots := map[string]string{"testdata": "testdata"}
	if dir, err := CorpusDir(); err == nil {
		roots["corpus"] = dir
	}
	for name, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path == filepath.Join("testdata", "fuzz") {
				return filepath.SkipDir
			}
			if d.IsDir() || strings.HasSuffix(path, ".sha256") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			head := data[:min(len(data), parsers.HeadSize)]
			rel, _ := filepath.Rel(root, path)
			if p.Match(BytesEntry(rel, data, time.Time{}), head) || root == "testdata" {
				inputs[name+"/"+filepath.ToSlash(rel)] = data
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	dump := t.TempDir()
	for name, data := range inputs {
		for _, zone := range []*time.Location{time.UTC, ny} {
			key := name + "@" + zone.String()
			var out bytes.Buffer
			nev, nwarn := 0, 0
			entry := BytesEntry(filepath.Base(name), data, time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC))
			src := &parsers.Source{Entry: entry, R: bytes.NewReader(data), Size: int64(len(data)), Zone: zone,
				Warn: func(w *parsers.RecordError) {
					nwarn++
					fmt.Fprintf(&out, "warning %d %d %s %s\n", w.Offset, w.Record, w.Parser, w.Err)
				}}
			err := p.Parse(context.Background(), src, func(ev *timeline.Event) error {
				nev++
				ev.Jejak.Provenance.Path = name
				ev.Finalize()
				b, err := json.Marshal(ev)
				out.Write(b)
				out.WriteByte('\n')
				return err
			})
			if err != nil {
				fmt.Fprintf(&out, "error %v\n", err)
			}
			sum := sha256.Sum256(out.Bytes())
			got[key] = fmt.Sprintf("%s %d %d", hex.EncodeToString(sum[:]), nev, nwarn)
			f := filepath.Join(dump, strings.NewReplacer("/", "_", "@", "_").Replace(key)+".jsonl")
			if err := os.WriteFile(f, out.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if checked := CompareSums(t, u.Golden, got, dump, u.Update); !u.Update && checked < u.MinChecked {
		t.Fatalf("only %d inputs checked", checked)
	}
}

// CompareSums checks got (input key → "sha256 events warnings") against
// the golden file, naming every input that differs or is missing from it
// and where its JSON lines were left (dump), and returns how many inputs
// were compared. With update it rewrites the golden file from got instead.
// It is the comparison of EventsUnchanged, for parsers whose golden runs
// need more than it gives (random access: evtx).
func CompareSums(t *testing.T, golden string, got map[string]string, dump string, update bool) (checked int) {
	t.Helper()
	if update {
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s %s\n", k, got[k])
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	want := ReadSums(t, golden)
	for key, g := range got {
		w, ok := want[key]
		if !ok {
			t.Errorf("%s is not in %s (a new corpus file? run with -update from a parser known good)", key, golden)
			continue
		}
		if g != w {
			t.Errorf("%s: got %s, want %s (JSON lines in %s)", key, g, w, dump)
		}
		checked++
	}
	return checked
}

// ReadSums reads a golden file of CompareSums: one "key sums" line per input.
func ReadSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		out[key] = val
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
