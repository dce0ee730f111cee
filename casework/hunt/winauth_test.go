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

// The Windows authentication analyzers on real recordings: each attack file
// must give the finding on exactly the records evtxexport (libevtx, an
// independent reader) shows to meet the rule's stated conditions, and
// ordinary logons must give none.

var winAuthRules = []string{"JEJAK-AUTH-07", "JEJAK-AUTH-08", "JEJAK-AUTH-09", "JEJAK-AUTH-10", "JEJAK-AUTH-11"}

func trimmed(r xrec, k string) string { return strings.TrimSpace(r.Data[k]) }

func TestWinAuthRealRecordings(t *testing.T) {
	// Pass-the-hash, NewCredentials: Mimikatz sekurlsa::pth (CC0).
	isType9Seclogo := func(r xrec) bool {
		return r.EventID == "4624" && trimmed(r, "LogonType") == "9" && strings.EqualFold(trimmed(r, "LogonProcessName"), "seclogo")
	}
	// NTLM network logon with no session key (the Kerberoasting recording's
	// attacker connected over NTLM as a user never logged on there).
	isNTLMNoKey := func(r xrec) bool {
		return r.EventID == "4624" && trimmed(r, "LogonType") == "3" && trimmed(r, "AuthenticationPackageName") == "NTLM" &&
			trimmed(r, "KeyLength") == "0" && !strings.HasSuffix(trimmed(r, "TargetUserName"), "$")
	}
	// 4648 by a user (not the machine account) for another account.
	isUserExplicit := func(r xrec) bool {
		s, tg := trimmed(r, "SubjectUserName"), trimmed(r, "TargetUserName")
		return r.EventID == "4648" && s != "" && !strings.HasSuffix(s, "$") && !strings.EqualFold(s, tg)
	}
	cases := []struct {
		file string
		rule string
		keep func(xrec) bool
		want []uint64 // EventRecordID of the records (python evtx shows the same); evtxexport must agree
		sev  Severity
		says []string // words the explanation must contain
	}{
		{"more/evtx/mitre_cc0/ID4624-Mimikatz_pass_the_hash.evtx", "JEJAK-AUTH-09", isType9Seclogo, []uint64{67101}, High,
			[]string{"logon type 9", "seclogo", "admmig", "sekurlsa::pth"}},
		{"agpl/evtx/EID4769_Kerberoasting.evtx", "JEJAK-AUTH-09", isNTLMNoKey, []uint64{243457}, High,
			[]string{"NTLM", "no interactive logon of matt", "KeyLength 0", "192.168.63.1"}},
		{"more/evtx/mitre_cc0/ID4688-4648-4624-Runas_different_user.evtx", "JEJAK-AUTH-10", isUserExplicit, []uint64{469347}, Medium,
			[]string{"admmig → hack1", "localhost", "svchost.exe"}},
		{"more/sigma/regression/win_security_explicit_credential_local_logon.evtx", "JEJAK-AUTH-10", isUserExplicit, []uint64{34382}, Medium,
			[]string{"xodih → testuser", "LegacyHive.exe"}},
	}
	for _, c := range cases {
		t.Run(c.rule+"/"+c.file[strings.LastIndexByte(c.file, '/')+1:], func(t *testing.T) {
			st := buildCase(t, c.file)
			fs := byRule(hunt(t, st, Config{}), c.rule)
			if len(fs) != 1 {
				t.Fatalf("want 1 %s finding, got %d: %+v", c.rule, len(fs), fs)
			}
			f := fs[0]
			if got := findingIDs(fs); !slices.Equal(got, c.want) {
				t.Errorf("records %v, want %v", got, c.want)
			}
			if recs, ok := evtxexport(t, parsertest.Corpus(t, c.file)); ok {
				if o := oracleIDs(recs, c.keep); !slices.Equal(o, c.want) {
					t.Errorf("evtxexport shows records %v meeting the rule, want %v", o, c.want)
				}
			}
			if f.Severity != c.sev {
				t.Errorf("severity %s, want %s", f.Severity, c.sev)
			}
			if f.Technique == "" {
				t.Error("no ATT&CK technique")
			}
			for _, w := range c.says {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation lacks %q: %s", w, f.Explanation)
				}
			}
		})
	}
}

