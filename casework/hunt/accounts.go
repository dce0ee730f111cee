package hunt

import (
	"fmt"
	"strings"

	"github.com/jejak-forensics/jejak/timeline"
)

// privilegedGroups are the groups whose membership is administrator power
// (or remote access) on Windows and Linux; compared case-insensitively.
var privilegedGroups = map[string]bool{
	"administrators": true, "domain admins": true, "enterprise admins": true, "schema admins": true,
	"account operators": true, "server operators": true, "backup operators": true,
	"remote desktop users": true, "remote management users": true, "dnsadmins": true,
	"sudo": true, "wheel": true, "admin": true, "root": true, "adm": true, "sudoers": true,
	"administratoren": true, "administrateurs": true, "administradores": true, "administrator": true,
}

type accountChange struct {
	h       *hunter
	r       *Rule
	elevate bool
	out     []Finding
	// names resolves the member SIDs of 4728/4732 (MemberName is "-" for
	// local accounts) from earlier events naming the same SID.
	names map[string]string
}

func newAccountChange(h *hunter, r *Rule) (analyzer, error) {
	c, err := r.stringParam("change", "created", "created", "elevated")
	if err != nil {
		return nil, err
	}
	return &accountChange{h: h, r: r, elevate: c == "elevated", names: map[string]string{}}, nil
}

// created returns the new account's name when ev records an account
// creation.
func created(ev *timeline.Event) (string, bool) {
	if ev.Event.Outcome == "failure" {
		return "", false
	}
	switch ev.Event.Action {
	case "added-user-account": // 4720: the subject creates the target
		if ev.User != nil && ev.User.Target != nil {
			return ev.User.Target.Name, true
		}
		return ev.Winlog.EventData["TargetUserName"], true
	case "user_created", "user_added": // useradd, auditd ADD_USER
		if ev.User != nil && ev.User.Target != nil && ev.User.Target.Name != "" {
			return ev.User.Target.Name, true
		}
		return userOf(ev), true
	}
	return "", false
}

// groupAdd returns member and group when ev records a member added to a
// group.
func groupAdd(ev *timeline.Event) (member, group string, ok bool) {
	if ev.Event.Outcome == "failure" || ev.Group == nil {
		return "", "", false
	}
	switch ev.Event.Action {
	case "added-member-to-group": // 4728, 4732
		d := ev.Winlog.EventData
		member = useful(d["MemberName"])
		if member == "" {
			member = useful(d["MemberSid"])
		}
		return member, ev.Group.Name, true
	case "user_modified": // usermod/useradd "add 'U' to group 'G'"
		if strings.Contains(ev.Message, "add '") {
			return userOf(ev), ev.Group.Name, true
		}
	case "group_modified": // gpasswd "user U added by A to group G"
		if strings.Contains(ev.Message, " added by ") {
			return userOf(ev), ev.Group.Name, true
		}
	}
	return "", "", false
}

func useful(s string) string {
	s = strings.TrimSpace(s)
	if s == "-" {
		return ""
	}
	return s
}

// wants: the creations' or the group changes' actions; the elevated rule
// also reads every EVTX record's TargetSid and TargetUserName (names).
func (a *accountChange) wants() interest {
	if !a.elevate {
		return interest{actions: []string{"added-user-account", "user_created", "user_added"}}
	}
	return interest{win: true, actions: []string{"added-member-to-group", "user_modified", "group_modified"}}
}

func (a *accountChange) observe(ev *timeline.Event) {
	if a.elevate && ev.Winlog != nil && ev.Group == nil {
		d := ev.Winlog.EventData
		if sid, name := useful(d["TargetSid"]), useful(d["TargetUserName"]); sid != "" && name != "" {
			a.names[sid] = name
		}
	}
	if !a.h.inScope(ev.Timestamp) {
		return
	}
	if !a.elevate {
		name, ok := created(ev)
		if !ok {
			return
		}
		where, by, rec := changeContext(ev)
		expl := fmt.Sprintf("account %s created%s%s at %s%s", dashIfEmpty(name), by, where, a.h.tsLocal(ev.Timestamp), rec)
		if strings.HasSuffix(name, "$") && ev.Winlog != nil {
			expl += "; a name ending in $ hides the account from 'net user'"
		}
		a.out = append(a.out, newFinding(a.r, "account "+name+where, expl, []EventRef{a.h.ref(ev)}))
		return
	}
	member, group, ok := groupAdd(ev)
	if !ok || !privilegedGroups[strings.ToLower(group)] {
		return
	}
	if n := a.names[member]; n != "" {
		member = n + " (" + member + ")"
	}
	where, by, rec := changeContext(ev)
	expl := fmt.Sprintf("%s added to group %s%s%s at %s%s", dashIfEmpty(member), group, by, where, a.h.tsLocal(ev.Timestamp), rec)
	a.out = append(a.out, newFinding(a.r, "group "+group+" member "+member+where, expl, []EventRef{a.h.ref(ev)}))
}

// changeContext is the host, actor and record an account change's
// explanation names. Built only for a change found: formatting it for
// every event was a fifth of an EVTX hunt's own time.
func changeContext(ev *timeline.Event) (where, by, rec string) {
	if h := hostOf(ev); h != "" {
		where = " on " + h
	}
	if ev.Winlog != nil && ev.User != nil && ev.User.Name != "" {
		by = " by " + ev.User.Name
	}
	if ev.Winlog != nil {
		rec = fmt.Sprintf(" (event %d, record %d)", ev.Winlog.EventID, ev.Winlog.RecordID)
	}
	return where, by, rec
}

func (a *accountChange) finish() []Finding { return a.out }
