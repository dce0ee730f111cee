package hunt

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jejak-forensics/jejak/timeline"
)

type authKind int

const (
	authNone authKind = iota
	authFailure
	authSuccess
)

// authActions are the actions classifyAuth can call an attempt: the
// dispatch hands the analyzers that start with it these alone
// (TestAuthActions holds the two together).
var authActions = []string{"ssh_failed_login", "logon-failed", "failed_logon", "auth_failure",
	"ssh_login", "logged-in", "rdp-authenticated", "rdp-session-logon", "rdp-session-reconnected", "logon"}

// classifyAuth says whether an event is one logon attempt and how it ended.
// Each attempt should count once: PAM's "authentication failure" line
// repeats sshd's own "Failed password" line, so sshd's PAM lines are not
// attempts; auditd's USER_AUTH repeats USER_LOGIN.
func classifyAuth(ev *timeline.Event) authKind {
	switch ev.Event.Action {
	case "ssh_failed_login", "logon-failed", "failed_logon":
		return authFailure
	case "auth_failure":
		if program(ev) == "sshd" {
			return authNone
		}
		return authFailure
	case "ssh_login", "logged-in", "rdp-authenticated", "rdp-session-logon", "rdp-session-reconnected":
		if ev.Event.Outcome == "failure" {
			return authFailure
		}
		if ev.Winlog != nil && ev.Winlog.Logon != nil {
			switch ev.Winlog.Logon.Type {
			case "Service", "Batch", "System":
				return authNone
			}
		}
		return authSuccess
	case "logon": // utmp USER_PROCESS, auditd USER_LOGIN
		switch ev.Event.Outcome {
		case "failure":
			return authFailure
		case "success", "":
			return authSuccess
		}
	}
	return authNone
}

// sourceOf is the remote end of a logon: an IP, else the address text.
func sourceOf(ev *timeline.Event) string {
	if ev.Source == nil {
		return ""
	}
	if ev.Source.IP != "" {
		return ev.Source.IP
	}
	return ev.Source.Address
}

func userOf(ev *timeline.Event) string {
	if ev.User == nil {
		return ""
	}
	return ev.User.Name
}

func hostOf(ev *timeline.Event) string {
	if ev.Host != nil && ev.Host.Name != "" {
		return ev.Host.Name
	}
	if ev.Log != nil && ev.Log.Syslog != nil {
		return ev.Log.Syslog.Hostname
	}
	return ""
}

// systemAccount: names Windows and Linux use for the machine itself,
// which log on all day and say nothing about people.
func systemAccount(u string) bool {
	if ascii(u) {
		return systemAccountASCII(u) // no upper-cased copy per logon
	}
	switch strings.ToUpper(u) {
	case "", "-", "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "ANONYMOUS LOGON", "LOCAL SYSTEM":
		return true
	}
	up := strings.ToUpper(u)
	return strings.HasSuffix(u, "$") || strings.HasPrefix(up, "DWM-") || strings.HasPrefix(up, "UMFD-")
}

// systemNames are the names systemAccount compares, upper case.
var systemNames = []string{"SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE", "ANONYMOUS LOGON", "LOCAL SYSTEM"}

// systemAccountASCII is systemAccount for an ASCII name, where comparing
// ASCII letters case-insensitively is what upper-casing did.
func systemAccountASCII(u string) bool {
	if u == "" || u == "-" || strings.HasSuffix(u, "$") {
		return true
	}
	for _, n := range systemNames {
		if len(u) == len(n) && strings.EqualFold(u, n) {
			return true
		}
	}
	return len(u) >= 4 && strings.EqualFold(u[:4], "DWM-") || len(u) >= 5 && strings.EqualFold(u[:5], "UMFD-")
}

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// repeats is how many attempts one line stands for ("message repeated N
// times").
func repeats(ev *timeline.Event) int {
	v, ok := ev.Jejak.Data["repeat_count"]
	if !ok {
		return 1 // nearly every line: no Atoi error to allocate
	}
	if n, err := strconv.Atoi(v); err == nil && n > 1 {
		return n
	}
	return 1
}

