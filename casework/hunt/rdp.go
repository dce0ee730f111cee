package hunt

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// An RDP logon leaves a trail in four logs: RdpCoreTS 131 (TCP connection
// accepted, client address), RemoteConnectionManager 1149 (network
// authentication: user, client IP), Security 4624 type 10 (the logon,
// with its logon ID) and 4778/4779 (session reconnected/disconnected),
// LocalSessionManager 21/22/25 (session logon, shell start, reconnection,
// with the client address) then 23/24 (logoff, disconnect, by session
// ID). The analyzer puts one connection's records together, whatever log
// they came from, so the examiner reads one finding per session: who, from
// where, when it started and ended.

type rdpStep struct {
	kind    string // what the record says, for the explanation
	user    string // account, lower case, without domain
	display string // account as written (DOMAIN\user)
	ip      string // client address; "" when the record has none
	session string // LocalSessionManager session ID
	start   bool   // the record can begin a chain
}

// rdpStepOf reads an RDP record from its event data (the records without
// an ECS normaliser — 22, 23, 131, 4778 — are read the same way).
// rdpIDs are the event IDs rdpStepOf reads (TestRDPIDs holds the two
// together): the dispatch hands the RDP rule these alone.
var rdpIDs = []int{1149, 131, 4624, 4778, 4779, 21, 22, 23, 24, 25}