// Ordinary activity and brute force must raise none of the Windows
// authentication findings; each file carries the look-alike an analyzer
// must not take for an attack (stated per file, and checked with
// evtxexport so the test cannot pass on a file that lacks it).
func TestWinAuthBenign(t *testing.T) {
	cases := []struct {
		file  string
		rules []string
		// lookalike: records the file must hold for the case to mean
		// something.
		lookalike func(xrec) bool
		why       string
	}{
		{"logs/windows/security.evtx", winAuthRules, func(r xrec) bool {
			return r.EventID == "4648" && strings.HasSuffix(trimmed(r, "SubjectUserName"), "$")
		}, "45 4648 by winlogon/consent as the machine account; NTLM type 3 only as ANONYMOUS LOGON"},
		{"agpl/evtx/RDPAuth_Security.evtx", winAuthRules, func(r xrec) bool {
			return r.EventID == "4624" && trimmed(r, "LogonType") == "3" && trimmed(r, "AuthenticationPackageName") == "NTLM" && trimmed(r, "TargetUserName") == "vagrant"
		}, "an NTLM network logon of vagrant after vagrant's interactive logon on the DC (NLA before RDP); 4768 successes"},
		{"more/evtx/mitre_cc0/ID4776-4625-AccountRestore_local_bruteforce.evtx", []string{"JEJAK-AUTH-07"}, func(r xrec) bool {
			return r.EventID == "4625"
		}, "16 failed logons on 2 accounts: brute force, not a spray"},
		{"more/evtx/mitre_cc0/ID4625-OpenSSH_bruteforce_nonexisting_users.evtx", []string{"JEJAK-AUTH-07", "JEJAK-AUTH-10"}, func(r xrec) bool {
			return r.EventID == "4776" && trimmed(r, "Status") != "0x00000000"
		}, "one account tried again and again (4776 + 4625 each); 4648 by sshd as the machine account"},
		{"more/evtx/mitre_cc0/ID4720-Local_user_created.evtx", winAuthRules, nil, "a new user: no logon pattern"},
	}
	for _, c := range cases {
		t.Run(c.file[strings.LastIndexByte(c.file, '/')+1:], func(t *testing.T) {
			if c.lookalike != nil {
				if recs, ok := evtxexport(t, parsertest.Corpus(t, c.file)); ok && len(oracleIDs(recs, c.lookalike)) == 0 {
					t.Fatalf("the file lacks the look-alike records (%s)", c.why)
				}
			}
			st := buildCase(t, c.file)
			fs := hunt(t, st, Config{})
			for _, id := range c.rules {
				for _, f := range byRule(fs, id) {
					t.Errorf("%s on %s (%s): %s", id, c.file, c.why, f.Explanation)
				}
			}
		})
	}
}

// ---- constructed events ----
//
// No public recording of a Kerberos or SQL Server guessing run, or of a
// spray against many accounts, is in the corpus; these cases feed the
// analyzers events laid out as the EVTX parser lays them out (the event
// data names of Microsoft's schema for 4625/4771/4768/4776 and the
// unnamed insertion strings Data1..3 of MSSQL 18456) and check the
// thresholds stated in the rules, either side of them.

type eventList []*timeline.Event

