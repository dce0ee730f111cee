package hunt

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

// The image paths and names below are what the tools write (PsExec's
// 7045, Impacket's psexec/smbexec, Metasploit's psexec) and what Windows
// writes for its own services, as published in their sources and in
// Microsoft's documentation; no EVTX with a malicious 7045 is in the
// corpus, so the classifiers are tested on these strings.
func TestServiceImageClassifiers(t *testing.T) {
	for _, c := range []struct {
		img      string
		outside  bool
		interp   string
		name     string
		random   bool
		toolName string
	}{
		{img: `C:\Windows\system32\svchost.exe -k UnistackSvcGroup`, name: "CDPUserSvc_58984"},
		{img: `"C:\Program Files\Windows Defender\MsMpEng.exe"`, name: "WinDefend"},
		{img: `%SystemRoot%\System32\svchost.exe -k LocalServiceNoNetworkFirewall -p`, name: "MpsSvc"},
		{img: `\SystemRoot\System32\drivers\vmbus.sys`, name: "vmbus"},
		{img: `System32\drivers\tcpip.sys`, name: "Tcpip"},
		{img: `\??\C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.2102.4-0\Drivers\WdFilter.sys`, name: "WdFilter"},
		{img: `"C:\Program Files (x86)\Google\Update\GoogleUpdate.exe" /svc`, name: "gupdate"},
		// PsExec copies its service to ADMIN$ (C:\Windows).
		{img: `%SystemRoot%\PSEXESVC.exe`, outside: true, name: "PSEXESVC", toolName: "psexesvc"},
		// Impacket psexec: a random 8-letter exe in ADMIN$, a random 4-letter name.
		{img: `%systemroot%\uGkKPbTs.exe`, outside: true, name: "xKpQ", random: true},
		// Impacket smbexec.
		{img: `%COMSPEC% /Q /c echo cd  ^> \\127.0.0.1\C$\__output 2^>^&1 > %TEMP%\execute.bat & %COMSPEC% /Q /c %TEMP%\execute.bat & del %TEMP%\execute.bat`, interp: "%comspec%", name: "BTOBTO", toolName: "btobto"},
		// Metasploit psexec (powershell target).
		{img: `%COMSPEC% /b /c start /b /min powershell.exe -nop -w hidden -noni -c "if([IntPtr]::Size -eq 4){...}"`, interp: "%comspec%", name: "hAcKjsdPwOQiZbXn", random: true},
		{img: `cmd.exe /c C:\Users\Public\a.bat`, interp: "cmd", name: "updater"},
		{img: `C:\Users\Public\svc.exe`, outside: true, name: "WindowsUpdateSvc"},
		{img: `C:\Windows\Temp\x.exe`, outside: true, name: "x"},
		{img: `"C:\PerfLogs\run.exe" -k`, outside: true, name: "Perf"},
		{img: `calc.exe`, name: "IpOverUsbSvc"},
		// Windows names with short pieces.
		{img: `C:\Windows\system32\svchost.exe -k AxInstSVGroup`, name: "AxInstSV"},
		{img: `C:\Windows\system32\svchost.exe -k rpcss -p`, name: "RpcSs"},
		{img: `C:\Windows\System32\drivers\ksecdd.sys`, name: "KSecDD"},
		{img: `C:\Windows\system32\svchost.exe -k NetworkService -p`, name: "WinRM"},
	} {
		if got := outsideSystem(c.img); got != c.outside {
			t.Errorf("outsideSystem(%q) = %v, want %v (resolved %q)", c.img, got, c.outside, winPath(c.img))
		}
		if got := interpreter(c.img); got != c.interp {
			t.Errorf("interpreter(%q) = %q, want %q", c.img, got, c.interp)
		}
		if got := randomName(c.name); got != c.random {
			t.Errorf("randomName(%q) = %v, want %v", c.name, got, c.random)
		}
		if got := remoteExecTool(c.name, c.img); got != c.toolName {
			t.Errorf("remoteExecTool(%q, %q) = %q, want %q", c.name, c.img, got, c.toolName)
		}
	}
}