func rdpStepOf(ev *timeline.Event) (rdpStep, bool) {
	w := ev.Winlog
	if w == nil {
		return rdpStep{}, false
	}
	d := w.EventData
	prov := w.ProviderName
	var s rdpStep
	var user, domain string
	switch {
	case w.EventID == 1149 && strings.Contains(prov, "TerminalServices-RemoteConnectionManager"): // the ID first: cheaper
		s = rdpStep{kind: "authenticated (1149)", ip: rdpField(d, "Param3", 3), start: true}
		user, domain = rdpField(d, "Param1", 1), rdpField(d, "Param2", 2)
	case w.EventID == 131 && strings.Contains(prov, "RemoteDesktopServices-RdpCoreTS"):
		ip := d["ClientIP"]
		if h, _, err := net.SplitHostPort(ip); err == nil {
			ip = h
		}
		s = rdpStep{kind: "TCP connection accepted (131)", ip: ip}
	case w.EventID == 4624 && w.Channel == "Security" && useful(d["LogonType"]) == "10":
		s = rdpStep{kind: "logon type 10 (4624, logon ID " + d["TargetLogonId"] + ")", ip: d["IpAddress"], start: true}
		user, domain = d["TargetUserName"], d["TargetDomainName"]
	case (w.EventID == 4778 || w.EventID == 4779) && w.Channel == "Security":
		s = rdpStep{kind: "session reconnected (4778)", ip: d["ClientAddress"], start: w.EventID == 4778}
		if w.EventID == 4779 {
			s.kind = "session disconnected (4779)"
		}
		user, domain = d["AccountName"], d["AccountDomain"]
	case w.EventID >= 21 && w.EventID <= 25 && strings.Contains(prov, "TerminalServices-LocalSessionManager"):
		// The IDs first: every other record came this far, and the
		// provider search was most of the check's time.
		switch w.EventID {
		case 21:
			s = rdpStep{kind: "session logon (21)", start: true}
		case 22:
			s = rdpStep{kind: "shell start (22)"}
		case 23:
			s = rdpStep{kind: "session logoff (23)"}
		case 24:
			s = rdpStep{kind: "session disconnected (24)"}
		case 25:
			s = rdpStep{kind: "session reconnected (25)", start: true}
		default:
			return rdpStep{}, false
		}
		s.ip, s.session = rdpField(d, "Address", 3), useful(rdpField(d, "SessionID", 2))
		if u := useful(rdpField(d, "User", 1)); u != "" {
			if i := strings.LastIndexByte(u, '\\'); i >= 0 {
				domain, user = u[:i], u[i+1:]
			} else {
				user = u
			}
		}
	default:
		return rdpStep{}, false
	}
	s.ip = useful(s.ip)
	if strings.EqualFold(s.ip, "LOCAL") {
		// The console: not a remote client.
		s.ip, s.start = "", false
	}
	user, domain = useful(user), useful(domain)
	s.user = strings.ToLower(user)
	s.display = user
	if domain != "" && user != "" {
		s.display = domain + `\` + user
	}
	if s.start && (s.user == "" || systemAccount(user)) {
		return rdpStep{}, false
	}
	return s, true
}

// rdpField reads a value by its name, or by its position when the record
// was carved from slack after its template was overwritten: the EVTX
// parser then names the values Data, Data_2, Data_3 in template order
// (RemoteConnectionManager 1149: user, domain, address; LocalSessionManager:
// user, session ID, address), and such a record is still one step of a
// session.
func rdpField(d map[string]string, name string, pos int) string {
	if v, ok := d[name]; ok {
		return v
	}
	if pos == 1 {
		return d["Data"]
	}
	return d[fmt.Sprintf("Data_%d", pos)]
}

type rdpChain struct {
	host, user, display, ip string
	first, last             time.Time
	steps                   []string
	refs                    []EventRef
	inScope                 bool
	fan                     *rdpChain // the first chain of this account and address's fan-out
	fanHosts                *[]string // the hosts of that fan-out
}

type rdpSession struct {
	h        *hunter
	r        *Rule
	gap      time.Duration
	chains   []*rdpChain
	byKey    map[string]*rdpChain // host, user, ip → the latest chain
	bySess   map[string]*rdpChain // host, session ID → its chain
	pending  map[string][]pendingTCP
	tcp      int
	baseline map[string]bool // host+ip and host+user+ip seen in a chain before the cut-off
}

type pendingTCP struct {
	at  time.Time
	ref EventRef
}

func newRDPSession(h *hunter, r *Rule) (analyzer, error) {
	gap, err := r.durationParam("gap", 30*time.Minute)
	if err != nil {
		return nil, err
	}
	return &rdpSession{h: h, r: r, gap: gap, byKey: map[string]*rdpChain{}, bySess: map[string]*rdpChain{},
		pending: map[string][]pendingTCP{}, baseline: map[string]bool{}}, nil
}

func (a *rdpSession) wants() interest { return interest{winIDs: rdpIDs} }

func (a *rdpSession) observe(ev *timeline.Event) {
	s, ok := rdpStepOf(ev)
	if !ok {
		return
	}
	host := hostOf(ev)
	at := ev.Timestamp
	if s.kind == "TCP connection accepted (131)" {
		// No account yet: kept until the authentication that follows.
		if s.ip != "" {
			k := host + "\x00" + s.ip
			a.pending[k] = append(a.pending[k], pendingTCP{at: at, ref: a.h.ref(ev)})
			// Scanners open connections that never authenticate: what
			// is older than the two minutes a chain looks back is dropped.
			if a.tcp++; a.tcp%4096 == 0 {
				for k, ps := range a.pending {
					ps = slices.DeleteFunc(ps, func(p pendingTCP) bool { return at.Sub(p.at) > 2*time.Minute })
					if len(ps) == 0 {
						delete(a.pending, k)
					} else {
						a.pending[k] = ps
					}
				}
			}
		}
		return
	}
	var c *rdpChain
	key := host + "\x00" + s.user + "\x00" + s.ip
	switch {
	case s.session != "" && !s.start:
		// Shell start, logoff, disconnect: the session's chain.
		if sc := a.bySess[host+"\x00"+s.session]; sc != nil && (s.user == "" || sc.user == s.user) {
			c = sc
		}
	case s.ip == "" && s.start:
		// A type 10 logon without an address: the same account's chain
		// on this host that is under way.
		for i, x := range slices.Backward(a.chains) {
			if len(a.chains)-i > 64 {
				break // an address-less type 10 logon follows its 1149 by seconds: the latest chains suffice
			}
			if x.host == host && x.user == s.user && at.Sub(x.last) <= 2*time.Minute {
				c = x
				break
			}
		}
	default:
		if x := a.byKey[key]; x != nil && (at.Sub(x.last) <= a.gap || !s.start) {
			c = x
		}
	}
	if c == nil && s.session != "" && !s.start && s.ip != "" {
		c = a.byKey[key]
	}
	if c == nil {
		if !s.start || s.ip == "" {
			return
		}
		c = &rdpChain{host: host, user: s.user, display: s.display, ip: s.ip, first: at, inScope: a.h.inScope(at)}
		a.chains = append(a.chains, c)
		a.byKey[key] = c
		if !c.inScope {
			a.baseline[host+"\x00"+s.ip] = true
			a.baseline[key] = true
		}
		// TCP connections from this address in the two minutes before.
		pk := host + "\x00" + s.ip
		var keep []pendingTCP
		for _, p := range a.pending[pk] {
			if d := at.Sub(p.at); d >= 0 && d <= 2*time.Minute {
				c.refs = append(c.refs, p.ref)
				c.steps = append(c.steps, "TCP connection accepted (131) at "+ts(p.at))
			} else if d < 0 {
				keep = append(keep, p)
			}
		}
		a.pending[pk] = keep
	}
	if len(c.display) < len(s.display) {
		c.display = s.display
	}
	if s.session != "" && s.start {
		a.bySess[host+"\x00"+s.session] = c
	}
	c.last = at
	c.steps = append(c.steps, s.kind+" at "+ts(at))
	if c.inScope {
		c.refs = append(c.refs, a.h.ref(ev))
	}
}

// loopback: an RDP client at the server's own address came through a port
// forward (ssh -L, plink, a tunnelling implant).
// LocalSessionManager writes a tunnelled IPv6 client with its zone
// ("::%16777216"), which is cut before parsing.
func loopback(ip string) bool {
	if i := strings.IndexByte(ip, '%'); i >= 0 {
		ip = ip[:i]
	}
	if ip == "::" {
		return true
	}
	p := net.ParseIP(ip)
	return p != nil && p.IsLoopback()
}

func (a *rdpSession) finish() []Finding {
	var out []Finding
	// Fan-out: one account from one address opening sessions on several
	// hosts within an hour is lateral movement. The first of them carries
	// it, high, naming the hosts; the others point to it, low.
	type fan struct {
		first *rdpChain
		hosts []string
	}
	fans := map[string]*fan{}
	for _, c := range a.chains {
		if !c.inScope || len(c.refs) == 0 {
			continue
		}
		k := c.user + "\x00" + c.ip
		f := fans[k]
		if f == nil || c.first.Sub(f.first.first) > time.Hour {
			f = &fan{first: c}
			fans[k] = f
		}
		if !slices.Contains(f.hosts, c.host) {
			f.hosts = append(f.hosts, c.host)
		}
		c.fan = f.first
		c.fanHosts = &f.hosts
	}
	earlier := map[string]time.Time{} // host, user, ip → first chain after the cut-off
	for _, c := range a.chains {
		if !c.inScope || len(c.refs) == 0 {
			continue
		}
		sev := a.r.Severity
		var reasons []string
		fanOut := len(*c.fanHosts) >= 3
		pair := c.host + "\x00" + c.user + "\x00" + c.ip
		if fanOut {
			if c.fan == c {
				reasons = append(reasons, fmt.Sprintf("the same account from this address opened sessions on %d hosts within the hour: %s (lateral movement)",
					len(*c.fanHosts), listNames(*c.fanHosts, 12)))
			} else {
				reasons = append(reasons, fmt.Sprintf("one of %d hosts this account reached from this address within the hour, the first %s at %s",
					len(*c.fanHosts), dashIfEmpty(c.fan.host), ts(c.fan.first)))
			}
		}
		if at, ok := earlier[pair]; ok {
			// The same account from the same address again: the first
			// session is what the examiner reads; the others are low.
			reasons = append(reasons, "the same account from this address had a session at "+ts(at))
			sev = Low
		} else {
			earlier[pair] = c.first
		}
		if loopback(c.ip) {
			reasons = append(reasons, "the client address is loopback: RDP tunnelled through a port forward (T1572)")
			sev = max(sev, High)
		}
		if !a.h.cfg.After.IsZero() {
			switch {
			case a.baseline[c.host+"\x00"+c.user+"\x00"+c.ip]:
				// The operators' routine: read last.
				reasons = append(reasons, "this account had RDP sessions from this source before the cut-off")
				if !loopback(c.ip) {
					sev = min(sev, Low)
				}
			case a.baseline[c.host+"\x00"+c.ip]:
				reasons = append(reasons, "this source had RDP sessions before the cut-off, as other accounts")
			default:
				reasons = append(reasons, "no RDP session from this source before the cut-off "+ts(a.h.cfg.After))
				if sev != Low {
					sev = max(sev, High)
				}
			}
		}
		where := ""
		if c.host != "" {
			where = " on " + c.host
		}
		if fanOut && !loopback(c.ip) {
			if c.fan == c {
				sev = max(sev, High)
			} else {
				sev = Low
			}
		}
		f := newFinding(a.r, "RDP "+c.display+" from "+c.ip+where+" at "+ts(c.first), "", c.refs)
		f.Explanation = fmt.Sprintf("RDP session of %s from %s%s, %s to %s (%s): %s", c.display, c.ip, where,
			a.h.tsLocal(f.First), a.h.tsLocal(f.Last), span(f.First, f.Last), strings.Join(dedupSteps(c.steps), ", "))
		if len(reasons) > 0 {
			f.Explanation += "; " + strings.Join(reasons, "; ")
		}
		f.Severity = sev
		out = append(out, f)
	}
	return out
}

// dedupSteps folds repeats of one step ("authenticated (1149) at T" eleven
// times) into "×N" of its first time.
func dedupSteps(steps []string) []string {
	var out []string
	n := map[string]int{}
	idx := map[string]int{}
	for _, s := range steps {
		kind, _, _ := strings.Cut(s, " at ")
		if i, ok := idx[kind]; ok {
			n[kind]++
			out[i] = fmt.Sprintf("%s ×%d", strings.SplitN(out[i], " ×", 2)[0], n[kind])
			continue
		}
		idx[kind] = len(out)
		n[kind] = 1
		out = append(out, s)
	}
	return out
}
