package weblog

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
)

func parse(t testing.TB, rel string, zone *time.Location) parsertest.Result {
	t.Helper()
	res := parsertest.ParseFile(t, New(), parsertest.Corpus(t, rel), zone)
	if res.Err != nil {
		t.Fatalf("%s: %v", rel, res.Err)
	}
	return res
}

func TestContract(t *testing.T) {
	var files []string
	for _, f := range []string{"logs/web/apache_access.log", "logs/web/iis10.log", "logs/web/iis6.log",
		"logs/loghub/Apache_2k.log", "more/web/apache/crowdsec_apache2-logs.log",
		"more/web/nginx/crowdsec_nginx_http-logs.log", "more/web/nginx/crowdsec_nginx-http-generic-bf.log"} {
		files = append(files, parsertest.Corpus(t, f))
	}
	parsertest.Contract(t, New(), files...)
}

// Oracle: plaso tests/parsers/text_plugins/apache_access.py (14 events, 1
// extraction warning at offset 1589, and the values of events 0, 4, 8, 13).
// Deliberate difference: line 8 (offset 1589) ends inside its user-agent
// quote; plaso drops it, we warn at the same offset AND keep its intact
// request as an event tagged damaged_record, so we have 15 events. Plaso's
// event indexes 8 and 13 are therefore our 9 and 14.
func TestPlasoApacheAccess(t *testing.T) {
	res := parse(t, "logs/web/apache_access.log", time.UTC)
	if len(res.Events) != 15 || len(res.Warnings) != 1 {
		t.Fatalf("got %d events, %d warnings; plaso: 14 (+1 kept here), 1", len(res.Events), len(res.Warnings))
	}
	if w := res.Warnings[0]; w.Offset != 1589 || w.Record != 8 {
		t.Errorf("warning at offset %d record %d, plaso says offset 1589", w.Offset, w.Record)
	}
	if d := res.Events[7]; d.Jejak.Provenance.Offset != 1589 || d.Jejak.Data["damaged"] == "" ||
		d.URL.Original != "/scripts/grok-py-test/configlib.py" || d.HTTP.Response.StatusCode != 200 {
		t.Errorf("damaged line 8 not kept: %+v", d)
	}
	ev := res.Events[4]
	checkAccess(t, ev, "192.168.0.2", "GET", "/wp-content/themes/darkmode/evil.php?cmd=uname+-a", 200, 694,
		"2016-01-13T17:31:20Z")
	if ev.HTTP.Request.Referrer != "http://localhost/" || ev.UserAgent == nil ||
		ev.UserAgent.Original != "Mozilla/5.0 (X11; Linux i686; rv:2.0b12pre) Gecko/20100101 Firefox/4" {
		t.Errorf("event 4 referrer/UA: %+v %+v", ev.HTTP.Request, ev.UserAgent)
	}
	if ev.URL.Path != "/wp-content/themes/darkmode/evil.php" || ev.URL.Query != "cmd=uname+-a" || ev.HTTP.Version != "1.1" {
		t.Errorf("event 4 url/version: %+v %q", ev.URL, ev.HTTP.Version)
	}
	checkAccess(t, res.Events[0], "10.0.0.1", "GET", "/wp-content/themes/darkmode/header.php?install2", 200, 494,
		"2016-01-13T19:31:16Z")
	if res.Events[0].UserAgent != nil || res.Events[0].User != nil {
		t.Errorf("common-format event 0 has UA or user")
	}
	ev = res.Events[9]
	checkAccess(t, ev, "192.168.0.2", "GET", "/wp-content/themes/darkmode/evil.php", 200, 1063, "2018-01-13T19:31:17Z")
	if ev.Host == nil || ev.Host.Name != "plaso.log2timeline.net" || ev.Jejak.Data["server_port"] != "443" ||
		ev.HTTP.Request.Referrer != "" {
		t.Errorf("vhost event 8: host %+v data %v referrer %q", ev.Host, ev.Jejak.Data, ev.HTTP.Request.Referrer)
	}
	ev = res.Events[14]
	checkAccess(t, ev, "192.168.0.64", "GET", "/", 200, 8264, "2019-11-16T07:46:42Z")
	if ev.User == nil || ev.User.Name != "pyllyukko@EXAMPLE.COM" {
		t.Errorf("event 13 user: %+v", ev.User)
	}
	// Attack strings with quotes inside the request (events 10, 11).
	if got := res.Events[12].URL.Original; got != `/aaaa.xxxx/SomeText?action=edit&template=<script>alert("text")</script>` {
		t.Errorf("line 13 url %q", got)
	}
	if got := res.Events[13].URL.Original; got != `/$%7B("TextString"+"123456")%7D/actionChain1.action` {
		t.Errorf("line 14 url %q", got)
	}
}

