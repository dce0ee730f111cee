package evtx

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unsafe"

	"github.com/jejak-forensics/jejak/timeline"
)

// This file is the one table of audit-relevant event IDs and how each maps
// onto ECS. Field names follow Winlogbeat's security module, so queries and
// Sigma rules written for Elastic work unchanged.

// rule says how one provider's event ID is normalised. Field values name
// event_data keys; "user" is the account the event is about.
type rule struct {
	provider string // substring of the provider name
	summary  string // readable words for the message
	action   string
	category []string
	typ      []string
	outcome  string

	user, domain, userID    string
	target, targetDomain    string
	srcIP, srcPort, srcHost string
	logonType, logonID      string
	exe, pid, cmdline       string
	group                   string
	keys                    []string // more event_data shown in the message
	userFromDomainUser      string   // "DOMAIN\user" in one field
	clientInText            string   // field holding "[CLIENT: ip]"

	// n numbers the rule among all (see ruleIndexes); fields are the
	// event_data names it reads, by ruleField, and used the ruleFields
	// it names (all set by init).
	n      int
	fields [nRuleFields]string
	used   []uint8
}

// ruleField numbers the event_data names a rule reads (rule.fields).
const (
	rfUser = iota
	rfDomain
	rfUserID
	rfUserFromDomainUser
	rfTarget
	rfTargetDomain
	rfSrcIP
	rfSrcPort
	rfSrcHost
	rfLogonType
	rfLogonID
	rfExe
	rfCmdline
	rfPID
	rfGroup
	rfGroupID
	rfKeys                             // the first of maxRuleKeys
	nRuleFields = rfKeys + maxRuleKeys // (TestRuleKeys)
)

// maxRuleKeys is the most keys a rule shows.
const maxRuleKeys = 4

// nRules counts the rules (rule.n is below it).
var nRules int

func init() {
	for _, rs := range rules {
		for i := range rs {
			r := &rs[i]
			r.n = nRules
			nRules++
			r.fields = [nRuleFields]string{rfUser: r.user, rfDomain: r.domain, rfUserID: r.userID,
				rfUserFromDomainUser: r.userFromDomainUser, rfTarget: r.target, rfTargetDomain: r.targetDomain,
				rfSrcIP: r.srcIP, rfSrcPort: r.srcPort, rfSrcHost: r.srcHost, rfLogonType: r.logonType,
				rfLogonID: r.logonID, rfExe: r.exe, rfCmdline: r.cmdline, rfPID: r.pid, rfGroup: r.group}
			if r.group != "" {
				r.fields[rfGroupID] = "TargetSid"
			}
			copy(r.fields[rfKeys:], r.keys) // more than maxRuleKeys fail TestRuleKeys
			for f, k := range r.fields {
				if k != "" {
					r.used = append(r.used, uint8(f))
				}
			}
		}
	}
}

// ruleValues are the values of a rule's fields in an event's
// event_data, "" for those it lacks: those of its used fields (the
// others are left as they were).
type ruleValues [nRuleFields]string

// fill sets v from data, looking each field up.
func (v *ruleValues) fill(r *rule, data map[string]string) {
	for _, f := range r.used {
		v[f] = data[r.fields[f]]
	}
}

// ruleIndex is where a rule's fields are in an EventData member list
// (index+1, 0: absent), for one list of names: the names of a template's
// events are the same strings record after record (those of the kept
// definition), so that comparing their addresses tells the same list,
// and the values are then read by index rather than looked up in the
// event_data map by name (about 12 map lookups a logon event).
type ruleIndex struct {
	names []string
	at    [nRuleFields]uint16 // by rule.used
}

// ruleIndexes are a builder's ruleIndex of each rule (by rule.n), for
// the last list of names its events had.
type ruleIndexes []ruleIndex

