package hunt

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// Windows authentication attacks that no single record shows: password
// spraying, Kerberos pre-authentication bursts, pass-the-hash and explicit
// credentials, and MSSQL login guessing. They read the raw event data
// (winlog.event_data, as the EVTX parser keeps it) rather than the ECS
// fields, because the tell-tale fields (LogonProcessName, KeyLength,
// Kerberos status codes, the MSSQL client address) have no ECS place.

// securityAuditing is the provider of the Security log's records.
const securityAuditing = "Microsoft-Windows-Security-Auditing"

// winData returns an event_data value with Windows' "no value" placeholders
// ("-", blanks) dropped and the padding some providers add ("Advapi  ")
// trimmed.
func winData(ev *timeline.Event, key string) string {
	if ev.Winlog == nil {
		return ""
	}
	v := strings.TrimSpace(ev.Winlog.EventData[key])
	if v == "-" {
		return ""
	}
	return v
}

// winEventID is the EVTX event ID of a Security-auditing or other Windows
// event, 0 for anything else.
func winEventID(ev *timeline.Event, providerPart string) int {
	if ev.Winlog == nil || !strings.Contains(ev.Winlog.ProviderName, providerPart) {
		return 0
	}
	return ev.Winlog.EventID
}

// winStatus reads an NTSTATUS or Kerberos result code ("0xc000006a",
// "0x18"); ok is false when the field is absent or not a number.
func winStatus(ev *timeline.Event, key string) (uint64, bool) {
	s := winData(ev, key)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.ToLower(s), 0, 64)
	return n, err == nil
}

// winIP is the remote address of a Windows logon record, with the IPv4
// mapping prefix dropped ("::ffff:192.168.63.1") and no-address values
// ("-", loopback) as "".
func winIP(ev *timeline.Event) string {
	ip := strings.TrimPrefix(winData(ev, "IpAddress"), "::ffff:")
	switch ip {
	case "", "::1", "127.0.0.1":
		return ""
	}
	return ip
}