func checkAccess(t *testing.T, ev *timeline.Event, ip, method, url string, status int, bytes int64, ts string) {
	t.Helper()
	if ev.Source == nil || ev.Source.IP != ip {
		t.Errorf("source %+v, want %s", ev.Source, ip)
	}
	if ev.HTTP.Request.Method != method || ev.URL == nil || ev.URL.Original != url {
		t.Errorf("request %q %+v, want %s %s", ev.HTTP.Request.Method, ev.URL, method, url)
	}
	if ev.HTTP.Response.StatusCode != status || ev.HTTP.Response.Body == nil || *ev.HTTP.Response.Body.Bytes != bytes {
		t.Errorf("status/bytes %+v, want %d %d", ev.HTTP.Response, status, bytes)
	}
	if got := ev.Timestamp.Format(time.RFC3339); got != ts {
		t.Errorf("time %s, want %s", got, ts)
	}
	if ev.TimestampDesc != TimeDesc || ev.Event.Category[0] != "web" {
		t.Errorf("desc %q category %v", ev.TimestampDesc, ev.Event.Category)
	}
}

// Oracle: plaso tests/parsers/text_plugins/iis.py (iis6: 12 events, event
// 0 values; iis10: 1 event).
func TestPlasoIIS(t *testing.T) {
	res := parse(t, "logs/web/iis6.log", time.UTC)
	if len(res.Events) != 12 || len(res.Warnings) != 0 {
		t.Fatalf("iis6: %d events %d warnings, plaso 12, 0", len(res.Events), len(res.Warnings))
	}
	ev := res.Events[0]
	if ev.Timestamp.Format(time.RFC3339) != "2013-07-30T00:00:00Z" || ev.Destination.IP != "10.10.10.100" ||
		ev.Destination.Port != 80 || ev.HTTP.Request.Method != "GET" || ev.HTTP.Response.StatusCode != 200 ||
		ev.URL.Path != "/some/image/path/something.jpg" || ev.Source.IP != "10.10.10.100" ||
		ev.UserAgent.Original != "Mozilla/4.0+(compatible;+Win32;+WinHttp.WinHttpRequest.5)" {
		t.Errorf("iis6 event 0: %s %+v %+v %+v %+v", ev.Timestamp, ev.Destination, ev.HTTP.Request, ev.URL, ev.UserAgent)
	}
	if ev.Jejak.Time != nil {
		t.Errorf("W3C times are UTC by definition; no zone should be assumed")
	}
	last := res.Events[11]
	if last.URL.Original != "/foo/bar/baz.asp?ID=ERROR[`cat%20passwd|echo`]" || last.Event.Outcome != "failure" ||
		last.Destination.Port != 443 {
		t.Errorf("iis6 last event: %+v %q", last.URL, last.Event.Outcome)
	}
	res = parse(t, "logs/web/iis10.log", time.UTC)
	if len(res.Events) != 1 || len(res.Warnings) != 0 {
		t.Fatalf("iis10: %d events %d warnings, plaso 1, 0", len(res.Events), len(res.Warnings))
	}
	ev = res.Events[0]
	if ev.Timestamp.Format(time.RFC3339) != "2021-04-01T00:00:21Z" || ev.Destination.IP != "111.111.111.111" ||
		ev.Source.IP != "222.222.222.222" || ev.HTTP.Request.Referrer != "http://111.111.111.111/" ||
		ev.Jejak.Data["time-taken"] != "65" || ev.Jejak.Data["software"] != "Microsoft Internet Information Services 10.0" {
		t.Errorf("iis10 event: %+v", ev)
	}
}

// The #Fields: directive decides the columns and may change mid-file;
// a line that does not fit the current columns is a counted warning.
func TestW3CFieldsChange(t *testing.T) {
	log := "\ufeff#Software: Microsoft Internet Information Services 8.5\r\n" +
		"#Date: 2020-01-02 03:04:05\r\n" +
		"#Fields: time c-ip cs-method cs-uri-stem sc-status\r\n" +
		"03:04:05 10.0.0.1 GET /a 200\r\n" +
		"03:04:06 10.0.0.1 GET /b\r\n" +
		"#Fields: date time c-ip cs-username cs-method cs-uri-stem cs-uri-query sc-status sc-bytes cs-version\r\n" +
		"2020-01-03 01:02:03 10.0.0.2 DOM\\alice POST /login a=1 401 12 HTTP/1.1\r\n"
	res := parsertest.Parse(context.Background(), New(),
		parsertest.BytesEntry("u_ex200102.log", []byte(log), time.Time{}), time.UTC)
	if len(res.Events) != 2 || len(res.Warnings) != 1 {
		t.Fatalf("%d events %d warnings, want 2, 1", len(res.Events), len(res.Warnings))
	}
	if w := res.Warnings[0]; w.Record != 5 || w.Offset != int64(strings.Index(log, "03:04:06")) {
		t.Errorf("warning record %d offset %d", w.Record, w.Offset)
	}
	a, b := res.Events[0], res.Events[1]
	if a.Timestamp.Format(time.RFC3339) != "2020-01-02T03:04:05Z" || a.URL.Path != "/a" {
		t.Errorf("first: %s %+v", a.Timestamp, a.URL)
	}
	if b.Timestamp.Format(time.RFC3339) != "2020-01-03T01:02:03Z" || b.User.Name != `DOM\alice` ||
		b.URL.Original != "/login?a=1" || b.HTTP.Version != "1.1" || *b.HTTP.Response.Body.Bytes != 12 ||
		b.Event.Outcome != "failure" || b.Jejak.Provenance.Record != 7 {
		t.Errorf("second: %+v", b)
	}
}

