package hunt

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/jejak-forensics/jejak/timeline"
)

// This file is the one table between Sigma's log sources and field names
// and jejak's ECS events. Windows events carry Sigma's names natively
// (System fields and EventData by name); other events get the names of the
// SigmaHQ Linux and web server rules, plus every ECS name
// ("event.action", "source.ip", ...) for rules written against ECS
// (logsource product "ecs", jejak's extension).

// windowsServices maps Sigma's windows services to EVTX channels.
var windowsServices = map[string][]string{
	"security":                             {"Security"},
	"system":                               {"System"},
	"application":                          {"Application"},
	"sysmon":                               {"Microsoft-Windows-Sysmon/Operational"},
	"powershell":                           {"Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"},
	"powershell-classic":                   {"Windows PowerShell"},
	"taskscheduler":                        {"Microsoft-Windows-TaskScheduler/Operational"},
	"wmi":                                  {"Microsoft-Windows-WMI-Activity/Operational"},
	"dns-server":                           {"DNS Server"},
	"driver-framework":                     {"Microsoft-Windows-DriverFrameworks-UserMode/Operational"},
	"ntlm":                                 {"Microsoft-Windows-NTLM/Operational"},
	"windefend":                            {"Microsoft-Windows-Windows Defender/Operational"},
	"firewall-as":                          {"Microsoft-Windows-Windows Firewall With Advanced Security/Firewall"},
	"bits-client":                          {"Microsoft-Windows-Bits-Client/Operational"},
	"codeintegrity-operational":            {"Microsoft-Windows-CodeIntegrity/Operational"},
	"terminalservices-localsessionmanager": {"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"},
	"terminalservices-remoteconnectionmanager": {"Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"},
	"rdp": {"Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
		"Microsoft-Windows-TerminalServices-LocalSessionManager/Operational"},
	"openssh":                  {"OpenSSH/Operational"},
	"msexchange-management":    {"MSExchange Management"},
	"appxdeployment-server":    {"Microsoft-Windows-AppXDeploymentServer/Operational"},
	"smbclient-security":       {"Microsoft-Windows-SmbClient/Security"},
	"printservice-admin":       {"Microsoft-Windows-PrintService/Admin"},
	"printservice-operational": {"Microsoft-Windows-PrintService/Operational"},
	"diagnosis-scripted":       {"Microsoft-Windows-Diagnosis-Scripted/Operational"},
	"shell-core":               {"Microsoft-Windows-Shell-Core/Operational"},
	"ldap_debug":               {"Microsoft-Windows-LDAP-Client/Debug"},
	"vhdmp":                    {"Microsoft-Windows-VHDMP-Operational"},
	// The channels of SigmaHQ's windows-services config (pySigma's
	// windows pipeline) for the remaining services its rules name.
	"dns-client":                  {"Microsoft-Windows-DNS Client Events/Operational"},
	"iis-configuration":           {"Microsoft-IIS-Configuration/Operational"},
	"security-mitigations":        {"Microsoft-Windows-Security-Mitigations/Kernel Mode", "Microsoft-Windows-Security-Mitigations/User Mode"},
	"smbserver-connectivity":      {"Microsoft-Windows-SMBServer/Connectivity"},
	"lsa-server":                  {"Microsoft-Windows-LSA/Operational"},
	"ldap":                        {"Microsoft-Windows-LDAP-Client/Debug"},
	"capi2":                       {"Microsoft-Windows-CAPI2/Operational"},
	"appmodel-runtime":            {"Microsoft-Windows-AppModel-Runtime/Admin"},
	"appxpackaging-om":            {"Microsoft-Windows-AppxPackagingOM/Operational"},
	"microsoft-servicebus-client": {"Microsoft-ServiceBus-Client"},
	"certificateservicesclient-lifecycle-system": {"Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational"},
	"applocker": {"Microsoft-Windows-AppLocker/MSI and Script", "Microsoft-Windows-AppLocker/EXE and DLL",
		"Microsoft-Windows-AppLocker/Packaged app-Deployment", "Microsoft-Windows-AppLocker/Packaged app-Execution"},
}

