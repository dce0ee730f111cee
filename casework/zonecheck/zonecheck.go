// Package zonecheck measures whether times read in an assumed zone agree
// with times that carry their own, when both describe the same activity of
// the same host.
//
// Classic syslog (RFC 3164: CentOS /var/log/secure, Debian auth.log) writes
// a wall-clock time with no zone; jejak reads it in the case zone and says
// so on the event (jejak.time.zone_assumed). The same host also keeps
// records whose times are exact whatever its zone: wtmp and btmp hold UTC
// epochs, auditd an epoch. When the host's clock was not in the case zone,
// the two land hours apart on the timeline: a failed logon in secure at
// 10:00 and its btmp record at 13:00. Nothing in either file is wrong, so no
// parser can see it; only the pair can.
//
// The Checker pairs such records by what both name: for logons the remote
// host, the user and, where both have one, the process id (sshd's pid in
// secure is the pid of its btmp and auditd records, and a few below the
// wtmp record's); for web requests the client and the path (an access log
// with "+0000" against an error log without a zone). It takes the
// difference of each pair and concludes only when the differences agree on
// a whole number of quarter hours (every zone offset in use is one) within
// a few seconds of logging delay, from several pairs or from one pair tied
// by pid or path. It is fed events one at a time and keeps bounded indexes,
// so it can run over a case store of any size.
//
// Records of the same evidence item are taken to be of the same host. An
// examiner may also register secure and btmp as two items: records of
// different items pair only when tied by pid or path, since two hosts under
// the same attack see the same users from the same address at the same
// times, but not the same pids.
package zonecheck

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

const (
	// Quarter is the grid every UTC offset in use lies on.
	Quarter = 15 * time.Minute
	// MaxDelay is how far from the grid a pair's difference may be: the
	// record of a logon is written a moment after its log line, and a
	// classic syslog time has whole seconds only.
	MaxDelay = 30 * time.Second
	// Window bounds the differences considered: an assumed zone and the
	// true one are at most 26 h apart (UTC−12 to UTC+14).
	Window = 26*time.Hour + MaxDelay
	// MinPairs is how many agreeing pairs conclude without a pid match.
	MinPairs = 3
	// PIDSpread is how far above the pid of sshd's log lines the pid in a
	// wtmp record may be: sshd writes the login record from the session's
	// child (the shell-to-be), forked a few pids later; btmp and auditd
	// records carry sshd's own pid.
	PIDSpread = 64
)

// Caps keep the indexes bounded: a key (activity, remote host)
// keeps its first PerKey observations of each side, and the checker stops
// indexing at maxObs in all. What is left out is counted. The store
// streams in time order, so the first records of both sides are of the
// same stretch of time whatever the offset.
const (
	PerKey = 1024
	maxObs = 1 << 18
)

// activity is what a record says happened.
type activity uint8

const (
	logon activity = iota + 1
	failed
	web
)

func (a activity) String() string {
	switch a {
	case failed:
		return "failed logon"
	case web:
		return "web request"
	}
	return "logon"
}

// WebErrorDatasets are the web server error logs, written without a zone,
// and WebAccessDatasets the access logs, whose times carry one. Access logs
// are the bulk of a web server's records: a caller reads first the errors,
// then only the requests of the clients those name (LooseWebHosts).
var (
	WebErrorDatasets  = []string{"apache.error", "nginx.error"}
	WebAccessDatasets = []string{"weblog.access", "iis.access"}
)

// LogonActions are the event.action values of the logons it pairs.
var LogonActions = []string{"ssh_login", "ssh_failed_login", "logon", "failed_logon", "last_logon"}

// classify names the activity of an event, or 0 for one the checker does
// not pair. The syslog parser names sshd's lines ssh_login and
// ssh_failed_login; utmp and auditd name theirs logon and failed_logon (an
// auditd USER_LOGIN with res=failed is a logon with outcome failure).
func classify(ev *timeline.Event) activity {
	for _, d := range WebErrorDatasets {
		if ev.Event.Dataset == d {
			return web
		}
	}
	for _, d := range WebAccessDatasets {
		if ev.Event.Dataset == d {
			return web
		}
	}
	switch ev.Event.Action {
	case "ssh_login", "last_logon":
		return logon
	case "ssh_failed_login", "failed_logon":
		return failed
	case "logon":
		if ev.Event.Outcome == "failure" {
			return failed
		}
		return logon
	}
	return 0
}

type key struct {
	act  activity
	host string
}

// obs is one indexed record: small, so that maxObs of them stay cheap.
type obs struct {
	t int64 // UTC ns
	// id is the event ID (32 hex digits as two numbers), pass the store
	// pass that would have read the record (passLogon, passWebError; 0
	// for Add) and name which of the record's names (remotes) the
	// observation is indexed under: with t they place it where the store
	// passes would have read it (see Feed).
	id   [2]uint64
	pid  int64
	rec  int64
	file int32 // interned file; its evidence is files[file].Evidence
	user int32 // interned; 0: none (an auditd record with only a uid)
	// paths are hashes of the request path (exact side) or of every
	// '/'-suffix of the paths an error line names (loose side), to tie a
	// web request to its error.
	paths []uint64
	pass  uint8
	name  uint8
	// last: a lastlog record, the last logon of an account. It has neither
	// pid nor name (a uid), yet pairs untied: there is one per account, so
	// it cannot meet the many lines of a busy user by chance the way a
	// wtmp record could.
	last bool
	// The small fields last: 80 bytes in all.
}

