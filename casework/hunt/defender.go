package hunt

import (
	"fmt"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// Microsoft Defender Antivirus turned off or blinded after the cut-off:
// what an intruder does before running tools it would catch. Its
// Operational channel says so itself (5001 real-time protection disabled,
// 5010/5012 scanning disabled, 5007 configuration changed with the old
// and new value, 5013 tamper protection blocked a change), and so does a
// write to its policy keys (4657, Sysmon 13): DisableAntiSpyware,
// DisableRealtimeMonitoring and the like set to 1, exclusions added.

const defenderProvider = "Windows Defender"

// defenderEvent reads a change of Defender's own Operational channel.
func defenderEvent(ev *timeline.Event) (settingChange, bool) {
	w := ev.Winlog
	// The event ID first: a comparison, where the provider is a search
	// through its name, and on a Security log no event is Defender's.
	switch w.EventID {
	case 5001, 5010, 5012, 5013, 5007:
	default:
		return settingChange{}, false
	}
	if !strings.Contains(w.ProviderName, defenderProvider) {
		return settingChange{}, false
	}
	d := w.EventData
	switch w.EventID {
	case 5001:
		return settingChange{what: "real-time protection disabled", weaken: "real-time protection off"}, true
	case 5010:
		return settingChange{what: "scanning for malware and other unwanted software disabled", weaken: "scanning off"}, true
	case 5012:
		return settingChange{what: "scanning for viruses disabled", weaken: "scanning off"}, true
	case 5013:
		return settingChange{what: "tamper protection blocked a change: " + useful(d["Value"])}, true
	case 5007:
		c := settingChange{what: fmt.Sprintf("configuration changed: %s -> %s", useful(d["Old Value"]), useful(d["New Value"]))}
		path, value, _ := strings.Cut(d["New Value"], " = ")
		if r, ok := defenderRegistry(path, value); ok {
			c.weaken = r.weaken
		}
		return c, true
	}
	return settingChange{}, false
}

// defenderOff are the policy values that switch a protection off at 1.
var defenderOff = map[string]string{
	"disableantispyware":           "Defender switched off (DisableAntiSpyware)",
	"disableantivirus":             "antivirus switched off (DisableAntiVirus)",
	"disablerealtimemonitoring":    "real-time protection off",
	"disablebehaviormonitoring":    "behaviour monitoring off",
	"disableioavprotection":        "scanning of downloads off",
	"disableonaccessprotection":    "on-access protection off",
	"disablescriptscanning":        "script scanning off",
	"disableblockatfirstseen":      "block at first sight off",
	"disableprivacymode":           "",
	"disableroutinelytakingaction": "no action taken on threats",
}

// defenderRegistry says what a value under a Defender key does.
func defenderRegistry(path, value string) (settingChange, bool) {
	lp := strings.ToLower(path)
	if !strings.Contains(lp, `\windows defender\`) {
		return settingChange{}, false
	}
	name := lp[strings.LastIndex(lp, `\`)+1:]
	c := settingChange{what: fmt.Sprintf("Defender value %s set to %s", path[strings.LastIndex(path, `\`)+1:], value)}
	if strings.Contains(lp, `\exclusions\`) {
		c.weaken = "exclusion added: " + path[strings.LastIndex(path, `\`)+1:]
		return c, true
	}
	if why, ok := defenderOff[name]; ok && why != "" {
		if n, isNum := regNumber(value); isNum && n == 1 {
			c.weaken = why
		}
	}
	return c, true
}
