package query_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jejak-forensics/jejak/parsers/parsertest"
	"github.com/jejak-forensics/jejak/timeline"
	"github.com/jejak-forensics/jejak/timeline/query"
	"github.com/jejak-forensics/jejak/timeline/store/elastic"
	"github.com/jejak-forensics/jejak/timeline/store/sqlite"
)

// diffCase is one query of the differential test.
type diffCase struct {
	kql  string
	q    timeline.Query
	some bool // the case holds matching events
	// oracle, when set, says independently of both stores (a loop over
	// the events, or a grep of the source) which events match.
	oracle func(e *timeline.Event) bool
	// count, when set, is the independent number of hits.
	count func(t *testing.T) int
}

func userName(e *timeline.Event) string {
	if e.User == nil {
		return ""
	}
	return e.User.Name
}

func sourceIP(e *timeline.Event) string {
	if e.Source == nil {
		return ""
	}
	return e.Source.IP
}

func eventID(e *timeline.Event) int {
	if e.Winlog == nil {
		return 0
	}
	return e.Winlog.EventID
}

func status(e *timeline.Event) int {
	if e.HTTP == nil || e.HTTP.Response == nil {
		return 0
	}
	return e.HTTP.Response.StatusCode
}

// grepCount counts the lines of corpus files holding s, as grep -c does.
func grepCount(s string, files ...string) func(t *testing.T) int {
	return func(t *testing.T) int {
		n := 0
		for _, rel := range files {
			f, err := os.Open(parsertest.Corpus(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if strings.Contains(sc.Text(), s) {
					n++
				}
			}
			f.Close()
		}
		return n
	}
}

var day = func() time.Time { t, _ := time.Parse(time.RFC3339, "2016-07-08T00:00:00Z"); return t }()

func diffCases() []diffCase {
	_, net24151, _ := net.ParseCIDR("24.151.0.0/16")
	return []diffCase{
		{kql: "user.name:root", some: true, oracle: func(e *timeline.Event) bool { return userName(e) == "root" }},
		{kql: "user.name:ROOT", oracle: func(e *timeline.Event) bool { return userName(e) == "ROOT" }},
		{kql: "user.name:elastic_user_*", some: true, oracle: func(e *timeline.Event) bool { return strings.HasPrefix(userName(e), "elastic_user_") }},
		{kql: "user.name:*", some: true, oracle: func(e *timeline.Event) bool { return userName(e) != "" }},
		{kql: "NOT user.name:*", some: true, oracle: func(e *timeline.Event) bool { return userName(e) == "" }},
		{kql: "event.action:(ssh_failed_login or ssh_disconnect)", some: true},
		{kql: "event.outcome:failure and source.ip:24.151.103.17", some: true,
			oracle: func(e *timeline.Event) bool { return e.Event.Outcome == "failure" && sourceIP(e) == "24.151.103.17" }},
		{kql: "source.ip:24.151.0.0/16", some: true, oracle: func(e *timeline.Event) bool {
			ip := net.ParseIP(sourceIP(e))
			return ip != nil && net24151.Contains(ip)
		}},
		{kql: "related.ip:127.0.0.1", some: true},
		{kql: "source.ip >= 80.0.0.0 and source.ip < 90.0.0.0", some: true},
		{kql: `source.ip:("::1" or 127.0.0.1)`, some: true},
		{kql: "winlog.event_id:4624", some: true, oracle: func(e *timeline.Event) bool { return eventID(e) == 4624 }},
		// winlog.event_id is a keyword: the range compares strings.
		{kql: "winlog.event_id >= 4700", some: true, oracle: func(e *timeline.Event) bool {
			return e.Winlog != nil && e.Winlog.EventID != 0 && strconv.Itoa(e.Winlog.EventID) >= "4700"
		}},
		{kql: "winlog.event_data.TargetUserName:fsir", some: true, oracle: func(e *timeline.Event) bool {
			return e.Winlog != nil && e.Winlog.EventData["TargetUserName"] == "fsir"
		}},
		{kql: "winlog.event_data.LogonType:(2 or 10)", some: true},
		{kql: `winlog.event_data.ProcessName:*\\services.exe`, some: true},
		{kql: "winlog.event_data:SYSTEM", some: true},
		{kql: "winlog.event_data.IpAddress:*", some: true},
		{kql: `winlog.event_data.WorkstationName:""`, some: true},
		{kql: "jejak.data.ssh.method:publickey", some: true},
		{kql: "jejak.provenance.parser:evtx and not event.code:4907", some: true},
		{kql: "http.response.status_code >= 400", some: true, oracle: func(e *timeline.Event) bool { return status(e) >= 400 }},
		{kql: "http.response.status_code:200 and http.request.method:GET", some: true},
		{kql: "http.response.status_code > 199.5 and http.response.status_code < 304.5", some: true},
		{kql: "event.category:authentication and event.type:start", some: true},
		{kql: "jejak.tags:damaged_record", some: true},
		{kql: `message:"Failed password"`, some: true,
			count: grepCount("Failed password", "logs/syslog/syslog_ssh.log", "more/linux/auth/elastic_examples_auth.log")},
		{kql: "Failed password", some: true},
		{kql: "message:INVALID", some: true},
		{kql: "fail*", some: true},
		{kql: "message:24.151.103.17", some: true},
		{kql: `message:"session opened for user root"`, some: true},
		{kql: `@timestamp >= "2016-07-08" and @timestamp < "2016-07-09"`, some: true, oracle: func(e *timeline.Event) bool {
			return !e.Timestamp.Before(day) && e.Timestamp.Before(day.AddDate(0, 0, 1))
		}},
		{kql: `@timestamp:"2016-07-08T18:15"`, some: true, oracle: func(e *timeline.Event) bool {
			m := day.Add(18*time.Hour + 15*time.Minute)
			return !e.Timestamp.Before(m) && e.Timestamp.Before(m.Add(time.Minute))
		}},
		{kql: `@timestamp > "2016-07-08T18:15:50.6896319Z"`, some: true},
		{kql: "process.pid > 1000 and process.pid <= 2000", some: true},
		{kql: "jejak.time.year_inferred:true", some: true},
		{kql: "url.original:*evil.php*", some: true},
		{kql: "user_agent.original.text:mozilla", some: true},
		{kql: "message.keyword:*session opened*", some: true},
		{kql: `process.command_line:"/usr/bin/vim filebeat.yml"`, some: true},
		{kql: "not (event.dataset:syslog or jejak.provenance.parser:evtx)", some: true},
		{kql: "log.syslog.appname:sshd and not message:(Accepted or Failed)", some: true},
		{kql: `timestamp_desc:"Creation Time"`, some: true},
		{kql: "jejak.provenance.record <= 10", some: true},
		{kql: "message:*", some: true, oracle: func(*timeline.Event) bool { return true }},
		{kql: "winlog.event_data.ProviderName:*Key Storage*", some: true},
		{kql: `winlog.event_data.ProcessName:C\:\\Windows\\System32\\*`, some: true},
		{kql: "winlog.event_data.TargetUserName:FSIR"},
		{kql: "winlog.event_data.TargetUserName >= S", some: true},
		{kql: "message:*user_*", some: true},
		{kql: "message:10.77.*", some: true},
		{kql: `message:"pam_unix(sshd:session)"`, some: true},
		{kql: `"session opened" and not message:"session opened for user root"`, some: true},
		{kql: "related.user:(root or SYSTEM) and not user.name:root", some: true},
		{kql: "source.ip < 50.0.0.0", some: true},
		{kql: `related.ip >= "::"`, some: true},
		{kql: `jejak.provenance.chain:file\:security.evtx`, some: true},
		{kql: "event.code >= 4624 and event.code <= 4672", some: true},
		{kql: "user.target.name:*", some: true},
		{kql: "log.syslog.procid:1118 and process.tty:pts/*"},
		{kql: "process.tty:pts/*", some: true},
		{kql: "url.query:*script*", some: true},
		{kql: "jejak.data:password", some: true},
		{kql: "", some: true, oracle: func(*timeline.Event) bool { return true }},
		{kql: "not *"},
		{kql: "message:zzzqqq *", some: true},
		{kql: `message:""`},
		{kql: "pass*rd", some: true},
		{kql: "user.name >= elastic_user_5 and user.name < elastic_user_9", some: true},
		{kql: "jejak.provenance.offset >= 100000 and jejak.provenance.offset < 100500", some: true},
		{kql: `@timestamp < "1971"`},
		{kql: "http.response.body.bytes:* and not source.port:*", some: true},
		{kql: "jejak.data.ssh.method:pass*", some: true},
		{kql: "winlog.event_data.ObjectName:*WindowsPowerShell*", some: true},
		{kql: "winlog.event_data.PrivilegeList:*SeTcbPrivilege*", some: true},
		{kql: `winlog.event_data.PrivilegeList:"SeSecurityPrivilege"`},
		{kql: "user.name:root", q: timeline.Query{From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Limit: 50}, some: true},
		{kql: "event.outcome:failure or winlog.event_id:4625", q: timeline.Query{To: time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC)}, some: true},
	}
}