// protocol names how a logon was attempted, for explanations.
func protocol(ev *timeline.Event) string {
	switch {
	case strings.HasPrefix(ev.Event.Action, "ssh_") || program(ev) == "sshd":
		return "SSH"
	case strings.HasPrefix(ev.Event.Action, "rdp-"):
		return "RDP"
	case ev.Winlog != nil:
		return "Windows"
	}
	return ""
}

// ---- brute force ----

type bruteForce struct {
	h       *hunter
	r       *Rule
	min     int
	window  time.Duration
	success bool // report episodes that ended in a success (else those that did not)
	// t holds the open episodes, shared with the other brute-force rules
	// of the hunt that count the same failures in the same window (the
	// built-in AUTH-01 and AUTH-02 differ only in success): lead says
	// this rule is the one that feeds it.
	t    *bruteTrack
	lead bool
	done []*episode // closed episodes that met the rule, judged again at finish
}

// bruteTrack follows the logon episodes of every source for the
// brute-force rules of one failure count and window. An episode evolves
// the same whatever the rule's success parameter (which only chooses the
// closed episodes a rule reports), so one set of episodes serves them all:
// on an internet-facing log, where every line opens an episode, keeping
// one per rule doubled the work.
type bruteTrack struct {
	h      *hunter
	min    int
	window time.Duration
	open   map[string]*episode
	swept  time.Time     // when open was last cleared of idle episodes
	rules  []*bruteForce // in the order of the hunt's rules
}

// bruteTrackKey names a bruteTrack in hunter.brutes.
type bruteTrackKey struct {
	min    int
	window time.Duration
}

type episode struct {
	key       string
	failures  int
	tries     []bruteTry
	first     time.Time
	last      time.Time
	success   *EventRef
	successBy string
	inScope   bool
	// one holds the first try: on a server on the internet most sources
	// try once, and a slice of their own was one allocation per source.
	one [1]bruteTry
}

// bruteTry is one failed-logon row: the attempts it stands for and who
// and how, so an episode can be judged again on the rows another rule
// did not claim (overlap.go).
type bruteTry struct {
	// ref is shared with the other analyzers holding the row (refPtr):
	// the two brute-force rules hold every failed logon, and appending a
	// whole EventRef per try was most of their time.
	ref   *EventRef
	n     int
	user  string
	proto string
}

func newBruteForce(h *hunter, r *Rule) (analyzer, error) {
	min, err := r.intParam("failures", 5)
	if err != nil {
		return nil, err
	}
	win, err := r.durationParam("window", 10*time.Minute)
	if err != nil {
		return nil, err
	}
	succ, err := r.stringParam("success", "absent", "absent", "required")
	if err != nil {
		return nil, err
	}
	b := &bruteForce{h: h, r: r, min: min, window: win, success: succ == "required"}
	k := bruteTrackKey{min, win}
	if h.brutes == nil {
		h.brutes = map[bruteTrackKey]*bruteTrack{}
	}
	b.t = h.brutes[k]
	if b.t == nil {
		b.t = &bruteTrack{h: h, min: min, window: win, open: map[string]*episode{}}
		h.brutes[k] = b.t
		b.lead = true
	}
	b.t.rules = append(b.t.rules, b)
	return b, nil
}

// bruteKey: the source, or for local attempts (no source recorded) the
// program that made them on its host when the record names it (Windows
// 4625's ProcessName: one tool guessing several local accounts is one
// activity), else the account on its host.
func bruteKey(ev *timeline.Event) string {
	if s := sourceOf(ev); s != "" && s != "-" && s != "127.0.0.1" && s != "::1" {
		return s
	}
	if ev.Winlog != nil && ev.Process != nil && ev.Process.Executable != "" {
		return "local " + ev.Process.Executable + " on " + hostOf(ev)
	}
	u := userOf(ev)
	if u == "" {
		return ""
	}
	return "local " + u + "@" + hostOf(ev)
}

// wants: the lead rule reads the attempts classifyAuth knows; the others
// share its episodes and read nothing.
func (b *bruteForce) wants() interest {
	if !b.lead {
		return interest{}
	}
	return interest{actions: authActions}
}