type bucket struct {
	loose, exact side
}

// side is one side of a key: its observations and, once Feed has had to
// leave some out, the cut: every observation read after it (before) is
// beyond the key's first PerKey.
type side struct {
	obs []obs
	// cut is nil until needed: a busy log has a key per client, most of
	// them with a record or two.
	cut *obs
}

// The store passes whose order Feed reproduces.
const (
	passLogon    = 1
	passWebError = 2
)

// before is the order the store passes read observations in: pass, then
// the store's order (@timestamp, then event ID), then the record's names
// in the order Add indexes them.
func before(a, b *obs) bool {
	if a.pass != b.pass {
		return a.pass < b.pass
	}
	if a.t != b.t {
		return a.t < b.t
	}
	if a.id != b.id {
		return a.id[0] < b.id[0] || (a.id[0] == b.id[0] && a.id[1] < b.id[1])
	}
	return a.name < b.name
}

// timeCut is the last place an observation of o's pass and time can
// have: a cut there leaves out what is later in time only.
func timeCut(o *obs) *obs {
	return &obs{pass: o.pass, t: o.t, id: [2]uint64{^uint64(0), ^uint64(0)}, name: ^uint8(0)}
}

func same(a, b *obs) bool {
	return a.pass == b.pass && a.t == b.t && a.id == b.id && a.name == b.name
}

// fileInfo is what a finding says about a file, interned once per file.
type fileInfo struct {
	Evidence     string
	EvidenceName string
	Chain        []string
	Path         string
	Parser       string
	Display      string
	Zone         string // the zone assumed, for files read without one
}

// Checker collects observations and turns them into findings.
type Checker struct {
	buckets map[key]*bucket
	files   []fileInfo
	fileIdx map[string]int32
	users   []string
	userIdx map[string]int32
	n       int
	// Dropped counts observations left out by the caps. After Feed it
	// also counts a repeated event that the caps left out anyway.
	Dropped int

	// The caps, PerKey and maxObs but in tests.
	perKey, maxObs int
	// feeding: Feed added observations that Seal has not put in order.
	feeding bool
	// gcut: once Feed had to apply maxObs, every observation read after
	// it is left out.
	gcut    obs
	hasGCut bool
	// disorder: Feed has kept an observation of an earlier time (or
	// pass) than one it kept before it (several files fed at once), or
	// Add was called, or a compaction ran. Until then every side holds
	// its observations in time order, once each, and the caps are applied
	// by time as they are kept (see feed): lastPass and lastT are the last
	// one's, inA counts the observations that are among the first perKey
	// of their side.
	disorder bool
	hasLast  bool
	lastPass uint8
	lastT    int64
	inA      int
	// last is the file of the last event: a log's events come in runs.
	last     *timeline.Provenance
	lastZone string
	lastIdx  int32
}

// New returns an empty Checker.
func New() *Checker {
	return &Checker{buckets: map[key]*bucket{}, fileIdx: map[string]int32{}, users: []string{""}, userIdx: map[string]int32{"": 0},
		perKey: PerKey, maxObs: maxObs}
}

// Selects says whether one of the store passes of a zone check reads ev:
// the logons by their action (LogonActions), the web server errors
// (WebErrorDatasets, of the weblog parser). The access requests are read
// afterwards, only for LooseWebHosts.
func Selects(ev *timeline.Event) bool {
	return logonAction(ev.Event.Action) || webError(ev)
}

// logonAction is slices.Contains(LogonActions, a) as a switch, which Go
// compiles to a length test and one comparison for most actions: Feed asks
// it of every event an ingest writes (TestLogonActionSwitch keeps the two
// alike).
func logonAction(a string) bool {
	switch a {
	case "ssh_login", "ssh_failed_login", "logon", "failed_logon", "last_logon":
		return true
	}
	return false
}

func webError(ev *timeline.Event) bool {
	return ev.Jejak.Provenance.Parser == "weblog" && slices.Contains(WebErrorDatasets, ev.Event.Dataset)
}

// Feed indexes ev if a store pass would have read it (Selects), as Add
// does, but for events that come in any order and any number of times: as
// an ingest writes them, several files at once, in the order they were
// parsed, an event that repeats one (same ID) counted once. Once the
// events are all fed, Seal (which Findings and LooseWebHosts call) leaves
// the Checker as the store passes, reading the same events with Add in
// the store's order, would have: the same observations kept under the
// same caps, in the same order. Its memory stays bounded by the caps: at
// most twice what they keep between compactions, whatever it is fed.
// It keeps no reference to ev.
func (c *Checker) Feed(ev *timeline.Event) {
	if logonAction(ev.Event.Action) {
		c.add(ev, passLogon)
	}
	if webError(ev) {
		c.add(ev, passWebError)
	}
}

