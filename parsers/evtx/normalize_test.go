package evtx

import (
	"encoding/json"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
)

// TestSigmaSidecar checks the one record of the Sigma regression sample
// against the JSON of that event SigmaHQ ships beside it.
func TestSigmaSidecar(t *testing.T) {
	file := parsertest.Corpus(t, "more/sigma/regression/win_security_explicit_credential_local_logon.evtx")
	var side struct {
		Event struct {
			System struct {
				EventID       int    `json:"EventID"`
				EventRecordID uint64 `json:"EventRecordID"`
				Computer      string `json:"Computer"`
				Channel       string `json:"Channel"`
				TimeCreated   struct {
					Attr struct{ SystemTime string } `json:"#attributes"`
				} `json:"TimeCreated"`
			} `json:"System"`
			EventData map[string]string `json:"EventData"`
		} `json:"Event"`
	}
	b, err := os.ReadFile(strings.TrimSuffix(file, ".evtx") + ".json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &side); err != nil {
		t.Fatal(err)
	}
	res := liveOnly(parsertest.ParseFile(t, New(1), file, nil))
	if len(res.Events) != 1 {
		t.Fatalf("%d events", len(res.Events))
	}
	ev, want := res.Events[0], side.Event
	if ev.Winlog.EventID != want.System.EventID || ev.Winlog.RecordID != want.System.EventRecordID ||
		ev.Winlog.ComputerName != want.System.Computer || ev.Winlog.Channel != want.System.Channel || ev.Host.Name != want.System.Computer {
		t.Errorf("system fields %+v, want %+v", ev.Winlog, want.System)
	}
	wt, _ := time.Parse(time.RFC3339Nano, want.System.TimeCreated.Attr.SystemTime)
	if !ev.Timestamp.Truncate(time.Microsecond).Equal(wt) {
		t.Errorf("time %v, want %v", ev.Timestamp, wt)
	}
	for k, v := range want.EventData {
		if got := ev.Winlog.EventData[k]; got != v && got != "{"+v+"}" {
			t.Errorf("EventData %s = %q, want %q", k, got, v)
		}
	}
	d := want.EventData
	pid, _ := strconv.ParseInt(strings.TrimPrefix(d["ProcessId"], "0x"), 16, 64)
	if ev.User == nil || ev.User.Name != d["SubjectUserName"] || ev.User.Domain != d["SubjectDomainName"] ||
		ev.User.Target == nil || ev.User.Target.Name != d["TargetUserName"] ||
		ev.Process == nil || ev.Process.PID != pid || ev.Process.Name != "LegacyHive.exe" ||
		ev.Event.Action != "logged-in-explicit" || ev.Source != nil {
		t.Errorf("normalised: user %+v process %+v action %s source %+v", ev.User, ev.Process, ev.Event.Action, ev.Source)
	}
	if !strings.Contains(ev.Message, "TargetServerName=localhost") || !strings.Contains(ev.Message, `SWACHCHHANDA\xodih`) {
		t.Errorf("message %q", ev.Message)
	}
}

// TestNormalizeAgainstEvtxexport checks, on every corpus record that has a
// normalisation rule, that the ECS fields carry the values evtxexport shows
// in the named EventData/UserData fields the rule points at.
func TestNormalizeAgainstEvtxexport(t *testing.T) {
	seen := map[uint32]int{}
	for _, rel := range corpusEVTX(t) {
		file := parsertest.Corpus(t, rel)
		oracle, ok, _ := evtxexport(t, file)
		if !ok {
			continue
		}
		byID := map[uint64]oracleRecord{}
		for _, r := range oracle {
			byID[r.ID] = r
		}
		res := liveOnly(parsertest.ParseFile(t, New(2), file, nil)) // evtxexport here is the live export
		for _, ev := range res.Events {
			r := findRule(ev.Winlog.ProviderName, uint32(ev.Winlog.EventID))
			o, found := byID[ev.Winlog.RecordID]
			if r == nil || !found {
				continue
			}
			seen[uint32(ev.Winlog.EventID)]++
			where := path.Base(rel) + " record " + strconv.FormatUint(ev.Winlog.RecordID, 10)
			val := func(k string) string { return useful(o.EventData[k]) }
			if ev.Event.Action != r.action || ev.Event.Outcome != r.outcome || len(ev.Event.Category) == 0 {
				t.Errorf("%s: action %q outcome %q category %v", where, ev.Event.Action, ev.Event.Outcome, ev.Event.Category)
			}
			if w := val(r.user); w != "" && (ev.User == nil || ev.User.Name != w) {
				t.Errorf("%s: user.name %+v, evtxexport %s=%q", where, ev.User, r.user, w)
			}
			if w := val(r.domain); w != "" && (ev.User == nil || ev.User.Domain != w) {
				t.Errorf("%s: user.domain %+v, evtxexport %q", where, ev.User, w)
			}
			if w := val(r.target); w != "" && (ev.User == nil || ev.User.Target == nil || ev.User.Target.Name != w) {
				t.Errorf("%s: user.target %+v, evtxexport %q", where, ev.User, w)
			}
			if w := val(r.srcIP); net.ParseIP(w) != nil {
				if ev.Source == nil || !net.ParseIP(ev.Source.IP).Equal(net.ParseIP(w)) {
					t.Errorf("%s: source %+v, evtxexport %q", where, ev.Source, w)
				}
			}
			if w := val(r.logonType); w != "" && (ev.Winlog.Logon == nil || ev.Winlog.Logon.Type != logonTypes[w]) {
				t.Errorf("%s: logon %+v, evtxexport LogonType %q", where, ev.Winlog.Logon, w)
			}
			if w := val(r.exe); w != "" && (ev.Process == nil || ev.Process.Executable != w) {
				t.Errorf("%s: process %+v, evtxexport %q", where, ev.Process, w)
			}
			if w := val(r.group); w != "" && (ev.Group == nil || ev.Group.Name != w) {
				t.Errorf("%s: group %+v, evtxexport %q", where, ev.Group, w)
			}
		}
	}
	// The corpus must exercise the table, not skip past it.
	for _, id := range []uint32{4624, 4625, 4648, 4672, 4688, 4720, 4722, 4724, 4726, 4728, 4732, 4738, 1102, 104} {
		if seen[id] == 0 {
			t.Errorf("no corpus record checked for event %d", id)
		}
	}
	t.Logf("checked per event ID: %v", seen)
}

