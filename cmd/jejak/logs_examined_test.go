package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/internal/oracle"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

var evtxRecordIDRE = regexp.MustCompile(`<EventRecordID>(\d+)</EventRecordID>`)

// logBase is the file name at the end of a label "evidence » dir:NAME".
func logBase(label string) string {
	if i := strings.LastIndex(label, " » "); i >= 0 {
		label = label[i+len(" » "):]
	}
	if i := strings.LastIndex(label, ":"); i >= 0 {
		label = label[i+1:]
	}
	return filepath.Base(label)
}

// TestLogsExaminedAndMinSeverity: a hunt over benign and cleared EVTX
// files makes a JEJAK-LOG-02 finding of the cleared one only; the report
// lists every log in its "Logs examined" table with the record count and
// first/last record ID evtxexport gives; --min-severity keeps exactly the
// findings at or above it, in hunt and in report.
func TestLogsExaminedAndMinSeverity(t *testing.T) {
	files := map[string]bool{ // name → a gap or clear (a finding)
		"logs/windows/security.evtx":                            false,
		"logs/windows/new-user-security.evtx":                   false,
		"more/evtx/mitre_cc0/ID104-1102-Event_log_cleared.evtx": true,
	}
	root := t.TempDir()
	ev := filepath.Join(root, "evtx")
	if err := os.MkdirAll(ev, 0o755); err != nil {
		t.Fatal(err)
	}
	type want struct {
		records        int
		first, last    uint64
		finding        bool
		name, rowStart string
	}
	wants := map[string]*want{}
	for f, bad := range files {
		src := parsertest.Corpus(t, f)
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ev, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		recs, ok, stderr := oracle.EvtxExport(t, src)
		if !ok {
			t.Fatalf("evtxexport %s: %s", f, stderr)
		}
		w := &want{records: len(recs), finding: bad, name: filepath.Base(f)}
		for i, r := range recs {
			m := evtxRecordIDRE.FindSubmatch(r)
			if m == nil {
				t.Fatalf("%s: evtxexport record %d has no EventRecordID", f, i)
			}
			id, _ := strconv.ParseUint(string(m[1]), 10, 64)
			if i == 0 || id < w.first {
				w.first = id
			}
			w.last = max(w.last, id)
		}
		wants[w.name] = w
	}
	cs := filepath.Join(root, "case")
	if _, errs, code := jejak(t, "analyze", ev, "--out", cs, "--examiner", "t", "-q"); code != exitOK && code != exitWarnings {
		t.Fatalf("analyze: exit %d\n%s", code, errs)
	}

	var all struct {
		Findings []hunt.Finding    `json:"findings"`
		Logs     []hunt.LogVerdict `json:"logs_examined"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, "hunt", cs, "--after", "1970-01-01", "--json", "-q")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all.Logs) != len(files) {
		t.Fatalf("%d logs examined, want %d", len(all.Logs), len(files))
	}
	for _, f := range all.Findings {
		if f.RuleID != "JEJAK-LOG-02" {
			continue
		}
		name := logBase(f.Key)
		if w := wants[name]; w == nil || !w.finding {
			t.Errorf("JEJAK-LOG-02 finding on %s (%s): only a gap or clear is a finding", f.Key, f.Verdict)
		}
	}
	for _, lv := range all.Logs {
		name := logBase(lv.File)
		w := wants[name]
		if w == nil {
			t.Errorf("log %q examined: not one of the files", lv.File)
			continue
		}
		if lv.Records != w.records || lv.FirstID != w.first || lv.LastID != w.last {
			t.Errorf("%s: %d records, IDs %d-%d; evtxexport: %d, %d-%d", name, lv.Records, lv.FirstID, lv.LastID, w.records, w.first, w.last)
		}
		if (lv.Finding != "") != w.finding {
			t.Errorf("%s: verdict %q, finding %q; want a finding: %v", name, lv.Verdict, lv.Finding, w.finding)
		}
		w.rowStart = "| " + lv.Log
		if lv.Host != "" {
			w.rowStart += " of " + lv.Host
		}
	}

	// The report lists every log, intact ones included.
	out := filepath.Join(root, "report.md")
	mustRun(t, exitOK, "report", cs, "-o", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(b)
	if !strings.Contains(report, "Logs examined:") {
		t.Fatal("the report has no Logs examined table")
	}
	for name, w := range wants {
		var row string
		for _, l := range strings.Split(report, "\n") {
			l = strings.ReplaceAll(l, `\_`, "_") // Markdown escapes
			if strings.HasPrefix(l, w.rowStart) && strings.Contains(l, name) {
				row = l
			}
		}
		if row == "" {
			t.Errorf("no Logs examined row for %s", name)
			continue
		}
		cells := strings.Split(row, " | ")
		if len(cells) < 9 || cells[2] != strconv.Itoa(w.records) || cells[3] != strconv.FormatUint(w.first, 10) || cells[4] != strconv.FormatUint(w.last, 10) {
			t.Errorf("%s row %q: want %d records, IDs %d-%d", name, row, w.records, w.first, w.last)
		}
		if intact := strings.HasSuffix(row, "| no (intact) |"); intact == w.finding {
			t.Errorf("%s row %q: finding %v", name, row, w.finding)
		}
	}

	// --min-severity keeps exactly the findings at or above it: in the
	// report of the full hunt, then in a hunt.
	var wantIDs []string
	below := 0
	for _, f := range all.Findings {
		if f.Severity >= hunt.Critical {
			wantIDs = append(wantIDs, f.ID)
		} else {
			below++
		}
	}
	if below == 0 || len(wantIDs) == 0 {
		t.Fatalf("%d findings below critical, %d critical: the test tests nothing", below, len(wantIDs))
	}
	out2 := filepath.Join(root, "report-critical.md")
	mustRun(t, exitOK, "report", cs, "--min-severity", "critical", "-o", out2)
	b, err = os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| Minimum severity | critical") || strings.Count(string(b), "\n### 6.") != len(wantIDs) {
		t.Errorf("report --min-severity critical: want %d findings and the minimum stated", len(wantIDs))
	}
	// The appendix quotes only the rules of the findings shown.
	critRules := map[string]bool{}
	for _, f := range all.Findings {
		if f.Severity >= hunt.Critical {
			critRules[f.RuleID] = true
		}
	}
	for _, f := range all.Findings {
		if !critRules[f.RuleID] && strings.Contains(string(b), "\n### "+f.RuleID+"\n") {
			t.Errorf("report --min-severity critical quotes rule %s, which has no critical finding", f.RuleID)
		}
	}
	var crit struct {
		Findings []hunt.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, exitOK, "hunt", cs, "--after", "1970-01-01", "--min-severity", "critical", "--json", "-q")), &crit); err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, f := range crit.Findings {
		gotIDs = append(gotIDs, f.ID)
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("--min-severity critical kept %d findings, want the %d critical", len(gotIDs), len(wantIDs))
	}
	if _, _, code := jejak(t, "hunt", cs, "--after", "1970-01-01", "--min-severity", "severe", "-q"); code != exitUsage {
		t.Errorf("--min-severity severe: exit %d, want %d", code, exitUsage)
	}
}