// Add indexes one event if it is a kind the checker pairs. Events are
// taken to come in the order the caps keep the first of (the store's,
// @timestamp then ID), each once; events fed before (Feed) are sealed
// first. It keeps no reference to ev.
func (c *Checker) Add(ev *timeline.Event) {
	c.Seal()
	c.disorder = true // a Feed after it may not take its order for granted
	c.add(ev, 0)
}

func (c *Checker) add(ev *timeline.Event, pass uint8) {
	act := classify(ev)
	if act == 0 || ev.TimestampDesc == "Not a time" {
		return
	}
	zone := ""
	if tn := ev.Jejak.Time; tn != nil {
		if tn.OutOfRange {
			return
		}
		zone = tn.ZoneAssumed
	}
	// A line names its peer one way, its first name; the exact record is
	// indexed under every name it has, so one key meets it.
	var names [3]string
	hosts := remotes(ev, zone != "", &names)
	if len(hosts) == 0 {
		return
	}
	t := ev.Timestamp.UnixNano()
	var paths []uint64
	if act == web {
		if paths = webPaths(ev, zone != ""); len(paths) == 0 {
			return
		}
	}
	if pass != 0 && c.hasGCut && (pass > c.gcut.pass || pass == c.gcut.pass && t > c.gcut.t) {
		// After the global cut under every name, whatever its ID: left
		// out as the loop below would, without reading the ID or the
		// process, or interning user and file. A log fed in time order
		// meets this for all its records past the first maxObs (see feed).
		c.Dropped += len(hosts)
		return
	}
	var pid int64
	if ev.Process != nil {
		pid = ev.Process.PID
	}
	o := obs{t: t, pid: pid, rec: ev.Jejak.Provenance.Record, paths: paths, last: ev.Event.Action == "last_logon", pass: pass}
	if pass != 0 {
		o.id = parseID(ev.Jejak.ID)
	}
	if ev.User != nil && act != web {
		o.user = c.user(ev.User.Name)
	}
	o.file = c.file(ev, zone)
	for i, h := range hosts {
		if pass != 0 {
			o.name = uint8(i)
			if c.hasGCut && before(&c.gcut, &o) {
				// Left out before its key is looked up: no key is made
				// for it, nor kept until the next compaction.
				c.Dropped++
				continue
			}
		}
		k := key{act, h}
		b := c.buckets[k]
		if b == nil {
			b = &bucket{}
			k.host = strings.Clone(h) // see user
			c.buckets[k] = b
		}
		s := &b.exact
		if zone != "" {
			s = &b.loose
		}
		if pass != 0 {
			c.feed(s, o)
			continue
		}
		if len(s.obs) >= c.perKey || c.n >= c.maxObs {
			c.Dropped++
			continue
		}
		s.obs = append(s.obs, o)
		c.n++
	}
}

// feed keeps o if it may be among the observations the store passes keep:
// the first perKey of its side, of which the first maxObs in all. What
// follows a cut is left out at once; the rest is put in order and cut
// when a side holds twice its cap, or all sides twice theirs.
//
// Why cutting early keeps the result exact: the observations kept are
// the first maxObs of A, where A holds the first perKey of every side. A
// side's cut only moves earlier as observations come, and so does the
// global one (the last of the first maxObs of A). An observation the
// global cut left out, and removed from its side, is after everything
// kept from then on: it can no longer be kept, and where it would have
// pushed a later one out of its side's first perKey, that later one is
// after the global cut as well.
//
// While the observations kept come in time order (one log fed front to
// back: a large log's case), the caps are applied by time as they are
// kept. A side holding perKey observations is cut after the time of the
// last, and once maxObs observations are among the first perKey of their
// sides, every observation is cut after the time of the last kept: by
// time, not at the observation itself, since the store orders those of
// one instant by ID, which a log's order does not follow (what is kept of
// that instant is put in order and cut by Seal). Past the global cut the
// rest of the log is left out by add's shortcut, rather than kept until
// twice the cap and then sorted (a 200 MB auth.log: 524,288 logons
// indexed and sorted to keep 262,144). An observation of an earlier time
// ends this for the Checker: the cuts made so far stay valid (see above),
// and compaction takes over.
func (c *Checker) feed(s *side, o obs) {
	if (c.hasGCut && before(&c.gcut, &o)) || (s.cut != nil && before(s.cut, &o)) {
		c.Dropped++
		return
	}
	if !c.disorder {
		if c.hasLast && (o.pass < c.lastPass || o.pass == c.lastPass && o.t < c.lastT) {
			c.disorder = true
		} else {
			// In time order, the side's observations of o's instant are
			// its last ones: o fed again is one of them.
			for i := len(s.obs) - 1; i >= 0 && s.obs[i].pass == o.pass && s.obs[i].t == o.t; i-- {
				if same(&s.obs[i], &o) {
					return // kept once, as compactSide would
				}
			}
		}
	}
	s.obs = append(s.obs, o)
	c.n++
	c.feeding = true
	if !c.disorder {
		c.lastPass, c.lastT, c.hasLast = o.pass, o.t, true
		if len(s.obs) <= c.perKey {
			c.inA++
		}
		if len(s.obs) == c.perKey && s.cut == nil {
			s.cut = timeCut(&o)
		}
		if c.inA == c.maxObs && !c.hasGCut {
			c.gcut, c.hasGCut = *timeCut(&o), true
		}
		if len(s.obs) < 2*c.perKey && c.n < 2*c.maxObs {
			return
		}
		// Enough of one instant to fill a side or all twice over: the
		// compaction below puts them in order, and inA no longer counts.
		c.disorder = true
	}
	if len(s.obs) >= 2*c.perKey {
		c.compactSide(s)
	}
	if c.n >= 2*c.maxObs {
		c.compact()
	}
}

