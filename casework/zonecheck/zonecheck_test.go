package zonecheck

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/timeline"
)

// rec describes one record of a test: a line of a zone-less log (wall
// clock, read in zone) or an exact record (UTC instant).
type rec struct {
	loose    bool
	evidence string
	action   string
	outcome  string
	user, ip string
	pid      int64
	at       time.Time // loose: the instant as read in the assumed zone
	dataset  string    // web records: weblog.access, apache.error, nginx.error
	path     string    // web: the access log's URL path, nginx's request path
	errmsg   string    // web: the error log's message
	name     string    // the peer's host name (sshd with UseDNS, ut_host)
}

const sha = "e1"

// event builds what the parsers emit: syslog's sshd lines with the zone
// note, utmp's records without.
func (r rec) event(zone string, n int) *timeline.Event {
	ev := &timeline.Event{Timestamp: r.at.UTC(), TimestampDesc: "Content Modification Time"}
	ev.Event.Action, ev.Event.Outcome = r.action, r.outcome
	if r.user != "" {
		ev.User = &timeline.User{Name: r.user}
	}
	ev.Source = &timeline.Endpoint{IP: r.ip}
	if r.name != "" {
		ev.Source.Address = r.name
		if r.ip == "" {
			ev.Source.Domain = r.name
		}
	}
	ev.Event.Dataset = r.dataset
	if r.path != "" {
		ev.URL = &timeline.URL{Path: r.path}
	}
	if r.errmsg != "" {
		ev.Jejak.Data = map[string]string{"error_message": r.errmsg}
	}
	if r.pid != 0 {
		ev.Process = &timeline.Process{PID: r.pid}
	}
	ev.Jejak.Provenance = timeline.Provenance{EvidenceSHA256: r.evidence, EvidenceName: "centos", Record: int64(n)}
	if r.evidence == "" {
		ev.Jejak.Provenance.EvidenceSHA256 = sha
	}
	if r.loose {
		ev.Jejak.Provenance.Path, ev.Jejak.Provenance.Parser = "var/log/secure", "syslog"
		if r.dataset != "" {
			ev.Jejak.Provenance.Path, ev.Jejak.Provenance.Parser = "var/log/secure", "weblog"
		}
		ev.Jejak.Provenance.Chain = []string{"dir:var/log/secure"}
		ev.Jejak.Time = &timeline.TimeNote{ZoneAssumed: zone, YearInferred: true}
	} else {
		file := "var/log/wtmp"
		switch {
		case r.action == "failed_logon":
			file = "var/log/btmp"
		case r.dataset != "":
			file = "var/log/httpd/access_log"
		}
		ev.Jejak.Provenance.Path, ev.Jejak.Provenance.Parser = file, "utmp"
		ev.Jejak.Provenance.Chain = []string{"dir:" + file}
	}
	return ev
}

var t0 = time.Date(2024, 2, 14, 13, 0, 0, 0, time.UTC)

// session returns a logon as secure and wtmp record it: Accepted by sshd
// pid, the wtmp record by the session's child a few pids on, delay later.
func session(user, ip string, pid int64, exact time.Time, shift, delay time.Duration) []rec {
	return []rec{
		{loose: true, action: "ssh_login", outcome: "success", user: user, ip: ip, pid: pid, at: exact.Add(shift).Truncate(time.Second)},
		{action: "logon", outcome: "success", user: user, ip: ip, pid: pid + 3, at: exact.Add(delay)},
	}
}

// failure returns a failed logon as secure and btmp record it, both by the
// sshd pid.
func failure(user, ip string, pid int64, exact time.Time, shift time.Duration) []rec {
	return []rec{
		{loose: true, action: "ssh_failed_login", outcome: "failure", user: user, ip: ip, pid: pid, at: exact.Add(shift).Truncate(time.Second)},
		{action: "failed_logon", outcome: "failure", user: user, ip: ip, pid: pid, at: exact.Add(300 * time.Millisecond)},
	}
}

// request returns a web request as the access log (with a zone) and the
// error log (without) record it; errPath is what the error line names.
func request(ip, path, errDataset, errmsg string, exact time.Time, shift time.Duration) []rec {
	lo := rec{loose: true, dataset: errDataset, ip: ip, errmsg: errmsg, at: exact.Add(shift).Truncate(time.Second)}
	if errDataset == "nginx.error" {
		lo.path = path
	}
	return []rec{lo, {dataset: "weblog.access", ip: ip, path: path, at: exact.Truncate(time.Second)}}
}