// baseName must be what normalize used before it, path.Base of the path
// with backslashes turned to slashes, without that copy.
func TestBaseName(t *testing.T) {
	for _, p := range []string{
		`C:\Windows\System32\svchost.exe`, `C:/Program Files/x.exe`, `svchost.exe`, ``, `\`, `\\`, `/`,
		`C:\dir\`, `C:\dir\\\`, `mixed/sep\name.exe`, `\\server\share\tool.exe`, `-`, `a\b/`,
	} {
		if got, want := baseName(p), path.Base(strings.ReplaceAll(p, `\`, "/")); got != want {
			t.Errorf("baseName(%q) = %q, want %q", p, got, want)
		}
	}
}

// TestRuleKeys checks that every rule's fields fit rule.fields: no more
// keys than maxRuleKeys, and each field where init put it.
func TestRuleKeys(t *testing.T) {
	n := 0
	seen := make(map[int]bool)
	for id, rs := range rules {
		for i := range rs {
			r := &rs[i]
			n++
			if seen[r.n] || r.n < 0 || r.n >= nRules {
				t.Errorf("rule %d: number %d repeated or outside 0-%d", id, r.n, nRules-1)
			}
			seen[r.n] = true
			if len(r.keys) > maxRuleKeys {
				t.Errorf("rule %d: %d keys, more than maxRuleKeys (%d)", id, len(r.keys), maxRuleKeys)
			}
			for j, k := range r.keys {
				if r.fields[rfKeys+j] != k {
					t.Errorf("rule %d: key %d is %q in fields, want %q", id, j, r.fields[rfKeys+j], k)
				}
			}
			if r.fields[rfUser] != r.user || r.fields[rfPID] != r.pid || r.fields[rfGroup] != r.group || (r.group != "") != (r.fields[rfGroupID] == "TargetSid") {
				t.Errorf("rule %d: fields %q", id, r.fields)
			}
		}
	}
	if n != nRules {
		t.Errorf("%d rules, nRules %d", n, nRules)
	}
}

// TestRuleValuesByIndex checks that the values a builder reads by index
// (ruleIndexes, one list of names after another, the same list again,
// a list with the same names as other strings) are the ones the map
// gives.
func TestRuleValuesByIndex(t *testing.T) {
	r := findRule(security, 4624)
	lists := [][]kv{
		{{"TargetUserName", "bob"}, {"TargetDomainName", "CORP"}, {"IpAddress", "10.0.0.1"}, {"LogonType", "3"}, {"AuthenticationPackageName", "NTLM"}},
		{{"LogonType", "2"}, {"TargetUserName", "amy"}, {"ProcessId", "0x1c4"}},
		{{"SubjectUserName", "x"}},
		{},
	}
	var ri ruleIndexes
	for round := 0; round < 3; round++ {
		for li, l := range lists {
			if round == 2 { // the same names as new strings: must not match by address
				l = append([]kv(nil), l...)
				for i := range l {
					l[i].k = strings.Clone(l[i].k)
				}
			}
			data := make(map[string]string)
			for _, m := range l {
				data[m.k] = m.v + strconv.Itoa(round)
			}
			for i := range l {
				l[i].v = data[l[i].k]
			}
			var got, want ruleValues
			for _, f := range r.used {
				got[f] = "stale"
			}
			ri.values(&got, r, l, data)
			want.fill(r, data)
			if got != want {
				t.Errorf("round %d list %d: values %q, want %q", round, li, got, want)
			}
		}
	}
}
