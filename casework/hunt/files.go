package hunt

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// ---- files under watched paths ----

type watchedFiles struct {
	h     *hunter
	r     *Rule
	watch []string
	files map[string]*watched
}

type watched struct {
	path    string
	refs    []EventRef
	what    []string
	deleted bool
}

func newWatchedFiles(h *hunter, r *Rule) (analyzer, error) {
	if len(h.cfg.Watch) == 0 {
		return nil, nil
	}
	var ws []string
	for _, w := range h.cfg.Watch {
		if n := normPath(w); n != "" {
			ws = append(ws, n)
		}
	}
	return &watchedFiles{h: h, r: r, watch: ws, files: map[string]*watched{}}, nil
}

// normPath compares paths from Windows and Unix evidence alike: forward
// slashes, lower case, no leading or trailing slash, no drive letter.
func normPath(p string) string {
	p = strings.ToLower(strings.ReplaceAll(p, `\`, "/"))
	if len(p) >= 2 && p[1] == ':' {
		p = p[2:]
	}
	return strings.Trim(p, "/")
}

// under: the path is the watched path or inside it, also when the evidence
// holds it below a folder of its own (server1/var/lib/mysql/...).
func under(p, w string) bool {
	return p == w || strings.HasPrefix(p, w+"/") || strings.HasSuffix(p, "/"+w) || strings.Contains(p, "/"+w+"/")
}

var changeWords = map[string]string{
	"Creation Time":              "created",
	"Content Modification Time":  "content modified",
	"Metadata Modification Time": "metadata changed",
}

func (w *watchedFiles) wants() interest { return interest{file: true} }

func (w *watchedFiles) observe(ev *timeline.Event) {
	if ev.File == nil || ev.File.Path == "" || !w.h.inScope(ev.Timestamp) {
		return
	}
	// A file event is one per distinct time: its desc may name several
	// ("Content Modification Time; Metadata Modification Time").
	words := changeWordsOf(ev.TimestampDesc)
	if len(words) == 0 && !strings.Contains(ev.Event.Action, "FILE_DELETE") {
		return
	}
	p := normPath(ev.File.Path)
	match := false
	for _, x := range w.watch {
		if under(p, x) {
			match = true
			break
		}
	}
	if !match {
		return
	}
	k := ev.Jejak.Provenance.EvidenceSHA256 + "\x00" + ev.File.Path
	f := w.files[k]
	if f == nil {
		f = &watched{path: ev.File.Path}
		w.files[k] = f
	}
	f.refs = append(f.refs, w.h.ref(ev))
	if len(words) == 0 {
		words = []string{""} // a USN FILE_DELETE record: no change word, as before
	}
	for _, word := range words {
		if attr := ev.Jejak.Data["attribute"]; attr != "" {
			word += " (" + attr + ")"
		}
		word += " at " + ts(ev.Timestamp)
		if !slices.Contains(f.what, word) {
			f.what = append(f.what, word)
		}
	}
	if slices.Contains(ev.Jejak.Tags, "deleted") || strings.Contains(ev.Event.Action, "FILE_DELETE") {
		f.deleted = true
	}
}

func (w *watchedFiles) finish() []Finding {
	var out []Finding
	for _, f := range w.files {
		fd := newFinding(w.r, f.path, "", f.refs)
		slices.Sort(f.what)
		fd.Explanation = fmt.Sprintf("watched file %s changed after the cut-off: %s", f.path, listNames(f.what, 4))
		if f.deleted {
			fd.Explanation += "; the file is deleted"
		}
		out = append(out, fd)
	}
	return out
}

// ---- database writes after the cut-off ----

type dbWrite struct {
	h    *hunter
	r    *Rule
	sess map[string]*dbSession
	// closing holds the writes that may be the operator closing the count
	// (in the closing_window after the cut-off, of a closing_verbs verb):
	// judged in finish, once every write
	// before the cut-off has been seen, whatever order events come in.
	closing map[string]*dbSession
	// wroteBefore are the sessions (user, client, database) that wrote
	// before the cut-off: the application's own accounts.
	wroteBefore map[string]bool
	window      time.Duration
	verbs       map[string]bool
	operators   map[string]bool
}

type dbSession struct {
	user, client, db string
	refs             []EventRef
	verbs            map[string]int
	first            string
}

func (s *dbSession) add(ref EventRef, verb, statement string) {
	s.refs = append(s.refs, ref)
	s.verbs[verb]++
	if s.first == "" {
		s.first = statement
	}
}

func newDBWrite(h *hunter, r *Rule) (analyzer, error) {
	window, err := r.durationParam("closing_window", time.Minute)
	if err != nil {
		return nil, err
	}
	d := &dbWrite{h: h, r: r, sess: map[string]*dbSession{}, closing: map[string]*dbSession{}, wroteBefore: map[string]bool{},
		window: window, verbs: map[string]bool{}, operators: map[string]bool{}}
	for _, v := range splitList(r.Parameters["closing_verbs"], "UPDATE,INSERT") {
		d.verbs[strings.ToUpper(v)] = true
	}
	for _, u := range splitList(r.Parameters["operator_accounts"], "") {
		d.operators[u] = true
	}
	return d, nil
}

func splitList(s, def string) []string {
	if strings.TrimSpace(s) == "" {
		s = def
	}
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// dbWriteTag is what the database log parsers tag data-modifying
// statements with (parsers/dblog.WriteTag).
const dbWriteTag = "db_write"

func (d *dbWrite) wants() interest { return interest{tagged: true} }

func (d *dbWrite) observe(ev *timeline.Event) {
	if !slices.Contains(ev.Jejak.Tags, dbWriteTag) {
		return
	}
	data := ev.Jejak.Data
	client := sourceOf(ev)
	if client == "" {
		client = data["client.host"]
	}
	user, db := userOf(ev), data["db.name"]
	k := user + "\x00" + client + "\x00" + db
	if !d.h.inScope(ev.Timestamp) {
		d.wroteBefore[k] = true
		return
	}
	verb := strings.ToUpper(data["db.statement.verb"])
	if verb == "" {
		verb = "?"
	}
	st := data["db.statement"]
	if st == "" {
		st = ev.Message
	}
	st = clip(oneLine(st), 120)
	m := d.sess
	// A write of a closing verb in the first moments after the cut-off
	// may be the operator closing the count (UPDATE … SET state='closed'):
	// finish decides, by who wrote it.
	if after := d.h.cfg.After; !after.IsZero() && ev.Timestamp.Sub(after) <= d.window && d.verbs[verb] {
		m = d.closing
	}
	s := m[k]
	if s == nil {
		s = &dbSession{user: user, client: client, db: db, verbs: map[string]int{}}
		m[k] = s
	}
	s.add(d.h.ref(ev), verb, st)
}

func (d *dbWrite) finish() []Finding {
	var out []Finding
	for k, c := range d.closing {
		// The application's own account (it wrote to this database from
		// the same client before the cut-off) or a declared operator
		// account closing the count is expected: stated as informational.
		// Any other account's write in the window is as suspect as later
		// ones and joins them.
		if d.wroteBefore[k] || (c.user != "" && d.operators[c.user]) {
			who := "an account that was already writing to this database before the cut-off (the application's own account)"
			if d.operators[c.user] {
				who = "a declared operator account (rule parameter operator_accounts)"
			}
			note := fmt.Sprintf(": written at the cut-off by %s with %s only, the expected closing of the count, stated for completeness "+
				"(another account's write, a later write, or a DELETE, DROP or ALTER would be high)", who, strings.Join(sortedSet(d.verbs), "/"))
			fd := d.finding(c, fmt.Sprintf(" within %s of the cut-off", d.window), note)
			fd.Severity = Informational
			fd.Key += " closing"
			fd.finish()
			out = append(out, fd)
			continue
		}
		s := d.sess[k]
		if s == nil {
			d.sess[k] = c
			continue
		}
		s.refs = append(s.refs, c.refs...)
		for v, n := range c.verbs {
			s.verbs[v] += n
		}
		// The window's statements came first.
		s.first = c.first
	}
	for _, s := range d.sess {
		out = append(out, d.finding(s, " after the cut-off", ""))
	}
	return out
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func (d *dbWrite) finding(s *dbSession, when, note string) Finding {
	verbs := make([]string, 0, len(s.verbs))
	for v := range s.verbs {
		verbs = append(verbs, v)
	}
	slices.Sort(verbs)
	var parts []string
	for _, v := range verbs {
		parts = append(parts, fmt.Sprintf("%s ×%d", v, s.verbs[v]))
	}
	key := fmt.Sprintf("user=%s client=%s db=%s", dashIfEmpty(s.user), dashIfEmpty(s.client), dashIfEmpty(s.db))
	fd := newFinding(d.r, key, "", s.refs)
	fd.Explanation = fmt.Sprintf("%s (%s)%s", plural(len(fd.Events), "data-modifying statement", "data-modifying statements"), strings.Join(parts, ", "), when)
	if s.user != "" {
		fd.Explanation += " by " + s.user
	}
	if s.client != "" {
		fd.Explanation += " from " + s.client
	}
	if s.db != "" {
		fd.Explanation += " on database " + s.db
	}
	fd.Explanation += fmt.Sprintf("%s, %s to %s; first: %s", note, ts(fd.First), ts(fd.Last), s.first)
	return fd
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ---- web admin paths from new sources ----

// adminSegments are path segments of administration interfaces (web
// applications, database front-ends, application servers).
var adminSegments = map[string]bool{
	"admin": true, "administrator": true, "phpmyadmin": true, "pma": true, "myadmin": true, "mysqladmin": true,
	"wp-admin": true, "wp-login.php": true, "adminer": true, "adminer.php": true, "cpanel": true, "webadmin": true,
	"pgadmin": true, "pgadmin4": true, "phppgadmin": true, "dbadmin": true, "admin.php": true, "jmx-console": true,
	"web-console": true, "admin-console": true, "siteadmin": true, "administration": true,
}

// adminFirst are first segments only an admin interface has at the root.
var adminFirst = map[string]bool{"manager": true, "host-manager": true, "console": true}

func adminPath(p string) bool {
	p = strings.ToLower(p)
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		if adminSegments[s] || (i == 0 && adminFirst[s]) {
			return true
		}
	}
	return false
}

type webAdmin struct {
	h        *hunter
	r        *Rule
	baseline keySet // sources seen before the cut-off (firstseen_bound.go)
	found    map[string]*webHits
}

type webHits struct {
	refs  []EventRef
	paths []string
	ok    int
}

func newWebAdmin(h *hunter, r *Rule) (analyzer, error) {
	return &webAdmin{h: h, r: r, found: map[string]*webHits{}}, nil
}

func urlPath(ev *timeline.Event) string {
	if ev.URL == nil {
		return ""
	}
	if ev.URL.Path != "" {
		return ev.URL.Path
	}
	if u, err := url.Parse(ev.URL.Original); err == nil {
		return u.Path
	}
	return ev.URL.Original
}

func (w *webAdmin) wants() interest { return interest{source: true} }

func (w *webAdmin) observe(ev *timeline.Event) {
	src := sourceOf(ev)
	if src == "" {
		return
	}
	if !w.h.inScope(ev.Timestamp) {
		// Every source of the log before the cut-off, sshd's included:
		// on a server on the internet, millions.
		w.baseline.add(src)
		return
	}
	if ev.URL == nil || w.baseline.has(src) {
		return
	}
	p := urlPath(ev)
	if !adminPath(p) {
		return
	}
	hits := w.found[src]
	if hits == nil {
		hits = &webHits{}
		w.found[src] = hits
	}
	hits.refs = append(hits.refs, w.h.ref(ev))
	status := 0
	if ev.HTTP != nil && ev.HTTP.Response != nil {
		status = ev.HTTP.Response.StatusCode
	}
	if status >= 200 && status < 300 {
		hits.ok++
	}
	entry := fmt.Sprintf("%s %d", clip(p, 60), status)
	if len(hits.paths) < 50 && !slices.Contains(hits.paths, entry) {
		hits.paths = append(hits.paths, entry)
	}
}

func (w *webAdmin) finish() []Finding {
	var out []Finding
	for src, hits := range w.found {
		fd := newFinding(w.r, src, "", hits.refs)
		if hits.ok == 0 {
			fd.Severity = min(fd.Severity, Medium)
		}
		seen := "first seen after the cut-off"
		if w.h.cfg.After.IsZero() {
			seen = "with no cut-off given"
		}
		fd.Explanation = fmt.Sprintf("%s, %s, requested admin paths %s (%d answered 2xx), %s to %s: %s",
			src, seen, times(len(fd.Events)), hits.ok, ts(fd.First), ts(fd.Last), listNames(hits.paths, 4))
		out = append(out, fd)
	}
	return out
}
