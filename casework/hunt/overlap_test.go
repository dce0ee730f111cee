package hunt

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// One attack, one finding: the overlapping built-in rules, run together as
// a hunt runs them, give the finding of the rule that describes the
// activity best, and the rule that yields to it nothing on the same rows.
// Each case is also run with the yields_to lines removed, so the test
// shows the overlap it removes (and would fail if the events did not raise
// both rules).
//
// No public recording of a spray, a Kerberos spray or an SQL Server
// guessing run is in the corpus (winauth_test.go says so); the events are
// laid out as the EVTX parser lays them out: the event data of Microsoft's
// schema, and the ECS fields its normaliser sets from it (normalize.go:
// 4625 and 18456 are event.action logon-failed with source.ip from
// IpAddress or "[CLIENT: …]", 4624 logged-in).

// ecsEv adds the normaliser's ECS fields to a Security or SQL Server event.
func ecsEv(ev *timeline.Event, action, outcome, user, ip string) *timeline.Event {
	ev.Event.Action, ev.Event.Outcome = action, outcome
	if user != "" {
		ev.User = &timeline.User{Name: user}
	}
	if ip != "" {
		ev.Source = &timeline.Endpoint{IP: ip}
	}
	return ev
}

// huntBuiltin runs every built-in rule, or with yields=false the same rules
// with their yields_to lines removed.
func huntBuiltin(t *testing.T, evs eventList, yields bool) map[string][]Finding {
	t.Helper()
	b, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if !yields {
		for i, r := range b {
			c := *r
			c.YieldsTo = nil
			b[i] = &c
		}
	}
	fs, err := Hunt(context.Background(), evs, Config{Rules: b})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]Finding{}
	for _, f := range fs {
		out[f.RuleID] = append(out[f.RuleID], f)
	}
	return out
}

func counts(by map[string][]Finding, ids ...string) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, fmt.Sprintf("%s=%d", id, len(by[id])))
	}
	return strings.Join(parts, " ")
}

// spray8 is an NTLM spray from 10.9.9.9 (workstation KALI): 8 accounts,
// one try each (a 4776 and a 4625), then a logon as one of them.
func spray8(success bool) eventList {
	var evs eventList
	n := 0
	for i := 0; i < 8; i++ {
		u := fmt.Sprintf("clerk%02d", i)
		n++
		evs = append(evs, winEv(n, time.Duration(n)*time.Second, securityAuditing, 4776,
			map[string]string{"TargetUserName": u, "Workstation": "KALI", "Status": "0xc000006a"}))
		n++
		evs = append(evs, ecsEv(winEv(n, time.Duration(n)*time.Second, securityAuditing, 4625,
			map[string]string{"TargetUserName": u, "IpAddress": "10.9.9.9", "WorkstationName": "KALI", "LogonType": "3", "Status": "0xc000006d", "SubStatus": "0xc000006a"}),
			"logon-failed", "failure", u, "10.9.9.9"))
	}
	if success {
		n++
		evs = append(evs, ecsEv(winEv(n, time.Duration(n)*time.Second, securityAuditing, 4624,
			map[string]string{"TargetUserName": "clerk03", "IpAddress": "10.9.9.9", "LogonType": "3", "AuthenticationPackageName": "NTLM"}),
			"logged-in", "success", "clerk03", "10.9.9.9"))
	}
	return evs
}

