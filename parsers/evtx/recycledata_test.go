package evtx

import (
	"context"
	stdmaps "maps"
	"os"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// A recycled block keeps its jejak.data map uncleared (see fillData):
// every event built in it must show its own members and nothing left by
// the block's last event, even one given back with a key the parser
// never sets (as parser.go adds file_header_damaged).
func TestRecycledDataMaps(t *testing.T) {
	parse := corpusParse(t, "logs/windows/security.evtx")
	var want []map[string]string
	parse(New(1), func(ev *timeline.Event) { want = append(want, stdmaps.Clone(ev.Jejak.Data)) })
	p := New(1)
	for round := range 3 {
		i := 0
		parse(p, func(ev *timeline.Event) {
			if i >= len(want) || !stdmaps.Equal(ev.Jejak.Data, want[i]) {
				t.Fatalf("round %d, event %d: jejak.data %v, want %v", round, i, ev.Jejak.Data, want[min(i, len(want)-1)])
			}
			switch i % 3 {
			case 0:
				ev.Jejak.Data["stale"] = "x"
			case 1:
				delete(ev.Jejak.Data, "level")
			}
			i++
			p.Recycle(ev)
		})
		if i != len(want) {
			t.Fatalf("round %d: %d events, want %d", round, i, len(want))
		}
	}
}

// TestFillDataHeld fills one map, with its held values, from a sequence
// of System members where values stay, change, go missing and come back
// (the same value as held before they went), as ParseStats adds a key
// and as a consumer deletes one: the map must always hold exactly the
// members of the last fill.
func TestFillDataHeld(t *testing.T) {
	sysOf := func(level, task, pid string) *system {
		s := &system{}
		if level != "" {
			s.level = el("Level", level, nil)
		}
		if task != "" {
			s.task = el("Task", task, nil)
		}
		if pid != "" {
			s.execution = el("Execution", "", []string{"ProcessID", pid})
		}
		return s
	}
	r := &Record{ID: 7}
	data := map[string]string{}
	var held heldData
	for i, c := range []struct {
		level, task, pid string
		meddle           func(map[string]string)
	}{
		{"4", "12544", "612", nil},
		{"4", "12544", "612", nil},
		{"4", "", "612", nil},
		{"4", "12544", "700", nil},
		{"", "12544", "700", nil},
		{"4", "12544", "700", func(m map[string]string) { m["file_header_damaged"] = "true" }},
		{"4", "12544", "700", func(m map[string]string) { delete(m, "task") }},
		{"4", "12544", "700", nil},
		{"", "", "", nil},
		{"4", "12544", "612", nil},
	} {
		sys := sysOf(c.level, c.task, c.pid)
		if n := fillData(data, &held, r, sys, nil, "", time.Time{}, true, false, r.ID); len(data) != n {
			clear(data)
			held = heldData{}
			fillData(data, &held, r, sys, nil, "", time.Time{}, true, false, r.ID)
		}
		want := map[string]string{}
		for k, v := range map[string]string{"level": c.level, "task": c.task, "process_id": c.pid} {
			if v != "" {
				want[k] = v
			}
		}
		if !stdmaps.Equal(data, want) {
			t.Fatalf("fill %d: %v, want %v", i, data, want)
		}
		if c.meddle != nil {
			c.meddle(data)
		}
	}
}

// A recycled block keeps its winlog.event_data map (see reset): every
// event built in it must show its own members and message and nothing
// left by the block's last event, even one given back with a key added
// or removed, in another order than it was handed out.
func TestRecycledEventDataMaps(t *testing.T) {
	parse := corpusParse(t, "logs/windows/security.evtx")
	var want []map[string]string
	var msgs []string
	parse(New(1), func(ev *timeline.Event) {
		want = append(want, stdmaps.Clone(ev.Winlog.EventData))
		msgs = append(msgs, ev.Message)
	})
	p := New(1)
	for round := range 3 {
		i := 0
		var held []*timeline.Event
		parse(p, func(ev *timeline.Event) {
			if i >= len(want) || !stdmaps.Equal(ev.Winlog.EventData, want[i]) || ev.Message != msgs[i] {
				t.Fatalf("round %d, event %d: event_data %v (%q), want %v (%q)", round, i, ev.Winlog.EventData, ev.Message, want[min(i, len(want)-1)], msgs[min(i, len(want)-1)])
			}
			switch i % 5 {
			case 0:
				if ev.Winlog.EventData != nil {
					ev.Winlog.EventData["stale"] = "x"
				}
			case 1:
				for k := range ev.Winlog.EventData {
					delete(ev.Winlog.EventData, k)
					break
				}
			}
			i++
			// Given back a few events later, in another order, so that
			// blocks change hands between event IDs.
			held = append(held, ev)
			if len(held) == 7 {
				for j := len(held) - 1; j >= 0; j-- {
					p.Recycle(held[j])
				}
				held = held[:0]
			}
		})
		for _, ev := range held {
			p.Recycle(ev)
		}
		if i != len(want) {
			t.Fatalf("round %d: %d events, want %d", round, i, len(want))
		}
	}
}

// corpusParse returns a function that parses the corpus file rel with a
// parser and hands every event to emit: the recycling tests parse one
// file many times with one parser.
func corpusParse(t *testing.T, rel string) func(p *Parser, emit func(*timeline.Event)) {
	path := parsertest.Corpus(t, rel)
	return func(p *Parser, emit func(*timeline.Event)) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		src := &parsers.Source{Entry: parsertest.FileEntry(t, path), ReaderAt: f, Size: st.Size(),
			Warn: func(*parsers.RecordError) {}}
		if err := p.Parse(context.Background(), src, func(ev *timeline.Event) error { emit(ev); return nil }); err != nil {
			t.Fatal(err)
		}
	}
}
