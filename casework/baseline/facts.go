package baseline

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"io"
	"path"
	"sort"
	"strings"
	"unicode/utf16"
)

// maxFactFile bounds what is kept of one fact file (dpkg's status file of a
// full server is a few MB).
const maxFactFile = 32 << 20

// factCollector keeps the content of the files facts are read from as the
// capture passes them, and turns them into facts at the end. Each
// extractor is small and reads one format; its facts name the file and
// line they came from.
type factCollector struct {
	got   []Fact
	links map[string]string
	order []string
}

func newFactCollector() *factCollector {
	return &factCollector{links: map[string]string{}}
}

// factKind names the extractor for a path, "" for none. Paths are matched
// case-insensitively so a Windows tree matches too.
//
// The path is matched whole and then from each folder down, so that a
// capture of a mounted tree (/mnt/server: "mnt/server/etc/passwd") or of
// a folder below the root (/etc: "etc/passwd" with the capture's prefix)
// finds its files as a capture of "/" does.
func factKind(p string) string {
	k := Key(p, true)
	for {
		if kind := factKindAt(k); kind != "" {
			return kind
		}
		i := strings.IndexByte(k, '/')
		if i < 0 {
			return ""
		}
		k = k[i+1:]
	}
}

// factKindAt names the extractor for a root-relative, lower-case key.
func factKindAt(k string) string {
	base := path.Base(k)
	dir := path.Dir(k)
	switch {
	case k == "windows/system32/config/sam":
		return "sam"
	case k == "windows/system32/config/system":
		return "system"
	case k == "windows/system32/config/software":
		return "software"
	case k == "etc/passwd":
		return "passwd"
	case k == "etc/group":
		return "group"
	case k == "etc/sudoers" || dir == "etc/sudoers.d":
		return "sudoers"
	case (strings.HasPrefix(k, "etc/systemd/system/") || strings.HasPrefix(k, "lib/systemd/system/") ||
		strings.HasPrefix(k, "usr/lib/systemd/system/")) && (strings.HasSuffix(k, ".service") || strings.HasSuffix(k, ".timer")) &&
		!strings.Contains(strings.TrimPrefix(path.Dir(k), "usr/"), ".wants"):
		return "unit"
	case k == "etc/crontab" || k == "etc/anacrontab" || dir == "etc/cron.d" ||
		dir == "var/spool/cron/crontabs" || dir == "var/spool/cron":
		return "cron"
	case strings.HasPrefix(k, "windows/system32/tasks/"):
		return "task"
	case k == "var/lib/dpkg/status":
		return "dpkg"
	case k == "etc/ssh/sshd_config" || (dir == "etc/ssh/sshd_config.d" && strings.HasSuffix(k, ".conf")):
		return "sshd"
	case base == "postgresql.conf":
		return "postgresql"
	case (strings.HasPrefix(k, "etc/mysql/") && strings.HasSuffix(k, ".cnf")) || k == "etc/my.cnf":
		return "mysql"
	case k == "etc/apache2/ports.conf" || k == "etc/httpd/conf/httpd.conf":
		return "apache"
	case k == "etc/nginx/nginx.conf" || dir == "etc/nginx/sites-enabled" || dir == "etc/nginx/conf.d":
		return "nginx"
	case base == "authorized_keys" || base == "authorized_keys2":
		return "authkeys"
	case k == "etc/timezone":
		return "timezone"
	case k == "etc/ntp.conf" || k == "etc/ntpsec/ntp.conf" || k == "etc/chrony.conf" || k == "etc/chrony/chrony.conf" ||
		k == "etc/systemd/timesyncd.conf" || (dir == "etc/systemd/timesyncd.conf.d" && strings.HasSuffix(k, ".conf")):
		return "ntp"
	}
	return ""
}

func (c *factCollector) wants(p string) bool { return factKind(p) != "" }

