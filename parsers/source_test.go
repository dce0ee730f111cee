package parsers_test

import (
	"errors"
	"fmt"
	"testing"

	jfs "github.com/jejak-forensics/jejak/forensics/fs"
	"github.com/jejak-forensics/jejak/parsers"
	"github.com/jejak-forensics/jejak/timeline"
)

// TestSourceWarn checks what Warnf and WarnErr put in a RecordError: the
// parser from the source (the pipeline's name first, else the one the
// parser gave As), the entry's path, offset, record and the cause, with
// wrapped errors still visible to errors.Is.
func TestSourceWarn(t *testing.T) {
	errBad := errors.New("bad line")
	tests := []struct {
		name       string
		entry      *jfs.Entry
		pipeline   string // Source.Parser as the pipeline set it
		as         string // what the parser passes to As
		warn       func(s *parsers.Source)
		wantParser string
		wantPath   string
		wantOff    int64
		wantRec    int64
		wantMsg    string
	}{
		{
			name: "Warnf, no pipeline name", entry: &jfs.Entry{Path: "var/log/auth.log"}, as: "syslog",
			warn:       func(s *parsers.Source) { s.Warnf(120, 7, "%w: %q", errBad, "x y") },
			wantParser: "syslog", wantPath: "var/log/auth.log", wantOff: 120, wantRec: 7,
			wantMsg: `syslog: var/log/auth.log: record 7 at offset 120: bad line: "x y"`,
		},
		{
			name: "WarnErr, pipeline name kept", entry: &jfs.Entry{Path: "a.evtx"}, pipeline: "evtx", as: "other",
			warn:       func(s *parsers.Source) { s.WarnErr(4096, 0, errBad) },
			wantParser: "evtx", wantPath: "a.evtx", wantOff: 4096,
			wantMsg: "evtx: a.evtx: offset 4096: bad line",
		},
		{
			name: "no entry (fuzzing)", as: "evt",
			warn:       func(s *parsers.Source) { s.WarnErr(0, 1, fmt.Errorf("wrapped: %w", errBad)) },
			wantParser: "evt", wantPath: "", wantOff: 0, wantRec: 1,
			wantMsg: "evt: : record 1 at offset 0: wrapped: bad line",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []*parsers.RecordError
			orig := &parsers.Source{Entry: tc.entry, Parser: tc.pipeline,
				Warn: func(re *parsers.RecordError) { got = append(got, re) }}
			src := orig.As(tc.as)
			tc.warn(src)
			if orig.Parser != tc.pipeline {
				t.Errorf("As changed the caller's Source: Parser %q", orig.Parser)
			}
			if len(got) != 1 {
				t.Fatalf("%d warnings, want 1", len(got))
			}
			w := got[0]
			if w.Parser != tc.wantParser || w.Path != tc.wantPath || w.Offset != tc.wantOff || w.Record != tc.wantRec {
				t.Errorf("got parser %q path %q offset %d record %d, want %q %q %d %d",
					w.Parser, w.Path, w.Offset, w.Record, tc.wantParser, tc.wantPath, tc.wantOff, tc.wantRec)
			}
			if !errors.Is(w, errBad) {
				t.Errorf("errors.Is lost the cause: %v", w)
			}
			if w.Error() != tc.wantMsg {
				t.Errorf("message\n got %s\nwant %s", w.Error(), tc.wantMsg)
			}
		})
	}
}

// TestSourceWarnNil: a Source without Warn (benchmarks) takes warnings
// without panicking.
func TestSourceWarnNil(t *testing.T) {
	src := (&parsers.Source{}).As("x")
	src.Warnf(1, 1, "ignored %d", 1)
	src.WarnErr(1, 1, parsers.ErrUnrecovered)
}

// TestAt: At sets only the offset and record, the provenance a parser
// knows, and leaves what the pipeline fills untouched.
func TestAt(t *testing.T) {
	ev := &timeline.Event{}
	ev.Jejak.Provenance.Path = "kept"
	if got := parsers.At(ev, 512, 3); got != ev {
		t.Fatal("At returned another event")
	}
	want := timeline.Provenance{Path: "kept", Offset: 512, Record: 3}
	p := ev.Jejak.Provenance
	if p.Path != want.Path || p.Offset != want.Offset || p.Record != want.Record || p.Parser != "" || p.EvidenceSHA256 != "" {
		t.Errorf("provenance %+v, want %+v", p, want)
	}
}