// winSource names where an attempt came from. The client workstation name
// comes first: one NTLM try is a 4776 on the domain controller that knows
// only the name and a 4625 on the server that knows the address too, and
// both must land on one source. Then the client address, else the host
// that logged it (a local attempt).
func winSource(ev *timeline.Event) string {
	for _, k := range []string{"WorkstationName", "Workstation"} {
		if w := strings.TrimLeft(winData(ev, k), `\`); w != "" {
			return "workstation " + strings.ToUpper(w)
		}
	}
	if ip := winIP(ev); ip != "" {
		return ip
	}
	return "host " + strings.ToUpper(hostOf(ev))
}

// winAccount is a target account as one name for counting: lower case,
// without the domain a UPN or DOMAIN\user adds.
func winAccount(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	if i := strings.LastIndexByte(n, '\\'); i >= 0 {
		n = n[i+1:]
	}
	if i := strings.IndexByte(n, '@'); i > 0 {
		n = n[:i]
	}
	return n
}

// logonTypeNum reads LogonType as a number (the EVTX keeps "3").
func logonTypeNum(ev *timeline.Event) int {
	n, err := strconv.Atoi(winData(ev, "LogonType"))
	if err != nil {
		return -1
	}
	return n
}

// ---- password spray ----

// sprayAttempt classifies one failed credential check of a Security log
// that a spray leaves: 4625 (failed logon), 4771 (Kerberos pre-auth failed),
// 4768 with a failure code (TGT refused), 4776 with a failure code (NTLM
// credential validation failed), and 4648 by a user's process (a logon with
// explicit credentials, one per account tried). It returns the account.
func sprayAttempt(ev *timeline.Event) (account string, ok bool) {
	switch winEventID(ev, securityAuditing) {
	case 4625:
		account = winData(ev, "TargetUserName")
	case 4771, 4768, 4776:
		st, okSt := winStatus(ev, "Status")
		if !okSt || st == 0 {
			return "", false
		}
		account = winData(ev, "TargetUserName")
	case 4648:
		if systemAccount(winData(ev, "SubjectUserName")) {
			return "", false // winlogon, services: the machine logging users on
		}
		account = winData(ev, "TargetUserName")
	default:
		return "", false
	}
	if systemAccount(account) {
		return "", false
	}
	return winAccount(account), true
}

type passwordSpray struct {
	h          *hunter
	r          *Rule
	accounts   int
	perAccount int
	window     time.Duration
	open       map[string]*sprayEpisode
	byIP       map[string]string // client address → the workstation key it was seen with
	out        []Finding
	swept      time.Time // when open was last cleared of idle episodes (sweepIdle)
}

type sprayEpisode struct {
	key     string
	addrs   []string // client addresses seen with the workstation name
	refs    []EventRef
	tries   map[string]map[int]int // account → event ID → attempts
	order   []string               // accounts in first-seen order
	codes   map[int]int
	first   time.Time
	last    time.Time
	inScope bool
	success []EventRef
	succBy  []string
}

func newPasswordSpray(h *hunter, r *Rule) (analyzer, error) {
	accounts, err := r.intParam("accounts", 5)
	if err != nil {
		return nil, err
	}
	per, err := r.intParam("max_attempts_per_account", 3)
	if err != nil {
		return nil, err
	}
	win, err := r.durationParam("window", 30*time.Minute)
	if err != nil {
		return nil, err
	}
	return &passwordSpray{h: h, r: r, accounts: accounts, perAccount: per, window: win, open: map[string]*sprayEpisode{}, byIP: map[string]string{}}, nil
}

func (p *passwordSpray) wants() interest {
	return interest{winIDs: []int{4624, 4625, 4771, 4768, 4776, 4648}}
}

func (p *passwordSpray) observe(ev *timeline.Event) {
	id := winEventID(ev, securityAuditing)
	switch id {
	case 4624, 4625, 4771, 4768, 4776, 4648:
	default:
		// Before the sweep, so that an event the dispatch does not hand
		// over (wants) changes nothing: sweeping at the next attempt
		// instead closes the same episodes (sweepIdle).
		return
	}
	if ev.Timestamp.Sub(p.swept) > p.window {
		p.swept = ev.Timestamp
		sweepIdle(p.open, ev.Timestamp, p.window, func(ep *sprayEpisode) time.Time { return ep.last }, p.close)
	}
	if id == 4624 {
		// A success from a spraying source, for an account it tried, is
		// what makes a spray matter. No spray open: no source to name
		// (winSource builds a string for every logon).
		if len(p.open) == 0 {
			return
		}
		ep := p.open[winSource(ev)]
		if ep == nil {
			ep = p.byAddr(winIP(ev))
		}
		u := winAccount(winData(ev, "TargetUserName"))
		if ep != nil && ep.tries[u] != nil && ev.Timestamp.Sub(ep.last) <= p.window {
			ep.success = append(ep.success, p.h.ref(ev))
			if !slices.Contains(ep.succBy, u) {
				ep.succBy = append(ep.succBy, u)
			}
			ep.last = ev.Timestamp
			ep.inScope = ep.inScope || p.h.inScope(ev.Timestamp)
		}
		return
	}
	account, ok := sprayAttempt(ev)
	if !ok || account == "" {
		return
	}
	key := winSource(ev)
	ep := p.open[key]
	if ep != nil && ev.Timestamp.Sub(ep.last) > p.window {
		p.close(ep)
		ep = nil
	}
	if ep == nil {
		ep = &sprayEpisode{key: key, tries: map[string]map[int]int{}, codes: map[int]int{}, first: ev.Timestamp}
		p.open[key] = ep
	}
	if ep.tries[account] == nil {
		ep.tries[account] = map[int]int{}
		ep.order = append(ep.order, account)
	}
	if ip := winIP(ev); ip != "" && ip != key && !slices.Contains(ep.addrs, ip) {
		ep.addrs = append(ep.addrs, ip)
		p.byIP[ip] = key
	}
	ep.tries[account][ev.Winlog.EventID]++
	ep.codes[ev.Winlog.EventID]++
	ep.refs = append(ep.refs, p.h.ref(ev))
	ep.last = ev.Timestamp
	ep.inScope = ep.inScope || p.h.inScope(ev.Timestamp)
}

// byAddr finds the open episode whose attempts came from an address (a
// success logged with the address but not the workstation name).
func (p *passwordSpray) byAddr(ip string) *sprayEpisode {
	if ip == "" {
		return nil
	}
	if ep := p.open[p.byIP[ip]]; ep != nil && slices.Contains(ep.addrs, ip) {
		return ep
	}
	return nil
}

// attempts per account: one failed logon is logged by several events (a
// 4776 and a 4625 for one NTLM try), so the busiest event ID counts.
func (ep *sprayEpisode) attempts(account string) int {
	n := 0
	for _, c := range ep.tries[account] {
		n = max(n, c)
	}
	return n
}

func (p *passwordSpray) close(ep *sprayEpisode) {
	delete(p.open, ep.key)
	for _, ip := range ep.addrs {
		if p.byIP[ip] == ep.key {
			delete(p.byIP, ip) // byAddr finds no open episode through it
		}
	}
	if len(ep.order) < p.accounts || !ep.inScope {
		return
	}
	total, most := 0, 0
	for _, a := range ep.order {
		n := ep.attempts(a)
		total += n
		most = max(most, n)
	}
	// Many tries per account is brute force with a user list (JEJAK-AUTH-01
	// says so); a spray tries each account a few times to stay under the
	// lockout threshold.
	if float64(total)/float64(len(ep.order)) > float64(p.perAccount) {
		return
	}
	refs := append(slices.Clone(ep.refs), ep.success...)
	expl := fmt.Sprintf("%d distinct accounts (%s) failed to authenticate from %s in %s (%s to %s), %d attempts in all, at most %d per account (threshold: %d accounts, at most %d attempts each on average, each within %s of the previous); events: %s",
		len(ep.order), listNames(ep.order, 8), ep.key, span(ep.first, ep.refs[len(ep.refs)-1].Timestamp),
		ts(ep.first), ts(ep.refs[len(ep.refs)-1].Timestamp), total, most, p.accounts, p.perAccount, p.window, eventIDCounts(ep.codes))
	if len(ep.addrs) > 0 {
		expl += "; client addresses " + listNames(ep.addrs, 5)
	}
	f := newFinding(p.r, ep.key, "", refs)
	if len(ep.success) > 0 {
		expl += fmt.Sprintf("; then %s from the same source as %s, first at %s",
			plural(len(ep.success), "successful logon", "successful logons"), listNames(ep.succBy, 5), p.h.tsLocal(ep.success[0].Timestamp))
		f.Severity = max(f.Severity, High)
	}
	f.Explanation = expl
	p.out = append(p.out, f)
}

func (p *passwordSpray) finish() []Finding {
	for _, k := range authKeys(p.open) {
		p.close(p.open[k])
	}
	return p.out
}

// sweepIdle closes the episodes idle for longer than the window at now,
// as bruteForce.sweep does: events come in time order, so such an episode
// could only be closed by its key's next event, and closing it now changes
// no finding, while an internet-facing server's open episodes (one per
// address that tried once) stay those of the last window instead of one
// per address of the whole log. Called once per window: linear cost.
// Keys are closed in sorted order, as finish closes the rest.
func sweepIdle[E any](open map[string]E, now time.Time, window time.Duration, last func(E) time.Time, closeEp func(E)) {
	var idle []string
	for k, ep := range open {
		if now.Sub(last(ep)) > window {
			idle = append(idle, k)
		}
	}
	slices.Sort(idle)
	for _, k := range idle {
		closeEp(open[k])
	}
}

func authKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// eventIDCounts renders {4625: 5, 4776: 5} as "5× 4625, 5× 4776".
func eventIDCounts(c map[int]int) string {
	ids := make([]int, 0, len(c))
	for id := range c {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d× %d", c[id], id)
	}
	return strings.Join(parts, ", ")
}

// ---- Kerberos pre-authentication failures ----

// kerberosStatus names the result codes of 4768/4771 an examiner reads.
var kerberosStatus = map[uint64]string{
	0x6:  "unknown account",
	0x12: "account disabled, expired or locked out",
	0x17: "password expired",
	0x18: "wrong password",
}

func kerberosName(code uint64) string {
	if s, ok := kerberosStatus[code]; ok {
		return fmt.Sprintf("0x%x (%s)", code, s)
	}
	return fmt.Sprintf("0x%x", code)
}

type kerberosBurst struct {
	h        *hunter
	r        *Rule
	min      int
	window   time.Duration
	bySource map[string]*kerbEpisode
	byUser   map[string]*kerbEpisode
	done     []*kerbEpisode // closed episodes that met the rule, judged again at finish
	swept    time.Time      // when the maps were last cleared of idle episodes (sweepIdle)
}

type kerbEpisode struct {
	key     string
	source  bool
	tries   []kerbTry
	first   time.Time
	last    time.Time
	inScope bool
}

// kerbTry is one failure row with the account (for a source) or the
// source (for an account) and its status, so an episode can be judged
// again on the rows another rule did not claim (overlap.go).
type kerbTry struct {
	ref   EventRef
	other string
	st    uint64
}

func newKerberosBurst(h *hunter, r *Rule) (analyzer, error) {
	min, err := r.intParam("failures", 5)
	if err != nil {
		return nil, err
	}
	win, err := r.durationParam("window", 10*time.Minute)
	if err != nil {
		return nil, err
	}
	return &kerberosBurst{h: h, r: r, min: min, window: win, bySource: map[string]*kerbEpisode{}, byUser: map[string]*kerbEpisode{}}, nil
}

func (k *kerberosBurst) wants() interest { return interest{winIDs: []int{4771, 4768}} }

func (k *kerberosBurst) observe(ev *timeline.Event) {
	id := winEventID(ev, securityAuditing)
	if id != 4771 && id != 4768 {
		return
	}
	st, ok := winStatus(ev, "Status")
	// 4771 is logged for every pre-authentication failure; 0x18 is the
	// wrong password. 4768 with any non-zero code is a refused TGT request
	// (0x6: a name that does not exist, the mark of user enumeration).
	if !ok || st == 0 || (id == 4771 && st != 0x18) {
		return
	}
	user := winAccount(winData(ev, "TargetUserName"))
	if user == "" || strings.HasSuffix(user, "$") {
		return // machine accounts renew tickets on their own schedule
	}
	src := winIP(ev)
	if src == "" {
		src = "host " + strings.ToUpper(hostOf(ev))
	}
	if ev.Timestamp.Sub(k.swept) > k.window {
		k.swept = ev.Timestamp
		last := func(ep *kerbEpisode) time.Time { return ep.last }
		sweepIdle(k.bySource, ev.Timestamp, k.window, last, func(ep *kerbEpisode) { k.close(k.bySource, ep) })
		sweepIdle(k.byUser, ev.Timestamp, k.window, last, func(ep *kerbEpisode) { k.close(k.byUser, ep) })
	}
	ref := k.h.ref(ev)
	k.add(k.bySource, src, true, user, st, ev, ref)
	k.add(k.byUser, user, false, src, st, ev, ref)
}

func (k *kerberosBurst) add(m map[string]*kerbEpisode, key string, source bool, other string, st uint64, ev *timeline.Event, ref EventRef) {
	ep := m[key]
	if ep != nil && ev.Timestamp.Sub(ep.last) > k.window {
		k.close(m, ep)
		ep = nil
	}
	if ep == nil {
		ep = &kerbEpisode{key: key, source: source, first: ev.Timestamp}
		m[key] = ep
	}
	ep.tries = append(ep.tries, kerbTry{ref: ref, other: other, st: st})
	ep.last = ev.Timestamp
	ep.inScope = ep.inScope || k.h.inScope(ev.Timestamp)
}

// close ends an episode; one that meets the threshold waits for finish,
// when the rows of the rules this one yields to are known.
func (k *kerberosBurst) close(m map[string]*kerbEpisode, ep *kerbEpisode) {
	delete(m, ep.key)
	if len(ep.tries) < k.min || !ep.inScope {
		return
	}
	k.done = append(k.done, ep)
}

// report judges an episode on the rows no rule it yields to claimed.
func (k *kerberosBurst) report(ep *kerbEpisode) (Finding, bool) {
	left := leftTo{}
	var refs []EventRef
	var others []string
	status := map[uint64]int{}
	inScope := false
	for _, t := range ep.tries {
		if id := k.h.claimedFor(k.r, t.ref.ID); id != "" {
			left[id]++
			continue
		}
		refs = append(refs, t.ref)
		if !slices.Contains(others, t.other) {
			others = append(others, t.other)
		}
		status[t.st]++
		inScope = inScope || k.h.inScope(t.ref.Timestamp)
	}
	if len(refs) < k.min || !inScope {
		return Finding{}, false
	}
	// An account's burst from one source is already that source's
	// finding; it is its own finding only when it came from several.
	if !ep.source && len(others) < 2 {
		return Finding{}, false
	}
	first, last := refs[0].Timestamp, refs[len(refs)-1].Timestamp
	codes := make([]uint64, 0, len(status))
	for c := range status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d× %s", status[c], kerberosName(c)))
	}
	var expl string
	if ep.source {
		expl = fmt.Sprintf("%d Kerberos pre-authentication failures (4771 status 0x18, or 4768 refused) from %s for %s in %s (%s to %s): %s (threshold: %d failures, each within %s of the previous)",
			len(refs), ep.key, plural(len(others), "account", "accounts")+" ("+listNames(others, 8)+")",
			span(first, last), ts(first), ts(last), strings.Join(parts, ", "), k.min, k.window)
	} else {
		expl = fmt.Sprintf("%d Kerberos pre-authentication failures (4771 status 0x18, or 4768 refused) for account %s from %d sources (%s) in %s (%s to %s): %s (threshold: %d failures, each within %s of the previous)",
			len(refs), ep.key, len(others), listNames(others, 8),
			span(first, last), ts(first), ts(last), strings.Join(parts, ", "), k.min, k.window)
	}
	expl += left.String()
	key := ep.key
	if !ep.source {
		key = "account " + key
	}
	return newFinding(k.r, key, expl, refs), true
}

func (k *kerberosBurst) finish() []Finding {
	for _, key := range authKeys(k.bySource) {
		k.close(k.bySource, k.bySource[key])
	}
	for _, key := range authKeys(k.byUser) {
		k.close(k.byUser, k.byUser[key])
	}
	var out []Finding
	for _, ep := range k.done {
		if f, ok := k.report(ep); ok {
			out = append(out, f)
		}
	}
	return out
}

// ---- NTLM network logons and pass-the-hash ----

type passTheHash struct {
	h           *hunter
	r           *Rule
	interactive map[string]bool // account@host with an interactive logon seen
	routine     map[string]bool // account@host with an NTLM network logon before the cut-off
	found       map[string]*pthGroup
}

type pthGroup struct {
	refs    []EventRef
	reasons []string
	sources []string
	high    bool
}

func newPassTheHash(h *hunter, r *Rule) (analyzer, error) {
	return &passTheHash{h: h, r: r, interactive: map[string]bool{}, routine: map[string]bool{}, found: map[string]*pthGroup{}}, nil
}

func (p *passTheHash) wants() interest { return interest{winIDs: []int{4624}} }

func (p *passTheHash) observe(ev *timeline.Event) {
	if winEventID(ev, securityAuditing) != 4624 {
		return
	}
	user := winAccount(winData(ev, "TargetUserName"))
	if systemAccount(user) || user == "anonymous logon" {
		return
	}
	host := strings.ToUpper(hostOf(ev))
	acctHost := user + "@" + host
	lt := logonTypeNum(ev)
	proc := winData(ev, "LogonProcessName")
	pkg := winData(ev, "AuthenticationPackageName")
	switch lt {
	case 2, 7, 10, 11, 12, 13:
		// Someone typed this account's password at this host (or unlocked
		// it): its credentials are legitimately there.
		p.interactive[acctHost] = true
		return
	case 9:
		if !strings.EqualFold(proc, "seclogo") || !p.h.inScope(ev.Timestamp) {
			return
		}
		why := fmt.Sprintf("logon type 9 (NewCredentials) by logon process seclogo as %s on %s, package %s: the record of runas /netonly and of Mimikatz sekurlsa::pth, which give a process another account's credentials (its hash) for network use only",
			user, host, dashIfEmpty(pkg))
		// Windows 10 / Server 2016 and later name the credentials the
		// new logon uses on the network.
		if out := winData(ev, "TargetOutboundUserName"); out != "" {
			if d := winData(ev, "TargetOutboundDomainName"); d != "" {
				out = d + `\` + out
			}
			why += "; network credentials of " + out
		}
		p.add(ev, "type 9 "+acctHost, why, true)
	case 3:
		if !strings.EqualFold(pkg, "NTLM") && !strings.EqualFold(proc, "NtLmSsp") {
			return
		}
		switch winData(ev, "IpAddress") {
		case "127.0.0.1", "::1":
			return // the host authenticating to itself: nothing crossed the network
		}
		if !p.h.inScope(ev.Timestamp) {
			// The baseline: an account that already reached this host
			// over NTLM before the cut-off does so by routine (a mapped
			// share, a workgroup service).
			p.routine[acctHost] = true
			return
		}
		if p.interactive[acctHost] || p.routine[acctHost] {
			return
		}
		why := fmt.Sprintf("network logon (type 3) authenticated with NTLM (package %s, logon process %s) as %s on %s, with no interactive logon of %s on %s before it in the timeline",
			dashIfEmpty(pkg), dashIfEmpty(proc), user, host, user, host)
		high := false
		if kl := winData(ev, "KeyLength"); kl == "0" {
			why += "; KeyLength 0 (no NTLM session key), as pass-the-hash tools leave it"
			high = true
		}
		p.add(ev, "type 3 "+acctHost, why, high)
	}
}

func (p *passTheHash) add(ev *timeline.Event, key, why string, high bool) {
	g := p.found[key]
	if g == nil {
		g = &pthGroup{}
		p.found[key] = g
	}
	g.refs = append(g.refs, p.h.ref(ev))
	if !slices.Contains(g.reasons, why) {
		g.reasons = append(g.reasons, why)
	}
	if s := winIP(ev); s != "" && !slices.Contains(g.sources, s) {
		g.sources = append(g.sources, s)
	} else if w := winData(ev, "WorkstationName"); s == "" && w != "" && !slices.Contains(g.sources, "workstation "+w) {
		g.sources = append(g.sources, "workstation "+w)
	}
	g.high = g.high || high
}

func (p *passTheHash) finish() []Finding {
	var out []Finding
	for _, key := range authKeys(p.found) {
		g := p.found[key]
		f := newFinding(p.r, key, "", g.refs)
		f.Reasons = g.reasons
		f.Explanation = fmt.Sprintf("%s, first at %s: %s", plural(len(f.Events), "logon", "logons"), p.h.tsLocal(f.First), strings.Join(g.reasons, "; "))
		if len(g.sources) > 0 {
			f.Explanation += "; from " + listNames(g.sources, 5)
		}
		if !g.high {
			// An NTLM network logon alone is common in workgroups; what
			// makes it pass-the-hash evidence is the missing session key
			// or the seclogo pattern.
			f.Severity = min(f.Severity, Medium)
		}
		out = append(out, f)
	}
	return out
}

// ---- explicit credentials (4648) ----

type explicitCreds struct {
	h       *hunter
	r       *Rule
	routine map[string]bool // subject → target pairs seen before the cut-off
	found   map[string]*explicitGroup
}

type explicitGroup struct {
	refs    []EventRef
	servers []string
	procs   []string
}

func newExplicitCreds(h *hunter, r *Rule) (analyzer, error) {
	return &explicitCreds{h: h, r: r, routine: map[string]bool{}, found: map[string]*explicitGroup{}}, nil
}

func (e *explicitCreds) wants() interest { return interest{winIDs: []int{4648}} }

func (e *explicitCreds) observe(ev *timeline.Event) {
	if winEventID(ev, securityAuditing) != 4648 {
		return
	}
	subj, target := winData(ev, "SubjectUserName"), winData(ev, "TargetUserName")
	// Winlogon and services log 4648 for every user logon, as the machine
	// account; a user switching to the same account is no change of
	// identity.
	if systemAccount(subj) || systemAccount(target) || winAccount(subj) == winAccount(target) {
		return
	}
	key := winAccount(subj) + " → " + winAccount(target) + " on " + strings.ToUpper(hostOf(ev))
	if !e.h.inScope(ev.Timestamp) {
		e.routine[key] = true // an administrator's habit before the cut-off
		return
	}
	if e.routine[key] {
		return
	}
	g := e.found[key]
	if g == nil {
		g = &explicitGroup{}
		e.found[key] = g
	}
	g.refs = append(g.refs, e.h.ref(ev))
	if s := winData(ev, "TargetServerName"); s != "" && !slices.Contains(g.servers, s) {
		g.servers = append(g.servers, s)
	}
	if s := winData(ev, "ProcessName"); s != "" && !slices.Contains(g.procs, s) {
		g.procs = append(g.procs, s)
	}
}

func (e *explicitCreds) finish() []Finding {
	var out []Finding
	for _, key := range authKeys(e.found) {
		g := e.found[key]
		f := newFinding(e.r, key, "", g.refs)
		f.Explanation = fmt.Sprintf("%s with explicit credentials (4648): account %s, first at %s, toward %s",
			plural(len(f.Events), "logon", "logons"), key, e.h.tsLocal(f.First), dashIfEmpty(listNames(g.servers, 5)))
		if len(g.procs) > 0 {
			f.Explanation += ", by process " + listNames(g.procs, 3)
		}
		f.Explanation += ": a user's session used another account's password (runas, net use /user, a tool calling LogonUser)"
		out = append(out, f)
	}
	return out
}

// ---- MSSQL failed logon bursts ----

// mssqlClient reads "[CLIENT: 10.0.2.17]", and "[CLIENT: <local machine>]"
// for a login over shared memory.
var mssqlClient = regexp.MustCompile(`\[CLIENT:\s*([^\]]*?)\s*\]`)

// mssqlEvent reads a SQL Server login event of the Application log: 18456
// (login failed) or 18453/18454/18455 (login succeeded, logged when the
// server audits successful logins). The client address is in the message
// text, "[CLIENT: 1.2.3.4]", in whichever insertion string holds it.
// SQL Server's own ERRORLOG (parsers/sqlserver, dataset mssql.errorlog)
// records the same logons: its events are read too, from user.name and
// source.
func mssqlEvent(ev *timeline.Event) (failed bool, client, user string, ok bool) {
	if ev.Winlog == nil {
		return mssqlErrorlogEvent(ev)
	}
	// The event ID first: it is cheap, and few events pass it.
	switch ev.Winlog.EventID {
	case 18456:
		failed = true
	case 18453, 18454, 18455:
	default:
		return false, "", "", false
	}
	if !strings.Contains(strings.ToUpper(ev.Winlog.ProviderName), "MSSQL") {
		return false, "", "", false
	}
	for _, k := range authKeys(ev.Winlog.EventData) {
		if m := mssqlClient.FindStringSubmatch(ev.Winlog.EventData[k]); m != nil && m[1] != "" {
			client = m[1]
			break
		}
	}
	if client == "" {
		client = "an unnamed client on " + strings.ToUpper(hostOf(ev))
	}
	return failed, client, strings.Trim(winData(ev, "Data1"), "'"), true
}

// mssqlErrorlogEvent reads a logon event of the ERRORLOG parser: every
// login failure (18456, 18452 …) and success.
func mssqlErrorlogEvent(ev *timeline.Event) (failed bool, client, user string, ok bool) {
	if ev.Event.Dataset != "mssql.errorlog" {
		return false, "", "", false
	}
	switch ev.Event.Action {
	case "logon-failed":
		failed = true
	case "logon-success":
	default:
		return false, "", "", false
	}
	if ev.Source != nil {
		client = cmp.Or(ev.Source.IP, ev.Source.Address)
	}
	if client == "" {
		client = "an unnamed client on " + strings.ToUpper(hostOf(ev))
	}
	if ev.User != nil {
		user = ev.User.Name
		if ev.User.Domain != "" {
			user = ev.User.Domain + `\` + user
		}
	}
	return failed, client, user, true
}

type mssqlBurst struct {
	h      *hunter
	r      *Rule
	min    int
	window time.Duration
	open   map[string]*mssqlEpisode
	out    []Finding
	swept  time.Time // when open was last cleared of idle episodes (sweepIdle)
	// both: one logon is in the Application log and in ERRORLOG when
	// both were collected; the second copy (same client, user and
	// outcome in the same second, from the other source) is not counted.
	both map[string]mssqlSeen
}

type mssqlSeen struct {
	errorlog bool
	at       time.Time
}

// duplicate reports whether ev is the other source's copy of a logon
// already counted.
func (m *mssqlBurst) duplicate(ev *timeline.Event, failed bool, client, user string) bool {
	k := fmt.Sprintf("%t\x00%s\x00%s\x00%d", failed, client, strings.ToLower(user), ev.Timestamp.Unix())
	fromLog := ev.Winlog == nil
	if s, ok := m.both[k]; ok && s.errorlog != fromLog {
		return true
	}
	if len(m.both) > 1<<14 {
		for k, s := range m.both {
			if ev.Timestamp.Sub(s.at) > time.Minute {
				delete(m.both, k)
			}
		}
	}
	m.both[k] = mssqlSeen{errorlog: fromLog, at: ev.Timestamp}
	return false
}

type mssqlEpisode struct {
	key     string
	fails   []EventRef
	users   []string
	first   time.Time
	last    time.Time
	inScope bool
	success *EventRef
	succBy  string
}

func newMSSQLBurst(h *hunter, r *Rule) (analyzer, error) {
	min, err := r.intParam("failures", 5)
	if err != nil {
		return nil, err
	}
	win, err := r.durationParam("window", 10*time.Minute)
	if err != nil {
		return nil, err
	}
	return &mssqlBurst{h: h, r: r, min: min, window: win, open: map[string]*mssqlEpisode{}, both: map[string]mssqlSeen{}}, nil
}

func (m *mssqlBurst) wants() interest {
	return interest{winIDs: []int{18456, 18453, 18454, 18455}, datasets: []string{"mssql.errorlog"}}
}

func (m *mssqlBurst) observe(ev *timeline.Event) {
	failed, client, user, ok := mssqlEvent(ev)
	if !ok || m.duplicate(ev, failed, client, user) {
		return
	}
	if ev.Timestamp.Sub(m.swept) > m.window {
		m.swept = ev.Timestamp
		sweepIdle(m.open, ev.Timestamp, m.window, func(ep *mssqlEpisode) time.Time { return ep.last }, m.close)
	}
	ep := m.open[client]
	if ep != nil && ev.Timestamp.Sub(ep.last) > m.window {
		m.close(ep)
		ep = nil
	}
	if !failed {
		if ep != nil && len(ep.fails) >= m.min {
			r := m.h.ref(ev)
			ep.success, ep.succBy = &r, user
			ep.last = ev.Timestamp
			ep.inScope = ep.inScope || m.h.inScope(ev.Timestamp)
			m.close(ep)
		}
		return
	}
	if ep == nil {
		ep = &mssqlEpisode{key: client, first: ev.Timestamp}
		m.open[client] = ep
	}
	ep.fails = append(ep.fails, m.h.ref(ev))
	if user != "" && !slices.Contains(ep.users, user) {
		ep.users = append(ep.users, user)
	}
	ep.last = ev.Timestamp
	ep.inScope = ep.inScope || m.h.inScope(ev.Timestamp)
}

func (m *mssqlBurst) close(ep *mssqlEpisode) {
	delete(m.open, ep.key)
	if len(ep.fails) < m.min || !ep.inScope {
		return
	}
	lastFail := ep.fails[len(ep.fails)-1].Timestamp
	expl := fmt.Sprintf("%d failed SQL Server logins (18456) from client %s for %s in %s (%s to %s) (threshold: %d failures, each within %s of the previous)",
		len(ep.fails), ep.key, dashIfEmpty(listNames(ep.users, 5)), span(ep.first, lastFail), ts(ep.first), ts(lastFail), m.min, m.window)
	refs := ep.fails
	if ep.success != nil {
		refs = append(refs, *ep.success)
		expl += fmt.Sprintf(", then a successful login (%s) from the same client as %s at %s", ep.success.Code, dashIfEmpty(ep.succBy), m.h.tsLocal(ep.success.Timestamp))
	} else {
		expl += "; no successful login from that client followed (SQL Server logs successes only when login auditing includes them)"
	}
	f := newFinding(m.r, ep.key, expl, refs)
	if ep.success != nil {
		f.Severity = max(f.Severity, High)
	}
	m.out = append(m.out, f)
}

func (m *mssqlBurst) finish() []Finding {
	for _, k := range authKeys(m.open) {
		m.close(m.open[k])
	}
	return m.out
}