// windowsCategories maps Sigma's windows categories to Sysmon event IDs
// (Security 4688 also stands for process_creation, with its fields renamed
// to Sysmon's).
var windowsCategories = map[string][]int{
	"process_creation":         {1},
	"file_change":              {2},
	"network_connection":       {3},
	"sysmon_status":            {4, 16},
	"process_termination":      {5},
	"driver_load":              {6},
	"image_load":               {7},
	"create_remote_thread":     {8},
	"raw_access_thread":        {9},
	"process_access":           {10},
	"file_event":               {11},
	"registry_add":             {12},
	"registry_delete":          {12},
	"registry_set":             {13},
	"registry_rename":          {14},
	"registry_event":           {12, 13, 14},
	"create_stream_hash":       {15},
	"pipe_created":             {17, 18},
	"wmi_event":                {19, 20, 21},
	"dns_query":                {22},
	"file_delete":              {23, 26},
	"clipboard_capture":        {24},
	"process_tampering":        {25},
	"file_block_executable":    {27},
	"file_block_shredding":     {28},
	"file_executable_detected": {29},
}

const sysmonChannel = "Microsoft-Windows-Sysmon/Operational"

// channelCategory is a windows category that is not Sysmon's: the event
// IDs it stands for in the given channels.
type channelCategory struct {
	channels []string
	ids      []int
}

var psChannels = []string{"Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"}

// windowsChannelCategories are the categories read from other channels
// (as Hayabusa and pySigma's windows pipeline map them).
var windowsChannelCategories = map[string]channelCategory{
	"ps_script": {psChannels, []int{4104}}, // script block logging: ScriptBlockText
	"ps_module": {psChannels, []int{4103}}, // module logging: Payload, ContextInfo
	// Windows PowerShell (classic) engine and provider life-cycle and
	// pipeline execution: their EventData is unnamed, read as Data.
	"ps_classic_start":          {[]string{"Windows PowerShell"}, []int{400}},
	"ps_classic_provider_start": {[]string{"Windows PowerShell"}, []int{600}},
	"ps_classic_script":         {[]string{"Windows PowerShell"}, []int{800}},
	// Object access on files (audit policy with a SACL): FileName and
	// Image are ObjectName and ProcessName (see sigmaEventInto).
	"file_access":  {[]string{"Security"}, []int{4663}},
	"sysmon_error": {[]string{sysmonChannel}, []int{255}},
}

// unmappedReasons say why a log source known to SigmaHQ has no events in
// what jejak reads, so 'rules list' states it rather than "no mapping".
var unmappedReasons = map[string]string{
	"file_rename": "file_rename needs Microsoft-Windows-Kernel-File ETW rename events, which no EVTX channel records by default",
}

// linuxServices maps Sigma's linux services to the program that logs them.
var linuxServices = map[string][]string{
	"sshd":        {"sshd"},
	"sudo":        {"sudo"},
	"cron":        {"cron", "crond", "CRON", "anacron"},
	"clamav":      {"clamd", "freshclam", "clamav"},
	"vsftpd":      {"vsftpd"},
	"guacamole":   {"guacd", "guacamole"},
	"modsecurity": {"modsecurity", "ModSecurity"},
	"su":          {"su"},
	"login":       {"login"},
	"passwd":      {"passwd", "chpasswd"},
	"useradd":     {"useradd", "usermod", "userdel", "groupadd", "gpasswd"},
}