// Oracle: loghub Apache_2k.log, 2,000 Apache 2.2 error-log lines (MANIFEST).
// The level counts are cross-checked with a plain scan of the file.
func TestApacheErrorLoghub(t *testing.T) {
	jakarta := time.FixedZone("WIB", 7*3600)
	res := parse(t, "logs/loghub/Apache_2k.log", jakarta)
	if len(res.Events) != 2000 || len(res.Warnings) != 0 {
		t.Fatalf("%d events, %d warnings; want 2000, 0", len(res.Events), len(res.Warnings))
	}
	raw, _ := os.ReadFile(parsertest.Corpus(t, "logs/loghub/Apache_2k.log"))
	levels := map[string]int{}
	for _, ev := range res.Events {
		levels[ev.Log.Level]++
		if ev.Jejak.Time == nil || ev.Jejak.Time.ZoneAssumed != "WIB" || ev.Event.Timezone != "WIB" {
			t.Fatalf("zone not recorded: %+v", ev.Jejak.Time)
		}
	}
	for lv, n := range levels {
		if want := bytes.Count(raw, []byte("] ["+lv+"] ")); n != want {
			t.Errorf("level %s: %d events, file has %d", lv, n, want)
		}
	}
	first := res.Events[0]
	if got := first.Timestamp.Format(time.RFC3339); got != "2005-12-03T21:47:44Z" {
		t.Errorf("first time %s, want 2005-12-04 04:47:44 WIB = 2005-12-03T21:47:44Z", got)
	}
	// A 2.2 line with [client ip] and no port.
	for _, ev := range res.Events {
		if ev.Source != nil {
			if ev.Source.Port != 0 || ev.Jejak.Data["error_message"] == "" {
				t.Errorf("2.2 client: %+v %v", ev.Source, ev.Jejak.Data)
			}
			return
		}
	}
	t.Error("no [client ...] line decoded")
}

// Oracle (DERIVED[awk] in MANIFEST): elastic/examples apache_logs, 10,000
// combined lines, 1,753 distinct client IPs, statuses 200:9126 304:445
// 404:213 301:164 206:45 500:3, 17/May/2015:10:05:03 .. 20/May/2015:21:05:15.
func TestElasticApache10k(t *testing.T) {
	// Line 8899 is the line plaso's sample took (cut inside its user-agent): it
	// counts as an event and as one warning.
	res := parse(t, "more/web/apache/elastic_examples_apache_logs", time.UTC)
	if len(res.Events) != 10000 || len(res.Warnings) != 1 || res.Warnings[0].Record != 8899 {
		t.Fatalf("%d events, %d warnings; want 10000, 1 at line 8899 (%v)", len(res.Events), len(res.Warnings), res.Warnings)
	}
	ips := map[string]bool{}
	status := map[int]int{}
	for _, ev := range res.Events {
		ips[ev.Source.IP] = true
		status[ev.HTTP.Response.StatusCode]++
	}
	if len(ips) != 1753 {
		t.Errorf("%d distinct IPs, want 1753", len(ips))
	}
	want := map[int]int{200: 9126, 304: 445, 404: 213, 301: 164, 206: 45, 500: 3}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("status %d: %d, want %d", k, status[k], v)
		}
	}
	// MANIFEST names the six main statuses; the other four lines are 403
	// and 416 (two each, by awk '{print $9}').
	if status[403] != 2 || status[416] != 2 || len(status) != len(want)+2 {
		t.Errorf("statuses %v", status)
	}
	if f, l := res.Events[0].Timestamp.Format(time.RFC3339), res.Events[9999].Timestamp.Format(time.RFC3339); f != "2015-05-17T10:05:03Z" || l != "2015-05-20T21:05:15Z" {
		t.Errorf("first %s last %s", f, l)
	}
}

