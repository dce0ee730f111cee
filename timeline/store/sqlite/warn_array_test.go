package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// arrayWarnings are an image's skipped files in runs that are stored from
// JSON arrays and runs that are not: runs one shorter than
// warnArrayRows, as long and longer; runs broken by an offset, a record,
// a message, a chain that does not end with the path, and by paths
// appendString escapes (or that SQLite's JSON could read otherwise: a
// quote, a backslash, controls, invalid UTF-8, U+2028) among paths it
// writes as they are (non-ASCII letters, DEL, an empty path).
func arrayWarnings() []timeline.Warning {
	const sha = "2011afe9e6f1e352ef0f07fff2aff4cc061980598ae4dba30552a8e51f2bc805"
	odd := []string{`a"b`, `a\b`, "a\x00b", "a\x1fb", "a\xffb", "a\u2028b", "a<b>&", "\xe2\x82", "a\tb"}
	plain := []string{"berkas é", "日本語/ファイル", "a\x7fb", "", "emoji 😀", "C:/Users/pemilu", "a'b", "a/b c"}
	var ws []timeline.Warning
	add := func(n int, f func(w *timeline.Warning, j int)) {
		for j := range n {
			i := len(ws)
			p := fmt.Sprintf("dir%04d/file%07d.txt", i/1000, i)
			w := timeline.Warning{Kind: timeline.WarnSkipped, Evidence: sha, Chain: []string{"raw:", "ntfs:" + p}, Path: p, Offset: -1,
				Message: "no parser recognises the content: text in no known log format"}
			if f != nil {
				f(&w, j)
			}
			ws = append(ws, w)
		}
	}
	empty := func(w *timeline.Warning, _ int) { w.Message = "empty file: 0 bytes, nothing to parse" }
	for _, n := range []int{warnArrayRows - 1, warnArrayRows, warnArrayRows + 1, 3*warnRows + 5} {
		add(n, nil)
		add(1, empty)
	}
	// Paths that break a run, each in the middle of a long one.
	for _, s := range odd {
		add(warnArrayRows+2, nil)
		add(1, func(w *timeline.Warning, _ int) {
			w.Path = "dir/" + s
			w.Chain = []string{"raw:", "ntfs:" + w.Path}
		})
		add(warnArrayRows+2, nil)
	}
	// A run whose chains' text ends with the path, a path appendString
	// escapes: a chain's last name ends in one backslash, which its text
	// writes as two, and the path is those two.
	add(warnArrayRows+2, func(w *timeline.Warning, j int) {
		w.Path = fmt.Sprintf(`%d\\`, j)
		w.Chain = []string{"raw:", fmt.Sprintf(`ntfs:x%d\`, j)}
	})
	// Paths written as they are, in one long run.
	add(warnArrayRows+len(plain), func(w *timeline.Warning, j int) {
		if j < len(plain) {
			w.Path = plain[j]
			w.Chain = []string{"raw:", "ntfs:" + w.Path}
		}
	})
	// Offsets, records and chains breaking runs.
	add(warnArrayRows*4, func(w *timeline.Warning, j int) {
		switch j {
		case 20:
			w.Offset = 512
		case 21:
			w.Record = 3
		case 30:
			w.Chain = []string{"raw:", "ntfs:elsewhere"}
		case 31:
			w.Chain = nil
		case 32:
			w.Chain = []string{"gzip:", "tar:" + w.Path}
		case 36: // each after a row with the usual chain
			w.Chain = []string{"vhd:", "ntfs:" + w.Path}
		case 38:
			w.Chain = []string{"raw:", "raw:", "ntfs:" + w.Path}
		case 40:
			w.Chain = []string{"raw:", "ntfz:" + w.Path}
		case 42:
			w.Chain = []string{"raw:", "ntfs:/" + w.Path}
		}
	})
	// Chains of the path alone, and of the path and a name after it.
	add(warnArrayRows+1, func(w *timeline.Warning, j int) { w.Chain = []string{w.Path} })
	add(warnArrayRows+1, func(w *timeline.Warning, j int) { w.Chain = []string{w.Path, "x"} })
	// Another evidence and chain head, and a run of one message each.
	add(warnArrayRows+4, func(w *timeline.Warning, j int) {
		w.Evidence = "ffff" + sha[4:]
		w.Chain = []string{"raw:", "vhdx:", "ntfs:" + w.Path}
	})
	add(warnArrayRows+1, func(w *timeline.Warning, j int) {
		w.Message = fmt.Sprintf("unique %d", j)
	})
	add(warnArrayRows+1, nil)
	return ws
}

// TestAddWarningsArrays: warnings stored from JSON arrays (and around
// them) are the rows one INSERT per warning stores, value for value, type
// for type, rowid for rowid, in batches cut anywhere; the warnings digest
// hashes what the table reads back; and no row whose path appendString
// escapes is in an array, while the runs of plain paths are.
func TestAddWarningsArrays(t *testing.T) {
	ctx := context.Background()
	ws := arrayWarnings()
	p := &warnPlan{}
	planWarnings(p, ws, map[warnShapeKey]int64{})
	inArray := make([]bool, len(ws))
	for _, a := range p.arrays {
		if a.hi-a.lo < warnArrayRows {
			t.Errorf("array of rows %d to %d, fewer than %d", a.lo, a.hi, warnArrayRows)
		}
		var paths []string
		for i := a.lo; i < a.hi; i++ {
			inArray[i] = true
			paths = append(paths, `"`+ws[i].Path+`"`)
		}
		if got, want := string(p.arrayText[a.at:a.end]), "["+strings.Join(paths, ",")+"]"; got != want {
			t.Errorf("array of rows %d to %d: %q, want %q", a.lo, a.hi, got, want)
		}
	}
	arrays := 0
	for i := range ws {
		if inArray[i] {
			arrays++
			if q := appendString(nil, ws[i].Path); !bytes.Equal(q, []byte(`"`+ws[i].Path+`"`)) {
				t.Errorf("row %d, path %q (written %s), is in an array", i, ws[i].Path, q)
			}
		}
	}
	if arrays < len(ws)/2 {
		t.Fatalf("%d of %d rows in arrays", arrays, len(ws))
	}
	for _, cut := range [][]int{{len(ws)}, {1, 17, 100, 101, len(ws)}, {warnArrayRows, 2*warnArrayRows + 1, len(ws) - 3, len(ws)}} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			got, want := open(t), open(t)
			for _, s := range []*Store{got, want} {
				if _, err := s.BeginRun(ctx, time.Unix(1, 0), "test"); err != nil {
					t.Fatal(err)
				}
			}
			var digest bytes.Buffer
			d := got.DigestWarnings(ctx, &digest)
			if d == nil {
				t.Fatal("no digest stream")
			}
			lo := 0
			for _, hi := range cut {
				if err := got.AddWarningsDigest(ctx, ws[lo:hi], d); err != nil {
					t.Fatal(err)
				}
				lo = hi
			}
			if err := addWarningsOneByOne(ctx, want.DB(), want.run.Load(), ws); err != nil {
				t.Fatal(err)
			}
			g, w := storedWarnings(t, got.DB()), storedWarnings(t, want.DB())
			if len(g) != len(ws) || !reflect.DeepEqual(g, w) {
				for i := range min(len(g), len(w)) {
					if g[i] != w[i] {
						t.Errorf("row %d: %s, one by one %s", i, g[i], w[i])
						break
					}
				}
				t.Fatalf("stored %d rows, one by one %d (of %d)", len(g), len(w), len(ws))
			}
			n, ok, err := d.Finish(ctx)
			if err != nil || !ok || n != int64(len(ws)) {
				t.Fatalf("digest: %d rows, ok %v, %v (%s)", n, ok, err, d.Broken())
			}
			if back := warningsReadBack(t, got.DB()); !bytes.Equal(digest.Bytes(), back) {
				t.Fatalf("digest stream of %d bytes, the table reads back as %d", digest.Len(), len(back))
			}
		})
	}
}