// values sets v to r's fields in members (the event's EventData, each
// name once), whose map is data.
func (ri *ruleIndexes) values(v *ruleValues, r *rule, members []kv, data map[string]string) {
	if len(members) > 0xfffe {
		v.fill(r, data)
		return
	}
	if *ri == nil {
		*ri = make(ruleIndexes, nRules)
	}
	x := &(*ri)[r.n]
	same := len(x.names) == len(members)
	if same {
		for i := range members {
			a, b := members[i].k, x.names[i]
			if len(a) != len(b) || unsafe.StringData(a) != unsafe.StringData(b) {
				same = false
				break
			}
		}
	}
	if !same {
		x.names = x.names[:0]
		for i := range members {
			x.names = append(x.names, members[i].k)
		}
		for j, f := range r.used {
			k := r.fields[f]
			x.at[j] = 0
			for i := range members {
				if members[i].k == k {
					x.at[j] = uint16(i + 1)
					break
				}
			}
		}
	}
	for j, f := range r.used {
		if at := x.at[j]; at != 0 {
			v[f] = members[at-1].v
		} else {
			v[f] = ""
		}
	}
}

const (
	security = "Microsoft-Windows-Security-Auditing"
	defender = "Windows Defender"
)

var (
	authn  = []string{"authentication"}
	iam    = []string{"iam"}
	proc   = []string{"process"}
	config = []string{"iam", "configuration"}
)