func TestOverlapSprayIsOneFinding(t *testing.T) {
	rules := []string{"JEJAK-AUTH-01", "JEJAK-AUTH-02", "JEJAK-AUTH-07"}
	for _, c := range []struct {
		name    string
		success bool
		generic string // the rule that fired beside the spray before
		sev     Severity
	}{
		{"spray", false, "JEJAK-AUTH-01", Medium},
		{"spray then success", true, "JEJAK-AUTH-02", High},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := huntBuiltin(t, spray8(c.success), false)
			if len(before[c.generic]) != 1 || len(before["JEJAK-AUTH-07"]) != 1 {
				t.Fatalf("without yields_to the events must raise %s and JEJAK-AUTH-07: %s", c.generic, counts(before, rules...))
			}
			after := huntBuiltin(t, spray8(c.success), true)
			t.Logf("findings before %s, after %s", counts(before, rules...), counts(after, rules...))
			if len(after["JEJAK-AUTH-01"])+len(after["JEJAK-AUTH-02"]) != 0 {
				t.Errorf("password guessing fired on the spray's rows: %+v %+v", after["JEJAK-AUTH-01"], after["JEJAK-AUTH-02"])
			}
			sp := after["JEJAK-AUTH-07"]
			if len(sp) != 1 || sp[0].Severity != c.sev {
				t.Fatalf("want one JEJAK-AUTH-07 finding, %s: %+v", c.sev, sp)
			}
			// The finding alone tells why the others are silent.
			if w := "JEJAK-AUTH-01, JEJAK-AUTH-02, JEJAK-AUTH-08 do not count these rows"; !strings.Contains(sp[0].Explanation, w) {
				t.Errorf("explanation lacks %q: %s", w, sp[0].Explanation)
			}
		})
	}
}

// Rows the spray did not claim still count for password guessing: SSH
// failures from the spraying address are AUTH-01's, and its finding says
// which rows it left to the spray.
func TestOverlapLeftRowsStillCount(t *testing.T) {
	evs := spray8(false)
	for i := 0; i < 6; i++ {
		evs = append(evs, ecsEv(&timeline.Event{
			Timestamp: t0.Add(time.Minute + time.Duration(i)*time.Second),
			Jejak:     timeline.Jejak{ID: fmt.Sprintf("ssh%02d", i)},
		}, "ssh_failed_login", "failure", "root", "10.9.9.9"))
	}
	after := huntBuiltin(t, evs, true)
	bf := after["JEJAK-AUTH-01"]
	if len(bf) != 1 {
		t.Fatalf("want one JEJAK-AUTH-01 finding on the SSH failures, got %d: %+v", len(bf), bf)
	}
	f := bf[0]
	if len(f.Events) != 6 {
		t.Errorf("%d rows, want the 6 SSH failures", len(f.Events))
	}
	for _, e := range f.Events {
		if !strings.HasPrefix(e.ID, "ssh") {
			t.Errorf("row %s is the spray's", e.ID)
		}
	}
	for _, w := range []string{"6 failed SSH logons", "8 rows in JEJAK-AUTH-07's finding"} {
		if !strings.Contains(f.Explanation, w) {
			t.Errorf("explanation lacks %q: %s", w, f.Explanation)
		}
	}
	if n := len(after["JEJAK-AUTH-07"]); n != 1 {
		t.Errorf("%d spray findings, want 1", n)
	}
}

// A Kerberos spray (4771 wrong password for many accounts from one
// address) is a spray; the per-account burst from several sources, which
// no spray holds, stays a Kerberos burst.
func TestOverlapKerberosSpray(t *testing.T) {
	var evs eventList
	n := 0
	add := func(user, ip string) {
		n++
		evs = append(evs, winEv(n, time.Duration(n)*10*time.Second, securityAuditing, 4771,
			map[string]string{"TargetUserName": user, "IpAddress": "::ffff:" + ip, "Status": "0x18", "ServiceName": "krbtgt"}))
	}
	for i := 0; i < 8; i++ {
		add(fmt.Sprintf("clerk%02d", i), "10.1.1.5")
	}
	for _, ip := range []string{"10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.1", "10.2.0.2"} {
		add("treasurer", ip)
	}
	rules := []string{"JEJAK-AUTH-07", "JEJAK-AUTH-08"}
	before := huntBuiltin(t, evs, false)
	after := huntBuiltin(t, evs, true)
	t.Logf("findings before %s, after %s", counts(before, rules...), counts(after, rules...))
	if len(before["JEJAK-AUTH-07"]) != 1 || len(before["JEJAK-AUTH-08"]) != 2 {
		t.Fatalf("without yields_to: want the spray and 2 Kerberos bursts: %s", counts(before, rules...))
	}
	if sp := after["JEJAK-AUTH-07"]; len(sp) != 1 || sp[0].Key != "10.1.1.5" || len(sp[0].Events) != 8 {
		t.Errorf("spray: %+v", sp)
	}
	kb := after["JEJAK-AUTH-08"]
	if len(kb) != 1 || kb[0].Key != "account treasurer" || len(kb[0].Events) != 5 {
		t.Errorf("want only the treasurer's burst from 3 sources: %+v", kb)
	}
}