func (l eventList) Search(ctx context.Context, q timeline.Query, fn func(*timeline.Event) error) error {
	for _, ev := range l {
		if !q.To.IsZero() && !ev.Timestamp.Before(q.To) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
	return nil
}

var t0 = time.Date(2026, 11, 3, 22, 0, 0, 0, time.UTC)

func winEv(n int, at time.Duration, provider string, id int, data map[string]string) *timeline.Event {
	return &timeline.Event{
		Timestamp: t0.Add(at),
		Event:     timeline.EventMeta{Code: fmt.Sprint(id)},
		Host:      &timeline.Host{Name: "DC01.county.local"},
		Winlog:    &timeline.Winlog{EventID: id, RecordID: uint64(n), ProviderName: provider, EventData: data},
		Jejak:     timeline.Jejak{ID: fmt.Sprintf("ev%04d", n)},
	}
}

func runRule(t *testing.T, id string, evs eventList, params map[string]string) []Finding {
	t.Helper()
	r := *ruleByID(t, id)
	if params != nil {
		r.Parameters = params
	}
	fs, err := Hunt(context.Background(), evs, Config{Rules: []*Rule{&r}})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestPasswordSprayThresholds(t *testing.T) {
	spray := func(accounts, tries int, success bool) eventList {
		var evs eventList
		n := 0
		for i := 0; i < accounts; i++ {
			for j := 0; j < tries; j++ {
				n++
				u := fmt.Sprintf("clerk%02d", i)
				// One NTLM try is a 4776 on the DC and a 4625: counted once.
				evs = append(evs, winEv(n, time.Duration(n)*time.Second, securityAuditing, 4776,
					map[string]string{"TargetUserName": u, "Workstation": "KALI", "Status": "0xc000006a"}))
				n++
				evs = append(evs, winEv(n, time.Duration(n)*time.Second, securityAuditing, 4625,
					map[string]string{"TargetUserName": u, "IpAddress": "10.9.9.9", "WorkstationName": "KALI", "LogonType": "3", "Status": "0xc000006d", "SubStatus": "0xc000006a"}))
			}
		}
		if success {
			n++
			evs = append(evs, winEv(n, time.Duration(n)*time.Second, securityAuditing, 4624,
				map[string]string{"TargetUserName": "clerk03", "IpAddress": "10.9.9.9", "LogonType": "3", "AuthenticationPackageName": "NTLM"}))
		}
		return evs
	}
	cases := []struct {
		name            string
		accounts, tries int
		success         bool
		want            int
		sev             Severity
		records         int
	}{
		{"5 accounts once each", 5, 1, false, 1, Medium, 10},
		{"4 accounts: under the threshold", 4, 1, false, 0, 0, 0},
		{"8 accounts 3 tries each", 8, 3, false, 1, Medium, 48},
		{"8 accounts 4 tries each: brute force", 8, 4, false, 0, 0, 0},
		{"spray then success", 6, 1, true, 1, High, 13},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := runRule(t, "JEJAK-AUTH-07", spray(c.accounts, c.tries, c.success), nil)
			if len(fs) != c.want {
				t.Fatalf("%d findings, want %d: %+v", len(fs), c.want, fs)
			}
			if c.want == 0 {
				return
			}
			f := fs[0]
			if f.Severity != c.sev || len(f.Events) != c.records || f.Key != "workstation KALI" {
				t.Errorf("severity %s, %d records, key %q; want %s, %d, workstation KALI", f.Severity, len(f.Events), f.Key, c.sev, c.records)
			}
			for _, w := range []string{"client addresses 10.9.9.9", fmt.Sprintf("%d distinct accounts", c.accounts), "threshold: 5 accounts", fmt.Sprintf("at most %d per account", c.tries)} {
				if !strings.Contains(f.Explanation, w) {
					t.Errorf("explanation lacks %q: %s", w, f.Explanation)
				}
			}
			if c.success && !strings.Contains(f.Explanation, "successful logon from the same source as clerk03") {
				t.Errorf("explanation lacks the success: %s", f.Explanation)
			}
		})
	}
	// Spread out beyond the window: no episode reaches 5 accounts.
	var slow eventList
	for i := 0; i < 6; i++ {
		slow = append(slow, winEv(i+1, time.Duration(i)*31*time.Minute, securityAuditing, 4625,
			map[string]string{"TargetUserName": fmt.Sprintf("u%d", i), "IpAddress": "10.9.9.9", "Status": "0xc000006d"}))
	}
	if fs := runRule(t, "JEJAK-AUTH-07", slow, nil); len(fs) != 0 {
		t.Errorf("attempts 31 minutes apart made a spray: %+v", fs)
	}
}

