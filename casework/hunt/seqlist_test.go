package hunt

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/jejak-forensics/jejak/timeline"
)

// TestSeqRecSize: the entry the sequence checks keep per record stays
// small and holds no pointer (the collector then never scans the lists).
func TestSeqRecSize(t *testing.T) {
	if n := unsafe.Sizeof(seqRec{}); n > 56 {
		t.Errorf("seqRec is %d bytes, want <= 56", n)
	}
}

func TestDecodeID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"ffffffffffffffffffffffffffffffff", true},
		{"0123456789ABCDEF0123456789abcdef", false}, // would come back lower-case
		{"0123456789abcdef0123456789abcde", false},
		{"0123456789abcdef0123456789abcdef0", false},
		{"0123456789abcdef0123456789abcdeg", false},
		{"0123456789abcdef0123456789abcde/", false}, // the bytes either side of the digits
		{"0123456789abcdef0123456789abcde:", false},
		{"0123456789abcdef0123456789abcde`", false},
		{"0123456789abcdef0123456789abcd\xffe", false},
		{" 123456789abcdef0123456789abcdef", false},
		{"", false},
	} {
		var b [16]byte
		if ok := decodeID(&b, tc.id); ok != tc.ok {
			t.Errorf("decodeID(%q) ok %v, want %v", tc.id, ok, tc.ok)
		} else if ok && hex.EncodeToString(b[:]) != tc.id {
			t.Errorf("decodeID(%q) = %x", tc.id, b)
		}
	}
}

// seqEvent is an EVTX record of one file for the sequence checks.
func seqEvent(id string, rec uint64, ts time.Time, code string) *timeline.Event {
	prov := timeline.Provenance{EvidenceSHA256: "ab", EvidenceName: "ev", Path: "/Security.evtx", Parser: "evtx", Record: int64(rec), Offset: int64(rec) * 512}
	if id == "" {
		id = timeline.ComputeID(prov, "Creation Time")
	}
	return &timeline.Event{Timestamp: ts, TimestampDesc: "Creation Time", Event: timeline.EventMeta{Code: code},
		Winlog: &timeline.Winlog{Channel: "Security", EventID: 4624, RecordID: rec, ProviderName: "Microsoft-Windows-Security-Auditing"},
		Jejak:  timeline.Jejak{ID: id, Provenance: prov}}
}

