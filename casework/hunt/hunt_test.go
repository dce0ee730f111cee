package hunt

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

func TestBuiltinRules(t *testing.T) {
	rules, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 15 {
		t.Fatalf("%d built-in rules, want the whole set", len(rules))
	}
	used := map[string]bool{}
	for _, r := range rules {
		if r.ID == "" || r.Title == "" || r.Description == "" || r.SHA256 == "" || !strings.HasPrefix(r.Source, "builtin:rules/") {
			t.Errorf("rule %+v lacks a field a report needs", r)
		}
		if !strings.HasPrefix(r.Source, "builtin:rules/"+r.ID+"-") {
			t.Errorf("rule %s is in %s: the file name should start with the ID", r.ID, r.Source)
		}
		if r.Analyzer != "" {
			used[r.Analyzer] = true
		}
	}
	for name := range analyzers {
		if !used[name] {
			t.Errorf("analyzer %s is named by no rule", name)
		}
	}
}

// sshFailRE is the test's own reading of sshd failures, independent of the
// syslog parser: "Failed <method> for [invalid user] U from IP", possibly
// inside "message repeated N times: [ ... ]".
var (
	sshLineRE = regexp.MustCompile(`^(\w{3} +\d+ \d\d:\d\d:\d\d) \S+ sshd\[\d+\]: (?:message repeated (\d+) times: \[ )?Failed \S+ for (?:invalid user )?.*? from (\d+\.\d+\.\d+\.\d+) port`)
	sshOKRE   = regexp.MustCompile(`^(\w{3} +\d+ \d\d:\d\d:\d\d) \S+ sshd\[\d+\]: Accepted \S+ for \S+ from (\d+\.\d+\.\d+\.\d+) port`)
)

func TestBruteForceOpenSSH(t *testing.T) {
	const rel = "logs/loghub/OpenSSH_2k.log"
	path := parsertest.Corpus(t, rel)
	r1, r2 := ruleByID(t, "JEJAK-AUTH-01"), ruleByID(t, "JEJAK-AUTH-02")
	minFail, _ := r1.intParam("failures", 0)
	window, _ := r1.durationParam("window", 0)

	// Oracle: per IP, runs of failures each within the window of the
	// previous one; a run of at least minFail is an attack.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type run struct {
		n    int
		last time.Time
	}
	open := map[string]*run{}
	attackers := map[string]bool{}
	success := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := sshOKRE.FindStringSubmatch(line); m != nil {
			if r := open[m[2]]; r != nil && r.n >= minFail {
				success[m[2]] = true
			}
			delete(open, m[2])
			continue
		}
		m := sshLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		tm, err := time.Parse("Jan _2 15:04:05", strings.Join(strings.Fields(m[1]), " "))
		if err != nil {
			t.Fatal(err)
		}
		n := 1
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		r := open[m[3]]
		if r == nil || tm.Sub(r.last) > window {
			r = &run{}
			open[m[3]] = r
		}
		r.n += n
		r.last = tm
		if r.n >= minFail {
			attackers[m[3]] = true
		}
	}
	if len(attackers) < 3 {
		t.Fatalf("oracle found %d attacking IPs: the regexp no longer reads the log", len(attackers))
	}

	st := buildCase(t, rel)
	fs := hunt(t, st, Config{Rules: []*Rule{r1, r2}})
	got := map[string]bool{}
	for _, f := range fs {
		got[f.Key] = true
		if f.RuleID == "JEJAK-AUTH-02" && !success[f.Key] {
			t.Errorf("%s reported as a successful brute force; the log has no success after its run: %s", f.Key, f.Explanation)
		}
		// One line may stand for several attempts ("message repeated").
		if len(f.Events) == 0 || f.Explanation == "" || f.Technique != "T1110" {
			t.Errorf("finding %s: %d events, explanation %q", f.Key, len(f.Events), f.Explanation)
		}
	}
	for ip := range attackers {
		if !got[ip] {
			t.Errorf("attacking IP %s not found", ip)
		}
	}
	for ip := range got {
		if !attackers[ip] {
			t.Errorf("IP %s reported but the log has no run of %d failures from it", ip, minFail)
		}
	}
	t.Logf("%d attacking IPs, %d findings; e.g. %s", len(attackers), len(fs), fs[0].Explanation)
}