// compactSide puts a side in order, drops repeated events and cuts it to
// its cap.
func (c *Checker) compactSide(s *side) {
	if len(s.obs) == 0 || len(s.obs) == 1 && c.perKey >= 1 {
		// Nothing to order, repeat or cut: most keys of a busy log (a
		// client each) hold one observation, and compact visits them all.
		return
	}
	sort.Slice(s.obs, func(i, j int) bool { return before(&s.obs[i], &s.obs[j]) })
	kept := s.obs[:0]
	for i := range s.obs {
		if len(kept) > 0 && same(&kept[len(kept)-1], &s.obs[i]) {
			c.n--
			continue
		}
		kept = append(kept, s.obs[i])
	}
	if len(kept) > c.perKey {
		c.Dropped += len(kept) - c.perKey
		c.n -= len(kept) - c.perKey
		kept = kept[:c.perKey]
		cut := kept[len(kept)-1]
		cut.paths = nil
		s.cut = &cut
	}
	clear(s.obs[len(kept):])
	s.obs = kept
}

// compact compacts every side, then keeps the first maxObs observations
// in all, and forgets keys left with none (see feed).
func (c *Checker) compact() {
	for _, b := range c.buckets {
		c.compactSide(&b.loose)
		c.compactSide(&b.exact)
	}
	if c.n > c.maxObs {
		all := make([]*obs, 0, c.n)
		for _, b := range c.buckets {
			for i := range b.loose.obs {
				all = append(all, &b.loose.obs[i])
			}
			for i := range b.exact.obs {
				all = append(all, &b.exact.obs[i])
			}
		}
		sort.Slice(all, func(i, j int) bool { return before(all[i], all[j]) })
		c.gcut, c.hasGCut = *all[c.maxObs-1], true
		c.gcut.paths = nil
		for _, b := range c.buckets {
			for _, s := range []*side{&b.loose, &b.exact} {
				// In order: the observations after the cut are its tail.
				i := sort.Search(len(s.obs), func(i int) bool { return before(&c.gcut, &s.obs[i]) })
				c.Dropped += len(s.obs) - i
				c.n -= len(s.obs) - i
				clear(s.obs[i:])
				s.obs = s.obs[:i]
			}
		}
	}
	for k, b := range c.buckets {
		if len(b.loose.obs) == 0 && len(b.exact.obs) == 0 {
			delete(c.buckets, k)
		}
	}
}

// Seal ends a Feed: from here on the Checker is as the store passes
// would have left it (see Feed), and Add goes on from there.
func (c *Checker) Seal() {
	if !c.feeding {
		return
	}
	c.compact()
	c.feeding = false
}

// clones copies a list of strings and each string (see user).
func clones(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.Clone(s)
	}
	return out
}

// parseID reads an event ID's 32 hex digits as two numbers, in the order
// the store sorts IDs by (their bytes); anything else is zero.
//
// Written by hand rather than with two strconv.ParseUint calls, which
// took a fifth of Feed's time on an sshd log: sixteen hex digits always
// fit, so the general parser's checks are not needed (FuzzParseID
// compares the two).
func parseID(id string) [2]uint64 {
	if len(id) != 32 {
		return [2]uint64{}
	}
	var out [2]uint64
	for i := 0; i < 32; i++ {
		d := hexVal[id[i]]
		if d > 15 {
			return [2]uint64{}
		}
		out[i>>4] = out[i>>4]<<4 | uint64(d)
	}
	return out
}

// hexVal is the value of a hex digit byte, 0xff for any other byte.
var hexVal = func() (t [256]uint8) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < 10; i++ {
		t['0'+i] = uint8(i)
	}
	for i := 0; i < 6; i++ {
		t['a'+i], t['A'+i] = uint8(10+i), uint8(10+i)
	}
	return t
}()