// TestSeqListsKeepRecordsAsGiven: every record comes back from the compact
// list with the event's ID, time (its zone too), code and place, also
// those the compact entry cannot hold (an ID not of 32 lower-case hex
// digits, a time outside int64 nanoseconds or not in UTC): they are kept
// aside whole, never rewritten or dropped.
func TestSeqListsKeepRecordsAsGiven(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 123456789, time.UTC)
	evs := []*timeline.Event{
		seqEvent("", 1, t0, "4624"),
		seqEvent("", 2, t0.Add(time.Second), "4625"),
		seqEvent(strings.Repeat("AB", 16), 3, t0.Add(2*time.Second), "4624"),             // upper-case ID
		seqEvent("not-an-id", 4, t0.Add(3*time.Second), "4624"),                          // malformed ID
		seqEvent("", 5, time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), "4624"),             // FILETIME 0
		seqEvent("", 6, time.Time{}, "4624"),                                             // zero time
		seqEvent("", 7, t0.Add(4*time.Second).In(time.FixedZone("", 2*3600)), "4624"),    // a zone
		seqEvent("", 8, time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), "1102"), // last int64 ns
	}
	for _, budget := range []int{0, 1, 3} { // held; spilled record by record; in runs of three
		t.Run(fmt.Sprintf("budget %d", budget), func(t *testing.T) {
			defer setSeqBudget(budget)()
			h := testHunter(Config{TempDir: t.TempDir()})
			a := &sequenceTime{h: h}
			l, feeds := seqListsFor(h, a, false)
			if !feeds {
				t.Fatal("the first check to ask does not feed the lists")
			}
			for _, ev := range evs {
				l.observe(ev)
			}
			if len(l.files) != 1 {
				t.Fatalf("%d files, want 1", len(l.files))
			}
			var odd, i int
			for _, f := range l.files {
				if spilled := len(f.runs) > 0; spilled != (budget > 0) {
					t.Errorf("%d runs spilled with a budget of %d", len(f.runs), budget)
				}
				err := l.each(h.ctx, f, func(r *seqEnt) {
					ev := evs[i]
					i++
					if r.has(recOdd) {
						odd++
					}
					got := l.ref(f, r, "Creation Time", true)
					// A time spilled comes back in a zone of the same
					// name and offset, not the same *Location.
					sameTime := got.Timestamp == ev.Timestamp
					if budget > 0 {
						gn, go1 := got.Timestamp.Zone()
						en, eo := ev.Timestamp.Zone()
						sameTime = got.Timestamp.Equal(ev.Timestamp) && gn == en && go1 == eo &&
							(got.Timestamp.Location() == time.UTC) == (ev.Timestamp.Location() == time.UTC)
					}
					if got.ID != ev.Jejak.ID || !sameTime || got.Code != ev.Event.Code ||
						got.RecordID != ev.Winlog.RecordID || got.Provenance.Record != ev.Jejak.Provenance.Record ||
						got.Provenance.Offset != ev.Jejak.Provenance.Offset {
						t.Errorf("record %d came back as %s %v %s %d (record %d, offset %d), was %s %v %s %d (record %d, offset %d)", i,
							got.ID, got.Timestamp, got.Code, got.RecordID, got.Provenance.Record, got.Provenance.Offset,
							ev.Jejak.ID, ev.Timestamp, ev.Event.Code, ev.Winlog.RecordID, ev.Jejak.Provenance.Record, ev.Jejak.Provenance.Offset)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if i != len(evs) {
				t.Fatalf("%d records kept of %d", i, len(evs))
			}
			if odd != 5 {
				t.Errorf("%d records kept aside, want 5 (two IDs, three times)", odd)
			}
			if err := l.release(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSequenceTimeOddRecords: a run back in time whose records the
// compact entry cannot hold is found and named with the records' own
// IDs and times, as the events gave them.
func TestSequenceTimeOddRecords(t *testing.T) {
	zone := time.FixedZone("", -5*3600)
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	evs := []*timeline.Event{
		seqEvent("", 1, t0, "4624"),
		seqEvent("", 2, t0.Add(time.Hour), "4624"),
		seqEvent(strings.Repeat("CD", 16), 3, t0.Add(-time.Hour).In(zone), "4616"), // set back an hour
		seqEvent("", 4, t0.Add(2*time.Hour), "4624"),
	}
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var rule *Rule
	for _, r := range rules {
		if r.Analyzer == "sequence-time" {
			rule = r
		}
	}
	h := testHunter(Config{})
	a, err := newSequenceTime(h, rule)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		a.observe(ev)
	}
	fs := a.finish()
	if len(fs) != 1 {
		t.Fatalf("%d findings, want 1: %+v", len(fs), fs)
	}
	refs := fs[0].Events
	if len(refs) != 2 {
		t.Fatalf("%d rows, want 2 (the latest before, the record stamped back)", len(refs))
	}
	// The rows are in time order: the record stamped back comes first.
	for i, want := range []*timeline.Event{evs[2], evs[1]} {
		if refs[i].ID != want.Jejak.ID || refs[i].Timestamp != want.Timestamp || refs[i].Code != want.Event.Code {
			t.Errorf("row %d: %s %v %s, want %s %v %s", i, refs[i].ID, refs[i].Timestamp, refs[i].Code, want.Jejak.ID, want.Timestamp, want.Event.Code)
		}
	}
	if h.seqs.files != nil {
		t.Error("the lists are kept after the last check finished")
	}
}

// TestSequenceChecksAlone: log integrity and sequence vs time share their
// records; either loaded alone finds what it finds with the other loaded
// (the one loaded first feeds the lists, and only what it reads is kept).
func TestSequenceChecksAlone(t *testing.T) {
	st := buildCase(t, "logs/windows/System2.evtx", "logs/windows/sample_with_a_bad_chunk_magic.evtx",
		"more/evtx/mitre_cc0/ID104-1102-Event_log_cleared.evtx", "logs/windows/new-user-security.evtx", "logs/linux/wtmp.1")
	cfg := Config{After: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
	var bothLV []LogVerdict
	cfg.Examined = func(lv LogVerdict) { bothLV = append(bothLV, lv) }
	integrity, seqTime := ruleByID(t, "JEJAK-LOG-02"), ruleByID(t, "JEJAK-TIME-02")
	for _, order := range [][]*Rule{{integrity, seqTime}, {seqTime, integrity}} {
		bothLV = nil
		cfg.Rules = order
		both := hunt(t, st, cfg)
		if len(byRule(both, "JEJAK-LOG-02")) == 0 || len(byRule(both, "JEJAK-TIME-02")) == 0 {
			t.Fatalf("the case makes no finding of one check: %d LOG-02, %d TIME-02", len(byRule(both, "JEJAK-LOG-02")), len(byRule(both, "JEJAK-TIME-02")))
		}
		for _, r := range []*Rule{integrity, seqTime} {
			var lv []LogVerdict
			c := cfg
			c.Rules = []*Rule{r}
			c.Examined = func(v LogVerdict) { lv = append(lv, v) }
			alone := hunt(t, st, c)
			a, _ := json.Marshal(alone)
			b, _ := json.Marshal(byRule(both, r.ID))
			if string(a) != string(b) {
				t.Errorf("%s alone found\n%s\nwith the other check loaded\n%s", r.ID, a, b)
			}
			if r == integrity {
				a, _ = json.Marshal(lv)
				b, _ = json.Marshal(bothLV)
				if string(a) != string(b) {
					t.Errorf("verdicts alone\n%s\nwith sequence vs time loaded\n%s", a, b)
				}
			}
		}
	}
}

// testHunter is a hunter for a check's tests, fed by hand (observe,
// finish) instead of a store: the fields Hunt sets that the checks read.
func testHunter(cfg Config) *hunter {
	return &hunter{cfg: cfg, zone: time.UTC, strs: map[string]string{}, chains: map[string][]string{}, ctx: context.Background()}
}
