package syslog

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/internal/slab"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

func TestParsePID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int64
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"4242", 4242, true},
		{"007", 7, true},
		{"123456789012345678", 123456789012345678, true},
		{"9223372036854775807", 9223372036854775807, true}, // 19 digits: strconv's
		{"9223372036854775808", 9223372036854775807, false},
		{"+12", 12, true},
		{"-12", -12, true},
		{"12a", 0, false},
		{" 12", 0, false},
		{"sshd", 0, false},
	} {
		got, ok := parsePID(tc.s)
		ref, err := strconv.ParseInt(tc.s, 10, 64)
		if got != tc.want || ok != tc.ok || got != ref || ok != (err == nil) {
			t.Errorf("parsePID(%q) = %d, %v; want %d, %v (strconv %d, %v)", tc.s, got, ok, tc.want, tc.ok, ref, err)
		}
	}
}

func FuzzParsePID(f *testing.F) {
	for _, s := range []string{"", "1", "4242", "+1", "-0", "99999999999999999999", "12 ", "١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parsePID(s)
		ref, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil) || ok && got != ref {
			t.Errorf("parsePID(%q) = %d, %v; strconv %d, %v", s, got, ok, ref, err)
		}
	})
}

// TestSlabFitsSizeClass: a chunk of blocks (with the pool's pointer per
// block) is the most that stays in the allocator's largest small size
// class (see slabBlocks), so a change of the event model that grows a
// block is noticed here.
func TestSlabFitsSizeClass(t *testing.T) {
	if fit := slab.FitCells[block](); slabBlocks != fit {
		t.Errorf("slabBlocks is %d; %d blocks of %d bytes fit the largest small size class (%d)", slabBlocks, fit, slab.CellSize[block](), slab.LargestSmall)
	}
}

// TestRelatedAsFinalize: the related.* the parser fills in (related) are
// what Event.Finalize derives, nil lists included, and Finalize leaves
// them as they are, on every corpus file the parser takes, bench.sh's
// auth.log and lines made to test the edges (a user who is his own
// effective user, a host name for a peer, no user at all).
func TestRelatedAsFinalize(t *testing.T) {
	inputs := map[string][]byte{
		"synthetic-auth.log": synthAuthLog(1 << 20),
		"edges": []byte(`Feb 14 19:02:11 tps sudo:     root : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls
Feb 14 19:02:12 tps sudo:   admin : TTY=pts/0 ; PWD=/home/admin ; USER=root ; COMMAND=/bin/ls
Feb 14 19:02:13 tps su[311]: (to root) admin on pts/1
Feb 14 19:02:14 tps sshd[312]: Failed password for root from host.example.org port 22 ssh2
Feb 14 19:02:15 tps sshd[313]: Accepted password for kpu from ::ffff:10.1.2.3 port 22 ssh2
Feb 14 19:02:16 tps sshd[314]: Connection closed by 2001:db8::1 port 50000 [preauth]
Feb 14 19:02:17 tps sshd[315]: Invalid user  from 10.0.0.9 port 4
Feb 14 19:02:18 tps kernel: no user, no peer
`),
	}
	if dir, err := parsertest.CorpusDir(); err == nil {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil || info.Size() > 8<<20 {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if New().Match(parsertest.BytesEntry("x", nil, time.Time{}), data[:min(len(data), parsers.HeadSize)]) {
				inputs[path] = data
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checked, filled := 0, 0
	for name, data := range inputs {
		src := &parsers.Source{Entry: parsertest.BytesEntry(filepath.Base(name), data, time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)),
			R: bytes.NewReader(data), Size: int64(len(data)), Zone: time.UTC, Warn: func(*parsers.RecordError) {}}
		err := New().Parse(context.Background(), src, func(ev *timeline.Event) error {
			var had *timeline.Related
			if ev.Related != nil {
				c := *ev.Related
				had = &c
				filled++
			}
			derived := *ev
			derived.Related = nil
			derived.Finalize()
			if !reflect.DeepEqual(had, derived.Related) {
				t.Errorf("%s record %d: related %+v, Finalize derives %+v", name, ev.Jejak.Provenance.Record, had, derived.Related)
			}
			ev.Finalize()
			if !reflect.DeepEqual(had, ev.Related) {
				t.Errorf("%s record %d: Finalize changed related %+v to %+v", name, ev.Jejak.Provenance.Record, had, ev.Related)
			}
			checked++
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(inputs) < 10 || filled < checked/2 {
		t.Errorf("%d files, %d events of which %d with related: the test tests little", len(inputs), checked, filled)
	}
	t.Logf("%d files, %d events, %d with related", len(inputs), checked, filled)
}