func join(rs ...[]rec) []rec {
	var out []rec
	for _, r := range rs {
		out = append(out, r...)
	}
	return out
}

// nopid drops the pids, as when the logs come from a daemon that logs none.
func nopid(rs []rec) []rec {
	for i := range rs {
		rs[i].pid = 0
	}
	return rs
}

func TestFindings(t *testing.T) {
	h := time.Hour
	tests := []struct {
		name   string
		zone   string
		recs   []rec
		want   int // findings
		agree  bool
		shift  string
		writ   string
		tz     string
		pairs  int
		pidp   int
		others int
	}{
		{
			name: "secure in UTC-3 read as UTC: failed logons tied by pid to btmp",
			zone: "UTC",
			recs: join(failure("root", "203.0.113.9", 4101, t0, -3*h), failure("admin", "203.0.113.9", 4107, t0.Add(40*time.Second), -3*h),
				failure("root", "203.0.113.9", 4113, t0.Add(95*time.Second), -3*h)),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 3, pidp: 3,
		},
		{
			name: "one session tied by the child pid concludes",
			zone: "UTC",
			recs: session("kpu", "198.51.100.7", 2210, t0, -3*h, 800*time.Millisecond),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 1, pidp: 1,
		},
		{
			name: "logs in the case zone agree within the logging delay",
			zone: "UTC",
			recs: join(session("kpu", "198.51.100.7", 2210, t0, 0, 2*time.Second), failure("root", "203.0.113.9", 4101, t0, 0)),
			want: 1, agree: true, shift: "+00:00", pairs: 2, pidp: 2,
		},
		{
			name: "two pairs without pids are not enough",
			zone: "UTC",
			recs: nopid(join(session("kpu", "198.51.100.7", 1, t0, -3*h, time.Second), session("kpu", "198.51.100.7", 1, t0.Add(5*h), -3*h, time.Second))),
			want: 0,
		},
		{
			name: "three pairs without pids agree on a step",
			zone: "UTC",
			recs: nopid(join(session("kpu", "198.51.100.7", 1, t0, -3*h, time.Second), session("kpu", "198.51.100.7", 1, t0.Add(5*h), -3*h, time.Second),
				session("ops", "198.51.100.8", 1, t0.Add(9*h), -3*h, time.Second))),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 3,
		},
		{
			name: "a difference off the quarter-hour grid is no zone",
			zone: "UTC",
			recs: nopid(join(session("kpu", "198.51.100.7", 1, t0, -3*h-7*time.Minute, time.Second), session("kpu", "198.51.100.7", 1, t0.Add(5*h), -3*h-7*time.Minute, time.Second),
				session("ops", "198.51.100.8", 1, t0.Add(9*h), -3*h-7*time.Minute, time.Second))),
			want: 0,
		},
		{
			name: "a logging delay over MaxDelay is no pair",
			zone: "UTC",
			recs: session("kpu", "198.51.100.7", 2210, t0, -3*h, 2*time.Minute),
			want: 0,
		},
		{
			name: "records of another evidence item pair when tied by pid",
			zone: "UTC",
			recs: func() []rec {
				r := failure("root", "203.0.113.9", 4101, t0, -3*h)
				r[1].evidence = "other"
				return r
			}(),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 1, pidp: 1,
		},
		{
			name: "records of another evidence item do not pair untied",
			zone: "UTC",
			recs: func() []rec {
				r := nopid(join(session("kpu", "198.51.100.7", 1, t0, -3*h, time.Second), session("kpu", "198.51.100.7", 1, t0.Add(5*h), -3*h, time.Second),
					session("ops", "198.51.100.8", 1, t0.Add(9*h), -3*h, time.Second)))
				for i := 1; i < len(r); i += 2 {
					r[i].evidence = "other"
				}
				return r
			}(),
			want: 0,
		},
		{
			name: "a failed logon is not tied by a nearby pid, only its own",
			zone: "UTC",
			recs: func() []rec {
				r := failure("root", "203.0.113.9", 4101, t0, -3*h)
				r[1].pid = 4104
				return r
			}(),
			want: 0,
		},
		{
			name: "case zone Asia/Jakarta, host at UTC-3",
			zone: "Asia/Jakarta",
			recs: join(failure("root", "203.0.113.9", 4101, t0, -10*h), failure("root", "203.0.113.9", 4102, t0.Add(time.Minute), -10*h)),
			want: 1, shift: "-10:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 2, pidp: 2,
		},
		{
			name: "host at +05:30",
			zone: "UTC",
			recs: failure("root", "203.0.113.9", 4101, t0, 5*h+30*time.Minute),
			want: 1, shift: "+05:30", writ: "+05:30", tz: "Asia/Kolkata", pairs: 1, pidp: 1,
		},
		{
			name: "a log spanning a daylight-saving change shows both steps",
			zone: "UTC",
			recs: join(
				failure("root", "203.0.113.9", 100, time.Date(2024, 3, 9, 15, 0, 0, 0, time.UTC), -5*h),
				failure("root", "203.0.113.9", 101, time.Date(2024, 3, 9, 16, 0, 0, 0, time.UTC), -5*h),
				failure("root", "203.0.113.9", 102, time.Date(2024, 3, 9, 17, 0, 0, 0, time.UTC), -5*h),
				failure("root", "203.0.113.9", 200, time.Date(2024, 3, 11, 15, 0, 0, 0, time.UTC), -4*h),
				failure("root", "203.0.113.9", 201, time.Date(2024, 3, 11, 16, 0, 0, 0, time.UTC), -4*h),
			),
			want: 1, shift: "-05:00", writ: "-05:00", tz: "Etc/GMT+5", pairs: 3, pidp: 3, others: 1,
		},
		{
			name: "a brute force every 10 s without pids matches every step alike: no verdict",
			zone: "UTC",
			recs: func() []rec {
				var r []rec
				for i := 0; i < 720; i++ {
					r = append(r, failure("root", "203.0.113.9", 0, t0.Add(time.Duration(i)*10*time.Second), 0)...)
				}
				return r
			}(),
			want: 0,
		},
		{
			name: "the same brute force with pids agrees",
			zone: "UTC",
			recs: func() []rec {
				var r []rec
				for i := 0; i < 720; i++ {
					r = append(r, failure("root", "203.0.113.9", int64(1000+i), t0.Add(time.Duration(i)*10*time.Second), -3*h)...)
				}
				return r
			}(),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 720, pidp: 720,
		},
		{
			name: "an auditd logon with only a uid is tied by sshd's pid",
			zone: "UTC",
			recs: func() []rec {
				r := session("kpu", "198.51.100.7", 2210, t0, -3*h, 50*time.Millisecond)
				r[1].user, r[1].pid = "", 2210
				return r
			}(),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 1, pidp: 1,
		},
		{
			name: "a record without a user and no pid tie is no pair",
			zone: "UTC",
			recs: nopid(join(session("", "198.51.100.7", 1, t0, -3*h, time.Second), session("", "198.51.100.7", 1, t0.Add(5*h), -3*h, time.Second),
				session("", "198.51.100.7", 1, t0.Add(9*h), -3*h, time.Second))),
			want: 0,
		},
		{
			name: "other users from the same host and pid are not paired",
			zone: "UTC",
			recs: func() []rec {
				r := failure("root", "203.0.113.9", 4101, t0, -3*h)
				r[1].user = "admin"
				return r
			}(),
			want: 0,
		},
		{
			name: "lastlog records (uid only, no pid) agree on a step from three accounts",
			zone: "UTC",
			recs: func() []rec {
				var r []rec
				for i, u := range []string{"kpu", "ops", "tps01"} {
					s := session(u, fmt.Sprintf("198.51.100.%d", 7+i), int64(2000+100*i), t0.Add(time.Duration(i)*97*time.Minute), -3*h, 900*time.Millisecond)
					s[1].action, s[1].user, s[1].pid = "last_logon", "", 0
					r = append(r, s...)
				}
				return r
			}(),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 3,
		},
		{
			name: "one lastlog record is not enough",
			zone: "UTC",
			recs: func() []rec {
				s := session("kpu", "198.51.100.7", 2000, t0, -3*h, 900*time.Millisecond)
				s[1].action, s[1].user, s[1].pid = "last_logon", "", 0
				return s
			}(),
			want: 0,
		},
		{
			name: "sshd logged the peer's name (UseDNS), btmp holds name and address",
			zone: "UTC",
			recs: func() []rec {
				r := failure("root", "", 4101, t0, -3*h)
				r[0].name = "Scanner.Example.NET"
				r[1].ip, r[1].name = "203.0.113.9", "scanner.example.net"
				return r
			}(),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 1, pidp: 1,
		},
		{
			name: "an Apache error tied to its request by the path under the document root",
			zone: "UTC",
			recs: request("203.0.113.9", "/wp-login.php", "apache.error", "AH00128: File does not exist: /var/www/html/wp-login.php", t0, 7*h),
			want: 1, shift: "+07:00", writ: "+07:00", tz: "Etc/GMT-7", pairs: 1, pidp: 1,
		},
		{
			name: "nginx errors tied by the request path",
			zone: "UTC",
			recs: join(request("203.0.113.9", "/admin/login", "nginx.error", `open() "/usr/share/nginx/html/admin/login" failed (2: No such file or directory)`, t0, -5*h),
				request("203.0.113.9", "/x.php", "nginx.error", "FastCGI sent in stderr: \"Primary script unknown\"", t0.Add(time.Minute), -5*h)),
			want: 1, shift: "-05:00", writ: "-05:00", tz: "Etc/GMT+5", pairs: 2, pidp: 2,
		},
		{
			name: "an error of another path is tied to nothing; three agree untied",
			zone: "UTC",
			recs: join(request("203.0.113.9", "/a", "apache.error", "AH01630: client denied by server configuration: /srv/b", t0, -3*h),
				request("203.0.113.9", "/a", "apache.error", "AH01630: client denied by server configuration: /srv/b", t0.Add(2*h+7*time.Minute+13*time.Second), -3*h),
				request("203.0.113.9", "/a", "apache.error", "AH01630: client denied by server configuration: /srv/b", t0.Add(5*h+41*time.Minute+29*time.Second), -3*h)),
			want: 1, shift: "-03:00", writ: "-03:00", tz: "Etc/GMT+3", pairs: 3, pidp: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New()
			for i, r := range tc.recs {
				c.Add(r.event(tc.zone, i+1))
			}
			fs := c.Findings()
			if len(fs) != tc.want {
				t.Fatalf("%d findings, want %d: %+v", len(fs), tc.want, fs)
			}
			if tc.want == 0 {
				return
			}
			f := fs[0]
			if f.Agree != tc.agree || f.Shift != tc.shift || f.WrittenIn != tc.writ || f.SuggestTZ != tc.tz ||
				f.Pairs != tc.pairs || f.PIDPairs != tc.pidp || len(f.Other) != tc.others {
				t.Errorf("got agree=%v shift=%s written=%s tz=%s pairs=%d pid=%d other=%v\nwant agree=%v shift=%s written=%s tz=%s pairs=%d pid=%d other=%d",
					f.Agree, f.Shift, f.WrittenIn, f.SuggestTZ, f.Pairs, f.PIDPairs, f.Other,
					tc.agree, tc.shift, tc.writ, tc.tz, tc.pairs, tc.pidp, tc.others)
			}
			if f.ZoneAssumed != tc.zone || f.Path != "var/log/secure" || f.Evidence != sha {
				t.Errorf("finding names %s %s %s", f.ZoneAssumed, f.Path, f.Evidence)
			}
			// The median is the measured difference, logging delay included.
			if d := f.Median - mustShift(t, f.Shift); d > MaxDelay || d < -MaxDelay {
				t.Errorf("median %s is not near %s", f.Median, f.Shift)
			}
			msg := f.Message()
			if !tc.agree && (!strings.Contains(msg, f.Gap()) || !strings.Contains(msg, "UTC"+tc.writ) || !strings.Contains(msg, "--tz "+tc.tz) || !strings.Contains(msg, "var/log/btmp") && !strings.Contains(msg, "var/log/wtmp") && !strings.Contains(msg, "access_log")) {
				t.Errorf("message lacks the shift, the suggestion or the exact file: %s", msg)
			}
			if w := f.Warning(); w.Kind != timeline.WarnZone || w.Path != f.Path || w.Record != f.Example.Loose.Record {
				t.Errorf("warning %+v", w)
			}
		})
	}
}