// TestDifferential runs the same queries on the SQLite store and, when
// JEJAK_TEST_ES names a node, on an Elasticsearch index holding the same
// events: the hits (IDs, in order) must be equal, and where an independent
// oracle exists, equal to it too.
func TestDifferential(t *testing.T) {
	ctx := context.Background()
	st := buildCase(t)
	var evs []*timeline.Event
	if err := st.Search(ctx, timeline.Query{}, func(e *timeline.Event) error {
		evs = append(evs, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	es := openES(t, evs)
	for _, c := range diffCases() {
		t.Run(c.kql, func(t *testing.T) {
			f, err := query.New(c.kql, query.Options{})
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			got := sqliteIDs(t, st, f, c.q)
			if c.some && len(got) == 0 {
				t.Errorf("SQLite: no hits")
			}
			if n, err := st.QueryCount(ctx, f, c.q); err != nil || n != int64(len(got)) {
				t.Errorf("SQLite QueryCount = %d, %v; Query gave %d", n, err, len(got))
			}
			if c.oracle != nil {
				var want []string
				for _, e := range evs {
					if inRange(e, c.q) && c.oracle(e) && (c.q.Limit == 0 || len(want) < c.q.Limit) {
						want = append(want, e.Jejak.ID)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("SQLite: %d hits, oracle %d", len(got), len(want))
				}
			}
			if c.count != nil {
				if want := c.count(t); len(got) != want {
					t.Errorf("SQLite: %d hits, grep of the source: %d", len(got), want)
				}
			}
			if es == nil {
				return
			}
			var esGot []string
			if err := es.Query(ctx, f, c.q, func(e *timeline.Event) error {
				esGot = append(esGot, e.Jejak.ID)
				return nil
			}); err != nil {
				t.Fatalf("Elasticsearch: %v", err)
			}
			if !slices.Equal(got, esGot) {
				t.Errorf("SQLite %d hits, Elasticsearch %d; first differences: %s", len(got), len(esGot), diffIDs(got, esGot, evs))
			}
			if n, err := es.QueryCount(ctx, f, c.q); err != nil || n != int64(len(esGot)) {
				t.Errorf("Elasticsearch QueryCount = %d, %v; Query gave %d", n, err, len(esGot))
			}
		})
	}
}

func inRange(e *timeline.Event, q timeline.Query) bool {
	return (q.From.IsZero() || !e.Timestamp.Before(q.From)) && (q.To.IsZero() || e.Timestamp.Before(q.To))
}

func sqliteIDs(t *testing.T, st *sqlite.Store, f *query.Filter, q timeline.Query) []string {
	t.Helper()
	var ids []string
	if err := st.Query(context.Background(), f, q, func(e *timeline.Event) error {
		ids = append(ids, e.Jejak.ID)
		return nil
	}); err != nil {
		t.Fatalf("SQLite: %v", err)
	}
	return ids
}

// diffIDs describes up to three events found by one store only.
func diffIDs(a, b []string, evs []*timeline.Event) string {
	byID := map[string]*timeline.Event{}
	for _, e := range evs {
		byID[e.Jejak.ID] = e
	}
	var out []string
	show := func(only, other []string, name string) {
		for _, id := range only {
			if !slices.Contains(other, id) && len(out) < 6 {
				e := byID[id]
				out = append(out, fmt.Sprintf("only %s: %s %q", name, e.Jejak.Provenance.Parser, e.Message))
			}
		}
	}
	show(a, b, "SQLite")
	show(b, a, "Elasticsearch")
	if len(out) == 0 {
		return "same IDs, different order"
	}
	return strings.Join(out, "; ")
}

// TestTokensMatchElasticsearch compares Tokens, which the SQLite store's
// full-text matching uses, with the standard analyzer of a live node on the
// messages of the test case.
func TestTokensMatchElasticsearch(t *testing.T) {
	url := os.Getenv("JEJAK_TEST_ES")
	if url == "" {
		t.Skip("JEJAK_TEST_ES not set: start a node with scripts/elasticsearch.sh start")
	}
	st := buildCase(t)
	seen := map[string]bool{}
	var msgs []string
	if err := st.Search(context.Background(), timeline.Query{}, func(e *timeline.Event) error {
		if !seen[e.Message] {
			seen[e.Message] = true
			msgs = append(msgs, e.Message)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, "Mozilla/5.0 (X11; Linux i686) user_agent e-mail a:b 2001:db8::1 漢字テスト 😀 don't __x__ 1,5 v1.2.3 ÀÉÎ straße")
	base := strings.Split(url, ",")[0]
	checked := 0
	for i, m := range msgs {
		if i%7 != 0 && i != len(msgs)-1 {
			continue
		}
		want := esAnalyze(t, base, m)
		if got := query.Tokens(m); !slices.Equal(got, want) {
			t.Errorf("Tokens(%q)\n got %q\nwant %q (Elasticsearch)", m, got, want)
		}
		checked++
	}
	t.Logf("%d messages compared", checked)
}

func esAnalyze(t *testing.T, base, text string) []string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"analyzer": "standard", "text": text})
	res, err := http.Post(base+"/_analyze", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Tokens []struct {
			Token string `json:"token"`
		} `json:"tokens"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	toks := []string{}
	for _, tk := range out.Tokens {
		toks = append(toks, tk.Token)
	}
	if len(toks) == 0 {
		return nil
	}
	return toks
}

var esIndexOnce sync.Mutex

// openES writes evs into a fresh index on the node JEJAK_TEST_ES names,
// or returns nil (the Elasticsearch half is skipped, SQLite still runs).
func openES(t *testing.T, evs []*timeline.Event) *elastic.Store {
	t.Helper()
	url := os.Getenv("JEJAK_TEST_ES")
	if url == "" {
		t.Log("JEJAK_TEST_ES not set: Elasticsearch half skipped (start a node with scripts/elasticsearch.sh start)")
		return nil
	}
	esIndexOnce.Lock()
	defer esIndexOnce.Unlock()
	ctx := context.Background()
	index := fmt.Sprintf("jejak-kql-test-%d-%d", os.Getpid(), rand.Int63())
	es, err := elastic.Open(ctx, elastic.Config{URLs: strings.Split(url, ","), Index: index})
	if err != nil {
		t.Fatalf("open Elasticsearch at %s: %v", url, err)
	}
	t.Cleanup(func() {
		c := es.Client()
		if res, err := c.Indices.Delete([]string{index}); err == nil {
			res.Body.Close()
		}
		if res, err := c.Indices.DeleteIndexTemplate(elastic.TemplateName(index)); err == nil {
			res.Body.Close()
		}
		es.Close()
	})
	for lo := 0; lo < len(evs); lo += 5000 {
		if _, err := es.Write(ctx, evs[lo:min(lo+5000, len(evs))]); err != nil {
			t.Fatalf("write to Elasticsearch: %v", err)
		}
	}
	if n, err := es.Count(ctx, timeline.Query{}); err != nil || n != int64(len(evs)) {
		t.Fatalf("Elasticsearch holds %d events (%v), want %d", n, err, len(evs))
	}
	return es
}