func logsourceFilter(l sigma.Logsource) (func(*timeline.Event) bool, error) {
	product, service, category := strings.ToLower(l.Product), strings.ToLower(l.Service), strings.ToLower(l.Category)
	switch product {
	case "windows":
		isWin := func(ev *timeline.Event) bool { return ev.Winlog != nil }
		if service != "" {
			chans, ok := windowsServices[service]
			if !ok {
				return nil, fmt.Errorf("no channel mapping for windows service %q", l.Service)
			}
			return func(ev *timeline.Event) bool {
				if ev.Winlog == nil {
					return false
				}
				for _, c := range chans {
					if strings.EqualFold(ev.Winlog.Channel, c) {
						return true
					}
				}
				return false
			}, nil
		}
		if cc, ok := windowsChannelCategories[category]; ok {
			return func(ev *timeline.Event) bool {
				w := ev.Winlog
				if w == nil || !slices.Contains(cc.ids, w.EventID) {
					return false
				}
				for _, c := range cc.channels {
					if strings.EqualFold(w.Channel, c) {
						return true
					}
				}
				return false
			}, nil
		}
		if category != "" {
			ids, ok := windowsCategories[category]
			if !ok {
				if why, ok := unmappedReasons[category]; ok {
					return nil, fmt.Errorf("no mapping for windows category %q: %s", l.Category, why)
				}
				return nil, fmt.Errorf("no mapping for windows category %q", l.Category)
			}
			return func(ev *timeline.Event) bool {
				w := ev.Winlog
				if w == nil {
					return false
				}
				if category == "process_creation" && w.EventID == 4688 && strings.EqualFold(w.Channel, "Security") {
					return true
				}
				// The event ID first: it rules out most events for a
				// fraction of the channel comparison's cost.
				return slices.Contains(ids, w.EventID) && strings.EqualFold(w.Channel, sysmonChannel)
			}, nil
		}
		return isWin, nil
	case "linux":
		if category != "" {
			switch category {
			case "process_creation":
				return func(ev *timeline.Event) bool {
					return ev.Jejak.Provenance.Parser == "auditd" && ev.Event.Action == "executed"
				}, nil
			case "file_event":
				// A file created, as auditd records it: a PATH record of
				// nametype CREATE (TargetFilename, see auditdFields).
				return func(ev *timeline.Event) bool {
					return ev.Jejak.Provenance.Parser == "auditd" && auditdCreated(ev.Jejak.Data) != ""
				}, nil
			}
			return nil, fmt.Errorf("no mapping for linux category %q", l.Category)
		}
		switch service {
		case "":
			return func(ev *timeline.Event) bool { return ev.Winlog == nil }, nil
		case "auditd":
			return func(ev *timeline.Event) bool { return ev.Jejak.Provenance.Parser == "auditd" }, nil
		case "syslog":
			return isSyslogRecord, nil
		case "auth":
			return func(ev *timeline.Event) bool { return isSyslogRecord(ev) && isAuthSyslog(ev) }, nil
		}
		progs, ok := linuxServices[service]
		if !ok {
			return nil, fmt.Errorf("no mapping for linux service %q", l.Service)
		}
		return func(ev *timeline.Event) bool {
			p := program(ev)
			for _, x := range progs {
				if p == x {
					return true
				}
			}
			return false
		}, nil
	case "ecs":
		return func(*timeline.Event) bool { return true }, nil
	case "":
		if category == "webserver" {
			return func(ev *timeline.Event) bool { return ev.HTTP != nil || ev.URL != nil }, nil
		}
	}
	switch {
	case product != "" && product != "windows" && product != "linux":
		return nil, fmt.Errorf("no mapping for log source product %q", l.Product)
	case l.Service != "":
		return nil, fmt.Errorf("no mapping for log source service %q", l.Service)
	case l.Category != "":
		return nil, fmt.Errorf("no mapping for log source category %q", l.Category)
	}
	return nil, fmt.Errorf("no mapping for log source %s", logsourceString(l))
}

// unnamedData joins a record's unnamed Data elements (EventData's Data1,
// Data2, ...) as the one "Data" field Sigma's classic PowerShell rules
// read (HostApplication=..., EngineVersion=... inside it); "contains" is
// how those rules test it.
func unnamedData(ed map[string]string) string {
	var parts []string
	for i := 1; ; i++ {
		v, ok := ed["Data"+strconv.Itoa(i)]
		if !ok {
			break
		}
		parts = append(parts, v)
	}
	return strings.Join(parts, "\n")
}

func program(ev *timeline.Event) string {
	if ev.Process != nil && ev.Process.Name != "" {
		return ev.Process.Name
	}
	if ev.Log != nil && ev.Log.Syslog != nil {
		return ev.Log.Syslog.Appname
	}
	return ""
}

