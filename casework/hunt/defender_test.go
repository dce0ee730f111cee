package hunt

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Defender's own Operational records and writes to its policy keys, each
// burst of one host one finding: high when a protection is switched off or
// an exclusion added, medium for another change; nothing before the
// cut-off. (No public recording of these events is at hand: the records
// are built with the field names Defender writes, "Old Value"/"New Value".)
func TestDefenderWeakened(t *testing.T) {
	const op = "Microsoft-Windows-Windows Defender"
	evs := eventList{
		// Before the cut-off: the administrator's own change, not a finding.
		winEv(1, -2*time.Hour, op, 5001, nil),
		// After: real-time protection off, then an exclusion (one burst).
		winEv(2, time.Minute, op, 5001, nil),
		winEv(3, 3*time.Minute, op, 5007, map[string]string{
			"Old Value": "", "New Value": `HKLM\SOFTWARE\Microsoft\Windows Defender\Exclusions\Paths\C:\Users\Public\x = 0x0`}),
		// An hour later: a signature-update setting, nothing switched off.
		winEv(4, time.Hour, op, 5007, map[string]string{
			"Old Value": `HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates\ScheduleDay = 0x8`,
			"New Value": `HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates\ScheduleDay = 0x1`}),
		// Two hours later, Sysmon 13: DisableAntiSpyware set to 1 by reg.exe.
		winEv(5, 2*time.Hour, "Microsoft-Windows-Sysmon", 13, map[string]string{
			"TargetObject": `HKLM\SOFTWARE\Policies\Microsoft\Windows Defender\DisableAntiSpyware`,
			"Details":      "DWORD (0x00000001)", "Image": `C:\Windows\System32\reg.exe`, "User": `COUNTY\it-temp`}),
	}
	fs, err := Hunt(context.Background(), evs, Config{After: t0, Rules: []*Rule{ruleByID(t, "JEJAK-DEF-02")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 3 {
		for _, f := range fs {
			t.Logf("%s %s", f.Severity, f.Explanation)
		}
		t.Fatalf("%d findings, want 3", len(fs))
	}
	want := []struct {
		sev  Severity
		says []string
		rows int
	}{
		{High, []string{"real-time protection disabled", "exclusion added"}, 2},
		{Medium, []string{"ScheduleDay"}, 1},
		{High, []string{"DisableAntiSpyware", "it-temp with", "Defender switched off"}, 1},
	}
	for i, w := range want {
		f := fs[i]
		if f.Severity != w.sev || len(f.Events) != w.rows {
			t.Errorf("finding %d: %s with %d rows, want %s with %d: %s", i, f.Severity, len(f.Events), w.sev, w.rows, f.Explanation)
		}
		for _, s := range w.says {
			if !strings.Contains(f.Explanation, s) {
				t.Errorf("finding %d does not say %q: %s", i, s, f.Explanation)
			}
		}
	}
}