func mustShift(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := parseShift(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestSuggestZone(t *testing.T) {
	for _, tc := range []struct {
		off  time.Duration
		want string
	}{
		{0, "UTC"},
		{-3 * time.Hour, "Etc/GMT+3"},
		{7 * time.Hour, "Etc/GMT-7"},
		{14 * time.Hour, "Etc/GMT-14"},
		{-12 * time.Hour, "Etc/GMT+12"},
		{5*time.Hour + 45*time.Minute, "Asia/Kathmandu"},
		{-(3*time.Hour + 30*time.Minute), ""},
		{12*time.Hour + 45*time.Minute, ""},
		{2*time.Hour + 15*time.Minute, ""},
	} {
		got := SuggestZone(tc.off)
		if got != tc.want {
			t.Errorf("SuggestZone(%s) = %q, want %q", tc.off, got, tc.want)
			continue
		}
		if got == "" {
			continue
		}
		// The suggestion must be a zone --tz accepts, at that offset.
		loc, err := time.LoadLocation(got)
		if err != nil {
			t.Errorf("%s: %v", got, err)
			continue
		}
		// Standard time is January's in the north, July's in the south.
		_, jan := time.Date(2024, 1, 1, 0, 0, 0, 0, loc).Zone()
		_, jul := time.Date(2024, 7, 1, 0, 0, 0, 0, loc).Zone()
		if time.Duration(jan)*time.Second != tc.off && time.Duration(jul)*time.Second != tc.off {
			t.Errorf("%s is at %ds/%ds, want %s", got, jan, jul, tc.off)
		}
	}
}

// Events the checker does not pair are ignored whatever they hold.
func TestIgnored(t *testing.T) {
	c := New()
	r := failure("root", "203.0.113.9", 4101, t0, -3*time.Hour)
	for _, mod := range []func(*timeline.Event){
		func(e *timeline.Event) { e.Event.Action = "ssh_disconnect" },
		func(e *timeline.Event) { e.Event.Dataset = "weblog.access"; e.URL = nil },
		func(e *timeline.Event) { e.Source = nil },
		func(e *timeline.Event) { e.TimestampDesc = "Not a time" },
	} {
		lo, ex := r[0].event("UTC", 1), r[1].event("UTC", 2)
		mod(lo)
		mod(ex)
		c.Add(lo)
		c.Add(ex)
	}
	if fs := c.Findings(); len(fs) != 0 || c.n != 0 {
		t.Errorf("indexed %d, found %+v", c.n, fs)
	}
}

// Every offset in use, from either side of UTC, is found and named.
func TestEveryOffset(t *testing.T) {
	for off := -12 * time.Hour; off <= 14*time.Hour; off += Quarter {
		c := New()
		for i, r := range join(failure("root", "203.0.113.9", 4101, t0, off), session("kpu", "198.51.100.7", 5000, t0.Add(time.Hour), off, time.Second)) {
			c.Add(r.event("UTC", i+1))
		}
		fs := c.Findings()
		if len(fs) != 1 || fs[0].Pairs != 2 || mustShift(t, fs[0].Shift) != off || fs[0].Agree != (off == 0) {
			t.Errorf("offset %s: %+v", off, fs)
			continue
		}
		if off == 0 {
			continue
		}
		if got := mustShift(t, fs[0].WrittenIn); got != off {
			t.Errorf("offset %s: written in %s", off, fs[0].WrittenIn)
		}
		if z := fs[0].SuggestTZ; z != "" {
			loc, err := time.LoadLocation(z)
			if err != nil {
				t.Fatal(err)
			}
			if _, o := t0.In(loc).Zone(); time.Duration(o)*time.Second != off {
				t.Errorf("offset %s: suggests %s, at %ds", off, z, o)
			}
		} else if off%time.Hour == 0 {
			t.Errorf("offset %s: no suggestion", off)
		}
	}
}

// The indexes stay bounded: past PerKey records of one side of a key, the
// rest is counted, not kept.
func TestCaps(t *testing.T) {
	c := New()
	n := PerKey + 100
	for i := 0; i < n; i++ {
		for j, r := range failure("root", "203.0.113.9", int64(1000+i), t0.Add(time.Duration(i)*time.Second), -3*time.Hour) {
			c.Add(r.event("UTC", 2*i+j))
		}
	}
	if c.n != 2*PerKey || c.Dropped != 2*(n-PerKey) {
		t.Errorf("kept %d, dropped %d; want %d and %d", c.n, c.Dropped, 2*PerKey, 2*(n-PerKey))
	}
	if fs := c.Findings(); len(fs) != 1 || fs[0].Pairs != PerKey {
		t.Errorf("findings %+v", fs)
	}
}

// BenchmarkWorstCase fills the checker to its cap with a dense brute force
// (256 addresses, PerKey failed logons each, one every 2 s): the pairing
// cost is bounded by the caps, whatever the case holds.
func BenchmarkWorstCase(b *testing.B) {
	var evs []*timeline.Event
	for ip := 0; ip < 256; ip++ {
		addr := fmt.Sprintf("203.0.%d.%d", ip/250, ip%250+1)
		for i := 0; i < PerKey; i++ {
			for j, r := range failure("root", addr, int64(1000+i), t0.Add(time.Duration(i)*2*time.Second), -3*time.Hour) {
				evs = append(evs, r.event("UTC", 2*i+j))
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		c := New()
		for _, ev := range evs {
			c.Add(ev)
		}
		if fs := c.Findings(); len(fs) != 1 {
			b.Fatalf("%d findings", len(fs))
		}
	}
}
