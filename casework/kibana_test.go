package casework_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/jejak-forensics/jejak/casework"
	"github.com/jejak-forensics/jejak/casework/casetest"
	"github.com/jejak-forensics/jejak/casework/hunt"
	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
)

// TestKibanaObjectsWithRules: the case's saved objects with the rules'
// searches pass the whole check (every field in the templates), every
// built-in rule has a search or a reason, and the one built-in Sigma
// detection (JEJAK-AUTH-06) has its search, written as the golden file
// holds.
func TestKibanaObjectsWithRules(t *testing.T) {
	out, skipped, err := casework.KibanaObjects("jejak-case1")
	if err != nil {
		t.Fatal(err)
	}
	if err := elastic.CheckKibanaObjects(out); err != nil {
		t.Fatalf("saved objects fail the check:\n%v", err)
	}
	rules, err := hunt.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	searches, _, err := casework.RuleSearches(rules)
	if err != nil {
		t.Fatal(err)
	}
	sigmaRules := 0
	for _, r := range rules {
		if r.Kind() == "sigma" {
			sigmaRules++
		}
	}
	if len(searches)+len(skipped) != len(rules) || len(searches) != sigmaRules || sigmaRules == 0 {
		t.Fatalf("%d rules: %d searches, %d skipped; want one search per Sigma rule (%d)", len(rules), len(searches), len(skipped), sigmaRules)
	}
	for _, s := range searches {
		if !strings.Contains(string(out), `"id":"jejak-`+s.ID+`-jejak-case1"`) {
			t.Errorf("search %s is not in the saved objects", s.ID)
		}
	}
	i := slices.IndexFunc(searches, func(s elastic.SavedSearch) bool { return s.ID == "rule-jejak-auth-06" })
	if i < 0 {
		t.Fatal("no search for JEJAK-AUTH-06")
	}
	golden := filepath.Join("testdata", "kibana-JEJAK-AUTH-06.kql")
	if os.Getenv("JEJAK_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(searches[i].KQL+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := searches[i].KQL; got != strings.TrimSpace(string(want)) {
		t.Errorf("JEJAK-AUTH-06 as KQL:\n%s\nwant (%s)\n%s", got, golden, want)
	}
}

// TestRuleSearchMatchesTheHunt: the KQL written for JEJAK-AUTH-06, run by
// jejak's own KQL engine (the one 'jejak search' and the tests against
// Elasticsearch hold to Kibana's answers) over the corpus's Windows logs,
// and over recordings of each of its three branches (Remote Connection
// Manager 1149, Local Session Manager 21/25 with the console left out,
// Security 4624 type 10), selects exactly the rows the Sigma rule flags in
// a hunt of that rule alone (no cut-off, nothing to yield to).
func TestRuleSearchMatchesTheHunt(t *testing.T) {
	for _, rel := range []string{
		filepath.Join("logs", "windows"),
		filepath.Join("more", "evtx", "mitre_cc0", "ID1149-RDP_success_logins.evtx"),
		filepath.Join("agpl", "evtx", "RDPAuth_LocalSessionManager.evtx"),
		filepath.Join("agpl", "evtx", "RDPAuth_Security.evtx"),
	} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			ruleSearchMatchesTheHunt(t, parsertest.Corpus(t, rel))
		})
	}
}

func ruleSearchMatchesTheHunt(t *testing.T, evidence string) {
	store, _ := casetest.Build(t, evidence)
	ctx := context.Background()
	rules, err := hunt.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rules, func(r *hunt.Rule) bool { return r.ID == "JEJAK-AUTH-06" })
	findings, err := hunt.Hunt(ctx, store, hunt.Config{Rules: rules[i : i+1]})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range findings {
		for _, e := range f.Events {
			want = append(want, e.ID)
		}
	}
	searches, _, err := casework.RuleSearches(rules[i : i+1])
	if err != nil || len(searches) != 1 {
		t.Fatalf("RuleSearches = %v, %v", searches, err)
	}
	f, err := query.New(searches[0].KQL, query.Options{})
	if err != nil {
		t.Fatalf("the search's KQL does not compile: %v", err)
	}
	var got []string
	if err := store.Query(ctx, f, timeline.Query{}, func(e *timeline.Event) error {
		got = append(got, e.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 {
		t.Fatal("the hunt flags no RDP logon in the corpus's Windows logs: the comparison would prove nothing")
	}
	if !slices.Equal(got, want) {
		t.Errorf("the saved search selects %d rows, the hunt flags %d", len(got), len(want))
	}
	t.Logf("%d rows, the same from the saved search and the Sigma rule", len(got))
}

// TestSigmaKQLRefuses: a detection the translation does not cover is
// refused with the reason, never turned into a query that matches
// something else.
func TestSigmaKQLRefuses(t *testing.T) {
	for _, c := range []struct{ name, rule, want string }{
		{"modifier", "logsource: {product: windows}\ndetection:\n  s: {CommandLine|contains: foo}\n  condition: s\n", "modifiers"},
		{"service", "logsource: {product: windows, service: security}\ndetection:\n  s: {EventID: 4624}\n  condition: s\n", "log source"},
		{"keywords", "logsource: {product: windows}\ndetection:\n  k: [foo, bar]\n  condition: k\n", "keyword"},
		{"linux", "logsource: {product: linux}\ndetection:\n  s: {a: b}\n  condition: s\n", "log source"},
		{"pattern names nothing", "logsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: 1 of x*\n", "names no search"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := sigma.ParseRule([]byte("title: t\n" + c.rule))
			if err != nil {
				t.Fatal(err)
			}
			q, _, err := casework.SigmaKQL(r)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("SigmaKQL = %q, %v; want an error saying %q", q, err, c.want)
			}
		})
	}
}
