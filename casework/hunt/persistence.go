package hunt

import (
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Windows persistence: services installed (System 7045, Security 4697) and
// scheduled tasks registered (Security 4698, TaskScheduler 106) after the
// cut-off. Windows installs services and tasks of its own all the time
// (per-user services at every logon, update tasks), so an install is a
// finding only when something about it is what attackers do: a binary
// outside the system folders, a shell or script host as the image, a
// remote-execution tool's service, a random name, an install made through
// a network logon.

// winPath lower-cases a Windows image path and resolves the spellings of
// the Windows folder (%SystemRoot%, \SystemRoot\, \??\, a bare
// "system32\" of drivers), so one prefix test says where a binary lives.
// The executable alone is returned (quoted, or up to the first ".exe").
func winPath(s string) string {
	p := strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(p, `"`) {
		if i := strings.IndexByte(p[1:], '"'); i >= 0 {
			p = p[1 : i+1]
		} else {
			p = p[1:]
		}
	} else if i := imageEnd(p); i >= 0 {
		p = p[:i]
	}
	p = strings.TrimPrefix(p, `\??\`)
	for _, v := range []string{"%systemroot%", "%windir%", `\systemroot`} {
		if strings.HasPrefix(p, v) {
			p = `c:\windows` + p[len(v):]
		}
	}
	if strings.HasPrefix(p, "%programfiles%") {
		p = `c:\program files` + p[len("%programfiles%"):]
	}
	if strings.HasPrefix(p, `system32\`) {
		p = `c:\windows\` + p
	}
	return p
}

// imageEnd is where the program of an unquoted command line ends: at the
// first blank when the first word is a program on its own (no folder, or an
// extension: "%comspec% /c ...", "svchost.exe -k"), else after the first
// executable extension (an unquoted "C:\Program Files\x\y.exe -k").
func imageEnd(p string) int {
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		w := p[:i]
		if !strings.Contains(w, `\`) || strings.Contains(w[strings.LastIndexByte(w, '\\')+1:], ".") {
			return i
		}
	}
	end := -1
	for _, ext := range []string{".exe", ".sys", ".dll", ".com", ".bat", ".cmd", ".ps1"} {
		if i := strings.Index(p, ext); i >= 0 && (end < 0 || i+len(ext) < end) {
			end = i + len(ext)
		}
	}
	if end < 0 {
		end = strings.IndexAny(p, " \t")
	}
	return end
}

// systemFolders are where Windows and installed programs keep service and
// task binaries; the Windows folder itself and its Temp are not among them
// (PsExec and its clones copy their service binary to ADMIN$, which is
// C:\Windows).
var systemFolders = []string{`\windows\system32\`, `\windows\syswow64\`, `\windows\winsxs\`,
	`\windows\microsoft.net\`, `\windows\servicing\`, `\program files\`, `\program files (x86)\`,
	`\programdata\microsoft\windows defender\platform\`}

// outsideSystem reports whether an image path names a binary outside the
// system folders. A bare name ("calc.exe") is resolved by Windows on the
// PATH and says nothing either way.
func outsideSystem(img string) bool {
	p := winPath(img)
	if p == "" || !strings.Contains(p, `\`) {
		return false
	}
	if len(p) > 2 && p[1] == ':' {
		p = p[2:]
	}
	for _, f := range systemFolders {
		if strings.HasPrefix(p, f) {
			return false
		}
	}
	return true
}

// interpreters are programs that run whatever text they are given: a
// service or task whose image is one of them runs a command line, not a
// program (Metasploit's and Impacket's "%COMSPEC% /b /c start ...").
var interpreterRE = regexp.MustCompile(`(?i)(%comspec%|(^|[\\/"\s])(cmd|powershell|pwsh|mshta|wscript|cscript|rundll32|regsvr32|certutil|bitsadmin)(\.exe)?(["\s]|$))`)

func interpreter(cmd string) string {
	m := interpreterRE.FindStringSubmatch(cmd)
	if m == nil {
		return ""
	}
	if m[3] != "" {
		return strings.ToLower(m[3])
	}
	return strings.ToLower(m[1])
}

// remoteExecServices are the services remote-execution tools install on
// their target (PsExec, PAExec, RemCom, CsExec, winexe, Impacket smbexec).
var remoteExecServices = []string{"psexesvc", "paexec", "remcomsvc", "csexecsvc", "winexesvc", "btobto"}

func remoteExecTool(name, img string) string {
	n := strings.ToLower(name)
	b := strings.ToLower(baseOfWin(winPath(img)))
	for _, s := range remoteExecServices {
		if strings.HasPrefix(n, s) || strings.HasPrefix(b, s) {
			return s
		}
	}
	return ""
}

func baseOfWin(p string) string {
	if i := strings.LastIndexAny(p, `\/`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// randomName reports whether a service name looks generated: letters and
// digits only, split at each lower-to-upper change into pieces of which at
// least two are shorter than three characters ("xKpQ", "hAcKjsdPwOQiZbXn"
// from Impacket and Metasploit). Names Windows and vendors give are words
// ("MpsSvc", "WinDefend", "CDPUserSvc_5898"), which this leaves alone; a
// random all-lower-case name is not caught.
func randomName(s string) bool {
	if len(s) < 4 || len(s) > 32 || windowsShortNames[strings.ToLower(s)] {
		return false
	}
	short, piece := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		isUpper, isLower := c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z'
		if !isUpper && !isLower && !(c >= '0' && c <= '9') {
			return false
		}
		if isUpper && i > 0 && s[i-1] >= 'a' && s[i-1] <= 'z' {
			if piece < 3 {
				short++
			}
			piece = 0
		}
		piece++
	}
	if piece < 3 {
		short++
	}
	return short >= 2
}

// windowsShortNames are Windows' own service names that randomName would
// take for generated ones (checked by hand against the built-in service
// names of Windows 10/11 and Server; extend it when another turns up).
var windowsShortNames = map[string]bool{"axinstsv": true}

// networkLogon remembers network logons (4624 type 3) by logon ID, so a
// 4697 made in that logon session is known to come from another machine.
type networkLogon struct {
	ip, user string
	at       time.Time
	ref      EventRef
}

// logonMemory bounds the network logons kept: a domain controller logs
// millions, and a remote service install follows its logon by seconds.
const logonMemory = time.Hour

// ---- services ----

type serviceInstall struct {
	h      *hunter
	r      *Rule
	logons map[string]networkLogon // host, logon ID
	bySID  map[string]networkLogon // host, account SID: the latest
	added  int
	out    []*install
	last   map[string]*install
}

type install struct {
	name, img, account, host, by string
	at                           time.Time
	reasons                      []string
	refs                         []EventRef
	remote                       bool
	onlyName                     bool
}

func newServiceInstall(h *hunter, r *Rule) (analyzer, error) {
	return &serviceInstall{h: h, r: r, logons: map[string]networkLogon{}, bySID: map[string]networkLogon{}, last: map[string]*install{}}, nil
}

func (s *serviceInstall) wants() interest {
	return interest{winIDs: []int{4624}, actions: []string{"service-installed"}}
}

func (s *serviceInstall) observe(ev *timeline.Event) {
	if ev.Winlog == nil {
		return
	}
	w := ev.Winlog
	d := w.EventData
	switch {
	case w.EventID == 4624 && w.Logon != nil && w.Logon.Type == "Network" && w.Logon.ID != "":
		if ip := sourceOf(ev); ip != "" && !loopback(ip) {
			l := networkLogon{ip: ip, user: userOf(ev), at: ev.Timestamp, ref: s.h.ref(ev)}
			s.logons[hostOf(ev)+"\x00"+w.Logon.ID] = l
			if ev.User != nil && ev.User.ID != "" {
				s.bySID[hostOf(ev)+"\x00"+ev.User.ID] = l
			}
			if s.added++; s.added%4096 == 0 {
				for k, l := range s.logons {
					if ev.Timestamp.Sub(l.at) > logonMemory {
						delete(s.logons, k)
					}
				}
				for k, l := range s.bySID {
					if ev.Timestamp.Sub(l.at) > logonMemory {
						delete(s.bySID, k)
					}
				}
			}
		}
		return
	case ev.Event.Action != "service-installed" || !s.h.inScope(ev.Timestamp):
		return
	}
	name := useful(d["ServiceName"])
	img := useful(d["ImagePath"])
	if w.EventID == 4697 {
		img = useful(d["ServiceFileName"])
	}
	host := hostOf(ev)
	key := host + "\x00" + strings.ToLower(name) + "\x00" + strings.ToLower(img)
	// 7045 and 4697 of one install, written the same second to two logs,
	// are one finding.
	in := s.last[key]
	if in == nil || ev.Timestamp.Sub(in.at) > time.Minute {
		in = &install{name: name, img: img, host: host, at: ev.Timestamp}
		s.last[key] = in
		s.out = append(s.out, in)
	}
	in.refs = append(in.refs, s.h.ref(ev))
	if a := useful(d["AccountName"]) + useful(d["ServiceAccount"]); a != "" && in.account == "" {
		in.account = a
	}
	if sid := ev.Jejak.Data["user_sid"]; w.EventID == 7045 && sid != "" {
		// 7045 names who installed the service only by the SID of its
		// System/Security element. A network logon of that SID on this
		// host in the minute before is PsExec's and sc \\host's pattern.
		l, ok := s.bySID[host+"\x00"+sid]
		if in.by == "" {
			in.by = sid
			if ok && l.user != "" {
				in.by = l.user + " (" + sid + ")"
			}
		}
		if d := ev.Timestamp.Sub(l.at); ok && !in.remote && d >= 0 && d <= time.Minute {
			in.remote = true
			in.refs = append(in.refs, l.ref)
			in.reasons = append(in.reasons, fmt.Sprintf("its installer had logged on over the network from %s %s before (remote service creation)", l.ip, span(l.at, ev.Timestamp)))
		}
	}
	if w.EventID == 4697 {
		if u := userOf(ev); u != "" && in.by == "" {
			in.by = u
		}
		if l, ok := s.logons[host+"\x00"+useful(d["SubjectLogonId"])]; ok && !in.remote && ev.Timestamp.Sub(l.at) <= logonMemory {
			in.remote = true
			in.refs = append(in.refs, l.ref)
			in.reasons = append(in.reasons, fmt.Sprintf("installed through a network logon of %s from %s (remote service creation)", dashIfEmpty(l.user), l.ip))
		}
	}
}

func (in *install) judge() {
	if t := remoteExecTool(in.name, in.img); t != "" {
		in.reasons = append(in.reasons, fmt.Sprintf("the service of a remote-execution tool (%s, PsExec-style)", strings.ToUpper(t)))
	}
	if i := interpreter(in.img); i != "" {
		in.reasons = append(in.reasons, fmt.Sprintf("the image runs a command interpreter (%s), not a service program", i))
	}
	if outsideSystem(in.img) {
		in.reasons = append(in.reasons, "the image is outside the system folders (System32, SysWOW64, Program Files)")
	}
	if strings.HasPrefix(in.img, `\\`) {
		in.reasons = append(in.reasons, "the image is on a network share")
	}
	if randomName(in.name) {
		in.reasons = append(in.reasons, "the service name looks generated (short mixed-case pieces, as Impacket and Metasploit make)")
		in.onlyName = len(in.reasons) == 1
	}
}

func (s *serviceInstall) finish() []Finding {
	var out []Finding
	for _, in := range s.out {
		in.judge()
		if len(in.reasons) == 0 {
			continue
		}
		where := ""
		if in.host != "" {
			where = " on " + in.host
		}
		by := ""
		if in.by != "" {
			by = " by " + in.by
		}
		acct := ""
		if in.account != "" {
			acct = ", running as " + in.account
		}
		expl := fmt.Sprintf("service %s installed%s%s at %s with image %q%s; %s",
			dashIfEmpty(in.name), where, by, s.h.tsLocal(in.at), in.img, acct, strings.Join(in.reasons, "; "))
		f := newFinding(s.r, "service "+in.name+where, expl, in.refs)
		if in.onlyName {
			// A name alone is a weak sign: the examiner reads it after the
			// installs with a binary or a command line to explain.
			f.Severity = min(f.Severity, Medium)
		}
		out = append(out, f)
	}
	return out
}

// ---- scheduled tasks ----

type scheduledTask struct {
	h     *hunter
	r     *Rule
	tasks map[string]*task
	order []*task
}

type task struct {
	name, host, by, command, runAs string
	at                             time.Time
	triggers                       []string
	refs                           []EventRef
	runs, updates                  int
	disabled                       bool
	changedTo                      []string
	context                        string // TaskScheduler 106's user context
	deleted                        time.Time
}

func newScheduledTask(h *hunter, r *Rule) (analyzer, error) {
	return &scheduledTask{h: h, r: r, tasks: map[string]*task{}}, nil
}

var (
	taskCommandRE = regexp.MustCompile(`(?s)<Command>(.*?)</Command>`)
	taskArgsRE    = regexp.MustCompile(`(?s)<Arguments>(.*?)</Arguments>`)
	taskUserRE    = regexp.MustCompile(`(?s)<UserId>(.*?)</UserId>`)
	taskTrigRE    = regexp.MustCompile(`<(Logon|Boot|Idle|Registration|SessionStateChange|Event)Trigger\b`)
)

// taskKind classifies a task event by channel and ID: Security 4698
// created, 4702 updated, 4699 deleted; TaskScheduler/Operational 106
// registered, 140 updated, 141 deleted, 142 disabled, 129 process
// created, 200 action started, and the lifecycle records 100/102/110/201.
// taskIDs are the event IDs taskKind knows (TestTaskIDs holds the two
// together): the dispatch hands the task rules these alone.
var taskIDs = []int{4698, 4702, 4699, 4701, 106, 140, 141, 142, 200, 129, 100, 102, 110, 201}

func taskKind(w *timeline.Winlog) string {
	switch w.EventID {
	case 4698, 4702, 4699, 4701, 106, 140, 141, 142, 200, 129, 100, 102, 110, 201:
	default:
		// None of the IDs below: every record comes here, and the two
		// searches for TaskScheduler were most of the check.
		return ""
	}
	sec := w.Channel == "Security"
	ts := strings.Contains(w.Channel, "TaskScheduler") || strings.Contains(w.ProviderName, "TaskScheduler")
	switch {
	case sec && w.EventID == 4698, ts && w.EventID == 106:
		return "registered"
	case sec && w.EventID == 4702, ts && w.EventID == 140:
		return "updated"
	case sec && w.EventID == 4699, ts && w.EventID == 141:
		return "deleted"
	case sec && w.EventID == 4701, ts && w.EventID == 142:
		return "disabled"
	case ts && w.EventID == 200:
		return "ran"
	case ts && w.EventID == 129:
		return "process"
	case ts && (w.EventID == 100 || w.EventID == 102 || w.EventID == 110 || w.EventID == 201):
		// task started, finished, launched by a user, action completed:
		// rows of the task's story, no reason of their own.
		return "lifecycle"
	}
	return ""
}

func (s *scheduledTask) wants() interest { return interest{winIDs: taskIDs} }

func (s *scheduledTask) observe(ev *timeline.Event) {
	w := ev.Winlog
	if w == nil || !s.h.inScope(ev.Timestamp) {
		return
	}
	kind := taskKind(w)
	if kind == "" {
		return
	}
	d := w.EventData
	name := useful(d["TaskName"])
	if name == "" {
		return
	}
	key := hostOf(ev) + "\x00" + strings.ToLower(name)
	t := s.tasks[key]
	if t == nil {
		if kind != "registered" {
			// Runs and changes of a task registered before the cut-off
			// (or never seen registered) are the baseline's business.
			return
		}
		t = &task{name: name, host: hostOf(ev), at: ev.Timestamp}
		s.tasks[key] = t
		s.order = append(s.order, t)
	}
	t.refs = append(t.refs, s.h.ref(ev))
	switch kind {
	case "registered", "updated":
		if kind == "updated" {
			t.updates++
		}
		// The Security log's subject is who registered it; TaskScheduler
		// 106 only has the user context, used when 4698 is missing.
		if u := useful(userOf(ev)); u != "" && kind == "registered" {
			t.by = u
		} else if t.context == "" {
			t.context = useful(d["UserContext"])
		}
		xml := html.UnescapeString(d["TaskContent"] + d["TaskContentNew"])
		if m := taskCommandRE.FindStringSubmatch(xml); m != nil {
			cmd := strings.TrimSpace(m[1])
			if a := taskArgsRE.FindStringSubmatch(xml); a != nil && strings.TrimSpace(a[1]) != "" {
				cmd += " " + strings.TrimSpace(a[1])
			}
			switch {
			case kind == "registered" || t.command == "":
				t.command = cmd
			case cmd != t.command && !slices.Contains(t.changedTo, cmd):
				t.changedTo = append(t.changedTo, cmd)
			}
		}
		if m := taskUserRE.FindStringSubmatch(xml); m != nil && (kind == "registered" || t.runAs == "") {
			t.runAs = strings.TrimSpace(m[1])
		}
		for _, m := range taskTrigRE.FindAllStringSubmatch(xml, -1) {
			if !slices.Contains(t.triggers, m[1]) {
				t.triggers = append(t.triggers, m[1])
			}
		}
	case "disabled":
		t.disabled = true
	case "ran", "process":
		if kind == "ran" {
			t.runs++
		}
		if t.command == "" {
			t.command = useful(d["ActionName"])
			if t.command == "" {
				t.command = useful(d["Path"])
			}
		}
	case "deleted":
		if t.deleted.IsZero() {
			t.deleted = ev.Timestamp
		}
	}
}

// windowsOwn: a task Windows registers itself (under \Microsoft\, as
// SYSTEM, a program in the system folders) is maintenance, not a finding.
func (t *task) windowsOwn() bool {
	who := t.by
	if who == "" {
		who = t.context
	}
	return strings.HasPrefix(strings.ToLower(t.name), `\microsoft\`) && (who == "" || systemAccount(who) || who == "S-1-5-18" || strings.EqualFold(who, `NT AUTHORITY\SYSTEM`)) &&
		interpreter(t.command) == "" && !outsideSystem(t.command)
}

func (s *scheduledTask) finish() []Finding {
	var out []Finding
	for _, t := range s.order {
		if t.windowsOwn() {
			continue
		}
		var reasons []string
		sev := s.r.Severity
		raise := func() { sev = max(sev, High) }
		if i := interpreter(t.command); i != "" {
			reasons = append(reasons, fmt.Sprintf("the action runs a command interpreter (%s)", i))
			raise()
		}
		if outsideSystem(t.command) {
			reasons = append(reasons, "the action's program is outside the system folders")
			raise()
		}
		if len(t.triggers) > 0 {
			reasons = append(reasons, "it starts on "+strings.ToLower(strings.Join(t.triggers, ", "))+" (persistence across logons or reboots)")
		}
		if t.runAs == "S-1-5-18" || strings.EqualFold(t.runAs, "SYSTEM") {
			reasons = append(reasons, "it runs as SYSTEM")
		}
		if t.updates > 0 {
			r := fmt.Sprintf("changed %s after registration", times(t.updates))
			if len(t.changedTo) > 0 {
				r += fmt.Sprintf(" (action then %q)", strings.Join(t.changedTo, `", "`))
			}
			reasons = append(reasons, r)
		}
		for _, c := range t.changedTo {
			if interpreter(c) != "" || outsideSystem(c) {
				raise()
			}
		}
		if t.runs > 0 {
			reasons = append(reasons, fmt.Sprintf("its action started %s", times(t.runs)))
		}
		if t.disabled {
			reasons = append(reasons, "disabled after registration")
		}
		if !t.deleted.IsZero() {
			reasons = append(reasons, fmt.Sprintf("deleted %s after registration (traces removed)", span(t.at, t.deleted)))
			raise()
		}
		where := ""
		if t.host != "" {
			where = " on " + t.host
		}
		by := ""
		if t.by != "" {
			by = " by " + t.by
		} else if t.context != "" {
			by = " in the user context " + t.context
		}
		expl := fmt.Sprintf("scheduled task %s registered%s%s at %s, action %q", t.name, where, by, s.h.tsLocal(t.at), dashIfEmpty(t.command))
		if len(reasons) > 0 {
			expl += "; " + strings.Join(reasons, "; ")
		}
		f := newFinding(s.r, "task "+t.name+where, expl, t.refs)
		if sev == s.r.Severity && t.by != "" && systemAccount(t.by) {
			// Registered by the machine (an installer or updater running
			// as SYSTEM), running a program from the system folders, not
			// removed: low, read after the rest.
			sev = Low
		}
		f.Severity = sev
		out = append(out, f)
	}
	return out
}

// ---- protective tasks removed ----

// protectiveTasks are the folders of Windows' own tasks that keep the
// machine recoverable and defended; disabling or deleting one is how
// ransomware and intruders prepare (T1490, T1562.001).
var protectiveTasks = []string{`\microsoft\windows\systemrestore\`, `\microsoft\windows\windows defender\`,
	`\microsoft\windows\exploitguard\`, `\microsoft\windows\windowsupdate\`, `\microsoft\windows\updateorchestrator\`,
	`\microsoft\windows\bitlocker\`, `\microsoft\windows\filehistory\`, `\microsoft\windows\backup\`}

type taskRemoved struct {
	h   *hunter
	r   *Rule
	out []Finding
	// registered: tasks registered after the cut-off, whose removal is
	// part of JEJAK-PERS-02's finding.
	registered map[string]bool
}

func newTaskRemoved(h *hunter, r *Rule) (analyzer, error) {
	return &taskRemoved{h: h, r: r, registered: map[string]bool{}}, nil
}

func (a *taskRemoved) wants() interest { return interest{winIDs: taskIDs} }

func (a *taskRemoved) observe(ev *timeline.Event) {
	w := ev.Winlog
	if w == nil || !a.h.inScope(ev.Timestamp) {
		return
	}
	kind := taskKind(w)
	if kind == "" {
		return // most records are none of a task's (the switch below would return)
	}
	name := useful(w.EventData["TaskName"])
	if name == "" {
		return // before the key: most records name no task
	}
	key := hostOf(ev) + "\x00" + strings.ToLower(name)
	switch {
	case kind == "registered":
		a.registered[key] = true
		return
	case kind != "deleted" && kind != "disabled", a.registered[key]:
		return
	}
	// Security names the subject; TaskScheduler 141/142 a UserName that
	// is "System" whoever asked the service.
	who := useful(userOf(ev))
	for _, k := range []string{"SubjectUserName", "UserName"} { // 4701 has no ECS normaliser
		if who == "" {
			who = useful(w.EventData[k])
		}
	}
	person := who != "" && !systemAccount(who) && !strings.EqualFold(who, `NT AUTHORITY\SYSTEM`)
	var reasons []string
	lname := strings.ToLower(name)
	for _, p := range protectiveTasks {
		if strings.HasPrefix(lname, p) {
			folder := name[len(`\microsoft\windows\`) : len(p)-1]
			reasons = append(reasons, "a task that keeps Windows recoverable or defended ("+folder+")")
			break
		}
	}
	if person {
		reasons = append(reasons, "done by the account "+who+", not by Windows")
	}
	if len(reasons) == 0 {
		return
	}
	where := ""
	if h := hostOf(ev); h != "" {
		where = " on " + h
	}
	expl := fmt.Sprintf("scheduled task %s %s%s at %s (event %d, record %d); %s", name, kind, where,
		a.h.tsLocal(ev.Timestamp), w.EventID, w.RecordID, strings.Join(reasons, "; "))
	f := newFinding(a.r, "task "+name+" "+kind+where+" at "+ts(ev.Timestamp), expl, []EventRef{a.h.ref(ev)})
	if !person {
		f.Severity = min(f.Severity, Medium)
	}
	a.out = append(a.out, f)
}

func (a *taskRemoved) finish() []Finding { return a.out }