// TestServiceInstallsOfWindowsNotFlagged: the RDP recording's Security log
// holds the 4697s Windows writes for its per-user services at a logon
// (CDPUserSvc_58984 …, svchost in System32). They reach the analyzer
// (checked against evtxexport's 4697 record IDs) and are not findings.
func TestServiceInstallsOfWindowsNotFlagged(t *testing.T) {
	path := parsertest.Corpus(t, "agpl/evtx/RDPAuth_Security.evtx")
	st := buildCase(t, path)
	var seen []uint64
	if err := st.Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
		if e.Event.Action == "service-installed" && e.Winlog != nil {
			seen = append(seen, e.Winlog.RecordID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	if recs, ok := evtxexport(t, path); ok {
		want := oracleIDs(recs, eventIDIn("4697", "7045"))
		if len(want) == 0 || !slices.Equal(seen, want) {
			t.Fatalf("service installs in the case %v, evtxexport %v", seen, want)
		}
	} else if len(seen) == 0 {
		t.Fatal("no service install read")
	}
	fs := hunt(t, st, Config{})
	if got := byRule(fs, "JEJAK-PERS-01"); len(got) > 0 {
		t.Errorf("Windows' own per-user services flagged: %s", got[0].Explanation)
	}
}

// TestScheduledTaskFindings: Atomic Red Team's T1053.005 run, recorded by
// Velociraptor's tests in the Security log (4698 created, 4702 updated,
// 4701 disabled, 4699 deleted) and TaskScheduler/Operational (106, 140, 129, 200, 141,
// 142 …). One finding per task, each with every record naming the task in
// both logs (evtxexport is the oracle for the record IDs), the command
// from the task XML, and deletion as a reason.
func TestScheduledTaskFindings(t *testing.T) {
	if _, err := exec.LookPath("evtxexport"); err != nil {
		t.Skip("evtxexport missing: install the Debian package libevtx-utils")
	}
	sec := parsertest.Corpus(t, "agpl/evtx/SecurityTasks.evtx")
	ts := parsertest.Corpus(t, "agpl/evtx/TaskScheduler.evtx")
	// The oracle: per task name, "file:record" of every record naming it
	// with an event ID the analyzer follows.
	follow := map[string][]string{
		filepath.Base(sec): {"4698", "4702", "4699", "4701"},
		filepath.Base(ts):  {"106", "140", "141", "142", "129", "200", "100", "102", "110", "201"},
	}
	want := map[string][]string{}
	for _, p := range []string{sec, ts} {
		recs, ok := evtxexport(t, p)
		if !ok {
			t.Fatalf("evtxexport refused %s", p)
		}
		for _, r := range recs {
			if n := r.Data["TaskName"]; n != "" && slices.Contains(follow[filepath.Base(p)], r.EventID) {
				want[n] = append(want[n], filepath.Base(p)+":"+itoa(r.ID))
			}
		}
	}
	if len(want) != 3 {
		t.Fatalf("evtxexport: tasks %v, want the 3 of the Atomic test", want)
	}
	fs := byRule(hunt(t, buildCase(t, sec, ts), Config{}), "JEJAK-PERS-02")
	if len(fs) != len(want) {
		for _, f := range fs {
			t.Log(f.Key, f.Explanation)
		}
		t.Fatalf("%d scheduled-task findings, want %d", len(fs), len(want))
	}
	for _, f := range fs {
		name := strings.TrimSuffix(strings.TrimPrefix(f.Key, "task "), " on RE-Dev")
		var got []string
		for _, e := range f.Events {
			got = append(got, baseName(e.Provenance)+":"+itoa(e.RecordID))
		}
		w := want[name]
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("task %s rows %v, evtxexport %v", name, got, w)
		}
		if f.Technique != "T1053.005" {
			t.Errorf("technique %q", f.Technique)
		}
		if !strings.Contains(f.Explanation, "deleted") {
			t.Errorf("task %s: deletion not stated: %s", name, f.Explanation)
		}
		if f.Severity != High {
			t.Errorf("task %s: severity %s, want high (deleted after it ran)", name, f.Severity)
		}
		t.Logf("%s [%s] %s", f.Key, f.Severity, f.Explanation)
	}
	// The OnLogon task's command is read from its 4698 XML.
	for _, f := range fs {
		if strings.Contains(f.Key, `\T1053_005_OnLogon`) {
			for _, s := range []string{`"cmd.exe /c calc.exe"`, "command interpreter (cmd)", "logon", "by yolo"} {
				if !strings.Contains(f.Explanation, s) {
					t.Errorf("OnLogon explanation lacks %q: %s", s, f.Explanation)
				}
			}
		}
	}
}

// TestPersistenceNotOnBenignLogs: logs with logons, account changes and
// RDP but no services or tasks created raise no persistence finding.
func TestPersistenceNotOnBenignLogs(t *testing.T) {
	for _, p := range []string{
		"logs/windows/security.evtx",
		"logs/windows/System2.evtx",
		"logs/windows/new-user-security.evtx",
		"agpl/evtx/RDPAuth_System.evtx",
		"more/evtx/mitre_cc0/ID4624-Mimikatz_pass_the_hash.evtx",
		"more/evtx/mitre_cc0/ID4720-4728_Hidden_user_creation.evtx",
	} {
		fs := hunt(t, buildCase(t, parsertest.Corpus(t, p)), Config{})
		for _, id := range []string{"JEJAK-PERS-01", "JEJAK-PERS-02"} {
			if got := byRule(fs, id); len(got) > 0 {
				t.Errorf("%s: %s raised on %s: %s", p, id, got[0].Key, got[0].Explanation)
			}
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestProtectiveTaskDisabled: SigmaHQ's regression recordings of System
// Restore's SR task disabled, once in the Security log (4701, naming the
// account) and once in TaskScheduler/Operational (142, naming "System").
// One finding each with the record evtxexport shows: high when an account
// is named, medium otherwise. The Atomic recording, whose tasks were
// registered after the cut-off and are JEJAK-PERS-02's, raises none.
func TestProtectiveTaskDisabled(t *testing.T) {
	if _, err := exec.LookPath("evtxexport"); err != nil {
		t.Skip("evtxexport missing: install the Debian package libevtx-utils")
	}
	root := filepath.Join(sigmaRegression(t), "builtin")
	for _, c := range []struct {
		glob, eventID string
		sev           Severity
		says          []string
	}{
		{"security/win_security_susp_scheduled_task_delete_or_disable/*.evtx", "4701", High, []string{`\Microsoft\Windows\SystemRestore\SR disabled`, "(SystemRestore)", "done by the account xodih"}},
		{"taskscheduler/win_taskscheduler_susp_schtasks_delete_or_disable/*.evtx", "142", Medium, []string{`\Microsoft\Windows\SystemRestore\SR disabled`, "(SystemRestore)"}},
	} {
		files, _ := filepath.Glob(filepath.Join(root, c.glob))
		if len(files) != 1 {
			t.Fatalf("%s: %d files", c.glob, len(files))
		}
		var want []string
		for _, r := range evtxexportRecords(t, files[0]) {
			if r.eventID == c.eventID {
				want = append(want, r.file+":"+itoa(r.id))
			}
		}
		fs := byRule(hunt(t, buildCase(t, files[0]), Config{}), "JEJAK-PERS-03")
		if len(fs) != 1 {
			t.Errorf("%s: %d findings, want 1", c.glob, len(fs))
			continue
		}
		f := fs[0]
		if k := rowKeys(f); !slices.Equal(k, want) {
			t.Errorf("%s: rows %v, evtxexport %v", c.glob, k, want)
		}
		for _, s := range c.says {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("%s: explanation lacks %q: %s", c.glob, s, f.Explanation)
			}
		}
		if f.Severity != c.sev {
			t.Errorf("%s: severity %s, want %s", c.glob, f.Severity, c.sev)
		}
		t.Logf("[%s] %s", f.Severity, f.Explanation)
	}
	st := buildCase(t, parsertest.Corpus(t, "agpl/evtx/SecurityTasks.evtx"), parsertest.Corpus(t, "agpl/evtx/TaskScheduler.evtx"))
	if fs := byRule(hunt(t, st, Config{}), "JEJAK-PERS-03"); len(fs) > 0 {
		t.Errorf("tasks registered after the cut-off also raised PERS-03: %s", fs[0].Explanation)
	}
}

// sliceStore serves events in time order, as a case store does.
type sliceStore []*timeline.Event

func (s sliceStore) Search(_ context.Context, _ timeline.Query, fn func(*timeline.Event) error) error {
	for _, e := range s {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// TestRemoteServiceCreation: the correlation of a service install with the
// network logon that made it, on events shaped as the EVTX parser gives
// them (no recording of it is in the corpus): 4697 by its subject logon
// ID, 7045 by its System UserID within a minute of a type 3 logon of that
// SID. A binary in System32 is flagged for the remote install alone; the
// same install without the logon is not a finding.
func TestRemoteServiceCreation(t *testing.T) {
	at := time.Date(2024, 2, 14, 20, 0, 0, 0, time.UTC)
	host := &timeline.Host{Name: "TABULASI01"}
	logon := &timeline.Event{Timestamp: at, Host: host, Event: timeline.EventMeta{Action: "logged-in"},
		User:   &timeline.User{Name: "opr", ID: "S-1-5-21-1-2-3-1104"},
		Source: &timeline.Endpoint{IP: "10.9.8.7"},
		Winlog: &timeline.Winlog{Channel: "Security", EventID: 4624, RecordID: 10, Logon: &timeline.WinlogLogon{Type: "Network", ID: "0x5a5a"}},
		Jejak:  timeline.Jejak{ID: "l"}}
	svc := func(id string, eid int, d map[string]string, sid string, dt time.Duration) *timeline.Event {
		e := &timeline.Event{Timestamp: at.Add(dt), Host: host, Event: timeline.EventMeta{Action: "service-installed"},
			Winlog: &timeline.Winlog{EventID: eid, RecordID: 11, EventData: d}, Jejak: timeline.Jejak{ID: id, Data: map[string]string{}}}
		if sid != "" {
			e.Jejak.Data["user_sid"] = sid
		}
		return e
	}
	img := `C:\Windows\System32\svchost.exe -k netsvcs`
	r := ruleByID(t, "JEJAK-PERS-01")
	for _, c := range []struct {
		name   string
		events []*timeline.Event
		want   string
	}{
		{"4697 by logon ID", []*timeline.Event{logon, svc("a", 4697, map[string]string{"ServiceName": "Upd", "ServiceFileName": img, "SubjectLogonId": "0x5a5a"}, "", 3*time.Second)},
			"installed through a network logon of opr from 10.9.8.7"},
		{"7045 by SID", []*timeline.Event{logon, svc("b", 7045, map[string]string{"ServiceName": "Upd", "ImagePath": img}, "S-1-5-21-1-2-3-1104", 3*time.Second)},
			"its installer had logged on over the network from 10.9.8.7 3s before"},
		{"7045 too late", []*timeline.Event{logon, svc("c", 7045, map[string]string{"ServiceName": "Upd", "ImagePath": img}, "S-1-5-21-1-2-3-1104", 2*time.Minute)}, ""},
		{"7045 other SID", []*timeline.Event{logon, svc("d", 7045, map[string]string{"ServiceName": "Upd", "ImagePath": img}, "S-1-5-18", 3*time.Second)}, ""},
	} {
		fs, err := Hunt(context.Background(), sliceStore(c.events), Config{Rules: []*Rule{r}})
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.want == "" && len(fs) > 0:
			t.Errorf("%s: flagged: %s", c.name, fs[0].Explanation)
		case c.want != "" && (len(fs) != 1 || !strings.Contains(fs[0].Explanation, c.want) || len(fs[0].Events) != 2):
			t.Errorf("%s: want one finding with the logon row saying %q: %+v", c.name, c.want, fs)
		}
	}
}