func TestKerberosPreauthBurst(t *testing.T) {
	var evs eventList
	n := 0
	add := func(id int, user, ip, status string) {
		n++
		evs = append(evs, winEv(n, time.Duration(n)*10*time.Second, securityAuditing, id,
			map[string]string{"TargetUserName": user, "IpAddress": ip, "Status": status, "ServiceName": "krbtgt"}))
	}
	// From one source: 4 wrong passwords and 2 unknown names (a guessing
	// run) — 6 ≥ 5.
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		add(4771, u, "::ffff:10.1.1.5", "0x18")
	}
	add(4768, "admin", "::ffff:10.1.1.5", "0x6")
	add(4768, "root", "::ffff:10.1.1.5", "0x6")
	// Not counted: a success, a 4771 that is not a wrong password (clock
	// skew 0x25), a machine account.
	add(4768, "alice", "::ffff:10.1.1.5", "0x0")
	add(4771, "bob", "::ffff:10.1.1.6", "0x25")
	add(4771, "WS01$", "::ffff:10.1.1.6", "0x18")
	// One account from three sources, 5 failures: the per-account burst.
	for _, ip := range []string{"10.2.0.1", "10.2.0.2", "10.2.0.3", "10.2.0.1", "10.2.0.2"} {
		add(4771, "treasurer", "::ffff:"+ip, "0x18")
	}
	fs := runRule(t, "JEJAK-AUTH-08", evs, nil)
	keys := map[string]Finding{}
	for _, f := range fs {
		keys[f.Key] = f
	}
	if len(fs) != 2 {
		t.Fatalf("want 2 findings, got %d: %+v", len(fs), fs)
	}
	src, ok := keys["10.1.1.5"]
	if !ok || len(src.Events) != 6 || !strings.Contains(src.Explanation, "4× 0x18 (wrong password)") || !strings.Contains(src.Explanation, "2× 0x6 (unknown account)") {
		t.Errorf("source finding: %+v", src)
	}
	acct, ok := keys["account treasurer"]
	if !ok || len(acct.Events) != 5 || !strings.Contains(acct.Explanation, "from 3 sources") {
		t.Errorf("account finding: %+v", acct)
	}
	// Four failures: under the threshold.
	if fs := runRule(t, "JEJAK-AUTH-08", evs[:4], nil); len(fs) != 0 {
		t.Errorf("4 failures made a finding: %+v", fs)
	}
}

func TestMSSQLBurst(t *testing.T) {
	var evs eventList
	n := 0
	add := func(id int, user, text string) {
		n++
		evs = append(evs, winEv(n, time.Duration(n)*2*time.Second, "MSSQL$SQLEXPRESS", id,
			map[string]string{"Data1": user, "Data2": "Reason: Password did not match that for the login provided.", "Data3": text}))
	}
	for i := 0; i < 6; i++ {
		add(18456, "sa", " [CLIENT: 203.0.113.7]")
	}
	add(18456, "sa", " [CLIENT: 198.51.100.1]") // another client, once
	add(18454, "sa", " [CLIENT: 203.0.113.7]")  // and then it got in
	fs := runRule(t, "JEJAK-AUTH-11", evs, nil)
	if len(fs) != 1 {
		t.Fatalf("want 1 finding, got %d: %+v", len(fs), fs)
	}
	f := fs[0]
	if f.Key != "203.0.113.7" || len(f.Events) != 7 || f.Severity != High {
		t.Errorf("key %q, %d events, severity %s; want 203.0.113.7, 7, high", f.Key, len(f.Events), f.Severity)
	}
	for _, w := range []string{"6 failed SQL Server logins (18456)", "sa", "successful login (18454)", "threshold: 5 failures"} {
		if !strings.Contains(f.Explanation, w) {
			t.Errorf("explanation lacks %q: %s", w, f.Explanation)
		}
	}
	// Without the success: medium, and says none followed.
	fs = runRule(t, "JEJAK-AUTH-11", evs[:7], nil)
	if len(fs) != 1 || fs[0].Severity != Medium || !strings.Contains(fs[0].Explanation, "no successful login") {
		t.Errorf("without success: %+v", fs)
	}
	// A login over shared memory names no address: "<local machine>".
	var local eventList
	for i := 0; i < 5; i++ {
		local = append(local, winEv(i+1, time.Duration(i)*time.Second, "MSSQLSERVER", 18456,
			map[string]string{"Data1": "sa", "Data3": " [CLIENT: <local machine>]"}))
	}
	if fs := runRule(t, "JEJAK-AUTH-11", local, nil); len(fs) != 1 || fs[0].Key != "<local machine>" {
		t.Errorf("shared-memory logins: %+v", fs)
	}
	// Application-log 18456 of another provider is not SQL Server's.
	other := eventList{}
	for i := 0; i < 6; i++ {
		other = append(other, winEv(i+1, time.Duration(i)*time.Second, "SomeApp", 18456, map[string]string{"Data3": "[CLIENT: 1.2.3.4]"}))
	}
	if fs := runRule(t, "JEJAK-AUTH-11", other, nil); len(fs) != 0 {
		t.Errorf("another provider's 18456: %+v", fs)
	}
}

