package evt

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// The Windows 2000/XP/2003 Security log writes its audit events with
// positional insertion strings (the 5xx/6xx IDs that Vista renumbered as
// 46xx/47xx). This table names the positions the hunting analyzers need and
// gives each event the event.action the evtx parser gives its successor
// (4624 logged-in, 4625 logon-failed, 4720 added-user-account, …), so a
// rule or analyzer reading actions, users and source addresses treats an
// old server's log like a new one's. Positions are 1-based, as Microsoft's
// event descriptions number them; 0 means the event has no such string.
type legacy struct {
	summary, action    string
	category, typ      []string
	outcome            string
	user, domain       int // the account the event is about (logon) or the caller (account management)
	target, targetDom  int // the account acted on (account management)
	logonType, logonID int
	srcIP, srcPort     int
	srcHost            int
	group              int
	// names gives insertion strings (by position) the event_data names
	// the Vista successor uses, beside Data1..N, for analyzers and rules
	// that read those names (MemberName, TargetUserName, IpAddress …).
	names map[int]string
}

var (
	authn = []string{"authentication"}
	iam   = []string{"iam"}
)

// logonFailure is the layout of 529-537 and 539: User Name, Domain, Logon
// Type, Logon Process, Authentication Package, Workstation Name, Caller
// User Name, Caller Domain, Caller Logon ID, Caller Process ID, Transited
// Services, Source Network Address, Source Port.
var logonFailure = legacy{summary: "failed logon", action: "logon-failed", category: authn, typ: []string{"start"}, outcome: "failure",
	user: 1, domain: 2, logonType: 3, srcHost: 6, srcIP: 12, srcPort: 13,
	names: map[int]string{1: "TargetUserName", 2: "TargetDomainName", 3: "LogonType", 4: "LogonProcessName",
		5: "AuthenticationPackageName", 6: "WorkstationName", 7: "SubjectUserName", 8: "SubjectDomainName",
		9: "SubjectLogonId", 10: "ProcessId", 12: "IpAddress", 13: "IpPort"}}

// logonNames are 528's and 540's strings under 4624's names.
var logonNames = map[int]string{1: "TargetUserName", 2: "TargetDomainName", 3: "TargetLogonId", 4: "LogonType",
	5: "LogonProcessName", 6: "AuthenticationPackageName", 7: "WorkstationName", 8: "LogonGuid",
	9: "SubjectUserName", 10: "SubjectDomainName", 11: "SubjectLogonId", 12: "ProcessId", 14: "IpAddress", 15: "IpPort"}

// accountNames are 624's, 626's, 628's and 630's strings under 4720's names.
var accountNames = map[int]string{1: "TargetUserName", 2: "TargetDomainName", 3: "TargetSid",
	4: "SubjectUserName", 5: "SubjectDomainName", 6: "SubjectLogonId"}

// memberNames are 632's, 636's and 660's strings under 4728's names.
var memberNames = map[int]string{1: "MemberName", 2: "MemberSid", 3: "TargetUserName", 4: "TargetDomainName",
	5: "TargetSid", 6: "SubjectUserName", 7: "SubjectDomainName", 8: "SubjectLogonId"}