// remotes are the names of the other end of a logon or request: the IP
// first, then the host name sshd logged (UseDNS) and wrote in ut_host,
// which btmp and wtmp keep beside the address; with first, only the first
// of them. They are put in buf, so that asking costs no allocation (add
// asks it of every logon), and a line's address is not lowered for
// nothing.
func remotes(ev *timeline.Event, first bool, buf *[3]string) []string {
	s := ev.Source
	if s == nil {
		return nil
	}
	if first && s.IP != "" {
		buf[0] = s.IP
		return buf[:1]
	}
	out := buf[:0]
	for _, h := range [3]string{s.IP, strings.ToLower(s.Domain), strings.ToLower(s.Address)} {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
			if first {
				break
			}
		}
	}
	return out
}

// LooseWebHosts lists, sorted, the clients of the web records read in an
// assumed zone so far: the only ones whose requests can pair.
func (c *Checker) LooseWebHosts() []string {
	c.Seal()
	seen := map[string]bool{}
	for k, b := range c.buckets {
		if k.act == web && len(b.loose.obs) > 0 {
			seen[k.host] = true
		}
	}
	return sortedSet(seen)
}

func (c *Checker) user(name string) int32 {
	if i, ok := c.userIdx[name]; ok {
		return i
	}
	// A copy: a parser's strings may be slices of a whole line or
	// block, which a kept substring would keep alive (Feed runs while
	// the ingest parses).
	name = strings.Clone(name)
	i := int32(len(c.users))
	c.users = append(c.users, name)
	c.userIdx[name] = i
	return i
}

// webPaths returns the path hashes of a web record. An access log's is its
// request path. An error line names a URL (nginx's request: "GET /x") or a
// file under the document root (Apache's "File does not exist:
// /var/www/html/x"): every suffix of it that starts at a '/' is kept, so
// that /x ties to /var/www/html/x without knowing the root.
func webPaths(ev *timeline.Event, loose bool) []uint64 {
	if !loose {
		if ev.URL == nil || len(ev.URL.Path) < 2 {
			return nil
		}
		return []uint64{hash(ev.URL.Path)}
	}
	var found []string
	if ev.URL != nil && len(ev.URL.Path) > 1 {
		found = append(found, ev.URL.Path)
	}
	msg := ev.Message
	if m, ok := ev.Jejak.Data["error_message"]; ok {
		msg = m
	}
	for _, w := range strings.Fields(msg) {
		if len(found) >= 3 {
			break
		}
		w = strings.Trim(w, "'\"`,;:()[]")
		if len(w) > 1 && w[0] == '/' {
			w, _, _ = strings.Cut(w, "?")
			found = append(found, w)
		}
	}
	var out []uint64
	for _, p := range found {
		for i := 0; i < len(p) && len(out) < 16; i++ {
			if p[i] == '/' && len(p)-i > 1 {
				out = append(out, hash(p[i:]))
			}
		}
	}
	return out
}

// hash is FNV-1a: enough to tell paths apart, cheaper to keep than them.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func (c *Checker) file(ev *timeline.Event, zone string) int32 {
	p := &ev.Jejak.Provenance
	if l := c.last; l != nil && zone == c.lastZone && p.EvidenceSHA256 == l.EvidenceSHA256 && p.Path == l.Path &&
		p.Identity == l.Identity && p.Parser == l.Parser && slices.Equal(p.Chain, l.Chain) {
		return c.lastIdx
	}
	i := c.intern(p, zone)
	// A copy: the Checker keeps no reference to the event.
	cl := strings.Clone // see user
	c.last = &timeline.Provenance{EvidenceSHA256: cl(p.EvidenceSHA256), Path: cl(p.Path), Identity: cl(p.Identity), Parser: cl(p.Parser),
		Chain: clones(p.Chain)}
	c.lastZone, c.lastIdx = cl(zone), i
	return i
}

func (c *Checker) intern(p *timeline.Provenance, zone string) int32 {
	id := p.EvidenceSHA256 + "\x00" + strings.Join(p.Chain, "\x00") + "\x00" + p.Path + "\x00" + p.Identity + "\x00" + p.Parser + "\x00" + zone
	if i, ok := c.fileIdx[id]; ok {
		return i
	}
	i := int32(len(c.files))
	cl := strings.Clone // see user
	c.files = append(c.files, fileInfo{
		Evidence: cl(p.EvidenceSHA256), EvidenceName: cl(p.EvidenceName),
		Chain: clones(p.Chain), Path: cl(p.Path), Parser: cl(p.Parser),
		Display: cl(p.Display()), Zone: cl(zone),
	})
	c.fileIdx[id] = i
	return i
}

// Ref points at one record of a pair.
type Ref struct {
	File   string    `json:"file"`
	Record int64     `json:"record,omitempty"`
	PID    int64     `json:"pid,omitempty"`
	Time   time.Time `json:"time"`
}

// Pair is one record read in an assumed zone and the exact record of the
// same activity.
type Pair struct {
	Activity string `json:"activity"`
	User     string `json:"user,omitempty"`
	Host     string `json:"host"`
	// ByPID: the pids (or, for web requests, the paths) tie the two
	// records, not only user and host.
	ByPID  bool          `json:"by_pid,omitempty"`
	Loose  Ref           `json:"zone_assumed_record"`
	Exact  Ref           `json:"exact_record"`
	Offset time.Duration `json:"offset_ns"`
}