// Every new rule is listed by Builtin with its analyzer, technique and
// parameters the analyzer accepts.
func TestWinAuthRulesLoad(t *testing.T) {
	for _, id := range winAuthRules {
		r := ruleByID(t, id)
		if r.Analyzer == "" || r.Technique == "" || r.Description == "" {
			t.Errorf("%s: analyzer %q technique %q", id, r.Analyzer, r.Technique)
		}
		if _, err := analyzers[r.Analyzer](&hunter{}, r); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
}

// A habit seen before the cut-off is not a finding after it: the same
// account reaching the same host over NTLM, the same account using the same
// other account's password. The first time after the cut-off is.
func TestWinAuthBaseline(t *testing.T) {
	ntlm := func(n int, at time.Duration, user string) *timeline.Event {
		return winEv(n, at, securityAuditing, 4624, map[string]string{"TargetUserName": user, "LogonType": "3",
			"AuthenticationPackageName": "NTLM", "LogonProcessName": "NtLmSsp ", "KeyLength": "128", "IpAddress": "10.0.0.20"})
	}
	explicit := func(n int, at time.Duration, subj, target string) *timeline.Event {
		return winEv(n, at, securityAuditing, 4648, map[string]string{"SubjectUserName": subj, "TargetUserName": target,
			"TargetServerName": "fs01", "ProcessName": `C:\Windows\System32\net.exe`})
	}
	evs := eventList{
		ntlm(1, 0, "clerk"), explicit(2, time.Minute, "admin", "backup"),
		// cut-off at 1h
		ntlm(3, 2*time.Hour, "clerk"), explicit(4, 2*time.Hour, "admin", "backup"),
		ntlm(5, 3*time.Hour, "auditor"), explicit(6, 3*time.Hour, "clerk", "admin"),
	}
	b, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Hunt(context.Background(), evs, Config{Rules: b, After: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		if f.RuleID == "JEJAK-AUTH-09" || f.RuleID == "JEJAK-AUTH-10" {
			got = append(got, f.RuleID+" "+f.Key+" "+f.Severity.String())
		}
	}
	want := []string{"JEJAK-AUTH-09 type 3 auditor@DC01.COUNTY.LOCAL medium", "JEJAK-AUTH-10 clerk → admin on DC01.COUNTY.LOCAL medium"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
}

// An NTLM network logon over loopback is the host authenticating to itself.
func TestPassTheHashLoopback(t *testing.T) {
	evs := eventList{winEv(1, 0, securityAuditing, 4624, map[string]string{"TargetUserName": "clerk", "LogonType": "3",
		"AuthenticationPackageName": "NTLM", "LogonProcessName": "NtLmSsp ", "KeyLength": "0", "IpAddress": "127.0.0.1"})}
	if fs := runRule(t, "JEJAK-AUTH-09", evs, nil); len(fs) != 0 {
		t.Errorf("loopback NTLM logon: %+v", fs)
	}
	evs[0].Winlog.EventData["IpAddress"] = "10.0.0.9"
	if fs := runRule(t, "JEJAK-AUTH-09", evs, nil); len(fs) != 1 || fs[0].Severity != High {
		t.Errorf("remote NTLM logon with KeyLength 0: %+v", fs)
	}
}

// BenchmarkWinAuthAnalyzers runs the five Windows authentication analyzers
// alone over the million events of BenchmarkHunt1M, held in memory, so the
// rate is theirs and not the store's.
func BenchmarkWinAuthAnalyzers(b *testing.B) {
	const n = 1_000_000
	base := time.Date(2024, 2, 14, 0, 0, 0, 0, time.UTC)
	evs := make(eventList, n)
	for i := range evs {
		evs[i] = synthetic(i, base)
	}
	var rules []*Rule
	for _, id := range winAuthRules {
		rules = append(rules, ruleByID(b, id))
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := Hunt(context.Background(), evs, Config{Rules: rules, After: base.Add(48 * time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// A type 9 logon on a newer Windows names the outbound credentials.
func TestPassTheHashOutbound(t *testing.T) {
	evs := eventList{winEv(1, 0, securityAuditing, 4624, map[string]string{"TargetUserName": "clerk", "LogonType": "9",
		"LogonProcessName": "seclogo", "AuthenticationPackageName": "Negotiate", "TargetOutboundUserName": "Administrator", "TargetOutboundDomainName": "COUNTY"})}
	fs := runRule(t, "JEJAK-AUTH-09", evs, nil)
	if len(fs) != 1 || !strings.Contains(fs[0].Explanation, `network credentials of COUNTY\Administrator`) {
		t.Errorf("type 9 with outbound credentials: %+v", fs)
	}
}