// Oracle: crowdsecurity/hub .tests/*/parser.assert: every line parsed, and
// the fields crowdsec's grok patterns extracted equal ours.
func TestCrowdsecAsserts(t *testing.T) {
	for _, tc := range []struct{ log, assert, parser string }{
		{"more/web/apache/crowdsec_apache2-logs.log", "more/web/apache/crowdsec_apache2-logs.parser.assert", "crowdsecurity/apache2-logs"},
		{"more/web/nginx/crowdsec_nginx_http-logs.log", "more/web/nginx/crowdsec_nginx_http-logs.parser.assert", "crowdsecurity/nginx-logs"},
	} {
		t.Run(tc.parser, func(t *testing.T) {
			res := parse(t, tc.log, time.UTC)
			want := readAssert(t, parsertest.Corpus(t, tc.assert), tc.parser)
			if len(res.Events) != len(want) || len(res.Warnings) != 0 {
				t.Fatalf("%d events %d warnings; crowdsec parsed %d lines", len(res.Events), len(res.Warnings), len(want))
			}
			for i, ev := range res.Events {
				w := want[i]
				check := func(field, got string) {
					if exp, ok := w[field]; ok && exp != got {
						t.Errorf("line %d %s: got %q, crowdsec %q", i+1, field, got, exp)
					}
				}
				src := ""
				if ev.Source != nil {
					src = ev.Source.IP
				}
				check("Meta.source_ip", src)
				if ev.HTTP != nil {
					check("Parsed.verb", ev.HTTP.Request.Method)
					if ev.HTTP.Response != nil {
						check("Meta.http_status", strconv.Itoa(ev.HTTP.Response.StatusCode))
					}
				}
				if ev.URL != nil {
					check("Parsed.request", ev.URL.Original)
				}
				if ev.UserAgent != nil {
					check("Meta.http_user_agent", ev.UserAgent.Original)
				}
				if ev.Host != nil {
					check("Meta.target_fqdn", ev.Host.Name)
				}
				if ev.User != nil {
					check("Parsed.remote_user", ev.User.Name)
				}
				if ev.Log != nil { // error-log lines
					check("Parsed.loglevel", ev.Log.Level)
					check("Parsed.module", ev.Log.Logger)
					check("Parsed.errorcode", ev.Event.Code)
					check("Parsed.message", ev.Jejak.Data["error_message"])
					check("Parsed.tid", ev.Jejak.Data["tid"])
					if ev.Source != nil && ev.Source.Port != 0 {
						check("Parsed.clientport", strconv.Itoa(ev.Source.Port))
					}
				}
			}
		})
	}
}

var assertLine = regexp.MustCompile(`^results\["s01-parse"\]\["([^"]+)"\]\[(\d+)\]\.Evt\.(Parsed|Meta)\["([a-z_]+)"\] == "(.*)"$`)

// readAssert returns, per line index, "Parsed.x"/"Meta.x" → expected value.
func readAssert(t *testing.T, path, parser string) []map[string]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := assertLine.FindStringSubmatch(sc.Text())
		if m == nil || m[1] != parser {
			continue
		}
		i, _ := strconv.Atoi(m[2])
		for len(out) <= i {
			out = append(out, map[string]string{})
		}
		v, err := strconv.Unquote(`"` + m[5] + `"`)
		if err != nil {
			v = m[5]
		}
		out[i][m[3]+"."+m[4]] = v
	}
	return out
}

func TestNginxBruteForceLog(t *testing.T) {
	res := parse(t, "more/web/nginx/crowdsec_nginx-http-generic-bf.log", time.UTC)
	raw, _ := os.ReadFile(parsertest.Corpus(t, "more/web/nginx/crowdsec_nginx-http-generic-bf.log"))
	nonBlank := 0
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.TrimSpace(l) != "" {
			nonBlank++
		}
	}
	if len(res.Events) != nonBlank || len(res.Warnings) != 0 {
		t.Fatalf("%d events %d warnings for %d lines", len(res.Events), len(res.Warnings), nonBlank)
	}
	for _, ev := range res.Events {
		if ev.Source == nil || ev.Source.IP != "127.0.0.1" {
			t.Errorf("source %+v; crowdsec's scenario.assert names 127.0.0.1", ev.Source)
		}
	}
}

func BenchmarkWeblog(b *testing.B) {
	path := parsertest.Corpus(b, "more/web/apache/elastic_examples_apache_logs")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	p := New()
	for b.Loop() {
		res := parsertest.Parse(context.Background(), p, parsertest.BytesEntry("access.log", data, time.Time{}), time.UTC)
		if len(res.Events) != 10000 {
			b.Fatal(len(res.Events))
		}
	}
}
