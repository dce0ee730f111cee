package hunt

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"gopkg.in/yaml.v3"
)

// SigmaHQ-style rules written here (not fetched), in SigmaHQ's own layout.
var testSigma = map[string]string{
	"user_created.yml": `
title: Local User Creation (test)
id: 0c9d0a62-0000-4000-8000-000000004720
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4720
  condition: selection
level: low
tags: [attack.persistence, attack.t1136.001]`,
	"audit_cleared.yml": `
title: Security Eventlog Cleared (test)
id: 0c9d0a62-0000-4000-8000-000000001102
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 1102
    Provider_Name: Microsoft-Windows-Eventlog
  condition: selection
level: high
tags: [attack.t1070.001]`,
	"rdp_logon.yml": `
title: RDP Logon Type 10 (test)
id: 0c9d0a62-0000-4000-8000-000000004624
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4624
    LogonType: 10
  condition: selection
level: medium`,
	"system_cleared.yml": `
title: Eventlog Cleared (test)
id: 0c9d0a62-0000-4000-8000-000000000104
logsource: {product: windows, service: system}
detection:
  selection:
    EventID: 104
    Provider_Name|endswith: '-Eventlog'
  condition: selection
level: medium`,
	"explicit_creds.yml": `
title: Explicit Credentials by a Person (test)
id: 0c9d0a62-0000-4000-8000-000000004648
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4648
  filter_machine:
    SubjectUserName: '*$'
  condition: selection and not 1 of filter_*
level: low`,
	"sshd_breakin.yml": `
title: SSH Reverse Mapping Break-in Warning (test)
id: 0c9d0a62-0000-4000-8000-00000000055d
logsource: {product: linux, service: sshd}
detection:
  keywords:
    - 'POSSIBLE BREAK-IN ATTEMPT'
    - 'Did not receive identification*from'
  condition: keywords
level: low`,
}

var sigmaFiles = []string{
	"logs/windows/security.evtx",
	"logs/windows/System2.evtx",
	"logs/windows/new-user-security.evtx",
	"more/evtx/mitre_cc0/ID104-1102-Event_log_cleared.evtx",
	"more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx",
	"more/evtx/mitre_cc0/ID4688-4648-4624-Runas_different_user.evtx",
}