func (b *bruteForce) observe(ev *timeline.Event) {
	if b.lead {
		b.t.observe(ev)
	}
}

func (t *bruteTrack) observe(ev *timeline.Event) {
	kind := classifyAuth(ev)
	if kind == authNone {
		return
	}
	if ev.Timestamp.Sub(t.swept) > t.window {
		t.sweep(ev.Timestamp)
	}
	key := bruteKey(ev)
	if key == "" {
		return
	}
	ep := t.open[key]
	if ep != nil && ev.Timestamp.Sub(ep.last) > t.window {
		t.close(ep)
		ep = nil
	}
	if kind == authSuccess {
		if ep != nil && ep.failures >= t.min {
			r := t.h.ref(ev)
			ep.success, ep.successBy = &r, userOf(ev)
			ep.last = ev.Timestamp
			ep.inScope = ep.inScope || t.h.inScope(ev.Timestamp)
			t.close(ep)
		} else if ep != nil {
			// A success after a few failures is a mistyped password.
			delete(t.open, key)
		}
		return
	}
	if ep == nil {
		ep = &episode{key: key, first: ev.Timestamp}
		ep.tries = ep.one[:0]
		t.open[key] = ep
	}
	n := repeats(ev)
	ep.failures += n
	ep.tries = append(ep.tries, bruteTry{ref: t.h.refPtr(ev), n: n, user: userOf(ev), proto: protocol(ev)})
	ep.last = ev.Timestamp
	ep.inScope = ep.inScope || t.h.inScope(ev.Timestamp)
}

// sweep closes the episodes idle for longer than the window at now. Events
// come in time order, so such an episode could only be closed by its
// source's next attempt: closing it now changes no finding, and the open
// episodes of an internet-facing server — one per address that tried once
// — stay those of the last window instead of one per address of the whole
// log. Sweeping once per window keeps the cost linear.
func (t *bruteTrack) sweep(now time.Time) {
	t.swept = now
	for _, ep := range t.open {
		if now.Sub(ep.last) > t.window {
			t.close(ep) // deleting while ranging over a map is allowed
		}
	}
}

// close ends an episode; one that meets a rule waits for that rule's
// finish, when the rows of the rules it yields to are known. An episode
// meets one rule of a track at most when their success parameters differ.
func (t *bruteTrack) close(ep *episode) {
	delete(t.open, ep.key)
	if ep.failures < t.min || !ep.inScope {
		return
	}
	for _, b := range t.rules {
		if (ep.success != nil) == b.success {
			b.done = append(b.done, ep)
		}
	}
}

// flush closes the episodes still open at the end of the timeline, in key
// order; the first rule of the track to finish does it for all.
func (t *bruteTrack) flush() {
	keys := make([]string, 0, len(t.open))
	for k := range t.open {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.close(t.open[k])
	}
}

// report judges an episode on the rows no rule it yields to claimed.
func (b *bruteForce) report(ep *episode) (Finding, bool) {
	left := leftTo{}
	var refs []EventRef
	var users, protos []string
	seenUser := map[string]bool{} // a dictionary attack tries thousands of names
	failures, inScope := 0, false
	var first, lastFail time.Time
	for _, t := range ep.tries {
		if id := b.h.claimedFor(b.r, t.ref.ID); id != "" {
			left[id]++
			continue
		}
		if len(refs) == 0 {
			first = t.ref.Timestamp
		}
		lastFail = t.ref.Timestamp
		refs = append(refs, *t.ref)
		failures += t.n
		inScope = inScope || b.h.inScope(t.ref.Timestamp)
		if t.user != "" && !seenUser[t.user] {
			seenUser[t.user] = true
			users = append(users, t.user)
		}
		if t.proto != "" && !slices.Contains(protos, t.proto) {
			protos = append(protos, t.proto)
		}
	}
	if ep.success != nil {
		inScope = inScope || b.h.inScope(ep.success.Timestamp)
	}
	if failures < b.min || !inScope {
		return Finding{}, false
	}
	if ep.success != nil {
		refs = append(refs, *ep.success)
	}
	proto := ""
	if len(protos) == 1 {
		proto = protos[0] + " "
	}
	who := "for " + listNames(users, 5)
	if len(users) == 0 {
		who = "for unnamed accounts"
	} else if len(users) > 1 {
		who = fmt.Sprintf("for %d accounts (%s)", len(users), listNames(users, 5))
	}
	from := "from " + ep.key
	if strings.HasPrefix(ep.key, "local ") {
		from = "with no remote source (" + ep.key + ")"
	}
	expl := fmt.Sprintf("%d failed %slogons %s %s in %s", failures, proto, who, from, span(first, lastFail))
	if ep.success != nil {
		expl += fmt.Sprintf(", then a successful one as %s at %s", dashIfEmpty(ep.successBy), b.h.tsLocal(ep.success.Timestamp))
	} else {
		expl += fmt.Sprintf(" (%s to %s), with no successful logon from it within %s", ts(first), ts(lastFail), b.window)
	}
	expl += left.String()
	return newFinding(b.r, ep.key, expl, refs), true
}