// TestEVTXFlagged: built-in rules flag exactly the records evtxexport
// shows for the events they are about.
func TestEVTXFlagged(t *testing.T) {
	for _, tc := range []struct {
		file, rule string
		keep       func(xrec) bool
	}{
		{"logs/windows/new-user-security.evtx", "JEJAK-ACCT-01", eventIDIn("4720")},
		{"more/evtx/mitre_cc0/ID4720-Local_user_created.evtx", "JEJAK-ACCT-01", eventIDIn("4720")},
		{"more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx", "JEJAK-ACCT-01", eventIDIn("4720")},
		{"more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx", "JEJAK-ACCT-02", adminGroupAdd},
		{"logs/windows/new-user-security.evtx", "JEJAK-ACCT-02", adminGroupAdd},
		{"more/evtx/mitre_cc0/ID104-1102-Event_log_cleared.evtx", "JEJAK-LOG-01", eventIDIn("104", "1102")},
		{"more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx", "JEJAK-LOG-01", eventIDIn("104", "1102")},
		// Every 1149 is a row of an RDP session chain (JEJAK-RDP-01), and
		// JEJAK-AUTH-06, which yields to it, flags none of them again.
		{"logs/windows/TerminalServices-RemoteConnectionManager-Operational.evtx", "JEJAK-RDP-01", eventIDIn("1149")},
	} {
		t.Run(tc.rule+"/"+tc.file[strings.LastIndexByte(tc.file, '/')+1:], func(t *testing.T) {
			recs, ok := evtxexport(t, parsertest.Corpus(t, tc.file))
			if !ok {
				t.Fatalf("evtxexport refused %s", tc.file)
			}
			want := oracleIDs(recs, tc.keep)
			if len(want) == 0 {
				t.Fatalf("oracle has no record for %s in %s", tc.rule, tc.file)
			}
			fs := byRule(hunt(t, buildCase(t, tc.file), Config{}), tc.rule)
			if got := findingIDs(fs); !slices.Equal(got, want) {
				t.Errorf("%s flagged records %v, evtxexport says %v", tc.rule, got, want)
			}
		})
	}
}

// TestRDP1149 covers the file evtxexport refuses: its one chunk declares
// records 1..11, all 1149 (MANIFEST.tsv), and every one must be in an RDP
// session finding (JEJAK-RDP-01), once, and in no JEJAK-AUTH-06 finding:
// that rule yields the rows of a session to it.
func TestRDP1149(t *testing.T) {
	const rel = "more/evtx/mitre_cc0/ID1149-RDP_success_logins.evtx"
	all := hunt(t, buildCase(t, rel), Config{})
	if fs := byRule(all, "JEJAK-AUTH-06"); len(fs) != 0 {
		t.Errorf("JEJAK-AUTH-06 flagged rows of RDP sessions again: %+v", fs)
	}
	fs := byRule(all, "JEJAK-RDP-01")
	if len(fs) == 0 {
		t.Fatal("no RDP session finding")
	}
	var hdr []int64
	for _, f := range fs {
		for _, e := range f.Events {
			if e.Code != "1149" {
				t.Errorf("event %s code %s", e.ID, e.Code)
			}
			hdr = append(hdr, e.Provenance.Record)
		}
	}
	slices.Sort(hdr)
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}; !slices.Equal(hdr, want) {
		t.Errorf("flagged header records %v, want %v (each once)", hdr, want)
	}
}

// TestAfterMovesTheLine: the same case hunted with the cut-off just before
// and just after a flagged event includes and then excludes it.
func TestAfterMovesTheLine(t *testing.T) {
	st := buildCase(t, "more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx", "logs/loghub/OpenSSH_2k.log")
	all := hunt(t, st, Config{})
	for _, id := range []string{"JEJAK-ACCT-01", "JEJAK-LOG-01", "JEJAK-AUTH-01"} {
		fs := byRule(all, id)
		if len(fs) == 0 {
			t.Fatalf("%s: nothing flagged without a cut-off", id)
		}
		target := fs[len(fs)-1]
		first := target.Events[0].Timestamp
		before := byRule(hunt(t, st, Config{After: first.Add(-time.Second)}), id)
		after := byRule(hunt(t, st, Config{After: target.Last.Add(time.Second)}), id)
		if !containsKey(before, target.Key) {
			t.Errorf("%s: cut-off before %s drops %q", id, ts(first), target.Key)
		}
		if containsKey(after, target.Key) {
			t.Errorf("%s: cut-off after %s keeps %q", id, ts(target.Last), target.Key)
		}
	}
}

func containsKey(fs []Finding, key string) bool {
	for _, f := range fs {
		if f.Key == key {
			return true
		}
	}
	return false
}

func TestDeterministic(t *testing.T) {
	st := buildCase(t, "logs/windows/security.evtx", "logs/loghub/OpenSSH_2k.log")
	cfg := Config{After: time.Date(2016, 7, 9, 0, 0, 0, 0, time.UTC)}
	a, _ := json.Marshal(hunt(t, st, cfg))
	b, _ := json.Marshal(hunt(t, st, cfg))
	if string(a) != string(b) {
		t.Fatal("two hunts of the same case with the same parameters differ")
	}
}

