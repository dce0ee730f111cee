package hunt

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Remote-access tool sessions (JEJAK-RAT-01). The event contract of
// parsers/remoteaccess: jejak.data remote.tool (teamviewer, anydesk),
// remote.id, remote.name, and event.action remote-access-session-start,
// -end, -rejected, remote-access-incoming-request and
// remote-access-authenticated. One session leaves records in several
// files (TeamViewer's Connections_incoming.txt and its application log,
// AnyDesk's connection_trace.txt and ad_svc.trace): the records of one
// tool and one remote ID on one host belong to one session until a gap
// longer than the rule's gap parameter, and a session is one finding.

const (
	raStart    = "remote-access-session-start"
	raEnd      = "remote-access-session-end"
	raRejected = "remote-access-session-rejected"
	raIncoming = "remote-access-incoming-request"
	raAuth     = "remote-access-authenticated"
	raRelay    = "remote-access-relay-login"
)

type raEvent struct {
	at                    time.Time
	action                string
	tool, id, name, host  string
	user, dir, auth, peer string
	ref                   EventRef
}

type raSession struct {
	tool, id, host string
	first, last    time.Time
	names, users   []string
	dirs, auths    []string
	ips            []string
	started        bool
	rejected       int
	ended          bool
	refs           []EventRef
}

type remoteAccess struct {
	h   *hunter
	r   *Rule
	gap time.Duration
	evs []raEvent
}

func newRemoteAccess(h *hunter, r *Rule) (analyzer, error) {
	gap, err := r.durationParam("gap", 30*time.Minute)
	if err != nil {
		return nil, err
	}
	return &remoteAccess{h: h, r: r, gap: gap}, nil
}

func (a *remoteAccess) wants() interest {
	return interest{actions: []string{raStart, raEnd, raRejected, raIncoming, raAuth, raRelay}}
}

func (a *remoteAccess) observe(ev *timeline.Event) {
	switch ev.Event.Action { // before the map lookup: most events are not these
	case raStart, raEnd, raRejected, raIncoming, raAuth, raRelay:
	default:
		return
	}
	d := ev.Jejak.Data
	tool := d["remote.tool"]
	if tool == "" {
		return
	}
	e := raEvent{at: ev.Timestamp, action: ev.Event.Action, tool: tool, id: d["remote.id"], name: d["remote.name"],
		host: hostOf(ev), dir: d["remote.direction"], auth: d["remote.auth"], ref: a.h.ref(ev)}
	if ev.User != nil {
		e.user = ev.User.Name
	}
	if ev.Source != nil {
		e.peer = ev.Source.IP
	}
	a.evs = append(a.evs, e)
}

func addOnce(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// sessions groups the records: by tool, host and remote ID, split at gaps.
// A record without a remote ID (an authentication, an incoming request
// before the ID is known) joins the session of its tool and host that is
// open at its time, if any.
func (a *remoteAccess) sessions() []*raSession {
	slices.SortStableFunc(a.evs, func(x, y raEvent) int { return x.at.Compare(y.at) })
	open := map[string]*raSession{} // tool, host, id
	var all []*raSession
	var orphans []raEvent
	for _, e := range a.evs {
		if e.id == "" {
			orphans = append(orphans, e)
			continue
		}
		k := e.tool + "\x00" + e.host + "\x00" + e.id
		s := open[k]
		if s == nil || e.at.Sub(s.last) > a.gap || (s.ended && e.action == raStart && e.at.Sub(s.last) > time.Minute) {
			s = &raSession{tool: e.tool, id: e.id, host: e.host, first: e.at}
			open[k] = s
			all = append(all, s)
		}
		a.add(s, e)
	}
	for _, e := range orphans {
		var best *raSession
		for _, s := range all {
			if s.tool == e.tool && s.host == e.host && !e.at.Before(s.first.Add(-a.gap)) && !e.at.After(s.last.Add(a.gap)) {
				if best == nil || absDur(e.at.Sub(s.first)) < absDur(e.at.Sub(best.first)) {
					best = s
				}
			}
		}
		if best != nil {
			a.add(best, e)
		}
	}
	return all
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func (a *remoteAccess) add(s *raSession, e raEvent) {
	if e.at.Before(s.first) {
		s.first = e.at
	}
	if e.at.After(s.last) {
		s.last = e.at
	}
	switch e.action {
	case raStart:
		s.started = true
	case raEnd:
		s.ended = true
	case raRejected:
		s.rejected++
	}
	s.names = addOnce(s.names, e.name)
	s.users = addOnce(s.users, e.user)
	s.dirs = addOnce(s.dirs, e.dir)
	s.auths = addOnce(s.auths, e.auth)
	s.ips = addOnce(s.ips, e.peer)
	s.refs = append(s.refs, e.ref)
}

var toolNames = map[string]string{"teamviewer": "TeamViewer", "anydesk": "AnyDesk"}

func (a *remoteAccess) finish() []Finding {
	cut := a.h.cfg.After
	var out []Finding
	for _, s := range a.sessions() {
		after := cut.IsZero() || !s.first.Before(cut)
		var reasons []string
		sev := a.r.Severity
		switch {
		case !s.started && s.rejected > 0:
			// Attempts turned away: worth reading after the cut-off,
			// routine before it.
			if !after || cut.IsZero() {
				continue
			}
			sev = min(sev, Medium)
			reasons = append(reasons, plural(s.rejected, "connection rejected", "connections rejected")+" at the console, no session")
		case !s.started:
			continue // an incoming request alone: no session
		case cut.IsZero():
			sev = min(sev, Medium)
			reasons = append(reasons, "no cut-off given")
		case after:
			reasons = append(reasons, "session after the cut-off "+ts(cut))
		default:
			sev = min(sev, Medium)
			reasons = append(reasons, "session before the cut-off "+ts(cut)+": remote-access software was in use on the server")
		}
		tool := toolNames[s.tool]
		if tool == "" {
			tool = s.tool
		}
		peer := s.id
		if len(s.names) > 0 {
			peer += " (" + strings.Join(s.names, ", ") + ")"
		}
		dir := "incoming"
		if len(s.dirs) == 1 {
			dir = s.dirs[0]
		}
		verb := "from"
		if dir == "outgoing" {
			verb = "to"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s session %s %s", tool, dir, verb, peer)
		if s.host != "" {
			fmt.Fprintf(&b, " on %s", s.host)
		}
		if s.last.After(s.first) {
			fmt.Fprintf(&b, ", %s to %s (%s)", a.h.tsLocal(s.first), a.h.tsLocal(s.last), span(s.first, s.last))
		} else {
			fmt.Fprintf(&b, ", at %s", a.h.tsLocal(s.first))
		}
		if len(s.users) > 0 {
			fmt.Fprintf(&b, ", local user %s", strings.Join(s.users, ", "))
		}
		if len(s.auths) > 0 {
			fmt.Fprintf(&b, ", authenticated by %s", strings.Join(s.auths, ", "))
		}
		if len(s.ips) > 0 {
			fmt.Fprintf(&b, ", address %s", strings.Join(s.ips, ", "))
		}
		if !s.ended && s.started {
			b.WriteString(", no end recorded")
		}
		fmt.Fprintf(&b, "; %s.", strings.Join(reasons, "; "))
		f := newFinding(a.r, tool+" "+dir+" "+peer+" at "+ts(s.first), b.String(), s.refs)
		f.Severity = sev
		f.Reasons = reasons
		out = append(out, f)
	}
	return out
}