func (b *bruteForce) finish() []Finding {
	b.t.flush()
	var out []Finding
	for _, ep := range b.done {
		if f, ok := b.report(ep); ok {
			out = append(out, f)
		}
	}
	return out
}

func listNames(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + ", …"
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// span renders a duration the way an examiner says it: 97s, 4m12s, 3h05m.
func span(a, b time.Time) string {
	d := b.Sub(a)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}

// ---- first seen ----

type firstSeen struct {
	h        *hunter
	r        *Rule
	account  bool
	baseline keySet // the keys seen before the cut-off
	found    map[string]*seen
	// scanBelow: a new source that never got in and made fewer failed
	// attempts than this is background scanning. A server on the internet
	// meets hundreds of such sources a day; each is folded into one low
	// finding per host instead of one finding each.
	scanBelow int
	// kept counts the rows held for sources that are still scanning
	// candidates, at most maxKept. An internet-facing sshd log brings a new
	// address on nearly every line: holding each one's rows (message and
	// provenance) took gigabytes on a 1 GB log, for a finding that shows
	// maxScanRows of them. Beyond maxKept a candidate keeps only the times
	// of its rows, and finish reads back from the store the rows a finding
	// shows (fetch).
	kept, maxKept int
	// cands counts the scanning candidates in found; past maxCandidates,
	// those idle the longest are folded into folds, by host, and the keys
	// of those dropped whole are kept in gone (firstseen_bound.go).
	cands int
	folds map[string]*foldHost
	gone  keySet
	// idle: the first row after the cut-off came with nothing in the
	// baseline. Rows come in time order, so the baseline stays empty and
	// finish has nothing to compare with: the rows after the cut-off are
	// not looked at (holding them was half of a hunt's own time, and most
	// of its memory, on a log that starts after the cut-off).
	idle bool
}

// maxKeptRows bounds the rows held for scanning candidates (each a few
// hundred bytes): past it, a source costs its counts and row times. A
// variable so tests can make a small case take the read-back path.
var maxKeptRows = 20_000

// maxOther bounds the users (or sources) remembered per key: explanations
// name five of them and the scanning finding nine (see scanning), so more
// were never shown; a dictionary attack from one address tries thousands.
const maxOther = 9

type seen struct {
	refs []EventRef // rows held in memory, in time order
	// missed are the times (Unix ns, in order) of rows not held: finish
	// reads back those a finding shows.
	missed   []int64
	success  int
	failures int      // attempts, counting "message repeated N times"
	other    []string // users (for a source) or sources (for an account), the first maxOther
	host     string   // of the first attempt
}

// rows is how many rows the key has, held or not.
func (s *seen) rows() int { return len(s.refs) + len(s.missed) }

// span is the time of the key's first and last rows.
func (s *seen) span() (first, last time.Time) {
	first, last = time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64)
	if len(s.refs) > 0 {
		first, last = s.refs[0].Timestamp, s.refs[len(s.refs)-1].Timestamp
	}
	if len(s.missed) > 0 {
		if t := time.Unix(0, s.missed[0]).UTC(); t.Before(first) {
			first = t
		}
		if t := time.Unix(0, s.missed[len(s.missed)-1]).UTC(); t.After(last) {
			last = t
		}
	}
	return first, last
}