func TestLogVerdicts(t *testing.T) {
	st := buildCase(t, "logs/windows/security.evtx", "more/evtx/mitre_cc0/ID104-1102-Event_log_cleared.evtx", "logs/windows/new-user-security.evtx")
	lvs, fs := examined(t, st, Config{})
	verdicts := map[string]string{}
	for _, lv := range lvs {
		verdicts[baseOf(lv.File)] = lv.Verdict
		if len(lv.Reasons) == 0 {
			t.Errorf("%s: verdict %q without reasons", lv.File, lv.Verdict)
		}
	}
	// security.evtx: evtxexport shows records 1..2261 with no gap.
	recs, _ := evtxexport(t, parsertest.Corpus(t, "logs/windows/security.evtx"))
	ids := oracleIDs(recs, func(xrec) bool { return true })
	contiguous := ids[0] == 1 && int(ids[len(ids)-1]) == len(ids)
	if want := map[bool]string{true: VerdictComplete, false: VerdictCleared}[contiguous]; verdicts["security.evtx"] != want {
		t.Errorf("security.evtx verdict %q, want %q", verdicts["security.evtx"], want)
	}
	if verdicts["ID104-1102-Event_log_cleared.evtx"] != VerdictCleared {
		t.Errorf("ID104-1102 verdict %q", verdicts["ID104-1102-Event_log_cleared.evtx"])
	}
	if v := verdicts["new-user-security.evtx"]; v != VerdictExported {
		t.Errorf("new-user-security.evtx verdict %q, want %q (headers renumbered)", v, VerdictExported)
	}
	// Only the cleared log is a finding; the verdict names it.
	logs := byRule(fs, "JEJAK-LOG-02")
	for _, f := range logs {
		if baseOf(f.Key) != "ID104-1102-Event_log_cleared.evtx" || f.Verdict != VerdictCleared {
			t.Errorf("JEJAK-LOG-02 finding on %s (%s): only a gap or clear is a finding", f.Key, f.Verdict)
		}
	}
	if len(logs) != 1 {
		t.Errorf("%d JEJAK-LOG-02 findings, want 1 (the cleared log)", len(logs))
	}
}

func TestFindingsContextCancel(t *testing.T) {
	st := buildCase(t, "logs/loghub/OpenSSH_2k.log")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Hunt(ctx, st, Config{}); err == nil {
		t.Fatal("a cancelled hunt returned no error")
	}
}

// adminGroupAdd: 4728/4732 into a group the test itself calls privileged.
func adminGroupAdd(r xrec) bool {
	return (r.EventID == "4728" || r.EventID == "4732") &&
		slices.Contains([]string{"administrators", "domain admins", "remote desktop users"}, strings.ToLower(r.Data["TargetUserName"]))
}

// TestFileKeyOf: fileKeyOf gives fileKey's key for rows of files met in
// turns (each row of another file than the last), for files that share a
// path and differ in evidence, chain or identity, and past the bound of
// the keys it keeps.
func TestFileKeyOf(t *testing.T) {
	h := &hunter{}
	var provs []timeline.Provenance
	for i := range 6 {
		p := timeline.Provenance{EvidenceSHA256: "e1", Path: fmt.Sprintf("Security-%d.evtx", i%3), Chain: []string{"dir:x"}}
		switch i / 3 {
		case 1:
			p.Chain = []string{"dir:y"}
		}
		provs = append(provs, p)
	}
	provs = append(provs,
		timeline.Provenance{EvidenceSHA256: "e2", Path: "Security-0.evtx", Chain: []string{"dir:x"}},
		timeline.Provenance{EvidenceSHA256: "e1", Path: "Security-0.evtx", Chain: []string{"dir:x"}, Identity: "copy2"},
		timeline.Provenance{EvidenceSHA256: "e1", Path: "Security-0.evtx"},
	)
	// Every provenance after every other, each pair both ways, with
	// another file's between them or not.
	for i, p := range provs {
		for j, q := range provs {
			for _, between := range []bool{false, true} {
				h.fileKeyOf(p)
				if between {
					h.fileKeyOf(timeline.Provenance{Path: "other"})
				}
				if got, want := h.fileKeyOf(q), fileKey(q); got != want {
					t.Fatalf("provenance %d after %d (between: %v): key %q, want %q", j, i, between, got, want)
				}
			}
		}
	}
	for i := range maxKeysByPath + 10 {
		p := timeline.Provenance{EvidenceSHA256: "e1", Path: fmt.Sprint(i)}
		if got, want := h.fileKeyOf(p), fileKey(p); got != want {
			t.Fatalf("path %d: key %q, want %q", i, got, want)
		}
	}
	if len(h.keysByPath) > maxKeysByPath {
		t.Errorf("%d keys kept, bound %d", len(h.keysByPath), maxKeysByPath)
	}
}