// limit is how much of a fact file is kept for reading.
func (c *factCollector) limit(p string) int {
	switch factKind(p) {
	case "sam", "system", "software":
		return maxHive
	}
	return maxFactFile
}

// add reads the facts of a file the capture has just read (only its
// facts are kept, not its bytes).
func (c *factCollector) add(p string, b []byte) {
	c.got = append(c.got, Extract(p, b)...)
}

// link records a symbolic link facts are read from: /etc/localtime
// (the zone) and systemd's .wants links (enabled units).
func (c *factCollector) link(p, target string) {
	k := Key(p, false)
	if k == "etc/localtime" || strings.HasSuffix(k, "/etc/localtime") || (strings.Contains("/"+k, "/etc/systemd/system/") && strings.Contains(k, ".wants/")) {
		c.links[p] = target
		c.order = append(c.order, p)
	}
}

// facts returns every fact, ordered by source file (walk order differs
// between a folder and an image) and line.
func (c *factCollector) facts() []Fact {
	out := c.got
	sort.Strings(c.order)
	for _, p := range c.order {
		out = append(out, linkFacts(p, c.links[p])...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// Extract reads the facts of one file, chosen by its path.
func Extract(p string, b []byte) []Fact {
	switch kind := factKind(p); kind {
	case "sam", "system", "software":
		return hiveFacts(p, kind, b)
	case "passwd":
		return passwdFacts(p, b)
	case "group":
		return groupFacts(p, b)
	case "sudoers":
		return lineFacts(p, b, "sudoers", "#", func(l string) (string, map[string]string) {
			if strings.HasPrefix(l, "Defaults") {
				return "", nil
			}
			if strings.HasPrefix(l, "@include") || strings.HasPrefix(l, "#include") {
				return l, map[string]string{"include": l}
			}
			who, rule, _ := strings.Cut(l, " ")
			return who, map[string]string{"rule": strings.TrimSpace(rule)}
		})
	case "unit":
		return unitFacts(p, b)
	case "cron":
		return cronFacts(p, b)
	case "task":
		return taskFacts(p, b)
	case "dpkg":
		return dpkgFacts(p, b)
	case "sshd":
		return keyValueFacts(p, b, "listen", "sshd", " ", "#", "port", "listenaddress")
	case "postgresql":
		return keyValueFacts(p, b, "listen", "postgresql", "=", "#", "listen_addresses", "port")
	case "mysql":
		return keyValueFacts(p, b, "listen", "mysql", "=", "#", "bind-address", "bind_address", "port")
	case "apache":
		return keyValueFacts(p, b, "listen", "apache", " ", "#", "listen")
	case "nginx":
		return keyValueFacts(p, b, "listen", "nginx", " ", "#", "listen")
	case "authkeys":
		return authKeyFacts(p, b)
	case "timezone":
		if z := strings.TrimSpace(string(b)); z != "" {
			return []Fact{{Category: "timezone", Name: z, Source: p, Line: 1}}
		}
	case "ntp":
		return keyValueFacts(p, b, "ntp", "", " ", "#", "server", "pool", "peer", "ntp", "fallbackntp")
	}
	return nil
}

// eachLine calls fn with every non-empty line with comments (from the
// comment marker to the end) removed, and its 1-based number.
func eachLine(b []byte, comment string, fn func(n int, l string)) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		if comment != "" {
			if i := strings.Index(l, comment); i >= 0 {
				l = l[:i]
			}
		}
		if l = strings.TrimSpace(l); l != "" {
			fn(n, l)
		}
	}
}

func passwdFacts(p string, b []byte) []Fact {
	var out []Fact
	eachLine(b, "", func(n int, l string) {
		f := strings.Split(l, ":")
		if len(f) < 7 || strings.HasPrefix(l, "#") {
			return
		}
		out = append(out, Fact{Category: "account", Name: f[0], Source: p, Line: n, Detail: map[string]string{
			"uid": f[2], "gid": f[3], "gecos": f[4], "home": f[5], "shell": f[6]}})
	})
	return out
}

func groupFacts(p string, b []byte) []Fact {
	var out []Fact
	eachLine(b, "", func(n int, l string) {
		f := strings.Split(l, ":")
		if len(f) < 4 || strings.HasPrefix(l, "#") {
			return
		}
		out = append(out, Fact{Category: "group", Name: f[0], Source: p, Line: n, Detail: map[string]string{"gid": f[2], "members": f[3]}})
	})
	return out
}

func lineFacts(p string, b []byte, cat, comment string, fn func(string) (string, map[string]string)) []Fact {
	var out []Fact
	eachLine(b, "", func(n int, l string) {
		// "#include" is sudoers syntax, not a comment.
		if strings.HasPrefix(l, comment) && !strings.HasPrefix(l, "#include") {
			return
		}
		if name, d := fn(l); name != "" {
			out = append(out, Fact{Category: cat, Name: name, Source: p, Line: n, Detail: d})
		}
	})
	return out
}

// unitFacts reads a systemd unit: what it runs, as whom.
func unitFacts(p string, b []byte) []Fact {
	d := map[string]string{}
	eachLine(b, "", func(_ int, l string) {
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
			return
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return
		}
		switch k = strings.TrimSpace(k); k {
		case "ExecStart", "User", "Description", "OnCalendar", "ListenStream":
			key := map[string]string{"ExecStart": "exec_start", "User": "user", "Description": "description", "OnCalendar": "on_calendar", "ListenStream": "listen_stream"}[k]
			if d[key] == "" {
				d[key] = strings.TrimSpace(v)
			}
		}
	})
	cat := "service"
	if strings.HasSuffix(p, ".timer") {
		cat = "scheduled_task"
	}
	return []Fact{{Category: cat, Name: path.Base(p), Source: p, Detail: d}}
}