// firstMissed: the key's first row is one not held (or one at the same
// time as the first held, which the store's order may put first).
func (s *seen) firstMissed() bool {
	return len(s.missed) > 0 && (len(s.refs) == 0 || s.missed[0] <= s.refs[0].Timestamp.UnixNano())
}

// addOther records a user or source once, in the order first seen, up to
// maxOther of them.
func (s *seen) addOther(o string) {
	if o == "" || len(s.other) >= maxOther || slices.Contains(s.other, o) {
		return
	}
	s.other = append(s.other, o)
}

func newFirstSeen(h *hunter, r *Rule) (analyzer, error) {
	what, err := r.stringParam("what", "source", "source", "account")
	if err != nil {
		return nil, err
	}
	below, err := r.intParam("aggregate_below", 5)
	if err != nil {
		return nil, err
	}
	if h.cfg.After.IsZero() {
		return nil, nil // no baseline: everything would be "new"
	}
	return &firstSeen{h: h, r: r, account: what == "account", found: map[string]*seen{},
		scanBelow: below, maxKept: maxKeptRows}, nil
}

// keyOf is the key and the other side of a logon (source and user, or
// user and source), "" when the rule does not look at it.
func (f *firstSeen) keyOf(ev *timeline.Event) (key, other string) {
	key, other = sourceOf(ev), userOf(ev)
	if f.account {
		key, other = userOf(ev), sourceOf(ev)
		if systemAccount(key) {
			return "", ""
		}
		key = strings.ToLower(key)
	}
	if key == "-" {
		return "", ""
	}
	return key, other
}

// candidate: the key may yet be folded into a scanning finding.
func (f *firstSeen) candidate(s *seen) bool {
	return !f.account && s.success == 0 && s.failures < f.scanBelow
}

func (f *firstSeen) wants() interest { return interest{actions: authActions} }

func (f *firstSeen) observe(ev *timeline.Event) {
	if f.idle {
		return
	}
	kind := classifyAuth(ev)
	if kind == authNone {
		return
	}
	key, other := f.keyOf(ev)
	if key == "" {
		return
	}
	if !f.h.inScope(ev.Timestamp) {
		f.baseline.add(key)
		return
	}
	if f.baseline.empty() {
		f.idle = true
		return
	}
	if f.baseline.has(key) {
		return
	}
	if f.account && kind != authSuccess && f.found[key] == nil {
		// An unknown name that never gets in is brute force's business.
		return
	}
	s := f.found[key]
	if s == nil {
		host := f.h.intern(hostOf(ev))
		if s = f.revive(key, host); s == nil {
			s = &seen{host: host}
		}
		f.found[key] = s
		if f.candidate(s) {
			f.cands++
		}
	}
	was := f.candidate(s)
	if kind == authSuccess {
		s.success++
	} else {
		s.failures += repeats(ev)
	}
	s.addOther(other)
	now := f.candidate(s)
	if was && !now {
		f.kept -= len(s.refs) // its own finding now: its rows leave the budget
		f.cands--
	}
	switch {
	case !now:
		s.refs = append(s.refs, f.h.ref(ev))
	case f.kept < f.maxKept:
		s.refs = append(s.refs, f.h.ref(ev))
		f.kept++
	default:
		s.missed = append(s.missed, ev.Timestamp.UnixNano())
	}
	if f.cands > maxCandidates {
		f.fold()
	}
}

