package hunt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// setSeqBudget sets how many entries the sequence lists hold before they
// spill, and returns what puts it back.
func setSeqBudget(n int) func() {
	old := seqBudget
	seqBudget = n
	return func() { seqBudget = old }
}

// countSpills counts the spill files the sequence lists make and records
// their names, until the returned func puts the maker back.
func countSpills(names *[]string) func() {
	old := seqSpillCreate
	seqSpillCreate = func(dir string) (*os.File, bool, error) {
		f, linked, err := old(dir)
		if err == nil {
			*names = append(*names, f.Name())
		}
		return f, linked, err
	}
	return func() { seqSpillCreate = old }
}

// seqCheckRun is what the two record-sequence checks said in one hunt.
type seqCheckRun struct {
	findings, verdicts string
	spills             int
}

func runSeqChecks(t *testing.T, st Searcher, cfg Config, budget int) seqCheckRun {
	t.Helper()
	defer setSeqBudget(budget)()
	var names []string
	defer countSpills(&names)()
	var lvs []LogVerdict
	cfg.Examined = func(lv LogVerdict) { lvs = append(lvs, lv) }
	cfg.TempDir = t.TempDir()
	fs, err := Hunt(context.Background(), st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.MarshalIndent(fs, "", " ")
	b, _ := json.MarshalIndent(lvs, "", " ")
	return seqCheckRun{findings: string(a), verdicts: string(b), spills: len(names)}
}

// TestSeqSpillSameFindings: log integrity and sequence vs time find the
// same, byte for byte, on every EVTX file of the corpus and a wtmp, with
// every record held and with the lists spilling every 1000 or every 7
// records (many runs per file, merged), either check loaded alone or
// both, with a cut-off and without.
func TestSeqSpillSameFindings(t *testing.T) {
	paths := append(corpusEVTX(t), "logs/linux/wtmp.1")
	st := buildCase(t, paths...)
	integrity, seqTime := ruleByID(t, "JEJAK-LOG-02"), ruleByID(t, "JEJAK-TIME-02")
	for _, tc := range []struct {
		name  string
		rules []*Rule
		after time.Time
	}{
		{"both", []*Rule{integrity, seqTime}, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"both, no cut-off", []*Rule{seqTime, integrity}, time.Time{}},
		{"both, cut-off 2019", []*Rule{integrity, seqTime}, time.Date(2019, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"log integrity", []*Rule{integrity}, time.Time{}},
		{"sequence vs time", []*Rule{seqTime}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{After: tc.after, Rules: tc.rules}
			held := runSeqChecks(t, st, cfg, 0)
			if held.spills != 0 {
				t.Fatalf("%d spill files with no budget", held.spills)
			}
			if len(held.findings) < 100 || (tc.rules[0] == integrity && len(held.verdicts) < 100) {
				t.Fatalf("the corpus makes too little to compare: %s %s", held.findings, held.verdicts)
			}
			for _, budget := range []int{1000, 7} {
				got := runSeqChecks(t, st, cfg, budget)
				if got.spills != 1 {
					t.Errorf("budget %d: %d spill files, want 1", budget, got.spills)
				}
				if got.findings != held.findings {
					t.Errorf("budget %d: findings differ from all held:\n%s", budget, firstDiff(got.findings, held.findings))
				}
				if got.verdicts != held.verdicts {
					t.Errorf("budget %d: verdicts differ from all held:\n%s", budget, firstDiff(got.verdicts, held.verdicts))
				}
			}
		})
	}
}

// firstDiff shows where two texts part.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return fmt.Sprintf("line %d:\n  got  %s\n  want %s", i+1, al[i], bl[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(al), len(bl))
}