var legacyRules = map[int]legacy{
	// 528 and 540: User Name, Domain, Logon ID, Logon Type, Logon Process,
	// Authentication Package, Workstation Name, Logon GUID, Caller User
	// Name, Caller Domain, Caller Logon ID, Caller Process ID, Transited
	// Services, Source Network Address, Source Port.
	528: {summary: "logon", action: "logged-in", category: authn, typ: []string{"start"}, outcome: "success",
		user: 1, domain: 2, logonID: 3, logonType: 4, srcHost: 7, srcIP: 14, srcPort: 15, names: logonNames},
	540: {summary: "network logon", action: "logged-in", category: authn, typ: []string{"start"}, outcome: "success",
		user: 1, domain: 2, logonID: 3, logonType: 4, srcHost: 7, srcIP: 14, srcPort: 15, names: logonNames},
	529: logonFailure, 530: logonFailure, 531: logonFailure, 532: logonFailure, 533: logonFailure,
	534: logonFailure, 535: logonFailure, 536: logonFailure, 537: logonFailure, 539: logonFailure,
	// 538: User Name, Domain, Logon ID, Logon Type. 551: User Name, Domain,
	// Logon ID.
	538: {summary: "logoff", action: "logged-out", category: authn, typ: []string{"end"}, outcome: "success", user: 1, domain: 2, logonID: 3, logonType: 4},
	551: {summary: "user-initiated logoff", action: "logged-out", category: authn, typ: []string{"end"}, outcome: "success", user: 1, domain: 2, logonID: 3},
	// 624: New Account Name, New Domain, New Account ID, Caller User Name,
	// Caller Domain, Caller Logon ID, Privileges. 626, 628, 630: Target
	// Account Name, Target Domain, Target Account ID, Caller User Name,
	// Caller Domain, Caller Logon ID.
	624: {summary: "user account created", action: "added-user-account", category: iam, typ: []string{"user", "creation"}, outcome: "success",
		target: 1, targetDom: 2, user: 4, domain: 5, logonID: 6, names: accountNames},
	626: {summary: "user account enabled", action: "enabled-user-account", category: iam, typ: []string{"user", "change"}, outcome: "success",
		target: 1, targetDom: 2, user: 4, domain: 5, logonID: 6, names: accountNames},
	628: {summary: "password set", action: "reset-password", category: iam, typ: []string{"user", "change"}, outcome: "success",
		target: 1, targetDom: 2, user: 4, domain: 5, logonID: 6, names: accountNames},
	630: {summary: "user account deleted", action: "deleted-user-account", category: iam, typ: []string{"user", "deletion"}, outcome: "success",
		target: 1, targetDom: 2, user: 4, domain: 5, logonID: 6, names: accountNames},
	// 632, 636, 660: Member Name, Member ID, Target Account Name (the
	// group), Target Domain, Target Account ID, Caller User Name, Caller
	// Domain, Caller Logon ID.
	632: {summary: "member added to security-enabled global group", action: "added-member-to-group", category: iam, typ: []string{"group", "change"}, outcome: "success",
		target: 1, group: 3, user: 6, domain: 7, logonID: 8, names: memberNames},
	636: {summary: "member added to security-enabled local group", action: "added-member-to-group", category: iam, typ: []string{"group", "change"}, outcome: "success",
		target: 1, group: 3, user: 6, domain: 7, logonID: 8, names: memberNames},
	660: {summary: "member added to security-enabled universal group", action: "added-member-to-group", category: iam, typ: []string{"group", "change"}, outcome: "success",
		target: 1, group: 3, user: 6, domain: 7, logonID: 8, names: memberNames},
	// 517: Primary User Name, Primary Domain, Primary Logon ID, Client User
	// Name, Client Domain, Client Logon ID.
	517: {summary: "audit log cleared", action: "audit-log-cleared", category: []string{"iam", "configuration"}, typ: []string{"deletion"}, outcome: "success",
		user: 4, domain: 5, logonID: 6},
}

// normalize fills ECS fields of a Security-log record it knows.
func normalize(ev *timeline.Event, r *record) {
	if !strings.EqualFold(r.source, "Security") {
		return
	}
	l, ok := legacyRules[int(r.eventID&0xffff)]
	if !ok {
		return
	}
	s := func(i int) string {
		if i <= 0 || i > len(r.strings) {
			return ""
		}
		v := strings.TrimSpace(r.strings[i-1])
		if v == "-" {
			return ""
		}
		return v
	}
	for pos, name := range l.names {
		if pos <= len(r.strings) {
			if _, taken := ev.Winlog.EventData[name]; !taken {
				ev.Winlog.EventData[name] = r.strings[pos-1]
			}
		}
	}
	ev.Event.Action = l.action
	ev.Event.Category = l.category
	ev.Event.Type = l.typ
	if ev.Event.Outcome == "" {
		ev.Event.Outcome = l.outcome
	}
	if u := s(l.user); u != "" {
		ev.User = &timeline.User{Name: u, Domain: s(l.domain)}
	}
	if t := s(l.target); t != "" {
		if ev.User == nil {
			ev.User = &timeline.User{}
		}
		ev.User.Target = &timeline.User{Name: t, Domain: s(l.targetDom)}
	}
	if g := s(l.group); g != "" {
		ev.Group = &timeline.Group{Name: g}
	}
	if lt := s(l.logonType); lt != "" {
		ev.Winlog.Logon = &timeline.WinlogLogon{Type: logonTypeName(lt), ID: s(l.logonID)}
	} else if id := s(l.logonID); id != "" {
		ev.Winlog.Logon = &timeline.WinlogLogon{ID: id}
	}
	ip := s(l.srcIP)
	if a, err := netip.ParseAddr(ip); err == nil && !a.IsUnspecified() {
		port, _ := strconv.Atoi(s(l.srcPort))
		ev.Source = &timeline.Endpoint{IP: a.Unmap().String(), Port: port}
	}
	if h := s(l.srcHost); h != "" {
		if ev.Source == nil {
			ev.Source = &timeline.Endpoint{}
		}
		ev.Source.Domain = h
	}
}

// logonTypeName writes a logon type number as Winlogbeat names it.
func logonTypeName(s string) string {
	names := map[string]string{"2": "Interactive", "3": "Network", "4": "Batch", "5": "Service", "7": "Unlock",
		"8": "NetworkCleartext", "9": "NewCredentials", "10": "RemoteInteractive", "11": "CachedInteractive"}
	if n, ok := names[s]; ok {
		return n
	}
	return s
}
