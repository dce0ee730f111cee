package auditd

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// action describes what an audit record type means in ECS terms.
type action struct {
	name     string
	category []string
	typ      []string
}

var actions = map[string]action{
	"USER_LOGIN":       {"logon", []string{"authentication", "session"}, []string{"start"}},
	"USER_LOGOUT":      {"logoff", []string{"authentication", "session"}, []string{"end"}},
	"USER_AUTH":        {"authenticated", []string{"authentication"}, []string{"info"}},
	"USER_ACCT":        {"account_authorized", []string{"authentication"}, []string{"info"}},
	"USER_START":       {"session_started", []string{"session"}, []string{"start"}},
	"USER_END":         {"session_ended", []string{"session"}, []string{"end"}},
	"USER_ERR":         {"authentication_error", []string{"authentication"}, []string{"error"}},
	"USER_CMD":         {"sudo_command", []string{"process"}, []string{"start"}},
	"USER_TTY":         {"tty_input", []string{"process"}, []string{"info"}},
	"TTY":              {"tty_input", []string{"process"}, []string{"info"}},
	"USER_CHAUTHTOK":   {"password_changed", []string{"iam"}, []string{"user", "change"}},
	"USER_ROLE_CHANGE": {"role_changed", []string{"iam"}, []string{"user", "change"}},
	"USER_MGMT":        {"user_modified", []string{"iam"}, []string{"user", "change"}},
	"GRP_MGMT":         {"group_modified", []string{"iam"}, []string{"group", "change"}},
	"ADD_USER":         {"user_added", []string{"iam"}, []string{"user", "creation"}},
	"DEL_USER":         {"user_deleted", []string{"iam"}, []string{"user", "deletion"}},
	"ADD_GROUP":        {"group_added", []string{"iam"}, []string{"group", "creation"}},
	"DEL_GROUP":        {"group_deleted", []string{"iam"}, []string{"group", "deletion"}},
	"CRED_ACQ":         {"credentials_acquired", []string{"authentication"}, []string{"info"}},
	"CRED_DISP":        {"credentials_disposed", []string{"authentication"}, []string{"info"}},
	"CRED_REFR":        {"credentials_refreshed", []string{"authentication"}, []string{"info"}},
	"LOGIN":            {"login_uid_assigned", []string{"authentication", "session"}, []string{"start"}},
	"EXECVE":           {"executed", []string{"process"}, []string{"start"}},
	"SYSCALL":          {"syscall", []string{"process"}, []string{"info"}},
	"AVC":              {"mac_decision", []string{"intrusion_detection"}, []string{"info"}},
	"USER_AVC":         {"mac_decision", []string{"intrusion_detection"}, []string{"info"}},
	"SELINUX_ERR":      {"mac_error", []string{"intrusion_detection"}, []string{"error"}},
	"ANOM_ABEND":       {"process_crashed", []string{"process"}, []string{"end"}},
	"SECCOMP":          {"seccomp", []string{"process"}, []string{"info"}},
	"SYSTEM_BOOT":      {"boot", []string{"host"}, []string{"start"}},
	"SYSTEM_SHUTDOWN":  {"shutdown", []string{"host"}, []string{"end"}},
	"SYSTEM_RUNLEVEL":  {"runlevel_change", []string{"host"}, []string{"change"}},
	"SERVICE_START":    {"service_started", []string{"process"}, []string{"start"}},
	"SERVICE_STOP":     {"service_stopped", []string{"process"}, []string{"end"}},
	"DAEMON_START":     {"audit_daemon_started", []string{"process"}, []string{"start"}},
	"DAEMON_END":       {"audit_daemon_stopped", []string{"process"}, []string{"end"}},
	"DAEMON_ABORT":     {"audit_daemon_aborted", []string{"process"}, []string{"end"}},
	"DAEMON_CONFIG":    {"audit_daemon_configured", []string{"configuration"}, []string{"change"}},
	"CONFIG_CHANGE":    {"audit_rules_changed", []string{"configuration"}, []string{"change"}},
	"USYS_CONFIG":      {"system_configured", []string{"configuration"}, []string{"change"}},
	"NETFILTER_CFG":    {"firewall_configured", []string{"configuration"}, []string{"change"}},
	"MAC_POLICY_LOAD":  {"mac_policy_loaded", []string{"configuration"}, []string{"change"}},
	"MAC_STATUS":       {"mac_status_changed", []string{"configuration"}, []string{"change"}},
}

// unset is auditd's "no login uid / no session" (-1 as unsigned).
func unset(v string) bool {
	return v == "" || v == "4294967295" || v == "-1" || v == "unset" || v == "?"
}

