package hunt

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Changes to the firewall and to Remote Desktop's settings after the
// cut-off: what an intruder does to let himself in again (open RDP, move
// its port, drop Network Level Authentication, add an allow rule, turn the
// firewall off). Read from the Security log (4946-4948 rule added, changed,
// deleted; 4950 setting changed; 4657 registry value changed, when object
// auditing covers the key), the firewall's own log (2004-2006, 2003, and
// the 2071/2073/2097/2052 of later Windows builds) and Sysmon 13
// (registry value set).
//
// The records of one host are one finding per burst (records less than 10
// minutes apart): installing a program adds several rules at once, and the
// examiner reads that as one change.

type settingChange struct {
	what   string // one line: "firewall rule added: NAME"
	weaken string // why it opens the machine, "" when it does not
	by     string // user and program, when the record says
}

var (
	hexNum = regexp.MustCompile(`0x[0-9a-fA-F]+`)
	decNum = regexp.MustCompile(`^-?\d+$`)
)

// regNumber reads a DWORD as the logs write it: Sysmon "DWORD
// (0x00000d3d)", 4657 "0" or "%%1" style.
func regNumber(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if m := hexNum.FindString(s); m != "" {
		n, err := strconv.ParseInt(m[2:], 16, 64)
		return n, err == nil
	}
	if decNum.MatchString(s) {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// registryChange returns the key path (with the value name as its last
// element) and the new value of a registry write, from 4657 or
// Sysmon 13.
func registryChange(ev *timeline.Event) (path, value, by string, ok bool) {
	w := ev.Winlog
	d := w.EventData
	switch {
	case w.Channel == "Security" && w.EventID == 4657:
		path = d["ObjectName"] + `\` + d["ObjectValueName"]
		value = d["NewValue"]
		by = joinBy(useful(d["SubjectUserName"]), useful(d["ProcessName"]))
	case strings.Contains(w.ProviderName, "Sysmon") && w.EventID == 13:
		path, value = d["TargetObject"], d["Details"]
		by = joinBy(useful(d["User"]), useful(d["Image"]))
	default:
		return "", "", "", false
	}
	return path, strings.TrimSpace(value), by, true
}

func joinBy(user, prog string) string {
	switch {
	case user != "" && prog != "":
		return user + " with " + prog
	case user != "":
		return user
	}
	return prog
}

// rdpSetting says what a value under Terminal Server (or its policy key)
// does; weaken is set when the new value opens RDP further.
func rdpSetting(path, value string) (settingChange, bool) {
	lp := strings.ToLower(path)
	if !strings.Contains(lp, `\control\terminal server\`) && !strings.Contains(lp, `\windows nt\terminal services\`) {
		return settingChange{}, false
	}
	name := path[strings.LastIndexByte(path, '\\')+1:]
	n, num := regNumber(value)
	c := settingChange{what: fmt.Sprintf("RDP setting %s set to %s", name, value)}
	switch strings.ToLower(name) {
	case "fdenytsconnections":
		if num && n == 0 {
			c.weaken = "Remote Desktop connections allowed (fDenyTSConnections 0)"
		}
	case "portnumber":
		if num && n != 3389 {
			c.weaken = fmt.Sprintf("RDP moved to port %d (3389 is the default)", n)
		}
	case "userauthentication":
		if num && n == 0 {
			c.weaken = "Network Level Authentication turned off (UserAuthentication 0)"
		}
	case "securitylayer":
		if num && n == 0 {
			c.weaken = "RDP security layer set to plain RDP (SecurityLayer 0)"
		}
	case "fallowtogethelp", "fallowunsolicited":
		if num && n == 1 {
			c.weaken = "Remote Assistance allowed (" + name + " 1)"
		}
	case "fsinglesessionperuser":
		if num && n == 0 {
			c.weaken = "several RDP sessions per user allowed (fSingleSessionPerUser 0)"
		}
	case "shadow":
		if num && (n == 1 || n == 2) {
			c.weaken = "sessions can be controlled without the user's consent (Shadow " + strconv.FormatInt(n, 10) + ")"
		}
	}
	return c, true
}

// firewallRegistry says what a value under the firewall policy key does.
func firewallRegistry(path, value string) (settingChange, bool) {
	lp := strings.ToLower(path)
	if !strings.Contains(lp, `\firewallpolicy\`) {
		return settingChange{}, false
	}
	name := path[strings.LastIndexByte(path, '\\')+1:]
	c := settingChange{what: fmt.Sprintf("firewall policy value %s set to %s", name, value)}
	if n, ok := regNumber(value); ok && n == 0 && strings.EqualFold(name, "EnableFirewall") {
		profile := ""
		if i := strings.Index(lp, `profile\`); i > 0 {
			j := strings.LastIndexByte(lp[:i], '\\')
			profile = " for the " + lp[j+1:i] + " profile"
		}
		c.weaken = "firewall turned off" + profile + " (" + name + " 0)"
	}
	return c, true
}

var (
	fwAdded    = map[int]bool{2004: true, 2071: true, 2097: true}
	fwModified = map[int]bool{2005: true, 2073: true}
	fwDeleted  = map[int]bool{2006: true, 2052: true}
)

// firewallEvent reads the firewall's records in the Security log and in
// its own log.
func firewallEvent(ev *timeline.Event) (settingChange, bool) {
	w := ev.Winlog
	if w.Channel == "Security" && (w.EventID < 4946 || w.EventID > 4950) {
		// Not one of the four below: every Security record comes here,
		// and looking its values up first was most of this check.
		return settingChange{}, false
	}
	d := w.EventData
	rule := useful(d["RuleName"])
	if w.Channel == "Security" {
		by := useful(d["SubjectUserName"])
		switch w.EventID {
		case 4946:
			return settingChange{what: "firewall rule added: " + rule, weaken: rdpRule(rule, ""), by: by}, true
		case 4947:
			return settingChange{what: "firewall rule changed: " + rule, weaken: rdpRule(rule, ""), by: by}, true
		case 4948:
			return settingChange{what: "firewall rule deleted: " + rule, by: by}, true
		case 4950:
			c := settingChange{what: fmt.Sprintf("firewall setting %s set to %s (%s)", useful(d["SettingType"]), useful(d["SettingValue"]), useful(d["ProfileChanged"])), by: by}
			if offValue(d["SettingValue"]) && strings.Contains(strings.ToLower(d["SettingType"]), "enable") {
				c.weaken = "firewall turned off (" + useful(d["ProfileChanged"]) + ")"
			}
			return c, true
		}
		return settingChange{}, false
	}
	if !strings.Contains(w.Channel, "Firewall") && !strings.Contains(w.ProviderName, "Firewall") {
		return settingChange{}, false
	}
	app := useful(d["ModifyingApplication"])
	by := joinBy(useful(d["ModifyingUser"]), app)
	// The firewall service itself (svchost) writes the rules Windows and
	// installed programs declare: not somebody's change.
	if strings.HasSuffix(strings.ToLower(app), `\svchost.exe`) {
		return settingChange{}, false
	}
	ports := useful(d["LocalPorts"])
	switch {
	case fwAdded[w.EventID]:
		return settingChange{what: "firewall rule added: " + rule + portsText(ports), weaken: rdpRule(rule, ports), by: by}, true
	case fwModified[w.EventID]:
		return settingChange{what: "firewall rule changed: " + rule + portsText(ports), weaken: rdpRule(rule, ports), by: by}, true
	case fwDeleted[w.EventID]:
		return settingChange{what: "firewall rule deleted: " + rule, by: by}, true
	case w.EventID == 2003:
		v := useful(d["SettingValueString"])
		c := settingChange{what: fmt.Sprintf("firewall setting %s set to %s", useful(d["SettingType"]), v), by: by}
		if offValue(v) && strings.Contains(strings.ToLower(d["SettingType"]), "enable") {
			c.weaken = "firewall turned off"
		}
		return c, true
	}
	return settingChange{}, false
}

func portsText(p string) string {
	if p == "" || p == "*" {
		return ""
	}
	return " (local ports " + p + ")"
}

func offValue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "no", "off", "0", "false", "disabled":
		return true
	}
	return false
}

// rdpRule: a rule that opens Remote Desktop's port or is named for it.
func rdpRule(name, ports string) string {
	for _, p := range strings.Split(ports, ",") {
		if strings.TrimSpace(p) == "3389" {
			return "the rule concerns RDP's port 3389"
		}
	}
	if n := strings.ToLower(name); strings.Contains(n, "remote desktop") || strings.Contains(n, "rdp") {
		return "the rule concerns Remote Desktop"
	}
	return ""
}

type settingsChange struct {
	h      *hunter
	r      *Rule
	rdp    bool // RDP settings
	av     bool // Microsoft Defender Antivirus; neither: the firewall
	window time.Duration
	bursts []*settingBurst
	open   map[string]*settingBurst
}

type settingBurst struct {
	host       string
	last       time.Time
	whats, why []string
	by         []string
	refs       []EventRef
	weakened   bool
}

func newSettingsChange(h *hunter, r *Rule) (analyzer, error) {
	what, err := r.stringParam("what", "firewall", "firewall", "rdp", "antivirus")
	if err != nil {
		return nil, err
	}
	return &settingsChange{h: h, r: r, rdp: what == "rdp", av: what == "antivirus", window: 10 * time.Minute, open: map[string]*settingBurst{}}, nil
}

// wants: the registry writes registryChange reads (4657, Sysmon 13), and
// Defender's IDs or the firewall's events (Security 4946-4950, any ID of
// the firewall's own channels).
func (s *settingsChange) wants() interest {
	switch {
	case s.rdp:
		return interest{winIDs: []int{4657, 13}}
	case s.av:
		return interest{winIDs: []int{4657, 13, 5001, 5010, 5012, 5013, 5007}}
	}
	return interest{winIDs: []int{4657, 13, 4946, 4947, 4948, 4949, 4950}, winOther: true}
}

func (s *settingsChange) observe(ev *timeline.Event) {
	if ev.Winlog == nil || !s.h.inScope(ev.Timestamp) {
		return
	}
	var c settingChange
	var ok bool
	if path, value, by, isReg := registryChange(ev); isReg {
		switch {
		case s.rdp:
			c, ok = rdpSetting(path, value)
		case s.av:
			c, ok = defenderRegistry(path, value)
		default:
			c, ok = firewallRegistry(path, value)
		}
		c.by = by
	} else if s.av {
		c, ok = defenderEvent(ev)
	} else if !s.rdp {
		c, ok = firewallEvent(ev)
	}
	if !ok {
		return
	}
	host := hostOf(ev)
	b := s.open[host]
	if b == nil || ev.Timestamp.Sub(b.last) > s.window {
		b = &settingBurst{host: host}
		s.open[host] = b
		s.bursts = append(s.bursts, b)
	}
	b.last = ev.Timestamp
	b.refs = append(b.refs, s.h.ref(ev))
	if !slices.Contains(b.whats, c.what) {
		b.whats = append(b.whats, c.what)
	}
	if c.weaken != "" {
		b.weakened = true
		if !slices.Contains(b.why, c.weaken) {
			b.why = append(b.why, c.weaken)
		}
	}
	if c.by != "" && !slices.Contains(b.by, c.by) {
		b.by = append(b.by, c.by)
	}
}

func (s *settingsChange) finish() []Finding {
	var out []Finding
	for _, b := range s.bursts {
		where := ""
		if b.host != "" {
			where = " on " + b.host
		}
		f := newFinding(s.r, "", "", b.refs)
		subject := "firewall"
		switch {
		case s.rdp:
			subject = "Remote Desktop"
		case s.av:
			subject = "Microsoft Defender Antivirus"
		}
		f.Key = subject + " change" + where + " at " + ts(f.First)
		f.finish() // the ID hashes the key
		f.Explanation = fmt.Sprintf("%s changed%s, %s, %s: %s", subject, where, ts(f.First), plural(len(f.Events), "record", "records"), listNames(b.whats, 8))
		if len(b.by) > 0 {
			f.Explanation += "; by " + strings.Join(b.by, ", ")
		}
		if len(b.why) > 0 {
			f.Explanation += "; " + strings.Join(b.why, "; ")
		} else {
			// Nothing in it opens the machine: a change all the same, read
			// after the ones that do.
			f.Severity = min(f.Severity, Medium)
		}
		out = append(out, f)
	}
	return out
}