// Alt is a difference that other pairs of the same file agree on: a log
// that spans a daylight-saving change, or a zone change of the host.
type Alt struct {
	Shift string `json:"shift"`
	Pairs int    `json:"pairs"`
}

// Finding is the verdict on one file read in an assumed zone.
type Finding struct {
	Evidence     string   `json:"evidence"`
	EvidenceName string   `json:"evidence_name"`
	File         string   `json:"file"`
	Chain        []string `json:"chain,omitempty"`
	Path         string   `json:"path"`
	Parser       string   `json:"parser"`
	ZoneAssumed  string   `json:"zone_assumed"`
	// Agree: the file's times, read in ZoneAssumed, agree with the exact
	// records (within MaxDelay). No warning then.
	Agree bool `json:"agree"`
	// Median is the median difference (this file's time minus the exact
	// record's) over the agreeing pairs; Shift is it rounded to the
	// quarter hour, as ±hh:mm.
	Median time.Duration `json:"median_ns"`
	Shift  string        `json:"shift"`
	// WrittenIn is the UTC offset the file was most likely written in,
	// and SuggestTZ a --tz value that reads it so.
	WrittenIn  string   `json:"written_in,omitempty"`
	SuggestTZ  string   `json:"suggest_tz,omitempty"`
	Pairs      int      `json:"pairs"`
	PIDPairs   int      `json:"pid_pairs"`
	ExactFiles []string `json:"exact_files"`
	Example    Pair     `json:"example"`
	Other      []Alt    `json:"other,omitempty"`
}

// cand is a pair found for one loose observation at one grid step.
type cand struct {
	lo, ex *obs // into the buckets, which no longer change
	d      int64
	byPID  bool
	k      *key
}

func better(a, b cand) bool {
	if a.byPID != b.byPID {
		return a.byPID
	}
	return abs(a.d-roundQ(a.d)*int64(Quarter)) < abs(b.d-roundQ(b.d)*int64(Quarter))
}

type bin struct {
	q     int64
	pairs []cand
	pid   int
}

// Findings pairs what was indexed and returns one finding per file read in
// an assumed zone that could be paired conclusively, mismatches first.
func (c *Checker) Findings() []Finding {
	c.Seal()
	perFile := map[int32]map[int64]*bin{}
	keys := make([]key, 0, len(c.buckets))
	for k, b := range c.buckets {
		if len(b.loose.obs) > 0 && len(b.exact.obs) > 0 {
			keys = append(keys, k)
		}
	}
	// Map order must not decide which pair is the example.
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	for i := range keys {
		k := &keys[i]
		b := c.buckets[*k]
		sortObs(b.loose.obs)
		sortObs(b.exact.obs)
		loose, exact := b.loose.obs, b.exact.obs
		for li := range loose {
			lo := &loose[li]
			best := map[int64]cand{}
			// The exact records within Window of lo.
			j := sort.Search(len(exact), func(j int) bool { return exact[j].t >= lo.t-int64(Window) })
			for ; j < len(exact) && exact[j].t <= lo.t+int64(Window); j++ {
				ex := &exact[j]
				d := lo.t - ex.t
				q := roundQ(d)
				if abs(d-q*int64(Quarter)) > int64(MaxDelay) {
					continue
				}
				if lo.user != 0 && ex.user != 0 && lo.user != ex.user {
					continue
				}
				tie := tied(k.act, lo, ex)
				if k.act != web && (lo.user == 0 || ex.user == 0) && !tie && !ex.last {
					// A record without a user name (auditd's id=) pairs
					// only through its pid.
					continue
				}
				if !tie && c.files[lo.file].Evidence != c.files[ex.file].Evidence {
					continue
				}
				cd := cand{lo: lo, ex: ex, d: d, byPID: tie, k: k}
				if old, ok := best[q]; !ok || better(cd, old) {
					best[q] = cd
				}
			}
			for q, cd := range best {
				bins := perFile[lo.file]
				if bins == nil {
					bins = map[int64]*bin{}
					perFile[lo.file] = bins
				}
				bn := bins[q]
				if bn == nil {
					bn = &bin{q: q}
					bins[q] = bn
				}
				bn.pairs = append(bn.pairs, cd)
				if cd.byPID {
					bn.pid++
				}
			}
		}
	}
	var out []Finding
	for file, bins := range perFile {
		if f, ok := c.decide(file, bins); ok {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.Agree != b.Agree {
			return !a.Agree
		}
		// Two files may show alike (the same path read by two parsers,
		// or in two zones): map order must not decide.
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Evidence, b.Evidence), cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Parser, b.Parser), cmp.Compare(a.ZoneAssumed, b.ZoneAssumed), slices.Compare(a.Chain, b.Chain)) < 0
	})
	return out
}