// isAuthSyslog: facility auth/authpriv, or a program that writes
// auth.log on Debian.
func isAuthSyslog(ev *timeline.Event) bool {
	if ev.Log != nil && ev.Log.Syslog != nil && ev.Log.Syslog.Facility != nil {
		switch ev.Log.Syslog.Facility.Code {
		case 4, 10:
			return true
		}
	}
	for _, c := range ev.Event.Category {
		if c == "authentication" || c == "iam" {
			return true
		}
	}
	switch program(ev) {
	case "sshd", "sudo", "su", "login", "passwd", "useradd", "usermod", "userdel", "groupadd", "systemd-logind", "polkitd":
		return true
	}
	return false
}

// winSystemData are the System fields of a Windows record that Sigma
// names and jejak keeps in jejak.data: (jejak.data key, Sigma name).
var winSystemData = [...][2]string{{"level", "Level"}, {"task", "Task"}, {"opcode", "Opcode"}, {"keywords", "Keywords"}, {"version", "Version"}}

// winAliases are, by event ID of a Security record, the Sigma names its
// rules read from other event_data keys: (Sigma name, event_data key),
// each set unless the record has its own. 4688 gets Sysmon's names, so
// process_creation rules read Security 4688; 4663 the file and process
// as the Kernel-File provider names them, for file_access rules.
var winAliases = map[int][][2]string{
	4688: {{"Image", "NewProcessName"}, {"ParentImage", "ParentProcessName"}, {"User", "SubjectUserName"}, {"LogonId", "SubjectLogonId"}, {"ProcessId", "NewProcessId"}},
	4663: {{"FileName", "ObjectName"}, {"Image", "ProcessName"}},
}

// sigmaMapKeys are the keys of a Windows record's event_data and
// jejak.data that sigmaEventInto (and the prefilter's value) read for the
// Sigma fields want holds: each field itself, the jejak.data key of a
// System field, an alias's source, and Data's DataN (prefix "Data").
func sigmaMapKeys(want map[string]bool) (names, prefixes []string) {
	for f := range want {
		names = append(names, f)
	}
	for _, k := range winSystemData {
		if want[k[1]] {
			names = append(names, k[0])
		}
	}
	for _, aliases := range winAliases {
		for _, a := range aliases {
			if want[a[0]] {
				names = append(names, a[1])
			}
		}
	}
	if want["Data"] {
		prefixes = append(prefixes, "Data")
	}
	return names, prefixes
}

// sigmaEventInto fills m, empty, with ev's Sigma fields: the flat field map
// Sigma rules read (a hunt reuses one map for every event), restricted to
// the fields want holds (nil: every field). Every write below asks want
// first, and a write that depends on a key already set (an alias, Data)
// reads the key it writes, so the map is the full one with the other keys
// left out. A hunt's rules read a few dozen of an event's fields; the
// others are neither computed nor stored.
func sigmaEventInto(m map[string]any, ev *timeline.Event, want map[string]bool) map[string]any {
	wanted := func(k string) bool { return want == nil || want[k] }
	set := func(k, v string) {
		if v != "" && wanted(k) {
			m[k] = v
		}
	}
	if w := ev.Winlog; w != nil {
		for k, v := range w.EventData {
			if wanted(k) {
				m[k] = v
			}
		}
		if wanted("EventID") {
			m["EventID"] = strconv.Itoa(w.EventID)
		}
		set("Channel", w.Channel)
		set("Provider_Name", w.ProviderName)
		set("Computer", w.ComputerName)
		if w.RecordID != 0 && wanted("EventRecordID") {
			m["EventRecordID"] = strconv.FormatUint(w.RecordID, 10)
		}
		for _, k := range winSystemData {
			if wanted(k[1]) {
				set(k[1], ev.Jejak.Data[k[0]])
			}
		}
		if aliases := winAliases[w.EventID]; aliases != nil && strings.EqualFold(w.Channel, "Security") {
			for _, a := range aliases {
				if _, ok := m[a[0]]; !ok {
					set(a[0], w.EventData[a[1]])
				}
			}
		}
		if _, ok := m["Data"]; !ok && wanted("Data") {
			set("Data", unnamedData(w.EventData))
		}
	} else {
		for k, v := range ev.Jejak.Data {
			if wanted(k) {
				m[k] = v
			}
		}
		// SigmaHQ Linux and web server rule fields.
		if ev.Process != nil {
			set("Image", ev.Process.Executable)
			set("CommandLine", ev.Process.CommandLine)
			set("ProcessId", pidString(ev.Process.PID))
			set("CurrentDirectory", ev.Process.WorkingDir)
		}
		if ev.User != nil {
			set("User", ev.User.Name)
		}
		if ev.URL != nil {
			set("cs-uri-stem", ev.URL.Path)
			set("cs-uri-query", ev.URL.Query)
			set("cs-uri", ev.URL.Original)
		}
		if ev.HTTP != nil {
			if ev.HTTP.Request != nil {
				set("cs-method", ev.HTTP.Request.Method)
				set("cs-referer", ev.HTTP.Request.Referrer)
			}
			if ev.HTTP.Response != nil && ev.HTTP.Response.StatusCode != 0 {
				m["sc-status"] = strconv.Itoa(ev.HTTP.Response.StatusCode)
			}
		}
		if ev.UserAgent != nil {
			set("cs-user-agent", ev.UserAgent.Original)
		}
		if ev.Source != nil {
			set("c-ip", ev.Source.IP)
		}
		if ev.Jejak.Provenance.Parser == "auditd" {
			if wanted("TargetFilename") {
				if f := auditdCreated(ev.Jejak.Data); f != "" {
					set("TargetFilename", f)
				}
			}
			if wanted(auditdRecordsField) {
				m[auditdRecordsField] = auditdRecords(ev.Jejak.Data)
			}
		}
	}
	if wanted(keywordsField) {
		kw := ev.Message
		if ev.Event.Original != "" {
			kw = ev.Event.Original
		}
		m[keywordsField] = kw
	}
	ecsFields(ev, set, wanted)
	return m
}