var rules = map[uint32][]rule{
	4624: {{provider: security, summary: "logon", action: "logged-in", category: authn, typ: []string{"start"}, outcome: "success",
		user: "TargetUserName", domain: "TargetDomainName", userID: "TargetUserSid", srcIP: "IpAddress", srcPort: "IpPort", srcHost: "WorkstationName",
		logonType: "LogonType", logonID: "TargetLogonId", exe: "ProcessName", pid: "ProcessId", keys: []string{"AuthenticationPackageName"}}},
	4625: {{provider: security, summary: "failed logon", action: "logon-failed", category: authn, typ: []string{"start"}, outcome: "failure",
		user: "TargetUserName", domain: "TargetDomainName", srcIP: "IpAddress", srcPort: "IpPort", srcHost: "WorkstationName",
		logonType: "LogonType", exe: "ProcessName", pid: "ProcessId", keys: []string{"Status", "SubStatus"}}},
	4634: {{provider: security, summary: "logoff", action: "logged-out", category: authn, typ: []string{"end"}, outcome: "success",
		user: "TargetUserName", domain: "TargetDomainName", userID: "TargetUserSid", logonType: "LogonType", logonID: "TargetLogonId"}},
	4647: {{provider: security, summary: "user-initiated logoff", action: "logged-out", category: authn, typ: []string{"end"}, outcome: "success",
		user: "TargetUserName", domain: "TargetDomainName", userID: "TargetUserSid", logonID: "TargetLogonId"}},
	4648: {{provider: security, summary: "logon with explicit credentials", action: "logged-in-explicit", category: authn, typ: []string{"start"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", target: "TargetUserName", targetDomain: "TargetDomainName",
		srcIP: "IpAddress", srcPort: "IpPort", logonID: "SubjectLogonId", exe: "ProcessName", pid: "ProcessId", keys: []string{"TargetServerName"}}},
	4672: {{provider: security, summary: "special privileges assigned to new logon", action: "logged-in-special", category: iam, typ: []string{"admin"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", logonID: "SubjectLogonId"}},
	4688: {{provider: security, summary: "process created", action: "created-process", category: proc, typ: []string{"start"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", logonID: "SubjectLogonId",
		exe: "NewProcessName", pid: "NewProcessId", cmdline: "CommandLine", keys: []string{"ParentProcessName"}}},
	4697: {{provider: security, summary: "service installed", action: "service-installed", category: config, typ: []string{"admin", "change"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", logonID: "SubjectLogonId", keys: []string{"ServiceName", "ServiceFileName", "ServiceAccount"}}},
	7045: {{provider: "Service Control Manager", summary: "service installed", action: "service-installed", category: config, typ: []string{"admin", "change"}, outcome: "success",
		keys: []string{"ServiceName", "ImagePath", "AccountName", "StartType"}}},
	4698: {{provider: security, summary: "scheduled task created", action: "scheduled-task-created", category: config, typ: []string{"creation", "admin"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", logonID: "SubjectLogonId", keys: []string{"TaskName"}}},
	4720: {{provider: security, summary: "user account created", action: "added-user-account", category: iam, typ: []string{"user", "creation"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", target: "TargetUserName", targetDomain: "TargetDomainName", logonID: "SubjectLogonId"}},
	4722: {{provider: security, summary: "user account enabled", action: "enabled-user-account", category: iam, typ: []string{"user", "change"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", target: "TargetUserName", targetDomain: "TargetDomainName", logonID: "SubjectLogonId"}},
	4724: {{provider: security, summary: "password reset attempted", action: "reset-password", category: iam, typ: []string{"user", "change"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", target: "TargetUserName", targetDomain: "TargetDomainName", logonID: "SubjectLogonId"}},
	4726: {{provider: security, summary: "user account deleted", action: "deleted-user-account", category: iam, typ: []string{"user", "deletion"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", target: "TargetUserName", targetDomain: "TargetDomainName", logonID: "SubjectLogonId"}},
	4728: {{provider: security, summary: "member added to security-enabled global group", action: "added-member-to-group", category: iam, typ: []string{"group", "change"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", group: "TargetUserName", logonID: "SubjectLogonId", keys: []string{"MemberName", "MemberSid"}}},
	4732: {{provider: security, summary: "member added to security-enabled local group", action: "added-member-to-group", category: iam, typ: []string{"group", "change"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", group: "TargetUserName", logonID: "SubjectLogonId", keys: []string{"MemberName", "MemberSid"}}},
	4738: {{provider: security, summary: "user account changed", action: "modified-user-account", category: iam, typ: []string{"user", "change"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", target: "TargetUserName", targetDomain: "TargetDomainName", logonID: "SubjectLogonId"}},
	1102: {{provider: "Eventlog", summary: "audit log cleared", action: "audit-log-cleared", category: config, typ: []string{"deletion"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", userID: "SubjectUserSid", logonID: "SubjectLogonId"}},
	104: {{provider: "Eventlog", summary: "event log cleared", action: "log-cleared", category: config, typ: []string{"deletion"}, outcome: "success",
		user: "SubjectUserName", domain: "SubjectDomainName", keys: []string{"Channel"}}},
	1149: {{provider: "TerminalServices-RemoteConnectionManager", summary: "RDP user authentication succeeded", action: "rdp-authenticated", category: authn, typ: []string{"start"}, outcome: "success",
		user: "Param1", domain: "Param2", srcIP: "Param3"}},
	21: {{provider: "TerminalServices-LocalSessionManager", summary: "RDP session logon succeeded", action: "rdp-session-logon", category: []string{"authentication", "session"}, typ: []string{"start"}, outcome: "success",
		userFromDomainUser: "User", srcIP: "Address", keys: []string{"SessionID"}}},
	24: {{provider: "TerminalServices-LocalSessionManager", summary: "RDP session disconnected", action: "rdp-session-disconnected", category: []string{"session"}, typ: []string{"end"}, outcome: "success",
		userFromDomainUser: "User", srcIP: "Address", keys: []string{"SessionID"}}},
	25: {{provider: "TerminalServices-LocalSessionManager", summary: "RDP session reconnected", action: "rdp-session-reconnected", category: []string{"authentication", "session"}, typ: []string{"start"}, outcome: "success",
		userFromDomainUser: "User", srcIP: "Address", keys: []string{"SessionID"}}},
	// Microsoft Defender Antivirus, Operational channel.
	1116: {{provider: defender, summary: "malware detected", action: "malware-detected", category: []string{"malware"}, typ: []string{"info"},
		userFromDomainUser: "Detection User", exe: "Process Name", keys: []string{"Threat Name", "Severity Name", "Path"}}},
	1117: {{provider: defender, summary: "action taken on malware", action: "malware-action-taken", category: []string{"malware"}, typ: []string{"info"},
		userFromDomainUser: "Detection User", exe: "Process Name", keys: []string{"Threat Name", "Action Name", "Path"}}},
	5001: {{provider: defender, summary: "real-time protection disabled", action: "antivirus-realtime-disabled", category: []string{"configuration"}, typ: []string{"change"}}},
	5007: {{provider: defender, summary: "antivirus configuration changed", action: "antivirus-configuration-changed", category: []string{"configuration"}, typ: []string{"change"},
		keys: []string{"Old Value", "New Value"}}},
	5010: {{provider: defender, summary: "scanning for malware disabled", action: "antivirus-scanning-disabled", category: []string{"configuration"}, typ: []string{"change"}}},
	5012: {{provider: defender, summary: "scanning for viruses disabled", action: "antivirus-scanning-disabled", category: []string{"configuration"}, typ: []string{"change"}}},
	5013: {{provider: defender, summary: "tamper protection blocked a change", action: "antivirus-tamper-blocked", category: []string{"configuration"}, typ: []string{"denied"},
		keys: []string{"Value"}}},
	18456: {{provider: "MSSQL", summary: "SQL Server login failed", action: "logon-failed", category: authn, typ: []string{"start"}, outcome: "failure",
		user: "Data1", clientInText: "Data3", keys: []string{"Data2"}}},
}

var logonTypes = map[string]string{
	"0": "System", "2": "Interactive", "3": "Network", "4": "Batch", "5": "Service", "7": "Unlock",
	"8": "NetworkCleartext", "9": "NewCredentials", "10": "RemoteInteractive", "11": "CachedInteractive",
	"12": "CachedRemoteInteractive", "13": "CachedUnlock",
}

var clientRE = regexp.MustCompile(`CLIENT:\s*([^\]\s]+)`)

func findRule(provider string, id uint32) *rule {
	rs := rules[id] // looked up once, not again for the rule found
	for i := range rs {
		if strings.Contains(provider, rs[i].provider) {
			return &rs[i]
		}
	}
	return nil
}

// useful drops the placeholders Windows writes for "no value".
func useful(s string) string {
	s = trimSpace(s)
	if s == "-" || s == "" {
		return ""
	}
	return s
}

// normalize fills the ECS fields for an audit-relevant event and returns
// the words that lead its message.
func normalize(ev *timeline.Event, provider string, id uint32, data map[string]string) (summary string, shown []field) {
	r := findRule(provider, id)
	if r == nil {
		return "", nil
	}
	var v ruleValues
	v.fill(r, data)
	return normalizeInto(ev, r, &v, data, nil, nil)
}

// normBlock holds the parts a normalised event may point at, allocated
// together, once, when the event has any of them, and kept with the
// event's block when it is recycled (eventBlock.norm).
type normBlock struct {
	user, target timeline.User
	src          timeline.Endpoint
	logon        timeline.WinlogLogon
	proc         timeline.Process
	group        timeline.Group
}

// normalizeInto is normalize for the rule r found, whose fields' values
// in the event's event_data (data) are vals, appending the fields shown
// to shown (a builder's scratch). When spare is not nil, the normBlock is *spare,
// which must be zero (a recycled block's, reset), or a new one left in
// *spare for the block to keep.
func normalizeInto(ev *timeline.Event, r *rule, vals *ruleValues, data map[string]string, shown []field, spare **normBlock) (summary string, _ []field) {
	get := func(f int) string {
		if r.fields[f] == "" {
			return "" // not one of the rule's: vals holds anything there
		}
		return useful(vals[f])
	}
	var nb *normBlock
	block := func() *normBlock {
		if nb == nil {
			switch {
			case spare == nil:
				nb = new(normBlock)
			case *spare == nil:
				nb = new(normBlock)
				*spare = nb
			default:
				nb = *spare
			}
		}
		return nb
	}
	ev.Event.Kind = "event"
	ev.Event.Action = r.action
	ev.Event.Category = r.category
	ev.Event.Type = r.typ
	ev.Event.Outcome = r.outcome

	u := timeline.User{Name: get(rfUser), Domain: get(rfDomain), ID: get(rfUserID)}
	if v := get(rfUserFromDomainUser); v != "" {
		if i := strings.LastIndexByte(v, '\\'); i >= 0 {
			u.Domain, u.Name = v[:i], v[i+1:]
		} else {
			u.Name = v
		}
	}
	if t := get(rfTarget); t != "" {
		b := block()
		b.target = timeline.User{Name: t, Domain: get(rfTargetDomain)}
		u.Target = &b.target
	}
	if u != (timeline.User{}) {
		b := block()
		b.user = u
		ev.User = &b.user
	}
	ip := get(rfSrcIP)
	if r.clientInText != "" {
		if m := clientRE.FindStringSubmatch(data[r.clientInText]); m != nil {
			ip = m[1]
		}
	}
	src := timeline.Endpoint{Domain: get(rfSrcHost)}
	if ip != "" {
		// A dotted IPv4 address, what most events hold, is shown as it
		// is written: net.ParseIP reads the same ones as netip (four
		// decimal numbers up to 255, no leading zeros) and its To4's
		// String gives the same text back, but both allocate.
		if a, err := netip.ParseAddr(ip); err == nil && a.Is4() {
			src.IP = ip
		} else if p := net.ParseIP(ip); p != nil {
			if v4 := p.To4(); v4 != nil {
				ip = v4.String()
			}
			src.IP = ip
		} else {
			src.Address = ip
		}
	}
	// Checked first: a failed Atoi allocates its error, and most events
	// have no port.
	if port := get(rfSrcPort); port != "" {
		if n, err := strconv.Atoi(port); err == nil && n > 0 {
			src.Port = n
		}
	}
	if src != (timeline.Endpoint{}) {
		b := block()
		b.src = src
		ev.Source = &b.src
	}
	if lt, lid := get(rfLogonType), get(rfLogonID); lt != "" || lid != "" {
		if name, ok := logonTypes[lt]; ok {
			lt = name
		}
		b := block()
		b.logon = timeline.WinlogLogon{Type: lt, ID: lid}
		ev.Winlog.Logon = &b.logon
	}
	if exe := get(rfExe); exe != "" || get(rfCmdline) != "" {
		p := &block().proc
		p.Executable, p.CommandLine = exe, get(rfCmdline)
		if exe != "" {
			p.Name = baseName(exe)
		}
		if pid := get(rfPID); pid != "" {
			if n, err := strconv.ParseInt(strings.TrimPrefix(pid, "0x"), pidBase(pid), 64); err == nil {
				p.PID = n
			}
		}
		ev.Process = p
	}
	if g := get(rfGroup); g != "" {
		b := block()
		b.group = timeline.Group{Name: g, ID: get(rfGroupID)}
		ev.Group = &b.group
	}

	if ev.User != nil && ev.User.Name != "" {
		shown = append(shown, field{k: "user", dom: ev.User.Domain, v: ev.User.Name})
	}
	if ev.User != nil && ev.User.Target != nil {
		shown = append(shown, field{k: "target_user", v: ev.User.Target.Name})
	}
	if ev.Group != nil {
		shown = append(shown, field{k: "group", v: ev.Group.Name})
	}
	if ev.Winlog.Logon != nil && ev.Winlog.Logon.Type != "" {
		shown = append(shown, field{k: "logon_type", v: ev.Winlog.Logon.Type})
	}
	if ev.Source != nil {
		if s := ev.Source.IP + ev.Source.Address; s != "" {
			shown = append(shown, field{k: "source", v: s})
		}
		if ev.Source.Domain != "" {
			shown = append(shown, field{k: "workstation", v: ev.Source.Domain})
		}
	}
	if ev.Process != nil && ev.Process.Executable != "" {
		shown = append(shown, field{k: "process", v: ev.Process.Executable})
	}
	if ev.Process != nil && ev.Process.CommandLine != "" {
		shown = append(shown, field{k: "command_line", v: ev.Process.CommandLine})
	}
	for i, k := range r.keys {
		if v := get(rfKeys + i); v != "" {
			shown = append(shown, field{k: k, v: v})
		}
	}
	return r.summary, shown
}

// baseName is path.Base of a Windows or slash path with its backslashes
// read as slashes, without building that copy: the last element, trailing
// separators dropped; "/" for separators only, "." for "".
func baseName(p string) string {
	if p == "" {
		return "."
	}
	isSep := func(c byte) bool { return c == '/' || c == '\\' }
	end := len(p)
	for end > 0 && isSep(p[end-1]) {
		end--
	}
	if end == 0 {
		return "/"
	}
	start := end
	for start > 0 && !isSep(p[start-1]) {
		start--
	}
	return p[start:end]
}

func pidBase(s string) int {
	if strings.HasPrefix(s, "0x") {
		return 16
	}
	return 10
}