// decide picks the grid step most pairs agree on, pid matches first, and
// concludes when it clearly beats every other step.
func (c *Checker) decide(file int32, bins map[int64]*bin) (Finding, bool) {
	// Pairs tied by pid are matched by what the records are, the others
	// only by who and from where: when there are any of the first, they
	// alone decide, or a busy user's coincidences would blur the verdict.
	byPID := false
	for _, b := range bins {
		byPID = byPID || b.pid > 0
	}
	list := make([]*bin, 0, len(bins))
	for _, b := range bins {
		if byPID {
			kept := b.pairs[:0]
			for _, p := range b.pairs {
				if p.byPID {
					kept = append(kept, p)
				}
			}
			if len(kept) == 0 {
				continue
			}
			b.pairs = kept
		}
		list = append(list, b)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.pid != b.pid {
			return a.pid > b.pid
		}
		if len(a.pairs) != len(b.pairs) {
			return len(a.pairs) > len(b.pairs)
		}
		return abs(a.q) < abs(b.q)
	})
	w := list[0]
	var s bin
	if len(list) > 1 {
		s = *list[1]
	}
	conclusive := (w.pid >= 1 && w.pid > s.pid) || (len(w.pairs) >= MinPairs && len(w.pairs) >= 2*len(s.pairs))
	if !conclusive {
		return Finding{}, false
	}
	fi := c.files[file]
	ds := make([]int64, len(w.pairs))
	exactFiles := map[string]bool{}
	for i, p := range w.pairs {
		ds[i] = p.d
		exactFiles[c.files[p.ex.file].Display] = true
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	median := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		median = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	// The example: a pid-matched pair if there is one, the earliest else.
	ex := w.pairs[0]
	for _, p := range w.pairs[1:] {
		if p.byPID != ex.byPID {
			if p.byPID {
				ex = p
			}
			continue
		}
		if p.lo.t < ex.lo.t {
			ex = p
		}
	}
	f := Finding{
		Evidence: fi.Evidence, EvidenceName: fi.EvidenceName, File: fi.Display,
		Chain: fi.Chain, Path: fi.Path, Parser: fi.Parser, ZoneAssumed: fi.Zone,
		Agree:  w.q == 0,
		Median: time.Duration(median), Shift: hhmm(time.Duration(w.q) * Quarter),
		Pairs: len(w.pairs), PIDPairs: w.pid,
		ExactFiles: sortedSet(exactFiles),
		Example: Pair{
			Activity: ex.k.act.String(), User: c.users[max(ex.lo.user, ex.ex.user)], Host: ex.k.host, ByPID: ex.byPID,
			Loose:  c.ref(*ex.lo),
			Exact:  c.ref(*ex.ex),
			Offset: time.Duration(ex.d),
		},
	}
	for _, b := range list[1:] {
		// Steps a third as strong as the winner's are worth a look; the
		// rest is what coincidences of user and host give.
		if 3*len(b.pairs) >= len(w.pairs) && len(b.pairs) >= 2 {
			f.Other = append(f.Other, Alt{Shift: hhmm(time.Duration(b.q) * Quarter), Pairs: len(b.pairs)})
		}
	}
	if !f.Agree {
		f.WrittenIn, f.SuggestTZ = written(fi.Zone, ex.lo.t, time.Duration(w.q)*Quarter)
	}
	return f, true
}

func (c *Checker) ref(o obs) Ref {
	return Ref{File: c.files[o.file].Display, Record: o.rec, PID: o.pid, Time: time.Unix(0, o.t).UTC()}
}

// written says in which UTC offset a file read in zone at instant t (UTC
// ns, as read) was written, given its times are shift off the exact ones,
// and which --tz reads it so. A time written at offset W and read in zone Z
// (offset z) lands at wall−z where the truth is wall−W: shift = W−z.
func written(zone string, t int64, shift time.Duration) (string, string) {
	z := 0
	if loc, err := time.LoadLocation(zone); err == nil {
		_, z = time.Unix(0, t).In(loc).Zone()
	}
	w := time.Duration(z)*time.Second + shift
	return hhmm(w), SuggestZone(w)
}

// SuggestZone names an IANA zone with the fixed UTC offset off, which
// --tz accepts: Etc/GMT±h for whole hours (POSIX signs: Etc/GMT+3 is
// UTC−03:00), a zone without daylight saving for the odd quarter-hour ones.
// The host's own named zone is better when known, for logs that span a
// daylight-saving change.
func SuggestZone(off time.Duration) string {
	if off == 0 {
		return "UTC"
	}
	if off%time.Hour == 0 {
		h := int(off / time.Hour)
		if h >= -12 && h <= 14 {
			return fmt.Sprintf("Etc/GMT%+d", -h)
		}
	}
	if z, ok := oddZones[off]; ok {
		return z
	}
	return ""
}