// SQL Server guessing is JEJAK-AUTH-11's (18456 is also a logon-failed
// event with a source address, which JEJAK-AUTH-01 counts).
func TestOverlapMSSQL(t *testing.T) {
	var evs eventList
	for i := 0; i < 8; i++ {
		evs = append(evs, ecsEv(winEv(i+1, time.Duration(i)*2*time.Second, "MSSQL$SQLEXPRESS", 18456,
			map[string]string{"Data1": "sa", "Data2": "Reason: Password did not match that for the login provided.", "Data3": " [CLIENT: 203.0.113.7]"}),
			"logon-failed", "failure", "sa", "203.0.113.7"))
	}
	rules := []string{"JEJAK-AUTH-01", "JEJAK-AUTH-11"}
	before := huntBuiltin(t, evs, false)
	after := huntBuiltin(t, evs, true)
	t.Logf("findings before %s, after %s", counts(before, rules...), counts(after, rules...))
	if len(before["JEJAK-AUTH-01"]) != 1 || len(before["JEJAK-AUTH-11"]) != 1 {
		t.Fatalf("without yields_to: want both: %s", counts(before, rules...))
	}
	if len(after["JEJAK-AUTH-01"]) != 0 || len(after["JEJAK-AUTH-11"]) != 1 {
		t.Errorf("want only JEJAK-AUTH-11: %s", counts(after, rules...))
	}
}