// TestSeqSpillExported: an exported copy (record headers renumbered while
// EventRecordIDs keep the log's) is judged by its header numbers, sorted
// apart from the sequence order, the same held or spilled.
func TestSeqSpillExported(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	// Header numbers 1..n in file order, EventRecordIDs a selection,
	// read in time order (which is neither), header 4 and 9 missing.
	var evs []*timeline.Event
	hdrs := []uint64{3, 1, 2, 5, 7, 6, 8, 10, 11}
	for i, h := range hdrs {
		ev := seqEvent("", 100+3*h, t0.Add(time.Duration(i)*time.Minute), "4624")
		ev.Jejak.Provenance.Record = int64(h)
		ev.Jejak.ID = timeline.ComputeID(ev.Jejak.Provenance, "Creation Time")
		evs = append(evs, ev)
	}
	rule := ruleByID(t, "JEJAK-LOG-02")
	var want string
	for _, budget := range []int{0, 1, 2, 4} {
		restore := setSeqBudget(budget)
		h := testHunter(Config{TempDir: t.TempDir()})
		a, err := newLogIntegrity(h, rule)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			a.observe(ev)
		}
		fs := a.finish()
		restore()
		if h.errs != nil {
			t.Fatal(h.errs)
		}
		if len(fs) != 1 {
			t.Fatalf("budget %d: %d findings, want 1", budget, len(fs))
		}
		b, _ := json.MarshalIndent(fs, "", " ")
		got := string(b)
		if budget == 0 {
			want = got
			if fs[0].Verdict != VerdictCleared || !strings.Contains(got, "header records 4-4 missing") || !strings.Contains(got, "header records 9-9 missing") ||
				!strings.Contains(got, "renumbered") {
				t.Fatalf("the exported copy's verdict misses its header gaps:\n%s", got)
			}
			continue
		}
		if got != want {
			t.Errorf("budget %d: %s", budget, firstDiff(got, want))
		}
	}
}

// openFDsIn lists the files this process has open under dir (an unlinked
// spill file shows as "name (deleted)"). Linux only: elsewhere the test
// checks the folder alone.
func openFDsIn(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && strings.HasPrefix(p, dir+string(filepath.Separator)) {
			out = append(out, p)
		}
	}
	return out
}

// stopSearcher reads a store and, after n events, fails or cancels the
// hunt's context; n < 0 cancels it once every event was read.
type stopSearcher struct {
	st     Searcher
	n      int
	err    error
	cancel context.CancelFunc
}

func (s stopSearcher) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	if s.n < 0 {
		err := s.st.Search(ctx, q, fn)
		s.cancel()
		return err
	}
	seen := 0
	return s.st.Search(ctx, q, func(ev *timeline.Event) error {
		if err := fn(ev); err != nil {
			return err
		}
		seen++
		if seen == s.n {
			if s.cancel != nil {
				s.cancel()
				return ctx.Err() // as a store that checks its context
			}
			return s.err
		}
		return nil
	})
}

// TestSeqSpillRemoved: the spill file is closed and gone from the temp
// folder when the hunt ends: finished, failed reading the timeline, or
// cancelled while reading or before the checks finish.
func TestSeqSpillRemoved(t *testing.T) {
	st := buildCase(t, corpusEVTX(t)...)
	defer setSeqBudget(50)()
	rules := []*Rule{ruleByID(t, "JEJAK-LOG-02"), ruleByID(t, "JEJAK-TIME-02")}
	errRead := errors.New("disk went away")
	for _, tc := range []struct {
		name    string
		n       int // events before the stop; 0: none
		err     error
		cancel  bool
		wantErr error
	}{
		{"finished", 0, nil, false, nil},
		{"read error", 500, errRead, false, errRead},
		{"cancelled", 500, nil, true, context.Canceled},
		// Every event read: the checks' finish sees the cancel.
		{"cancelled before the finish", -1, nil, true, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			defer countSpills(&names)()
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var s Searcher = st
			if tc.n != 0 {
				ss := stopSearcher{st: st, n: tc.n, err: tc.err}
				if tc.cancel {
					ss.cancel = cancel
				}
				s = ss
			}
			_, err := Hunt(ctx, s, Config{Rules: rules, TempDir: dir})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("hunt: %v, want %v", err, tc.wantErr)
			}
			if len(names) != 1 || !strings.HasPrefix(names[0], dir) {
				t.Fatalf("spill files %q, want one in %s", names, dir)
			}
			if fds := openFDsIn(t, dir); len(fds) > 0 {
				t.Errorf("still open: %q", fds)
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("left in the temp folder: %v", ents)
			}
		})
	}
}