// oddZones are zones whose offset is not a whole hour and that keep it all
// year (Asia/Tehran since 2022). St John's, Lord Howe and Chatham change
// theirs in summer: no fixed zone exists at their offsets, and suggesting
// them would misread half a year; the message then asks for a zone at the
// offset.
var oddZones = map[time.Duration]string{
	-(9*time.Hour + 30*time.Minute): "Pacific/Marquesas",
	3*time.Hour + 30*time.Minute:    "Asia/Tehran",
	4*time.Hour + 30*time.Minute:    "Asia/Kabul",
	5*time.Hour + 30*time.Minute:    "Asia/Kolkata",
	5*time.Hour + 45*time.Minute:    "Asia/Kathmandu",
	6*time.Hour + 30*time.Minute:    "Asia/Yangon",
	8*time.Hour + 45*time.Minute:    "Australia/Eucla",
	9*time.Hour + 30*time.Minute:    "Australia/Darwin",
}

// Gap says how the file's times stand to the exact ones, e.g. "3h00m
// earlier than".
func (f *Finding) Gap() string {
	q, err := parseShift(f.Shift)
	if err != nil || q == 0 {
		return "the same as"
	}
	word := "later than"
	if q < 0 {
		word, q = "earlier than", -q
	}
	return fmt.Sprintf("%dh%02dm %s", int(q/time.Hour), int(q%time.Hour/time.Minute), word)
}

// How is the evidence for the verdict: pairs and their median difference.
func (f *Finding) How() string {
	s := fmt.Sprintf("%d pairs", f.Pairs)
	if f.PIDPairs > 0 {
		by := "pid"
		if f.Example.Activity == web.String() {
			by = "path"
		}
		s += fmt.Sprintf(", %d tied by %s", f.PIDPairs, by)
	}
	return s + ", median difference " + f.Median.Round(time.Millisecond).String()
}

// Instance is the example pair in words.
func (f *Finding) Instance() string {
	ex := f.Example
	who := ex.Activity
	if ex.User != "" {
		who += " of " + ex.User
	}
	return fmt.Sprintf("%s from %s: %s record %d at %s, %s record %d at %s",
		who, ex.Host,
		f.File, ex.Loose.Record, ex.Loose.Time.Format(time.RFC3339),
		ex.Exact.File, ex.Exact.Record, ex.Exact.Time.Format(time.RFC3339Nano))
}

// Advice says in which zone the file was written and which --tz reads it.
func (f *Finding) Advice() string {
	s := "the file was written at UTC" + f.WrittenIn
	if f.SuggestTZ != "" {
		s += fmt.Sprintf(": read it with --tz %s (or the host's own zone) in a new case", f.SuggestTZ)
	} else {
		s += ": read it in a new case with --tz set to a zone at that offset"
	}
	for _, o := range f.Other {
		s += fmt.Sprintf("; %d other pairs agree on %s (a daylight-saving or zone change?)", o.Pairs, o.Shift)
	}
	return s
}

// Message is the one-line statement of a finding, for the stored warning.
func (f *Finding) Message() string {
	exact := strings.Join(f.ExactFiles, ", ")
	if f.Agree {
		return fmt.Sprintf("times read in %s agree with the same activity in %s (%s)", f.ZoneAssumed, exact, f.How())
	}
	return fmt.Sprintf("times read in %s are %s the same activity in %s (%s; e.g. %s); %s",
		f.ZoneAssumed, f.Gap(), exact, f.How(), f.Instance(), f.Advice())
}

func parseShift(s string) (time.Duration, error) {
	var h, m int
	if len(s) < 2 {
		return 0, fmt.Errorf("shift %q", s)
	}
	if _, err := fmt.Sscanf(s[1:], "%d:%d", &h, &m); err != nil {
		return 0, fmt.Errorf("shift %q: %w", s, err)
	}
	d := time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if s[0] == '-' {
		d = -d
	}
	return d, nil
}

// Warning is the finding as a stored warning of the ingest run.
func (f *Finding) Warning() timeline.Warning {
	return timeline.Warning{
		Kind: timeline.WarnZone, Evidence: f.Evidence, Chain: f.Chain, Path: f.Path,
		Parser: f.Parser, Offset: -1, Record: f.Example.Loose.Record, Message: f.Message(),
	}
}

// tied says whether two records are tied by more than who and from where.
func tied(a activity, lo, ex *obs) bool {
	if a == web {
		for _, h := range lo.paths {
			if h == ex.paths[0] {
				return true
			}
		}
		return false
	}
	return pidMatch(a, lo.pid, ex.pid)
}

func pidMatch(a activity, loose, exact int64) bool {
	if loose <= 0 || exact <= 0 {
		return false
	}
	if exact == loose {
		return true
	}
	return a == logon && exact > loose && exact-loose <= PIDSpread
}

func roundQ(d int64) int64 {
	q := int64(Quarter)
	if d >= 0 {
		return (d + q/2) / q
	}
	return -((-d + q/2) / q)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// hhmm writes an offset as ±hh:mm.
func hhmm(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%s%02d:%02d", sign, int(d/time.Hour), int(d%time.Hour/time.Minute))
}

func sortObs(s []obs) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].t != s[j].t {
			return s[i].t < s[j].t
		}
		return s[i].rec < s[j].rec
	})
}

func keyLess(a, b key) bool {
	if a.act != b.act {
		return a.act < b.act
	}
	return a.host < b.host
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