func TestSigmaWrittenRules(t *testing.T) {
	dir := t.TempDir()
	for name, body := range testSigma {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rules, problems, err := LoadSigma(dir)
	if err != nil || len(problems) > 0 || len(rules) != len(testSigma) {
		t.Fatalf("loaded %d rules, problems %v, err %v", len(rules), problems, err)
	}
	st := buildCase(t, append(slices.Clone(sigmaFiles), "logs/loghub/OpenSSH_2k.log")...)
	fs := hunt(t, st, Config{Rules: rules})

	oracle := map[string]func(xrec) bool{
		"0c9d0a62-0000-4000-8000-000000004720": func(r xrec) bool { return r.EventID == "4720" && r.Channel == "Security" },
		"0c9d0a62-0000-4000-8000-000000001102": func(r xrec) bool { return r.EventID == "1102" && r.Channel == "Security" },
		"0c9d0a62-0000-4000-8000-000000004624": func(r xrec) bool {
			return r.EventID == "4624" && r.Channel == "Security" && r.Data["LogonType"] == "10"
		},
		"0c9d0a62-0000-4000-8000-000000000104": func(r xrec) bool { return r.EventID == "104" && r.Channel == "System" },
		"0c9d0a62-0000-4000-8000-000000004648": func(r xrec) bool {
			return r.EventID == "4648" && r.Channel == "Security" && !strings.HasSuffix(r.Data["SubjectUserName"], "$")
		},
	}
	fired := 0
	for id, keep := range oracle {
		for _, rel := range sigmaFiles {
			recs, ok := evtxexport(t, parsertest.Corpus(t, rel))
			if !ok {
				t.Fatalf("evtxexport refused %s", rel)
			}
			want := oracleIDs(recs, keep)
			var got []uint64
			for _, f := range byRule(fs, id) {
				if strings.HasPrefix(f.Key, filepath.Base(rel)+" ") {
					got = append(got, findingIDs([]Finding{f})...)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("rule %s on %s: records %v, evtxexport says %v", id, rel, got, want)
			}
			if len(got) > 0 {
				fired++
			}
		}
	}
	if fired < 4 {
		t.Errorf("the written rules fired on %d (rule, file) pairs; the corpus has more", fired)
	}

	// The keyword rule, against the test's own reading of the log.
	f, err := os.Open(parsertest.Corpus(t, "logs/loghub/OpenSSH_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kw := regexp.MustCompile(`(?i)sshd\[\d+\]: .*(POSSIBLE BREAK-IN ATTEMPT|Did not receive identification.*from)`)
	want := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kw.MatchString(sc.Text()) {
			want++
		}
	}
	got := 0
	for _, f := range byRule(fs, "0c9d0a62-0000-4000-8000-00000000055d") {
		got += len(f.Events)
	}
	if want == 0 || got != want {
		t.Errorf("keyword rule matched %d lines, the log has %d", got, want)
	}
}

// TestSigmaHQCorpus runs the SigmaHQ rules in the corpus, with the
// regression sample's oracle (info.yml match_count, the expected event).
func TestSigmaHQCorpus(t *testing.T) {
	dir := parsertest.Corpus(t, "more/sigma/rules")
	rules, problems, err := LoadSigma(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("SigmaHQ rule not loaded: %s: %s", p.Path, p.Reason)
	}
	byID := map[string]*Rule{}
	for _, r := range rules {
		byID[r.ID] = r
	}

	var info struct {
		RuleMetadata []struct {
			ID string `yaml:"id"`
		} `yaml:"rule_metadata"`
		Tests []struct {
			MatchCount int `yaml:"match_count"`
		} `yaml:"regression_tests_info"`
	}
	b, err := os.ReadFile(parsertest.Corpus(t, "more/sigma/regression/win_security_explicit_credential_local_logon.info.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	var expected struct {
		Event struct {
			System struct {
				EventRecordID uint64
			}
		}
	}
	b, err = os.ReadFile(parsertest.Corpus(t, "more/sigma/regression/win_security_explicit_credential_local_logon.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &expected); err != nil {
		t.Fatal(err)
	}
	r := byID[info.RuleMetadata[0].ID]
	if r == nil {
		t.Fatalf("rule %s not loaded", info.RuleMetadata[0].ID)
	}
	st := buildCase(t, "more/sigma/regression/win_security_explicit_credential_local_logon.evtx")
	fs := hunt(t, st, Config{Rules: []*Rule{r}})
	got := findingIDs(fs)
	if len(got) != info.Tests[0].MatchCount || len(got) != 1 || got[0] != expected.Event.System.EventRecordID {
		t.Errorf("regression: matched records %v, want %d match(es) on record %d", got, info.Tests[0].MatchCount, expected.Event.System.EventRecordID)
	}

	// The other SigmaHQ rules on the EVTX corpus, against evtxexport.
	st = buildCase(t, sigmaFiles...)
	fs = hunt(t, st, Config{Rules: rules})
	for _, tc := range []struct {
		id   string
		keep func(xrec) bool
	}{
		{"66b6be3d-55d0-4f47-9855-d69df21740ea", func(r xrec) bool { return r.EventID == "4720" && r.Channel == "Security" }},
		{"d99b79d2-0a6f-4f46-ad8b-260b6e17f982", func(r xrec) bool { return r.EventID == "1102" && r.Channel == "Security" }},
	} {
		if byID[tc.id] == nil {
			t.Fatalf("rule %s not loaded", tc.id)
		}
		total := 0
		for _, rel := range sigmaFiles {
			recs, _ := evtxexport(t, parsertest.Corpus(t, rel))
			want := oracleIDs(recs, tc.keep)
			var got []uint64
			for _, f := range byRule(fs, tc.id) {
				if strings.HasPrefix(f.Key, filepath.Base(rel)+" ") {
					got = append(got, findingIDs([]Finding{f})...)
					if f.Technique == "" {
						t.Errorf("%s: no ATT&CK technique from the rule's tags", tc.id)
					}
				}
			}
			total += len(got)
			if !slices.Equal(got, want) {
				t.Errorf("SigmaHQ %s on %s: records %v, evtxexport says %v", byID[tc.id].Title, rel, got, want)
			}
		}
		if total == 0 {
			t.Errorf("SigmaHQ %s fired nowhere", tc.id)
		}
	}
}