// TestSeqSpillWriteError: a spill file that cannot be written (a full
// disk) is an error of the hunt naming it, and no record is lost: what
// could not be spilled is held, and the findings are those of a hunt that
// never spilled.
func TestSeqSpillWriteError(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no /dev/full to fail writes: %v", err)
	}
	full.Close()
	st := buildCase(t, corpusEVTX(t)...)
	cfg := Config{Rules: []*Rule{ruleByID(t, "JEJAK-LOG-02"), ruleByID(t, "JEJAK-TIME-02")}}
	held := runSeqChecks(t, st, cfg, 0)

	defer setSeqBudget(50)()
	old := seqSpillCreate
	defer func() { seqSpillCreate = old }()
	seqSpillCreate = func(string) (*os.File, bool, error) {
		f, err := os.OpenFile("/dev/full", os.O_RDWR, 0)
		return f, false, err // never removed: not the hunt's file
	}
	var lvs []LogVerdict
	cfg.Examined = func(lv LogVerdict) { lvs = append(lvs, lv) }
	fs, err := Hunt(context.Background(), st, cfg)
	if err == nil || !strings.Contains(err.Error(), "write spill file /dev/full") {
		t.Fatalf("hunt error %v, want one naming /dev/full", err)
	}
	a, _ := json.MarshalIndent(fs, "", " ")
	b, _ := json.MarshalIndent(lvs, "", " ")
	if string(a) != held.findings {
		t.Errorf("findings after the write error differ:\n%s", firstDiff(string(a), held.findings))
	}
	if string(b) != held.verdicts {
		t.Errorf("verdicts after the write error differ:\n%s", firstDiff(string(b), held.verdicts))
	}
}

// TestSeqSpillTies: records with one EventRecordID (a live record twice,
// slack copies of live IDs) come in the order the hunt read them, held
// or spilled into runs as small as one record: log integrity keeps the
// first read of two live records, counts slack IDs strictly inside a gap
// or before the oldest record, and sequence vs time sees the two in the
// order read.
func TestSeqSpillTies(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	ev := func(rec uint64, off int64, at time.Time, slack bool) *timeline.Event {
		e := seqEvent("", rec, at, "4624")
		e.Jejak.Provenance.Offset = off
		e.Jejak.ID = timeline.ComputeID(e.Jejak.Provenance, "Creation Time")
		if slack {
			e.Jejak.Tags = []string{"recovered"}
			e.Jejak.Data = map[string]string{"recovered_from": slackSource}
		}
		return e
	}
	clear9 := ev(9, 9000, t0.Add(3*time.Minute), false)
	clear9.Winlog.ProviderName, clear9.Winlog.EventID, clear9.Event.Code = "Microsoft-Windows-Eventlog", 1102, "1102"
	first4, second4 := ev(4, 4000, t0.Add(time.Minute), false), ev(4, 4100, t0.Add(-2*time.Hour), false)
	evs := []*timeline.Event{
		ev(3, 3000, t0, false),
		ev(2, 100, t0.Add(-time.Hour), true),
		ev(1, 200, t0.Add(-time.Hour), true),
		first4,
		second4,
		ev(8, 8000, t0.Add(2*time.Minute), false),
		ev(6, 300, t0.Add(-time.Hour), true),
		ev(8, 400, t0.Add(-time.Hour), true),
		ev(4, 500, t0.Add(-time.Hour), true),
		clear9,
		ev(12, 12000, t0.Add(4*time.Minute), false),
		ev(13, 13000, time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), false),
		ev(14, 14000, t0.Add(5*time.Minute), false),
	}
	var want string
	for _, budget := range []int{0, 1, 2, 3, 5} {
		restore := setSeqBudget(budget)
		h := testHunter(Config{TempDir: t.TempDir()})
		var lvs []LogVerdict
		h.cfg.Examined = func(lv LogVerdict) { lvs = append(lvs, lv) }
		a1, err := newLogIntegrity(h, ruleByID(t, "JEJAK-LOG-02"))
		if err != nil {
			t.Fatal(err)
		}
		a2, err := newSequenceTime(h, ruleByID(t, "JEJAK-TIME-02"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			a1.observe(e)
			a2.observe(e)
		}
		if spilled := h.seqs.sp.f != nil; spilled != (budget > 0) {
			t.Errorf("budget %d: spilled %v", budget, spilled)
		}
		fs := append(a1.finish(), a2.finish()...)
		restore()
		if h.errs != nil {
			t.Fatal(h.errs)
		}
		b, _ := json.MarshalIndent(struct {
			F []Finding
			V []LogVerdict
		}{fs, lvs}, "", " ")
		got := string(b)
		if budget > 0 {
			if got != want {
				t.Errorf("budget %d: %s", budget, firstDiff(got, want))
			}
			continue
		}
		want = got
		if len(lvs) != 1 || lvs[0].Records != 7 {
			t.Fatalf("verdicts %+v, want one of 7 live records", lvs)
		}
		for _, s := range []string{
			"records 5-7 missing (3) between 2024-03-01T08:01:00Z and 2024-03-01T08:02:00Z; 1 of them recovered from chunk slack",
			"the oldest record is 3 (2024-03-01T08:00:00Z): records 1-2 are not in the file; a log that reached its maximum size overwrites its oldest records (retention policy); 2 of them recovered from chunk slack",
			"record 9 (event 1102)",
			"records 10-11 missing (2)",
			// Sequence vs time: the second record 4, read after the
			// first, is stamped two hours before it.
			"record 4 was written after record 4 (2024-03-01T08:01:00Z) but is stamped 2024-03-01T06:00:00Z",
			"record 13 was written after record 12",
		} {
			if !strings.Contains(got, s) {
				t.Errorf("no %q in\n%s", s, got)
			}
		}
		// Of the two live records 4 log integrity keeps the first read:
		// the gap 5-7 starts after it.
		if !strings.Contains(got, first4.Jejak.ID) {
			t.Errorf("the first record 4 read (%s) is not a row", first4.Jejak.ID)
		}
		for _, f := range byRule(fs, "JEJAK-LOG-02") {
			for _, r := range f.Events {
				if r.ID == second4.Jejak.ID {
					t.Errorf("log integrity kept the second record 4 read")
				}
			}
		}
	}
}