func linkFacts(p, target string) []Fact {
	if k := Key(p, false); k == "etc/localtime" || strings.HasSuffix(k, "/etc/localtime") {
		z := target
		if i := strings.Index(z, "zoneinfo/"); i >= 0 {
			z = z[i+len("zoneinfo/"):]
		}
		return []Fact{{Category: "timezone", Name: z, Source: p, Detail: map[string]string{"link": target}}}
	}
	return []Fact{{Category: "service_enabled", Name: path.Base(p), Source: p, Detail: map[string]string{"wanted_by": path.Base(path.Dir(p))}}}
}

// cronFacts: one fact per job line (environment assignments skipped).
func cronFacts(p string, b []byte) []Fact {
	var out []Fact
	system := !strings.Contains(Key(p, false), "var/spool/cron")
	eachLine(b, "", func(n int, l string) {
		if strings.HasPrefix(l, "#") {
			return
		}
		f := strings.Fields(l)
		if len(f) > 0 && strings.Contains(f[0], "=") && !strings.HasPrefix(f[0], "@") {
			return // VAR=value
		}
		d := map[string]string{}
		sched := 5
		if strings.HasPrefix(l, "@") {
			sched = 1
		}
		cmd := sched
		if system && !strings.HasSuffix(p, "anacrontab") && len(f) > sched {
			d["user"] = f[sched]
			cmd++
		}
		if len(f) > cmd {
			d["schedule"] = strings.Join(f[:sched], " ")
			d["command"] = strings.Join(f[cmd:], " ")
		} else {
			d["line"] = l
		}
		name := path.Base(p)
		if !system {
			d["user"] = name
		}
		out = append(out, Fact{Category: "scheduled_task", Name: name, Source: p, Line: n, Detail: d})
	})
	return out
}

