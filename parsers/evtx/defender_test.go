package evtx

import (
	"testing"

	"github.com/jejak-forensics/jejak/timeline"
)

// Defender's Operational records are normalised by their provider: a
// detection names the threat, the user (DOMAIN\user in one field) and the
// process; the same event IDs of another provider are left alone.
func TestNormalizeDefender(t *testing.T) {
	const provider = "Microsoft-Windows-Windows Defender"
	ev := &timeline.Event{Winlog: &timeline.Winlog{}}
	sum, shown := normalize(ev, provider, 1116, map[string]string{
		"Threat Name": "HackTool:Win32/Mimikatz!pz", "Severity Name": "High", "Path": `file:_C:\Users\Public\m.exe`,
		"Detection User": `COUNTY\it-temp`, "Process Name": `C:\Windows\explorer.exe`})
	if sum != "malware detected" || ev.Event.Action != "malware-detected" || ev.User == nil ||
		ev.User.Name != "it-temp" || ev.User.Domain != "COUNTY" || len(shown) == 0 {
		t.Errorf("1116: %q %+v user %+v shown %v", sum, ev.Event, ev.User, shown)
	}
	ev = &timeline.Event{Winlog: &timeline.Winlog{}}
	if sum, _ := normalize(ev, provider, 5001, nil); sum != "real-time protection disabled" || ev.Event.Action != "antivirus-realtime-disabled" {
		t.Errorf("5001: %q %+v", sum, ev.Event)
	}
	ev = &timeline.Event{Winlog: &timeline.Winlog{}}
	if sum, _ := normalize(ev, "Microsoft-Windows-Kernel-Power", 5001, nil); sum != "" || ev.Event.Action != "" {
		t.Errorf("5001 of another provider normalised: %q %+v", sum, ev.Event)
	}
}