// FuzzSeqSpillOdd: what an odd record keeps aside comes back from the
// spill file as it went (the instant, the zone's name and offset), and
// reading any bytes as one fails or not, never panics.
func FuzzSeqSpillOdd(f *testing.F) {
	f.Add("not-an-id", int64(-11644473600), int64(0), "", 0, []byte{})
	f.Add(strings.Repeat("AB", 16), int64(1709280000), int64(123456789), "CET", 3600, []byte{3, 'a', 'b', 'c', 0x80})
	f.Fuzz(func(t *testing.T, id string, sec, nsec int64, zone string, off int, junk []byte) {
		nsec = (nsec%1e9 + 1e9) % 1e9
		ts := time.Unix(sec, nsec).In(time.FixedZone(zone, off))
		if zone == "" && off == 0 {
			ts = ts.UTC()
		}
		b := appendOdd(nil, &oddRec{id: id, ts: ts})
		var e seqEnt
		if err := readOdd(bufio.NewReader(bytes.NewReader(b)), &e); err != nil {
			t.Fatalf("read back: %v", err)
		}
		gn, go1 := e.oddTS.Zone()
		wn, wo := ts.Zone()
		if e.oddID != id || !e.oddTS.Equal(ts) || gn != wn || go1 != wo {
			t.Fatalf("came back as %q %v, was %q %v", e.oddID, e.oddTS, id, ts)
		}
		_ = readOdd(bufio.NewReader(bytes.NewReader(junk)), &e)
	})
}

// TestSeqSpillReadError: a spill file cut short (the disk lost what was
// written) is the hunt's error naming the file, never a log judged on the
// records left.
func TestSeqSpillReadError(t *testing.T) {
	t0 := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	defer setSeqBudget(4)()
	var spill *os.File
	old := seqSpillCreate
	defer func() { seqSpillCreate = old }()
	seqSpillCreate = func(dir string) (*os.File, bool, error) {
		f, linked, err := old(dir)
		spill = f
		return f, linked, err
	}
	h := testHunter(Config{TempDir: t.TempDir()})
	a, err := newLogIntegrity(h, ruleByID(t, "JEJAK-LOG-02"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		a.observe(seqEvent("", uint64(i+1), t0.Add(time.Duration(i)*time.Second), "4624"))
	}
	if spill == nil {
		t.Fatal("no spill with a budget of 4 and 10 records")
	}
	// Cut at a record's end: the run reads as if it were whole unless
	// its count is checked.
	if err := spill.Truncate(2 * seqRecSize); err != nil {
		t.Fatal(err)
	}
	var lvs []LogVerdict
	h.cfg.Examined = func(lv LogVerdict) { lvs = append(lvs, lv) }
	fs := a.finish()
	if h.errs == nil || !strings.Contains(h.errs.Error(), "read spill file "+spill.Name()) || !strings.Contains(h.errs.Error(), "records short") {
		t.Fatalf("hunt error %v, want one naming %s", h.errs, spill.Name())
	}
	if len(fs) != 0 || len(lvs) != 0 {
		t.Errorf("a log judged on what was left: %d findings, verdicts %+v", len(fs), lvs)
	}
}