func (f *firstSeen) finish() []Finding {
	if f.baseline.empty() {
		return nil // nothing known before the cut-off to compare with
	}
	var out []Finding
	scans := map[string]map[string]*seen{} // host → source → attempts
	own := map[string]*seen{}              // the keys with a finding of their own
	for key, s := range f.found {
		if f.candidate(s) {
			if scans[s.host] == nil {
				scans[s.host] = map[string]*seen{}
			}
			scans[s.host][key] = s
			continue
		}
		own[key] = s
	}
	for host, fh := range f.folds {
		if len(fh.top) == 0 && fh.sources == 0 {
			continue
		}
		if scans[host] == nil {
			scans[host] = map[string]*seen{}
		}
		for k, s := range fh.top {
			scans[host][k] = s
		}
	}
	order := map[string][]string{} // host → its scanning sources, busiest first
	for host, srcs := range scans {
		order[host] = scanOrder(srcs)
	}
	// Read back the rows the findings show that were not held: all of a
	// key with its own finding, and of the scanning ones those scanning
	// picks (scanPick).
	want := map[string]*seen{}
	var at []int64
	for key, s := range own {
		if len(s.missed) > 0 {
			want[key] = s
			at = append(at, s.missed...)
		}
	}
	for host, srcs := range scans {
		picked, all := f.scanPick(srcs, order[host], f.folds[host])
		for _, k := range picked {
			s := srcs[k]
			want[k] = s
			if all {
				at = append(at, s.missed...)
			} else {
				at = append(at, s.missed[0])
			}
		}
	}
	f.fetch(want, at)
	for key, s := range own {
		fd := newFinding(f.r, key, "", s.refs)
		if s.success == 0 {
			fd.Severity = min(fd.Severity, Low)
		}
		first, _ := s.span() // fd.Events[0] when every row was read back
		if f.account {
			fd.Explanation = fmt.Sprintf("account %s, never seen in a logon before the cut-off %s, logged on %s after it, first at %s",
				key, ts(f.h.cfg.After), times(s.success), f.h.tsLocal(first))
			if len(s.other) > 0 {
				fd.Explanation += " from " + listNames(s.other, 5)
			}
		} else {
			fd.Explanation = fmt.Sprintf("source %s, never seen in a logon before the cut-off %s, made %s after it (%d successful, %d failed), first at %s",
				key, ts(f.h.cfg.After), plural(s.success+s.failures, "logon attempt", "logon attempts"), s.success, s.failures, f.h.tsLocal(first))
			if len(s.other) > 0 {
				fd.Explanation += " as " + listNames(s.other, 5)
			}
		}
		out = append(out, fd)
	}
	for host, srcs := range scans {
		out = append(out, f.scanning(host, srcs, order[host], f.folds[host]))
	}
	return out
}

// maxScanRows caps the rows of an aggregated scanning finding: the counts
// and top sources say what happened, the rows are examples.
const (
	maxScanRows    = 200
	maxScanSources = 10
)