func pidString(p int64) string {
	if p == 0 {
		return ""
	}
	return strconv.FormatInt(p, 10)
}

// ecsFields sets the ECS names that rules written against ECS use.
func ecsFields(ev *timeline.Event, set func(k, v string), wanted func(string) bool) {
	set("message", ev.Message)
	set("timestamp_desc", ev.TimestampDesc)
	set("event.action", ev.Event.Action)
	set("event.outcome", ev.Event.Outcome)
	set("event.code", ev.Event.Code)
	set("event.dataset", ev.Event.Dataset)
	set("event.provider", ev.Event.Provider)
	if wanted("event.category") {
		set("event.category", strings.Join(ev.Event.Category, " "))
	}
	set("jejak.provenance.parser", ev.Jejak.Provenance.Parser)
	set("jejak.provenance.path", ev.Jejak.Provenance.Path)
	if wanted("jejak.tags") {
		set("jejak.tags", strings.Join(ev.Jejak.Tags, " "))
	}
	if ev.Host != nil {
		set("host.name", ev.Host.Name)
	}
	if u := ev.User; u != nil {
		set("user.name", u.Name)
		set("user.domain", u.Domain)
		if u.Target != nil {
			set("user.target.name", u.Target.Name)
		}
		if u.Effective != nil {
			set("user.effective.name", u.Effective.Name)
		}
	}
	if s := ev.Source; s != nil {
		set("source.ip", s.IP)
		set("source.domain", s.Domain)
		set("source.address", s.Address)
	}
	if p := ev.Process; p != nil {
		set("process.name", p.Name)
		set("process.executable", p.Executable)
		set("process.command_line", p.CommandLine)
	}
	if f := ev.File; f != nil {
		set("file.path", f.Path)
		set("file.name", f.Name)
	}
	if u := ev.URL; u != nil {
		set("url.original", u.Original)
		set("url.path", u.Path)
	}
	if ev.Group != nil {
		set("group.name", ev.Group.Name)
	}
	if w := ev.Winlog; w != nil {
		set("winlog.channel", w.Channel)
		if w.Logon != nil {
			set("winlog.logon.type", w.Logon.Type)
		}
	}
}

// isSyslogRecord: a record of the system log, from a syslog file or the
// systemd journal (a server without rsyslog keeps its auth records only
// there; parsers/journal normalises them as syslog's are).
func isSyslogRecord(ev *timeline.Event) bool {
	p := ev.Jejak.Provenance.Parser
	return p == "syslog" || p == "journal"
}