func normalize(ev *timeline.Event, recs []*record, main *record) {
	a, ok := actions[main.Type]
	if !ok {
		a = action{name: strings.ToLower(main.Type)}
	}
	ev.Event.Action = a.name
	ev.Event.Category = a.category
	ev.Event.Type = a.typ

	// Outcome: res= of user-space records, success= of SYSCALL.
	switch res := get([]*record{main}, "res"); res {
	case "success", "1", "yes":
		ev.Event.Outcome = "success"
	case "failed", "fail", "0", "no":
		ev.Event.Outcome = "failure"
	default:
		switch get(recs, "success", "SYSCALL") {
		case "yes":
			ev.Event.Outcome = "success"
		case "no":
			ev.Event.Outcome = "failure"
		}
	}

	// MAC denials: "avc:  denied  { read } for ..." or apparmor="DENIED".
	if main.Type == "AVC" || main.Type == "USER_AVC" {
		words := strings.Join(main.Words, " ")
		switch {
		case strings.Contains(words, "denied"), strings.EqualFold(get([]*record{main}, "apparmor"), "DENIED"):
			ev.Event.Action = "mac_denied"
			ev.Event.Type = []string{"denied"}
			ev.Event.Outcome = "failure"
		case strings.Contains(words, "granted"), strings.EqualFold(get([]*record{main}, "apparmor"), "ALLOWED"):
			ev.Event.Action = "mac_granted"
			ev.Event.Type = []string{"allowed"}
		}
		if i, j := strings.Index(words, "{"), strings.Index(words, "}"); i >= 0 && j > i {
			ev.Jejak.Data["avc.permissions"] = strings.TrimSpace(words[i+1 : j])
		}
	}

	// Process: the primary record first, then the syscall's context.
	order := []string{main.Type, "SYSCALL"}
	pr := &timeline.Process{}
	if v := get(recs, "pid", order...); v != "" {
		pr.PID, _ = strconv.ParseInt(v, 10, 64)
	}
	pr.Executable = nonEmpty(get(recs, "exe", order...))
	pr.Name = get(recs, "comm", order...)
	pr.WorkingDir = get(recs, "cwd", "CWD", main.Type)
	if t := get(recs, "terminal", order...); !unset(t) && t != "(none)" {
		pr.TTY = t
	} else if t := get(recs, "tty", order...); !unset(t) && t != "(none)" {
		pr.TTY = t
	}
	if cmd := commandLine(recs); cmd != "" {
		pr.CommandLine = cmd
	} else if main.Type == "USER_CMD" {
		pr.CommandLine = get([]*record{main}, "cmd")
	} else if pt := get(recs, "proctitle", "PROCTITLE"); pt != "" {
		pr.CommandLine = pt
	}
	if *pr != (timeline.Process{}) {
		ev.Process = pr
	}

	// User: for account management the actor is the login uid (auid, who
	// logged in, survives su/sudo) and acct= is the target; for logins and
	// PAM records acct= is the user. Otherwise auid, else uid. ENRICHED logs
	// carry the names.
	u := &timeline.User{}
	acct := get([]*record{main}, "acct")
	if unset(acct) {
		acct = ""
	}
	iam := len(a.category) > 0 && a.category[0] == "iam"
	auid := get(recs, "auid", order...)
	if auid == "" {
		auid = get(recs, "new-auid", order...)
	}
	uid := get(recs, "uid", order...)
	switch {
	case !unset(auid):
		u.ID = auid
		u.Name = nonEmpty(get(recs, "AUID", order...))
	case acct == "" && !unset(uid):
		u.ID = uid
		u.Name = nonEmpty(get(recs, "UID", order...))
	}
	if u.Name == "unset" {
		u.Name = ""
	}
	if acct != "" {
		if iam {
			u.Target = &timeline.User{Name: acct}
		} else {
			// su-like records name another actor in AUID; keep the pair
			// consistent rather than mix one user's name with another's id.
			if u.Name != "" && u.Name != acct {
				u.ID = ""
			}
			u.Name = acct
		}
	}
	if u.Name == "" && u.ID == "" && strings.HasPrefix(main.Type, "USER_") {
		if id := get([]*record{main}, "id"); !unset(id) {
			u.ID = id
		}
	}
	if u.Name != "" || u.ID != "" || u.Target != nil {
		ev.User = u
	}

	// Remote end of logins: addr= and hostname= of user-space records.
	src := &timeline.Endpoint{}
	// SOCKADDR's decoded addr is the peer of a syscall, handled below.
	if addr := get([]*record{main}, "addr"); !unset(addr) && main.Type != "SOCKADDR" {
		if ip, err := netip.ParseAddr(addr); err == nil {
			src.IP = ip.Unmap().String()
		} else {
			src.Address = addr
		}
	}
	if host := get([]*record{main}, "hostname"); !unset(host) && host != src.IP {
		src.Domain = host
	}
	if p := get([]*record{main}, "rport"); p != "" {
		src.Port, _ = strconv.Atoi(p)
	}
	if *src != (timeline.Endpoint{}) {
		ev.Source = src
	}

	// The peer of connect/bind/sendto, from the SOCKADDR record.
	if ip := get(recs, "addr", "SOCKADDR"); ip != "" {
		if a, err := netip.ParseAddr(ip); err == nil {
			dst := &timeline.Endpoint{IP: a.String()}
			dst.Port, _ = strconv.Atoi(get(recs, "port", "SOCKADDR"))
			ev.Destination = dst
		}
	}
}

func nonEmpty(s string) string {
	if s == "?" || s == "(null)" {
		return ""
	}
	return s
}

// commandLine joins EXECVE's a0..a<argc-1>, including arguments split into
// aN[0], aN[1]... chunks when longer than the kernel's record limit.
func commandLine(recs []*record) string {
	var args []string
	var cur string
	for _, r := range recs {
		if r.Type != "EXECVE" {
			continue
		}
		for _, f := range r.Fields {
			k := f.Key
			if len(k) < 2 || k[0] != 'a' || k[1] < '0' || k[1] > '9' || strings.HasSuffix(k, "_len") {
				continue
			}
			name, _, chunked := strings.Cut(k, "[")
			if chunked {
				if name != cur {
					args = append(args, "")
					cur = name
				}
				args[len(args)-1] += f.Value
				continue
			}
			cur = ""
			args = append(args, f.Value)
		}
	}
	return strings.Join(args, " ")
}