// yields_to is checked as written: an analyzer that cannot leave rows to
// another rule refuses it, a rule cannot yield to itself, and rules that
// yield to each other are an error, not an arbitrary order.
func TestYieldsToChecked(t *testing.T) {
	for _, c := range []struct{ name, yml, want string }{
		{"analyzer that cannot yield", "id: X-1\ntitle: t\nseverity: low\ndescription: d\nanalyzer: first-seen\nyields_to: [JEJAK-AUTH-07]\n", "cannot yield"},
		{"itself", "id: X-1\ntitle: t\nseverity: low\ndescription: d\nanalyzer: brute-force\nyields_to: [X-1]\n", "yields to another rule"},
	} {
		if _, err := parseOwnRule([]byte(c.yml), "test:"+c.name); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	sig := func(id, other string) *Rule {
		r, err := parseOwnRule([]byte("id: "+id+"\ntitle: t\ndescription: d\nseverity: low\nyields_to: ["+other+"]\n"+
			"logsource:\n  product: windows\ndetection:\n  sel:\n    EventID: 4625\n  condition: sel\n"), "test:"+id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	_, err := Hunt(context.Background(), spray8(false), Config{Rules: []*Rule{sig("A-1", "B-1"), sig("B-1", "A-1")}})
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("rules yielding to each other: error %v", err)
	}
	// One way is fine: B-1 takes the rows, A-1 (the same detection) none.
	fs, err := Hunt(context.Background(), spray8(false), Config{Rules: []*Rule{sig("A-1", "B-1"), sig("B-1", "")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].RuleID != "B-1" || len(fs[0].Events) != 8 {
		t.Errorf("want only B-1's finding of 8 rows: %+v", fs)
	}
}

// One program guessing two local accounts is one activity: EVTX-to-MITRE's
// AccountRestore recording (CC0) has 16 failed logons (4625, no remote
// address, ProcessName AccountRestore.exe) for Admin and Administrator,
// which were two findings, one per account. evtxexport selects the 4625s.
func TestBruteForceLocalToolOneFinding(t *testing.T) {
	const rel = "more/evtx/mitre_cc0/ID4776-4625-AccountRestore_local_bruteforce.evtx"
	recs, ok := evtxexport(t, parsertest.Corpus(t, rel))
	if !ok {
		t.Fatalf("evtxexport refused %s", rel)
	}
	want := oracleIDs(recs, eventIDIn("4625"))
	if len(want) != 16 {
		t.Fatalf("evtxexport shows %d 4625 records, want the 16 of MANIFEST's description", len(want))
	}
	fs := byRule(hunt(t, buildCase(t, rel), Config{}), "JEJAK-AUTH-01")
	if len(fs) != 1 {
		t.Fatalf("%d JEJAK-AUTH-01 findings, want 1: %+v", len(fs), fs)
	}
	if got := findingIDs(fs); !slices.Equal(got, want) {
		t.Errorf("records %v, evtxexport's 4625s %v", got, want)
	}
	for _, w := range []string{"16 failed Windows logons", "2 accounts (Admin, Administrator)", `AccountRestore.exe on WIN`} {
		if !strings.Contains(fs[0].Explanation, w) {
			t.Errorf("explanation lacks %q: %s", w, fs[0].Explanation)
		}
	}
}

// JEJAK-AUTH-06 keeps the RDP logons no session chain holds, and the
// console is none: a LocalSessionManager 21 with address LOCAL raises
// nothing, one from a client address is JEJAK-RDP-01's session only, and a
// type 10 logon without an address (which begins no chain) stays AUTH-06's.
func TestRDPLogonYieldsToSession(t *testing.T) {
	const lsm = "Microsoft-Windows-TerminalServices-LocalSessionManager"
	ev := func(n int, prov, channel string, id int, data map[string]string) *timeline.Event {
		e := winEv(n, time.Duration(n)*time.Minute, prov, id, data)
		e.Winlog.Channel = channel
		return e
	}
	evs := eventList{
		ev(1, lsm, lsm+"/Operational", 21, map[string]string{"User": `COUNTY\clerk`, "SessionID": "1", "Address": "LOCAL"}),
		ev(2, lsm, lsm+"/Operational", 21, map[string]string{"User": `COUNTY\admin`, "SessionID": "2", "Address": "10.0.0.5"}),
		ev(3, securityAuditing, "Security", 4624, map[string]string{"TargetUserName": "backup", "TargetDomainName": "COUNTY", "LogonType": "10", "IpAddress": "-"}),
	}
	by := huntBuiltin(t, evs, true)
	if s := by["JEJAK-RDP-01"]; len(s) != 1 || len(s[0].Events) != 1 || s[0].Events[0].ID != "ev0002" {
		t.Errorf("want one session of row ev0002: %+v", s)
	} else if !strings.Contains(s[0].Explanation, "JEJAK-AUTH-06 does not count these rows") {
		t.Errorf("the session does not say AUTH-06 yields to it: %s", s[0].Explanation)
	}
	a := by["JEJAK-AUTH-06"]
	if len(a) != 1 || len(a[0].Events) != 1 || a[0].Events[0].ID != "ev0003" {
		t.Fatalf("want AUTH-06 on the address-less type 10 logon only: %+v", a)
	}
	// The three rows share one (empty) provenance, one file: the finding
	// says it left the session's row to JEJAK-RDP-01.
	if !strings.Contains(a[0].Explanation, "1 row in JEJAK-RDP-01's finding") {
		t.Errorf("explanation does not say what it left: %s", a[0].Explanation)
	}
	// Without yields_to the session's row is flagged twice.
	before := huntBuiltin(t, evs, false)
	n := 0
	for _, f := range before["JEJAK-AUTH-06"] {
		for _, e := range f.Events {
			if e.ID == "ev0002" {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("without yields_to AUTH-06 should hold ev0002 too: %+v", before["JEJAK-AUTH-06"])
	}
}
