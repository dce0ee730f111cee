package hunt

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// examined hunts with the built-in rules and returns every log verdict
// (intact or not) beside the findings.
func examined(t testing.TB, st timeline.Store, cfg Config) ([]LogVerdict, []Finding) {
	t.Helper()
	var lvs []LogVerdict
	cfg.Examined = func(lv LogVerdict) { lvs = append(lvs, lv) }
	fs := hunt(t, st, cfg)
	return lvs, fs
}

// baseOf is the file name at the end of a finding key or file label.
func baseOf(label string) string {
	if i := strings.LastIndex(label, " » "); i >= 0 {
		label = label[i+len(" » "):]
	}
	label, _, _ = strings.Cut(label, " ")
	if i := strings.LastIndex(label, ":"); i >= 0 {
		label = label[i+1:] // "file:NAME"
	}
	return path.Base(strings.ReplaceAll(label, `\`, "/"))
}

// sshAnyRE is the test's own reading of sshd logon lines, independent of
// the syslog parser: a failure ("Failed <method> for [invalid user] U from
// IP", possibly inside "message repeated N times: [ ... ]") or a success
// ("Accepted <method> for U from IP").
var sshAnyRE = regexp.MustCompile(`^(\w{3} +\d+ \d\d:\d\d:\d\d) \S+ sshd\[\d+\]: (?:message repeated (\d+) times: \[ )?(Failed|Accepted) \S+ for (?:invalid user )?.*? from (\d+\.\d+\.\d+\.\d+) port`)

// scanOracle reads an sshd log, its lines placed in the year the store
// gave them, and returns, per source never seen before the
// cut-off that never got in and failed fewer than below times after it,
// its failed attempts; and the sources that must keep their own finding.
func scanOracle(t *testing.T, file string, year int, cut time.Time, below int) (scanners map[string]int, own map[string]bool) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	baseline := map[string]bool{}
	fails, ok := map[string]int{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := sshAnyRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		tm, err := time.Parse("Jan _2 15:04:05", strings.Join(strings.Fields(m[1]), " "))
		if err != nil {
			t.Fatal(err)
		}
		tm = tm.AddDate(year, 0, 0)
		ip := m[4]
		if tm.Before(cut) {
			baseline[ip] = true
			continue
		}
		if baseline[ip] {
			continue
		}
		if m[3] == "Accepted" {
			ok[ip]++
			continue
		}
		n := 1
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		fails[ip] += n
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	scanners, own = map[string]int{}, map[string]bool{}
	for ip, n := range fails {
		if ok[ip] == 0 && n < below {
			scanners[ip] = n
		} else {
			own[ip] = true
		}
	}
	for ip := range ok {
		own[ip] = true
	}
	return scanners, own
}

// yearOf is the year the store gave a file's events (syslog lines carry
// none).
func yearOf(t *testing.T, st timeline.Store, base string) int {
	t.Helper()
	year := 0
	if err := st.Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
		if year == 0 && path.Base(e.Jejak.Provenance.Path) == base {
			year = e.Timestamp.Year()
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if year == 0 {
		t.Fatalf("no event from %s in the store", base)
	}
	return year
}

// TestScanningAggregated: on real sshd logs full of internet scanners, the
// new sources that tried a few passwords and never got in make one low
// finding per host, with the counts a regexp over the raw log gives; the
// sources that got in or kept trying keep their own finding, and the
// brute-force rules still see every attacker.
func TestScanningAggregated(t *testing.T) {
	files := []struct {
		rel, host string
		cut       func(year int) time.Time
	}{
		// loghub's OpenSSH_2k: four hours of LabSZ, a dozen new sources
		// with one to three attempts after 07:30.
		{"logs/loghub/OpenSSH_2k.log", "LabSZ", func(y int) time.Time { return time.Date(y, 12, 10, 7, 30, 0, 0, time.UTC) }},
		// Elastic's example auth.log: 25 days of a cloud server's sshd,
		// whose scanners mostly spend sshd's six tries per connection: those
		// are password guessing (JEJAK-AUTH-01) and keep their findings.
		{"more/linux/auth/elastic_examples_auth.log", "ip-10-77-20-248", func(y int) time.Time { return time.Date(y, 4, 5, 0, 0, 0, 0, time.UTC) }},
	}
	r3 := ruleByID(t, "JEJAK-AUTH-03")
	below, err := r3.intParam("aggregate_below", 0)
	if err != nil || below < 2 {
		t.Fatalf("aggregate_below %d, %v", below, err)
	}
	for _, tc := range files {
		t.Run(path.Base(tc.rel), func(t *testing.T) {
			st := buildCase(t, tc.rel)
			cut := tc.cut(yearOf(t, st, path.Base(tc.rel)))
			scanners, own := scanOracle(t, parsertest.Corpus(t, tc.rel), cut.Year(), cut, below)
			if len(own) < 3 {
				t.Fatalf("oracle found %d sources that got in or kept trying after %s: the test tests little", len(own), cut)
			}
			attempts := 0
			for _, n := range scanners {
				attempts += n
			}
			fs := hunt(t, st, Config{After: cut})
			var agg []Finding
			got := map[string]bool{}
			for _, f := range byRule(fs, "JEJAK-AUTH-03") {
				if strings.HasPrefix(f.Key, "scanning on ") {
					agg = append(agg, f)
					continue
				}
				got[f.Key] = true
				if _, ok := scanners[f.Key]; ok {
					t.Errorf("scanner %s has a finding of its own: %s", f.Key, f.Explanation)
				}
			}
			for ip := range own {
				if !got[ip] {
					t.Errorf("source %s got in or kept trying, but has no finding of its own", ip)
				}
			}
			if len(scanners) == 0 {
				if len(agg) != 0 {
					t.Errorf("no one-off source after the cut-off, yet %s", agg[0].Explanation)
				}
				return
			}
			if len(agg) != 1 {
				t.Fatalf("%d aggregated scanning findings, want 1", len(agg))
			}
			a := agg[0]
			if a.Severity != Low || a.Key != "scanning on "+tc.host {
				t.Errorf("aggregated finding %q severity %s, want low on %s", a.Key, a.Severity, tc.host)
			}
			want := fmt.Sprintf("%s never seen before the cut-off", plural(len(scanners), "source", "sources"))
			if !strings.HasPrefix(a.Explanation, want) {
				t.Errorf("explanation %q, want it to start %q", a.Explanation, want)
			}
			if w := plural(attempts, "failed attempt", "failed attempts") + " in all"; !strings.Contains(a.Explanation, w) {
				t.Errorf("explanation %q lacks %q", a.Explanation, w)
			}
			// The busiest source, with its count, is named first.
			ips := make([]string, 0, len(scanners))
			for ip := range scanners {
				ips = append(ips, ip)
			}
			slices.SortFunc(ips, func(x, y string) int {
				if c := cmp.Compare(scanners[y], scanners[x]); c != 0 {
					return c
				}
				return strings.Compare(x, y)
			})
			if w := fmt.Sprintf("most attempts from %s (%d)", ips[0], scanners[ips[0]]); !strings.Contains(a.Explanation, w) {
				t.Errorf("explanation %q lacks %q", a.Explanation, w)
			}
			if len(a.Events) > maxScanRows {
				t.Errorf("%d rows, cap is %d", len(a.Events), maxScanRows)
			}
			if len(a.Events) < min(len(scanners), maxScanRows) {
				t.Errorf("%d rows for %d sources: every source should have a row up to the cap", len(a.Events), len(scanners))
			}
			if !a.First.Before(a.Last) || a.First.Before(cut) {
				t.Errorf("span %s to %s, cut-off %s", a.First, a.Last, cut)
			}
			t.Logf("%d scanners, %d attempts, %d sources with their own finding; %s", len(scanners), attempts, len(got), a.Explanation)
		})
	}
}

// TestLogFindingOnlyWhenRecordsMissing: benign EVTX files are lines in the
// "Logs examined" list, not JEJAK-LOG-02 findings; a log with a clearing
// record or a gap still gives one, whether or not a cut-off is given.
func TestLogFindingOnlyWhenRecordsMissing(t *testing.T) {
	benign := []string{"logs/windows/security.evtx", "logs/windows/new-user-security.evtx"}
	bad := map[string]string{
		"more/evtx/mitre_cc0/ID104-1102-Event_log_cleared.evtx": "a 1102/104 clearing record",
		"logs/windows/sample_with_a_bad_chunk_magic.evtx":       "record IDs missing inside the file",
	}
	paths := slices.Clone(benign)
	for p := range bad {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	st := buildCase(t, paths...)
	for _, cfg := range []Config{{}, {After: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}} {
		lvs, fs := examined(t, st, cfg)
		if len(lvs) != len(paths) {
			t.Errorf("after %s: %d logs examined, want %d", cfg.After, len(lvs), len(paths))
		}
		findings := map[string]Finding{}
		for _, f := range byRule(fs, "JEJAK-LOG-02") {
			findings[baseOf(f.Key)] = f
		}
		for _, lv := range lvs {
			f, isFinding := findings[baseOf(lv.File)]
			if isFinding != (lv.Finding != "") || (isFinding && f.ID != lv.Finding) {
				t.Errorf("%s: verdict says finding %q, findings have %q", lv.File, lv.Finding, f.ID)
			}
		}
		for _, p := range benign {
			if f, ok := findings[path.Base(p)]; ok {
				t.Errorf("after %s: benign %s is a finding: %s", cfg.After, p, f.Explanation)
			}
		}
		for p, why := range bad {
			f, ok := findings[path.Base(p)]
			if !ok {
				t.Errorf("after %s: %s (%s) gives no finding", cfg.After, p, why)
				continue
			}
			if f.Verdict != VerdictCleared || f.Severity != High {
				t.Errorf("%s: verdict %q severity %s, want %q high", p, f.Verdict, f.Severity, VerdictCleared)
			}
		}
	}
}

// TestMinSeverity: --min-severity drops exactly the findings below it.
func TestMinSeverity(t *testing.T) {
	st := buildCase(t, "more/linux/auth/elastic_examples_auth.log")
	cut := time.Date(yearOf(t, st, "elastic_examples_auth.log"), 4, 5, 0, 0, 0, 0, time.UTC)
	all := hunt(t, st, Config{After: cut})
	some := hunt(t, st, Config{After: cut, MinSeverity: Medium})
	var want []string
	lows := 0
	for _, f := range all {
		if f.Severity >= Medium {
			want = append(want, f.ID)
		} else {
			lows++
		}
	}
	if lows == 0 {
		t.Fatal("no finding below medium: the test tests nothing")
	}
	var got []string
	for _, f := range some {
		got = append(got, f.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("min medium kept %d findings, want the %d at medium or above", len(got), len(want))
	}
}

// TestScanningPerHost: two hosts' sshd logs in one case (loghub's LabSZ
// and Elastic's cloud server) give one aggregated finding per host, each
// with its own host's count as the raw lines give it.
func TestScanningPerHost(t *testing.T) {
	files := map[string]string{ // host → file
		"LabSZ":           "logs/loghub/OpenSSH_2k.log",
		"ip-10-77-20-248": "more/linux/auth/elastic_examples_auth.log",
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f)
	}
	slices.Sort(paths)
	st := buildCase(t, paths...)
	cut := time.Date(yearOf(t, st, "OpenSSH_2k.log"), 12, 10, 7, 30, 0, 0, time.UTC)
	r3 := ruleByID(t, "JEJAK-AUTH-03")
	below, _ := r3.intParam("aggregate_below", 0)
	want := map[string]int{} // host → scanners
	seen := map[string]string{}
	for host, f := range files {
		scanners, own := scanOracle(t, parsertest.Corpus(t, f), yearOf(t, st, path.Base(f)), cut, below)
		for ip := range scanners {
			seen[ip] += host + " "
		}
		for ip := range own {
			seen[ip] += host + " "
		}
		if len(scanners) > 0 {
			want[host] = len(scanners)
		}
	}
	for ip, hosts := range seen {
		if strings.Count(hosts, " ") > 1 {
			t.Fatalf("source %s is in both logs (%s): the per-file oracle does not hold", ip, hosts)
		}
	}
	if len(want) != 2 {
		t.Fatalf("oracle: scanners on %d hosts (%v), want both", len(want), want)
	}
	got := map[string]string{}
	for _, f := range byRule(hunt(t, st, Config{After: cut}), "JEJAK-AUTH-03") {
		if host, ok := strings.CutPrefix(f.Key, "scanning on "); ok {
			got[host] = f.Explanation
		}
	}
	if len(got) != len(want) {
		t.Errorf("aggregated findings on %d hosts, want %d: %v", len(got), len(want), got)
	}
	for host, n := range want {
		if w := plural(n, "source", "sources") + " never seen"; !strings.HasPrefix(got[host], w) {
			t.Errorf("%s: %q, want it to start %q", host, got[host], w)
		}
	}
	t.Logf("scanners per host: %v", want)
}

// scanEvents is a timeline in memory, for the row cap no public log is
// large enough to reach.
type scanEvents []*timeline.Event

func (l scanEvents) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	for _, ev := range l {
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

// TestScanningRowCap: 300 new sources with one failure each (one line
// standing for 3 by "message repeated") are one finding whose rows stop at
// the cap, say so, and are the same rows, with the same ID, every run.
func TestScanningRowCap(t *testing.T) {
	cut := time.Date(2026, 11, 3, 19, 0, 0, 0, time.UTC)
	sshEv := func(n int, at time.Time, ip string, ok bool) *timeline.Event {
		ev := &timeline.Event{Timestamp: at, Event: timeline.EventMeta{Action: "ssh_failed_login", Outcome: "failure"},
			Host: &timeline.Host{Name: "tab01"}, Source: &timeline.Endpoint{IP: ip}, User: &timeline.User{Name: "root"},
			Jejak: timeline.Jejak{ID: fmt.Sprintf("ev%04d", n), Data: map[string]string{}}}
		if ok {
			ev.Event.Action, ev.Event.Outcome = "ssh_login", "success"
		}
		return ev
	}
	evs := scanEvents{sshEv(0, cut.Add(-time.Hour), "10.0.0.1", true)}
	const sources = 300
	for i := 1; i <= sources; i++ {
		// Two sources per second: ties in time, broken by the ID.
		evs = append(evs, sshEv(i, cut.Add(time.Duration(i/2)*time.Second), fmt.Sprintf("198.51.%d.%d", i/250, i%250), false))
	}
	evs[7].Jejak.Data["repeat_count"] = "3"
	busiest := evs[7].Source.IP
	r := ruleByID(t, "JEJAK-AUTH-03")
	run := func() Finding {
		fs, err := Hunt(context.Background(), evs, Config{After: cut, Rules: []*Rule{r}})
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 {
			t.Fatalf("%d findings, want the one aggregated", len(fs))
		}
		return fs[0]
	}
	f := run()
	if len(f.Events) != maxScanRows || f.Severity != Low {
		t.Errorf("%d rows at %s, want %d at low", len(f.Events), f.Severity, maxScanRows)
	}
	for _, w := range []string{
		fmt.Sprintf("%d sources never seen", sources),
		fmt.Sprintf("%d failed attempts in all", sources+2),
		fmt.Sprintf("most attempts from %s (3), ", busiest),
		fmt.Sprintf("rows: %d of %d shown", maxScanRows, sources),
	} {
		if !strings.Contains(f.Explanation, w) {
			t.Errorf("explanation %q lacks %q", f.Explanation, w)
		}
	}
	if f.First != evs[1].Timestamp || f.Last != evs[sources].Timestamp {
		t.Errorf("span %s to %s: want every attempt's, not the rows'", f.First, f.Last)
	}
	for i := 0; i < 5; i++ {
		if g := run(); g.ID != f.ID {
			t.Fatalf("run %d: finding ID %s, first run %s", i, g.ID, f.ID)
		}
	}
}