// scanOrder sorts scanning sources busiest first; the address breaks ties
// so the text is stable.
func scanOrder(srcs map[string]*seen) []string {
	// Sorted as pairs: a map lookup per comparison was most of the cost
	// with a few hundred thousand sources.
	type src struct {
		key      string
		failures int
	}
	all := make([]src, 0, len(srcs))
	for k, s := range srcs {
		all = append(all, src{k, s.failures})
	}
	slices.SortFunc(all, func(a, b src) int {
		if c := cmp.Compare(b.failures, a.failures); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	keys := make([]string, len(all))
	for i, s := range all {
		keys[i] = s.key
	}
	return keys
}

// scanPick lists the sources of one scanning finding some of whose rows
// it shows were not held. All says whether it shows all their rows (the
// rows are not capped, or there are fewer sources than rows shown and the
// rest are filled in time order) or only each one's first (the busiest
// maxScanRows sources).
// keys are srcs busiest first; fh, when not nil, counts the host's
// folded sources not in srcs.
func (f *firstSeen) scanPick(srcs map[string]*seen, keys []string, fh *foldHost) (pick []string, all bool) {
	rows, sources := 0, len(srcs)
	for _, s := range srcs {
		rows += s.rows()
	}
	if fh != nil {
		rows += fh.rows
		sources += fh.sources
	}
	if rows <= maxScanRows || sources < maxScanRows {
		for k, s := range srcs {
			if len(s.missed) > 0 {
				pick = append(pick, k)
			}
		}
		return pick, true
	}
	for _, k := range keys[:min(len(keys), maxScanRows)] {
		if srcs[k].firstMissed() {
			pick = append(pick, k)
		}
	}
	return pick, false
}

// maxFetchQueries: up to this many distinct row times are read back one
// time each, an index lookup (about 60 µs on SQLite); more, and one read
// over their whole span, which decodes every row in it (about 10 µs
// each), is not much dearer. A variable so tests take both paths.
var maxFetchQueries = 4096

// fetch reads back from the store the rows of the wanted keys at the
// given times and adds them to the keys' held rows. A key whose finding
// shows only its first row (scanPick) is given its rows at that row's
// time; its other times stay missed, and counted.
func (f *firstSeen) fetch(want map[string]*seen, times []int64) {
	if len(want) == 0 {
		return
	}
	slices.Sort(times)
	times = slices.Compact(times)
	take := func(ev *timeline.Event) error {
		if classifyAuth(ev) == authNone || !f.h.inScope(ev.Timestamp) {
			return nil
		}
		key, _ := f.keyOf(ev)
		s := want[key]
		if s == nil {
			return nil
		}
		t := ev.Timestamp.UnixNano()
		i := slices.Index(s.missed, t)
		if i < 0 || slices.ContainsFunc(s.refs, func(r EventRef) bool { return r.ID == ev.Jejak.ID }) {
			return nil // not a row of it, or one held
		}
		s.missed = slices.Delete(s.missed, i, i+1)
		s.refs = append(s.refs, f.h.ref(ev))
		return nil
	}
	var err error
	if len(times) <= maxFetchQueries {
		for _, t := range times {
			at := time.Unix(0, t)
			if err = f.h.store.Search(f.h.ctx, timeline.Query{From: at, To: at.Add(1)}, take); err != nil {
				break
			}
		}
	} else {
		err = f.h.store.Search(f.h.ctx, timeline.Query{From: time.Unix(0, times[0]), To: time.Unix(0, times[len(times)-1]+1)}, func(ev *timeline.Event) error {
			if _, ok := slices.BinarySearch(times, ev.Timestamp.UnixNano()); !ok {
				return nil
			}
			return take(ev)
		})
	}
	if err != nil {
		f.h.fail(fmt.Errorf("rule %s: read back rows of %d sources: %w", f.r.ID, len(want), err))
	}
	for _, s := range want {
		slices.SortFunc(s.refs, func(a, b EventRef) int {
			if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
}

// scanning folds the new sources on one host that tried a few times and
// never got in into one low finding: how many sources and attempts, the
// busiest sources with their counts, first and last time.
func (f *firstSeen) scanning(host string, srcs map[string]*seen, keys []string, fh *foldHost) Finding {
	attempts, rows, sources := 0, 0, len(keys)
	first, last := time.Unix(0, math.MaxInt64), time.Unix(0, math.MinInt64)
	for _, k := range keys {
		s := srcs[k]
		attempts += s.failures
		rows += s.rows()
		a, b := s.span()
		if a.Before(first) {
			first = a
		}
		if b.After(last) {
			last = b
		}
	}
	if fh != nil && fh.sources > 0 { // folded sources left as counts
		attempts += fh.attempts
		rows += fh.rows
		sources += fh.sources
		if fh.first.Before(first) {
			first = fh.first
		}
		if fh.last.After(last) {
			last = fh.last
		}
	}
	// allRefs is every held row of the sources, in time order.
	allRefs := func() []EventRef {
		var refs []EventRef
		for _, k := range keys {
			refs = append(refs, srcs[k].refs...)
		}
		// Sources come from a map: the ID breaks ties in time so the
		// rows kept, and the finding's ID, are the same every run.
		slices.SortFunc(refs, func(a, b EventRef) int {
			if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		return refs
	}
	// The explanation names 8 accounts and says whether there were more:
	// the first 9 distinct ones are all it needs (collecting every name
	// of a dictionary attack over every source was quadratic). Each
	// source holds its first maxOther (9) names, enough to find them.
	const namedUsers = 8
	var users []string
collect:
	for _, k := range keys {
		for _, u := range srcs[k].other {
			if !slices.Contains(users, u) {
				users = append(users, u)
				if len(users) > namedUsers {
					break collect
				}
			}
		}
	}
	on := host
	if on == "" {
		on = "an unnamed host"
	}
	// The span is over every attempt, before the rows are capped.
	var shown []EventRef
	if rows <= maxScanRows {
		shown = allRefs()
	} else {
		// Keep each source's first attempt first, then fill in time order,
		// so the rows show as many sources as they can.
		shown = make([]EventRef, 0, maxScanRows)
		ids := make(map[string]bool, maxScanRows)
		for _, k := range keys {
			if len(shown) == maxScanRows {
				break
			}
			if s := srcs[k]; len(s.refs) > 0 {
				shown = append(shown, s.refs[0])
				ids[s.refs[0].ID] = true
			}
		}
		var refs []EventRef
		if len(shown) < maxScanRows {
			refs = allRefs() // only needed to fill in
		}
		for _, r := range refs {
			if len(shown) == maxScanRows {
				break
			}
			if !ids[r.ID] {
				shown = append(shown, r)
				ids[r.ID] = true
			}
		}
	}
	top := make([]string, 0, maxScanSources)
	for _, k := range keys[:min(len(keys), maxScanSources)] {
		top = append(top, fmt.Sprintf("%s (%d)", k, srcs[k].failures))
	}
	if sources > maxScanSources {
		top = append(top, "…")
	}
	fd := newFinding(f.r, "scanning on "+on, "", shown)
	fd.Severity = min(f.r.Severity, Low)
	fd.First, fd.Last = first, last
	fd.Explanation = fmt.Sprintf("%s never seen before the cut-off %s each failed fewer than %d times on %s and none got in: %s in all, %s to %s; most attempts from %s",
		plural(sources, "source", "sources"), ts(f.h.cfg.After), f.scanBelow, on, plural(attempts, "failed attempt", "failed attempts"),
		f.h.tsLocal(first), f.h.tsLocal(last), strings.Join(top, ", "))
	if len(users) > 0 {
		fd.Explanation += "; accounts tried: " + listNames(users, namedUsers)
	}
	if len(fd.Events) < rows {
		fd.Explanation += fmt.Sprintf("; rows: %d of %d shown", len(fd.Events), rows)
	}
	if fh != nil && fh.returns > 0 {
		// Folding lost what these sources did before (firstseen_bound.go).
		fd.Explanation += fmt.Sprintf("; %s, set aside as counts to bound memory, came back and %s counted again as new (their earlier attempts not added to their later ones)",
			plural(fh.returns, "source", "sources"), map[bool]string{true: "is", false: "are"}[fh.returns == 1])
	}
	return fd
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// ---- working hours ----

type workingHours struct {
	h     *hunter
	r     *Rule
	wh    *WorkingHours
	found map[string][]EventRef
	srcs  map[string][]string
}

func newWorkingHours(h *hunter, r *Rule) (analyzer, error) {
	if h.cfg.WorkingHours == nil {
		return nil, nil
	}
	return &workingHours{h: h, r: r, wh: h.cfg.WorkingHours, found: map[string][]EventRef{}, srcs: map[string][]string{}}, nil
}

func (w *workingHours) wants() interest { return interest{actions: authActions} }

func (w *workingHours) observe(ev *timeline.Event) {
	if !w.h.inScope(ev.Timestamp) || classifyAuth(ev) != authSuccess || w.wh.Contains(ev.Timestamp) {
		return
	}
	u := userOf(ev)
	if systemAccount(u) {
		return
	}
	w.found[u] = append(w.found[u], w.h.ref(ev))
	if s := sourceOf(ev); s != "" && !slices.Contains(w.srcs[u], s) {
		w.srcs[u] = append(w.srcs[u], s)
	}
}

func (w *workingHours) finish() []Finding {
	var out []Finding
	for u, refs := range w.found {
		f := newFinding(w.r, u, "", refs)
		f.Explanation = fmt.Sprintf("%s by %s outside working hours %s, first at %s, last at %s",
			plural(len(f.Events), "logon", "logons"), u, w.wh, w.h.tsLocal(f.First), w.h.tsLocal(f.Last))
		if s := w.srcs[u]; len(s) > 0 {
			f.Explanation += ", from " + listNames(s, 5)
		}
		out = append(out, f)
	}
	return out
}