// taskFacts reads a Windows Task Scheduler XML file (System32\Tasks):
// the action's command and the principal.
func taskFacts(p string, b []byte) []Fact {
	// Task files are UTF-16 with a BOM more often than not.
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0xfe {
		u := make([]uint16, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
		}
		b = []byte(string(utf16.Decode(u)))
	}
	var t struct {
		Actions struct {
			Exec []struct {
				Command   string `xml:"Command"`
				Arguments string `xml:"Arguments"`
			} `xml:"Exec"`
		} `xml:"Actions"`
		Principals struct {
			Principal []struct {
				UserID string `xml:"UserId"`
			} `xml:"Principal"`
		} `xml:"Principals"`
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	d := map[string]string{}
	if err := dec.Decode(&t); err != nil {
		d["error"] = err.Error()
	}
	for _, e := range t.Actions.Exec {
		d["command"] = strings.TrimSpace(e.Command + " " + e.Arguments)
		break
	}
	for _, pr := range t.Principals.Principal {
		d["user"] = pr.UserID
		break
	}
	return []Fact{{Category: "scheduled_task", Name: p[strings.Index(strings.ToLower(p), "tasks/")+len("tasks/"):], Source: p, Detail: d}}
}

// dpkgFacts: every package dpkg's status file says is installed.
func dpkgFacts(p string, b []byte) []Fact {
	var out []Fact
	cur := map[string]string{}
	line, start := 0, 0
	flush := func() {
		if cur["Package"] != "" && strings.HasSuffix(cur["Status"], " installed") {
			out = append(out, Fact{Category: "package", Name: cur["Package"], Source: p, Line: start,
				Detail: map[string]string{"version": cur["Version"], "architecture": cur["Architecture"], "manager": "dpkg"}})
		}
		cur = map[string]string{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.TrimSpace(l) == "" {
			flush()
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if ok {
			if len(cur) == 0 {
				start = line
			}
			cur[k] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

// keyValueFacts reads "Key value" or "key = value" configuration lines
// and keeps the named keys (case-insensitive).
func keyValueFacts(p string, b []byte, cat, service, sep, comment string, keys ...string) []Fact {
	var out []Fact
	eachLine(b, comment, func(n int, l string) {
		var k, v string
		if sep == "=" {
			var ok bool
			if k, v, ok = strings.Cut(l, "="); !ok {
				return
			}
		} else {
			f := strings.Fields(l)
			if len(f) < 2 {
				if k2, v2, ok := strings.Cut(l, "="); ok { // timesyncd: NTP=...
					k, v = k2, v2
				} else {
					return
				}
			} else {
				k, v = f[0], strings.Join(f[1:], " ")
			}
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.Trim(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), ";")), `'"`)
		for _, want := range keys {
			if k == want && v != "" {
				d := map[string]string{"key": k, "value": v}
				name := v
				if service != "" {
					d["service"] = service
					name = service + " " + k + " " + v
				}
				out = append(out, Fact{Category: cat, Name: name, Source: p, Line: n, Detail: d})
			}
		}
	})
	return out
}

// authKeyFacts: one fact per key, named by its comment and type (the key
// itself is long and public; its type and comment are what a reviewer
// reads, the line number finds it).
func authKeyFacts(p string, b []byte) []Fact {
	var out []Fact
	eachLine(b, "", func(n int, l string) {
		if strings.HasPrefix(l, "#") {
			return
		}
		f := strings.Fields(l)
		d := map[string]string{}
		// Options may come first: the key type is the first field that
		// looks like one.
		for i, x := range f {
			if strings.HasPrefix(x, "ssh-") || strings.HasPrefix(x, "ecdsa-") || strings.HasPrefix(x, "sk-") {
				d["key_type"] = x
				if i > 0 {
					d["options"] = strings.Join(f[:i], " ")
				}
				if i+2 < len(f) {
					d["comment"] = strings.Join(f[i+2:], " ")
				}
				break
			}
		}
		name := d["comment"]
		if name == "" {
			name = d["key_type"]
		}
		out = append(out, Fact{Category: "ssh_key", Name: name, Source: p, Line: n, Detail: d})
	})
	return out
}
