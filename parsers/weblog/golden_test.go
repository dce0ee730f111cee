package weblog

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

var update = flag.Bool("update", false, "rewrite testdata/events.sha256 from the parser as it is")

// TestEventsUnchanged guards the speed work of issue 15: the events and
// warnings the parser makes from every corpus file it matches and from 4 MB
// of synthAccessLog and 2 MB of synthIISLog, in two zones, must stay byte for byte what they were
// when testdata/events.sha256 was written (by the parser before the fast
// paths, with -update). Each line holds a SHA-256 of the JSON of every
// event (after Finalize, so IDs count) and every warning, with the counts
// of both. On a mismatch the JSON lines are written to a temporary folder
// for a diff against a run of the old code.
func TestEventsUnchanged(t *testing.T) {
	inputs := map[string][]byte{"synthetic-access.log": synthAccessLog(4 << 20), "synthetic-iis.log": synthIISLog(2 << 20)}
	roots := map[string]string{"testdata": "testdata"}
	if dir, err := parsertest.CorpusDir(); err == nil {
		roots["corpus"] = dir
	}
	for name, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path == filepath.Join("testdata", "fuzz") {
				// Fuzz regression inputs come and go with the fuzz
				// tests; the golden file would have to follow each one.
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
			if New().Match(parsertest.BytesEntry(rel, data, time.Time{}), head) || root == "testdata" {
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
			entry := parsertest.BytesEntry(filepath.Base(name), data, time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC))
			src := &parsers.Source{Entry: entry, R: bytes.NewReader(data), Size: int64(len(data)), Zone: zone,
				Warn: func(w *parsers.RecordError) {
					nwarn++
					fmt.Fprintf(&out, "warning %d %d %s %s\n", w.Offset, w.Record, w.Parser, w.Err)
				}}
			err := New().Parse(context.Background(), src, func(ev *timeline.Event) error {
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
	const golden = "testdata/events.sha256"
	if *update {
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
		return
	}
	want := readGolden(t, golden)
	checked := 0
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
	if checked < 10 {
		t.Fatalf("only %d inputs checked", checked)
	}
}

func readGolden(t *testing.T, path string) map[string]string {
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
