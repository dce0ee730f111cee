package hunt

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

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

func (w *watchedFiles) observe(ev *timeline.Event) {
	if ev.File == nil || ev.File.Path == "" || !w.h.inScope(ev.Timestamp) {
		return
	}
	word, ok := changeWords[ev.TimestampDesc]
	if !ok && !strings.Contains(ev.Event.Action, "FILE_DELETE") {
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
	if attr := ev.Jejak.Data["attribute"]; attr != "" {
		word += " (" + attr + ")"
	}
	word += " at " + ts(ev.Timestamp)
	if !slices.Contains(f.what, word) {
		f.what = append(f.what, word)
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
}

type dbSession struct {
	user, client, db string
	refs             []EventRef
	verbs            map[string]int
	first            string
}

func newDBWrite(h *hunter, r *Rule) (analyzer, error) {
	return &dbWrite{h: h, r: r, sess: map[string]*dbSession{}}, nil
}

// dbWriteTag is what the database log parsers tag data-modifying
// statements with (parsers/dblog.WriteTag).
const dbWriteTag = "db_write"

func (d *dbWrite) observe(ev *timeline.Event) {
	if !d.h.inScope(ev.Timestamp) || !slices.Contains(ev.Jejak.Tags, dbWriteTag) {
		return
	}
	data := ev.Jejak.Data
	client := sourceOf(ev)
	if client == "" {
		client = data["client.host"]
	}
	s := &dbSession{user: userOf(ev), client: client, db: data["db.name"]}
	k := s.user + "\x00" + s.client + "\x00" + s.db
	if x := d.sess[k]; x != nil {
		s = x
	} else {
		s.verbs = map[string]int{}
		d.sess[k] = s
	}
	s.refs = append(s.refs, d.h.ref(ev))
	verb := strings.ToUpper(data["db.statement.verb"])
	if verb == "" {
		verb = "?"
	}
	s.verbs[verb]++
	if s.first == "" {
		st := data["db.statement"]
		if st == "" {
			st = ev.Message
		}
		s.first = clip(oneLine(st), 120)
	}
}

func (d *dbWrite) finish() []Finding {
	var out []Finding
	for _, s := range d.sess {
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
		fd.Explanation = fmt.Sprintf("%s (%s) after the cut-off", plural(len(fd.Events), "data-modifying statement", "data-modifying statements"), strings.Join(parts, ", "))
		if s.user != "" {
			fd.Explanation += " by " + s.user
		}
		if s.client != "" {
			fd.Explanation += " from " + s.client
		}
		if s.db != "" {
			fd.Explanation += " on database " + s.db
		}
		fd.Explanation += fmt.Sprintf(", %s to %s; first: %s", ts(fd.First), ts(fd.Last), s.first)
		out = append(out, fd)
	}
	return out
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
	baseline map[string]bool
	found    map[string]*webHits
}

type webHits struct {
	refs  []EventRef
	paths []string
	ok    int
}

func newWebAdmin(h *hunter, r *Rule) (analyzer, error) {
	return &webAdmin{h: h, r: r, baseline: map[string]bool{}, found: map[string]*webHits{}}, nil
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

func (w *webAdmin) observe(ev *timeline.Event) {
	src := sourceOf(ev)
	if src == "" {
		return
	}
	if !w.h.inScope(ev.Timestamp) {
		w.baseline[src] = true
		return
	}
	if w.baseline[src] || ev.URL == nil {
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
