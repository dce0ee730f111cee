package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/casework/ingest"
	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers/all"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestParallelFilesKeepOrder ingests a folder of small files, parsed on
// the file workers, mixed with large ones parsed on the walk's goroutine,
// most of which leave a warning (unknown content, binary, an empty file). Whatever file finishes first, the warnings must come out in
// the order the walker delivered the files, the same in every run, and
// the summary and the events must be those of every other run.
func TestParallelFilesKeepOrder(t *testing.T) {
	root := t.TempDir()
	ev := filepath.Join(root, "evidence")
	for i := range 300 {
		var content []byte
		switch i % 5 {
		case 0: // text in no log format: a skip warning
			content = fmt.Appendf(nil, "key%d = value\n", i)
		case 1: // a syslog file (its odd line is kept as a raw event)
			content = fmt.Appendf(nil, "Feb 14 08:%02d:00 host sshd[%d]: Accepted password for root from 192.0.2.%d port 22 ssh2\n"+
				"Feb 14 08:%02d:01 host sshd[%d]: Disconnected from 192.0.2.%d\n\x01\x02 not a syslog line at all\n",
				i%60, i, i%250, i%60, i, i%250)
		case 2: // empty
		case 3: // binary
			content = bytes.Repeat([]byte{0x7f, 0x00, byte(i)}, 700)
		case 4: // larger than one read: parsed on the walk's goroutine
			var b bytes.Buffer
			for j := 0; b.Len() < 300<<10; j++ {
				fmt.Fprintf(&b, "Feb 14 09:%02d:%02d host cron[%d]: (root) CMD (run-parts /etc/cron.hourly)\n", j/60%60, j%60, j)
			}
			b.WriteString("\x01\x02 not a syslog line at all\n")
			content = b.Bytes()
		}
		p := filepath.Join(ev, fmt.Sprintf("d%d", i%7), fmt.Sprintf("f%03d.log", i))
		writeFile(t, p, content)
	}
	ctx := context.Background()
	// The order the walker delivers the files in.
	w, err := jfs.Open(ctx, ev, jfs.Options{TempDir: root})
	if err != nil {
		t.Fatal(err)
	}
	place := map[string]int{}
	if err := w.Walk(ctx, func(_ context.Context, e *jfs.Entry) error {
		place[e.Path] = len(place)
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	type result struct {
		warnings []string
		summary  string
		ids      []string
	}
	runOnce := func(workers int) result {
		w, err := jfs.Open(ctx, ev, jfs.Options{TempDir: root})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu  sync.Mutex
			res result
		)
		sink := &memSink{}
		sum, err := ingest.Run(ctx, ingest.Config{Registry: all.Registry(), Zone: time.UTC, TempDir: root, Workers: workers,
			BatchSize: 50, // many batches, so the workers' emitters interleave
			Warn: func(w timeline.Warning) {
				mu.Lock()
				defer mu.Unlock()
				res.warnings = append(res.warnings, fmt.Sprintf("%s|%s|%s|%d|%s", w.Kind, w.Path, w.Parser, w.Record, w.Message))
			}}, []ingest.Item{{SHA256: "e", Name: "evidence", Walker: w}}, sink)
		if err != nil {
			t.Fatal(err)
		}
		js, err := json.Marshal(sum)
		if err != nil {
			t.Fatal(err)
		}
		res.summary = string(js)
		for _, e := range sink.events {
			res.ids = append(res.ids, e.Jejak.ID)
		}
		slices.Sort(res.ids)
		return res
	}
	first := runOnce(4)
	kinds := map[string]int{}
	for _, w := range first.warnings {
		kinds[strings.SplitN(w, "|", 2)[0]]++
	}
	t.Logf("%d warnings: %v", len(first.warnings), kinds)
	if len(first.warnings) < 150 {
		t.Fatalf("%d warnings, want one for each file but the syslog ones (180)", len(first.warnings))
	}
	last := -1
	for _, w := range first.warnings {
		p := strings.Split(w, "|")[1]
		at, ok := place[p]
		if !ok {
			t.Fatalf("warning for %q, which the walk did not deliver", p)
		}
		if at < last {
			t.Fatalf("warning for %q (file %d) after one for file %d: not in walk order", p, at, last)
		}
		last = at
	}
	for _, workers := range []int{1, 2, 4} {
		again := runOnce(workers)
		if !slices.Equal(again.warnings, first.warnings) {
			t.Errorf("%d workers: warnings differ from the first run", workers)
		}
		if again.summary != first.summary {
			t.Errorf("%d workers: summary %s\nfirst run %s", workers, again.summary, first.summary)
		}
		if !slices.Equal(again.ids, first.ids) {
			t.Errorf("%d workers: %d events, first run %d, or other IDs", workers, len(again.ids), len(first.ids))
		}
	}
}
